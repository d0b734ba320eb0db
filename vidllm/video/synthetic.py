"""Clips with known ground truth, made on the spot: for tests, benchmarks and demos.

Every frame can carry its own index drawn as a 16-bit code of black and white blocks across the
top of the picture; ``read_frame_index`` reads it back from a decoded (even resized) frame, so a
sampler's timestamps can be checked against the truth without trusting any header.

>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "clip.mp4")
>>> make_clip(path, nframes=10, fps=5, size=(64, 48))
'...clip.mp4'
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Sequence

import av
import numpy as np

CODE_BITS = 16
_BAND = 0.125  # fraction of the height used by the code band


def draw_frame_index(image: np.ndarray, index: int) -> None:
    """Draw ``index`` as CODE_BITS blocks along the top band of an HxWx3 uint8 image, in place."""
    height, width = image.shape[:2]
    band = max(2, int(height * _BAND))
    for bit in range(CODE_BITS):
        x0 = bit * width // CODE_BITS
        x1 = (bit + 1) * width // CODE_BITS
        image[:band, x0:x1] = 255 if (index >> (CODE_BITS - 1 - bit)) & 1 else 0


def read_frame_index(image: np.ndarray) -> int:
    """Read back the index drawn by ``draw_frame_index`` (works on resized frames too)."""
    height, width = image.shape[:2]
    band = max(2, int(height * _BAND))
    y0, y1 = band // 4, max(band // 4 + 1, 3 * band // 4)
    value = 0
    for bit in range(CODE_BITS):
        x0 = bit * width // CODE_BITS
        x1 = (bit + 1) * width // CODE_BITS
        margin = max(0, (x1 - x0) // 4)
        block = image[y0:y1, x0 + margin : x1 - margin]
        value = (value << 1) | int(block.mean() > 127)
    return value


@dataclass(frozen=True)
class ClipTruth:
    """What a generated clip holds: the presentation time of every frame, in seconds."""

    path: str
    timestamps: tuple[float, ...]


def default_picture(index: int, t: float, width: int, height: int) -> np.ndarray:
    """A mid-grey frame with a slowly moving gradient below the code band."""
    x = np.linspace(0, 255, width, dtype=np.float32)
    row = ((x + 40 * t) % 256).astype(np.uint8)
    image = np.empty((height, width, 3), dtype=np.uint8)
    image[:] = row[None, :, None]
    image[..., 1] = 128
    return image


def make_clip(
    path: str | Path,
    *,
    nframes: int | None = None,
    fps: float = 25.0,
    size: tuple[int, int] = (320, 240),
    codec: str = "libx264",
    gop: int | None = None,
    timestamps: Sequence[float] | None = None,
    rotation: int | None = None,
    audio_tone_hz: float | None = None,
    audio_samples: np.ndarray | None = None,
    audio_rate: int = 16000,
    draw: Callable[[int, float, int, int], np.ndarray] | None = default_picture,
    draw_index: bool = True,
    pix_fmt: str = "yuv420p",
    preset: str = "ultrafast",
    bframes: int = 0,
    return_truth: bool = False,
) -> str | ClipTruth:
    """Encode a clip; returns its path (or a ``ClipTruth`` with ``return_truth=True``).

    ``timestamps`` gives each frame's presentation time for variable frame rate; otherwise frames
    are 1/fps apart. ``draw=None`` with ``draw_index=False`` and ``nframes=0`` makes audio-only.
    """
    path = str(path)
    width, height = size
    if timestamps is None:
        count = nframes if nframes is not None else int(round(fps * 2))
        timestamps = [i / fps for i in range(count)]
    timestamps = list(timestamps)
    time_base = Fraction(1, 1000) if _is_vfr(timestamps, fps) else Fraction(1, int(round(fps * 1000)) if fps % 1 else int(round(fps)))
    with av.open(path, "w") as container:
        video = None
        if timestamps:
            video = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
            video.width, video.height = width, height
            video.pix_fmt = pix_fmt
            video.codec_context.time_base = time_base
            options = {}
            if codec == "libx264":
                options = {"preset": preset, "bf": str(bframes), "sc_threshold": "0"}
                if gop:
                    options.update({"g": str(gop), "keyint_min": str(gop)})
            elif gop:
                video.codec_context.gop_size = gop
            video.options = options
            if rotation:
                video.set_display_rotation(rotation)
        audio = None
        if audio_tone_hz is not None or audio_samples is not None:
            audio = container.add_stream("aac", rate=audio_rate)
            audio.layout = "mono"
        for index, t in enumerate(timestamps):
            image = (
                draw(index, t, width, height)
                if draw is not None
                else np.zeros((height, width, 3), np.uint8)
            )
            if draw_index:
                draw_frame_index(image, index)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = int(round(t / time_base))
            frame.time_base = time_base
            container.mux(video.encode(frame))
        if video is not None:
            container.mux(video.encode(None))
        if audio is not None:
            if audio_samples is None:
                seconds = (timestamps[-1] + 1 / fps) if timestamps else 2.0
                n = int(seconds * audio_rate)
                audio_samples = 0.3 * np.sin(2 * np.pi * audio_tone_hz * np.arange(n) / audio_rate)
            _encode_audio(container, audio, np.asarray(audio_samples, np.float32), audio_rate)
    if return_truth:
        return ClipTruth(path, tuple(float(t) for t in timestamps))
    return path


def _is_vfr(timestamps: Sequence[float], fps: float) -> bool:
    steps = np.diff(np.asarray(timestamps, dtype=np.float64))
    return bool(len(steps)) and not np.allclose(steps, 1 / fps, atol=1e-6)


def _encode_audio(container, stream, samples: np.ndarray, rate: int) -> None:
    chunk = 1024
    for start in range(0, len(samples), chunk):
        block = samples[start : start + chunk]
        frame = av.AudioFrame.from_ndarray(block[None, :], format="flt", layout="mono")
        frame.sample_rate = rate
        frame.pts = start
        frame.time_base = Fraction(1, rate)
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))
