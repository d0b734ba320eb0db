"""Clips with known ground truth, shared by every test folder.

Each generator returns the clip's path (and, for speech, when the voice is heard).
"""

from __future__ import annotations

import io
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from vidllm.video.synthetic import make_clip

SIGN_SHOWN = (3.0, 5.0)
DISC_TRAVEL = (0.0, 4.0)


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


def sign_clip(path: Path, text: str = "EXIT 42", shown=SIGN_SHOWN, duration: float = 8.0, fps: float = 25,
              size=(1280, 720)) -> str:
    """A blank panel, with ``text`` on it only within ``shown`` (seconds)."""
    with_text, blank = render_sign(text, size), render_sign("", size)

    def draw(i, t, w, h):
        return (with_text if shown[0] <= t < shown[1] else blank).copy()

    return make_clip(path, nframes=int(duration * fps), fps=fps, size=size, draw=draw, draw_index=False)


def counter_clip(path: Path, values: list[int], step: float = 1.5, lead: float = 1.0, word: str = "COUNT") -> str:
    """A panel that reads "COUNT <v>" for each of ``values`` in turn, ``step`` seconds each,
    after ``lead`` seconds blank: value k is on screen from lead + k * step."""
    cards = [render_sign(f"{word} {v}", (640, 360)) for v in values]
    blank = render_sign("", (640, 360))
    duration = lead + step * len(values) + 1.0

    def draw(i, t, w, h):
        k = int((t - lead) // step)
        return (cards[k] if t >= lead and k < len(cards) else blank).copy()

    return make_clip(path, nframes=int(duration * 10), fps=10, size=(640, 360), draw=draw, draw_index=False)


def disc_picture(colour, direction: str, travel=DISC_TRAVEL, background=(235, 235, 235)):
    def draw(i, t, w, h):
        image = np.empty((h, w, 3), np.uint8)
        image[:] = background
        progress = min(max((t - travel[0]) / (travel[1] - travel[0]), 0.0), 1.0)
        forward, backward = 0.1 + 0.8 * progress, 0.9 - 0.8 * progress
        x = w * {"right": forward, "left": backward}.get(direction, 0.5)
        y = h * {"down": forward, "up": backward}.get(direction, 0.5)
        yy, xx = np.ogrid[:h, :w]
        image[(xx - x) ** 2 + (yy - y) ** 2 <= (h * 0.1) ** 2] = colour
        return image

    return draw


def moving_disc_clip(path: Path, colour=(220, 20, 20), direction: str = "right") -> str:
    """4 s, 640x360, 25 fps: a disc crossing a light grey picture (left, right, up or down)."""
    return make_clip(path, nframes=100, fps=25, size=(640, 360), draw=disc_picture(colour, direction),
                     draw_index=False)


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def espeak_samples(sentence: str) -> np.ndarray:
    """``sentence`` spoken by espeak-ng, as 16 kHz mono float32.

    Voice "en-us+m3" at 130 words a minute: with espeak's default voice, the small Whisper
    models hear the last word of "the meeting starts at nine" as "night" or "the island".
    """
    wav = subprocess.run(["espeak-ng", "-v", "en-us+m3", "-s", "130", "--stdout", sentence],
                         check=True, capture_output=True).stdout
    with av.open(io.BytesIO(wav)) as container:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=16000)
        chunks = [out.to_ndarray().reshape(-1) for frame in container.decode(audio=0) for out in resampler.resample(frame)]
        chunks += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
    return np.concatenate(chunks).astype(np.float32)


def speech_clip(path: Path, sentence: str = "the meeting starts at nine", lead: float = 2.0,
                duration: float = 7.0) -> tuple[str, tuple[float, float]]:
    """A still picture with ``sentence`` spoken from ``lead`` seconds; returns the path and the
    (start, end) of the voice, measured on the samples."""
    speech = espeak_samples(sentence)
    loud = np.flatnonzero(np.abs(speech) > 0.02)
    spoken = (lead + loud[0] / 16000, lead + loud[-1] / 16000)
    samples = np.zeros(int(duration * 16000), np.float32)
    samples[int(lead * 16000) : int(lead * 16000) + len(speech)] = speech[: len(samples) - int(lead * 16000)]

    def draw(i, t, w, h):
        return np.full((h, w, 3), (200, 190, 170), np.uint8)

    clip = make_clip(path, nframes=int(duration * 10), fps=10, size=(320, 240), draw=draw, draw_index=False,
                     audio_samples=samples, audio_rate=16000)
    return clip, spoken


def long_footage(path: Path, minutes: float, *, size=(1280, 720), fps: float = 2.0,
                 cards: dict[tuple[float, float], str] | None = None) -> str:
    """``minutes`` of real street and animation footage (the package-shipped ``bikes`` and
    ``bigbuckbunny`` clips, looped) at ``fps``, with text ``cards`` shown over the given
    (start, end) seconds: the long videos of the long-video tests and benchmarks. Encoded once
    per path (an existing file is reused)."""
    path = Path(path)
    if path.exists():
        return str(path)
    from vidllm.video.resize import resize
    from vidllm.video.sample import sample_frames
    from vidllm.video.samples import sample_path
    from vidllm.video.spec import SamplingSpec

    loop = []
    for name in ("bikes", "bigbuckbunny"):
        frames = sample_frames(sample_path(name), SamplingSpec(fps=fps), cache=False)
        loop += [resize(image, size) for image in frames.data]
    card_images = {span: render_sign(text, size) for span, text in (cards or {}).items()}
    n = int(round(minutes * 60 * fps))
    partial = path.with_name(path.name + ".part")
    with av.open(str(partial), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1000))
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        stream.options = {"preset": "ultrafast", "g": str(max(1, int(fps * 10)))}
        for i in range(n):
            t = i / fps
            image = next((card for (a, b), card in card_images.items() if a <= t < b), loop[i % len(loop)])
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    partial.rename(path)
    return str(path)
