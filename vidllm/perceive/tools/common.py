"""What the visual tools share: one preferred sampling, frame spans, runs, thumbnails.

Every visual tool of the default set prefers the *same* sampling (``DEFAULT_FPS`` frames a
second, at most ``DEFAULT_MAX_FRAMES``, each fitted to ``DEFAULT_MAX_PIXELS``), so a caller that
samples once per distinct spec (``vidllm.perceive.analyze``) decodes the video once for all of
them. A tool that needs fewer frames thins them itself (OCR reads about one a second and
refines only where the text changes), rather than asking for a different decode.

Each sampled frame stands for the half-open span from the midpoint with its previous frame to
the midpoint with its next one (the first from the start of the sampled range, the last to
the end of the video), so the observations of consecutive frames tile time without gaps.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
from pydantic import Field, field_validator, model_validator

from vidllm.perceive.base import PerceptionInput, PerceptionTool
from vidllm.perceive.options import ToolOptions
from vidllm.video.spec import SamplingSpec

DEFAULT_FPS = 2.0
DEFAULT_MAX_FRAMES = 480  # 4 minutes at 2 fps; longer videos get frames spread evenly
DEFAULT_MAX_PIXELS = 640 * 360
# Past this length a video is long: perceived a chunk at a time (``analyze``), and the visual
# tools sample one frame a second unless told a rate, so an hour costs 3,600 frames, not 7,200.
LONG_VIDEO_SECONDS = 240.0
LONG_VIDEO_FPS = 1.0


class SamplingOptions(ToolOptions):
    """The sampling every visual tool declares; the defaults are shared, so one decode serves
    all of them. ``None`` stands for the default (callers that pass "not set" through)."""

    fps: float = Field(DEFAULT_FPS, gt=0, description="Frames a second to sample.")
    max_frames: int = Field(DEFAULT_MAX_FRAMES, ge=1,
                            description="At most this many frames; longer videos get them spread evenly.")
    max_pixels: int = Field(DEFAULT_MAX_PIXELS, ge=1, description="Each frame is fitted to this many pixels.")

    @field_validator("fps", "max_frames", "max_pixels", mode="before")
    @classmethod
    def _none_is_default(cls, value, info):
        return cls.model_fields[info.field_name].default if value is None else value

    @model_validator(mode="after")
    def _sampling_is_possible(self):
        self.spec()  # a spec the sampler refuses fails now, at construction, not mid-run
        return self

    def spec(self) -> SamplingSpec:
        return SamplingSpec(fps=self.fps, max_frames=self.max_frames, max_pixels=self.max_pixels)


class VisualTool(PerceptionTool):
    """A tool that reads sampled frames; it declares the sampling it prefers.

    Its ``Options`` derive from ``SamplingOptions`` (``fps``, ``max_frames``, ``max_pixels``,
    with defaults shared by every visual tool).
    """

    Options = SamplingOptions

    def sampling(self, duration: float | None = None) -> SamplingSpec:
        """The frames this tool wants; identical for every default visual tool. On a long
        video, one a second unless a rate was chosen (``max_frames`` then caps each chunk)."""
        spec = self.options.spec()
        if duration is not None and duration > LONG_VIDEO_SECONDS and "fps" not in self.options.model_fields_set:
            spec = spec.replace(fps=min(spec.fps, LONG_VIDEO_FPS))
        return spec

    @staticmethod
    def _frames(source: PerceptionInput):
        if source.frames is None or len(source.frames) == 0:
            return None
        return source.frames


def frame_spans(timestamps: Sequence[float], duration: float | None = None,
                start: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) of the span each frame stands for: midpoints between neighbours.

    >>> frame_spans([0.25, 0.75, 1.25], duration=1.5)
    (array([0. , 0.5, 1. ]), array([0.5, 1. , 1.5]))
    """
    t = np.asarray(timestamps, dtype=np.float64)
    if len(t) == 0:
        return t.copy(), t.copy()
    mids = (t[1:] + t[:-1]) / 2
    if len(t) > 1:
        half = float(np.median(np.diff(t))) / 2
    else:
        half = max(0.5, (duration or t[0] + 0.5) - t[0])
    first = max(min(start, t[0]), t[0] - half)
    last = t[-1] + half
    if duration is not None and duration > t[-1]:
        last = min(last, duration) if len(t) > 1 else duration
    starts = np.concatenate([[first], mids])
    ends = np.concatenate([mids, [max(last, t[-1])]])
    return starts, ends


def runs(keys: Sequence[Hashable]) -> list[tuple[int, int]]:
    """Half-open index ranges [i, j) of consecutive equal keys.

    >>> runs(["a", "a", "b", "a"])
    [(0, 2), (2, 3), (3, 4)]
    """
    out: list[tuple[int, int]] = []
    begin = 0
    for i in range(1, len(keys) + 1):
        if i == len(keys) or keys[i] != keys[begin]:
            out.append((begin, i))
            begin = i
    return out


def thin(timestamps: Sequence[float], min_interval: float) -> np.ndarray:
    """Indices of frames at least ``min_interval`` seconds apart (first frame always kept)."""
    t = np.asarray(timestamps, dtype=np.float64)
    if min_interval <= 0 or len(t) == 0:
        return np.arange(len(t))
    keep, last = [], -np.inf
    for i, value in enumerate(t):
        if value - last >= min_interval - 1e-9:
            keep.append(i)
            last = value
    return np.asarray(keep, dtype=np.int64)


def thumbnails(data: np.ndarray, width: int) -> np.ndarray:
    """Shrink uint8 (N, H, W, 3) frames to about ``width`` pixels wide by block averaging.

    Integer block means: fast, deterministic, and free of the aliasing that point sampling
    gives on fine textures. Returns float32 (N, h, w, 3) in 0-255.
    """
    n, h, w, _ = data.shape
    factor = max(1, w // width)
    hh, ww = h // factor, w // factor
    cut = data[:, : hh * factor, : ww * factor].astype(np.float32)
    return cut.reshape(n, hh, factor, ww, factor, 3).mean(axis=(2, 4))


def grey(images: np.ndarray) -> np.ndarray:
    """Luma (BT.601) of float (..., 3) images."""
    return images @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
