"""Clips with known ground truth that several test folders use."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from vidllm.video.synthetic import make_clip


def sign_clip(path: Path, text: str = "EXIT 42", shown=(3.0, 5.0), duration: float = 8.0, fps: float = 10) -> str:
    """A grey street-sign-like background; ``text`` in large black letters only within ``shown``."""
    font = ImageFont.load_default(size=64)

    def draw(i, t, w, h):
        image = Image.new("RGB", (w, h), (90, 110, 90))
        if shown[0] <= t < shown[1]:
            d = ImageDraw.Draw(image)
            d.rectangle([w * 0.15, h * 0.3, w * 0.85, h * 0.75], fill=(255, 255, 255))
            box = d.textbbox((0, 0), text, font=font)
            d.text(((w - (box[2] - box[0])) / 2, h * 0.52 - (box[3] - box[1]) / 2), text, fill=(0, 0, 0), font=font)
        return np.asarray(image).copy()

    return make_clip(path, nframes=int(duration * fps), fps=fps, size=(640, 360), draw=draw, draw_index=False)


def moving_disc_clip(path: Path, colour=(220, 30, 30), direction="right", duration: float = 4.0, fps: float = 10) -> str:
    """A disc crossing a plain white picture from one side to the other."""

    def draw(i, t, w, h):
        image = np.full((h, w, 3), 245, np.uint8)
        progress = t / duration
        x = w * (0.1 + 0.8 * progress) if direction == "right" else w * (0.9 - 0.8 * progress)
        yy, xx = np.ogrid[:h, :w]
        image[(xx - x) ** 2 + (yy - h / 2) ** 2 <= (h * 0.12) ** 2] = colour
        return image

    return make_clip(path, nframes=int(duration * fps), fps=fps, size=(320, 240), draw=draw, draw_index=False)


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def speech_clip(path: Path, sentence: str = "the meeting starts at nine", lead: float = 1.0,
                duration: float = 5.0) -> tuple[str, tuple[float, float]]:
    """A still picture with ``sentence`` spoken by espeak-ng from ``lead`` seconds; returns the
    path and the (start, end) of the speech, measured from the synthesised samples."""
    wav = Path(path).with_suffix(".wav")
    # voice en-us+m3 at 130 words a minute: with the default voice the small Whisper models
    # hear "at nine" as "at night" or "the island"
    subprocess.run(["espeak-ng", "-v", "en-us+m3", "-s", "130", "-w", str(wav), sentence], check=True, capture_output=True)
    import wave

    with wave.open(str(wav)) as w:
        rate = w.getframerate()
        speech = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32) / 32768
    loud = np.flatnonzero(np.abs(speech) > 0.02)
    spoken = (lead + loud[0] / rate, lead + loud[-1] / rate)
    samples = np.zeros(int(duration * 16000), np.float32)
    resampled = np.interp(np.arange(0, len(speech) * 16000 / rate) * rate / 16000, np.arange(len(speech)), speech)
    start = int(lead * 16000)
    samples[start : start + len(resampled)] = resampled[: len(samples) - start]

    def draw(i, t, w, h):
        return np.full((h, w, 3), (200, 200, 180), np.uint8)

    clip = make_clip(path, nframes=int(duration * 10), fps=10, size=(320, 240), draw=draw, draw_index=False,
                     audio_samples=samples, audio_rate=16000)
    return clip, spoken
