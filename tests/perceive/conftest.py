"""Clips with known ground truth for the perception tools, generated once per session.

Each generator returns the clip's path and the facts a test checks against (when the text is
shown, when the speech is heard, where the disc goes).
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from vidllm.perceive.base import PerceptionInput
from vidllm.video.sample import probe, sample_frames
from vidllm.video.synthetic import make_clip

SIGN_SHOWN = (3.0, 5.0)
DISC_TRAVEL = (0.0, 4.0)


def perception_input(path, tool) -> PerceptionInput:
    """What ``vidllm.perceive.analyze`` hands a tool: frames in the tool's preferred sampling."""
    info = probe(path)
    spec = tool.sampling(info.duration) if hasattr(tool, "sampling") else None
    frames = sample_frames(path, spec) if spec is not None else None
    return PerceptionInput(frames=frames, video_path=str(path), duration=info.duration, has_audio=info.has_audio)


def render_sign(text: str, size=(1280, 720)) -> np.ndarray:
    """Large black letters on a white panel over a dark green background."""
    w, h = size
    image = Image.new("RGB", size, (40, 80, 50))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=h // 6)
    draw.rectangle([w * 0.2, h * 0.3, w * 0.8, h * 0.7], fill=(250, 250, 250))
    box = draw.textbbox((0, 0), text, font=font)
    draw.text(((w - (box[2] - box[0])) / 2 - box[0], (h - (box[3] - box[1])) / 2 - box[1]), text,
              fill=(0, 0, 0), font=font)
    return np.asarray(image).copy()


@pytest.fixture(scope="session")
def sign_clip(media_dir):
    """8 s, 1280x720: a blank panel, with "EXIT 42" on it only from 3 s to 5 s."""
    with_text, blank = render_sign("EXIT 42"), render_sign("")

    def draw(i, t, w, h):
        return (with_text if SIGN_SHOWN[0] <= t < SIGN_SHOWN[1] else blank).copy()

    return make_clip(media_dir / "sign.mp4", nframes=200, fps=25, size=(1280, 720), draw=draw, draw_index=False)


def disc_picture(colour, direction: str, travel=DISC_TRAVEL, background=(235, 235, 235)):
    def draw(i, t, w, h):
        image = np.empty((h, w, 3), np.uint8)
        image[:] = background
        progress = min(max((t - travel[0]) / (travel[1] - travel[0]), 0.0), 1.0)
        x = w * (0.1 + 0.8 * progress) if direction == "right" else w * (0.9 - 0.8 * progress)
        yy, xx = np.ogrid[:h, :w]
        image[(xx - x) ** 2 + (yy - h / 2) ** 2 <= (h * 0.1) ** 2] = colour
        return image

    return draw


@pytest.fixture(scope="session")
def disc_clip(media_dir):
    """4 s, 640x360, 25 fps: a red disc crossing a light grey picture from left to right."""
    return make_clip(media_dir / "disc.mp4", nframes=100, fps=25, size=(640, 360),
                     draw=disc_picture((220, 20, 20), "right"), draw_index=False)


@pytest.fixture(scope="session")
def disc_clip_leftwards(media_dir):
    """A blue disc crossing from right to left: the direction must come from the motion."""
    return make_clip(media_dir / "disc_left.mp4", nframes=100, fps=25, size=(640, 360),
                     draw=disc_picture((30, 40, 210), "left"), draw_index=False)


def espeak_samples(sentence: str) -> np.ndarray:
    """``sentence`` spoken by espeak-ng, as 16 kHz mono float32 (skips the test without it).

    Voice "en-us+m3" at 130 words a minute: with espeak's default voice, the small Whisper
    models hear the last word of "the meeting starts at nine" as "night" or "the island".
    """
    binary = shutil.which("espeak-ng")
    if binary is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng); it speaks the test sentence")
    wav = subprocess.run([binary, "-v", "en-us+m3", "-s", "130", "--stdout", sentence],
                         check=True, capture_output=True).stdout
    import io

    import av

    with av.open(io.BytesIO(wav)) as container:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=16000)
        chunks = [out.to_ndarray().reshape(-1)
                  for frame in container.decode(audio=0) for out in resampler.resample(frame)]
        chunks += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
    return np.concatenate(chunks).astype(np.float32)


@pytest.fixture(scope="session")
def speech_clip(media_dir):
    """7 s: a still picture; "the meeting starts at nine" spoken from 2 s. Returns the path and
    the (start, end) of the voice, measured on the samples."""
    lead = 2.0
    speech = espeak_samples("the meeting starts at nine")
    loud = np.flatnonzero(np.abs(speech) > 0.02)
    spoken = (lead + loud[0] / 16000, lead + loud[-1] / 16000)
    samples = np.zeros(7 * 16000, np.float32)
    samples[int(lead * 16000) : int(lead * 16000) + len(speech)] = speech

    def draw(i, t, w, h):
        return np.full((h, w, 3), (200, 190, 170), np.uint8)

    path = make_clip(media_dir / "speech.mp4", nframes=70, fps=10, size=(320, 240), draw=draw,
                     draw_index=False, audio_samples=samples, audio_rate=16000)
    return path, spoken
