"""``SamplingSpec``: which frames to take from a video, and at what size.

One spec type serves every command, model and benchmark. It plans *target times* only; which
real frames satisfy them is decided against the stream's packet index (see ``plan.py``).

>>> spec = SamplingSpec(fps=2.0, max_frames=4)
>>> spec.target_times(0.0, 10.0)
array([1.25, 3.75, 6.25, 8.75])

A spec that names no strategy takes the project's default, 1 frame per second and at most 32
frames (``DEFAULT_FPS``, ``DEFAULT_MAX_FRAMES``); loose values from a command line, a request
body or a benchmark's settings become a spec through ``SamplingSpec.from_fields``:

>>> SamplingSpec().strategy, SamplingSpec().max_frames
('fps', 32)
>>> SamplingSpec.from_fields({"nframes": 4, "fps": None, "max_pixels": 50176}).to_dict()
{'nframes': 4, 'start': 0.0, 'mode': 'exact', 'max_pixels': 50176, 'size_factor': 1}
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, replace

import numpy as np

from vidllm.errors import OptionError, SpecError

MODES = ("exact", "fast")
# The project's one default sampling, used wherever a spec names no strategy.
DEFAULT_FPS = 1.0
DEFAULT_MAX_FRAMES = 32


@dataclass(frozen=True)
class SamplingSpec:
    """Exactly one strategy: ``nframes`` (uniform), ``fps`` (with optional caps),
    ``keyframes=True`` or ``scene_threshold`` (0-1, mean absolute change between frames).

    ``start``/``end`` bound a half-open range in seconds. ``mode="exact"`` returns the frame
    nearest each target; ``mode="fast"`` accepts any frame within ``tolerance`` seconds of it
    (default: half the sampling interval) and prefers keyframes, which need no decoding of
    other frames. Sizes: ``max_pixels``/``min_pixels`` per frame, sides rounded to ``size_factor``.
    """

    nframes: int | None = None
    fps: float | None = None
    min_frames: int | None = None
    max_frames: int | None = None
    keyframes: bool = False
    scene_threshold: float | None = None
    start: float = 0.0
    end: float | None = None
    mode: str = "exact"
    tolerance: float | None = None
    max_pixels: int | None = None
    min_pixels: int | None = None
    size_factor: int = 1

    def __post_init__(self) -> None:
        chosen = [
            name
            for name, on in (
                ("nframes", self.nframes is not None),
                ("fps", self.fps is not None),
                ("keyframes", self.keyframes),
                ("scene_threshold", self.scene_threshold is not None),
            )
            if on
        ]
        if not chosen:
            object.__setattr__(self, "fps", DEFAULT_FPS)
            if self.max_frames is None:
                object.__setattr__(self, "max_frames", max(DEFAULT_MAX_FRAMES, self.min_frames or 0))
        elif len(chosen) > 1:
            raise SpecError(f"choose one sampling strategy, got {' and '.join(chosen)}")
        if self.nframes is not None and self.nframes < 1:
            raise SpecError(f"nframes must be >= 1, got {self.nframes}")
        if self.fps is not None and not (self.fps > 0 and math.isfinite(self.fps)):
            raise SpecError(f"fps must be a positive number, got {self.fps}")
        for name in ("min_frames", "max_frames"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise SpecError(f"{name} must be >= 1, got {value}")
        if self.min_frames and self.max_frames and self.min_frames > self.max_frames:
            raise SpecError(f"min_frames {self.min_frames} > max_frames {self.max_frames}")
        if self.scene_threshold is not None and not 0 < self.scene_threshold < 1:
            raise SpecError(f"scene_threshold must be between 0 and 1, got {self.scene_threshold}")
        if self.start < 0:
            raise SpecError(f"start must be >= 0 seconds, got {self.start}")
        if self.end is not None and self.end <= self.start:
            raise SpecError(f"end ({self.end}s) must be after start ({self.start}s)")
        if self.mode not in MODES:
            raise SpecError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.tolerance is not None and self.tolerance < 0:
            raise SpecError(f"tolerance must be >= 0 seconds, got {self.tolerance}")
        if self.size_factor < 1:
            raise SpecError(f"size_factor must be >= 1, got {self.size_factor}")
        for name in ("max_pixels", "min_pixels"):
            value = getattr(self, name)
            if value is not None and value < self.size_factor**2:
                raise SpecError(f"{name} must be at least size_factor^2 = {self.size_factor**2}, got {value}")
        if self.min_pixels and self.max_pixels and self.min_pixels > self.max_pixels:
            raise SpecError(f"min_pixels {self.min_pixels} > max_pixels {self.max_pixels}")

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(cls.__dataclass_fields__)

    @classmethod
    def from_fields(cls, fields: dict | None = None, **more) -> "SamplingSpec":
        """The one way to build a spec from loose values: ``None`` means "not given" (so the
        defaults apply); an unknown name is refused with the list of allowed ones.

        Where both a frame count and a rate are given, the later source wins: ``more``
        overrides ``fields``, and naming ``nframes`` there drops an ``fps`` from ``fields``
        (a benchmark's 1 fps overridden by ``--nframes 8``)."""
        given = {k: v for k, v in (fields or {}).items() if v is not None and v is not False}
        override = {k: v for k, v in more.items() if v is not None and v is not False}
        strategies = ("nframes", "fps", "keyframes", "scene_threshold")
        if any(k in override for k in strategies):
            given = {k: v for k, v in given.items() if k not in strategies}
        given.update(override)
        unknown = sorted(set(given) - set(cls.field_names()))
        if unknown:
            raise OptionError(f"unknown sampling field(s) {', '.join(unknown)} "
                              f"(allowed: {', '.join(cls.field_names())})")
        for name in ("nframes", "min_frames", "max_frames", "min_pixels", "max_pixels", "size_factor"):
            value = given.get(name)
            if value is not None and not (isinstance(value, int) and not isinstance(value, bool)):
                if isinstance(value, float) and value.is_integer():
                    given[name] = int(value)
                else:
                    raise SpecError(f"{name} must be a whole number, got {value!r}")
        for name in ("fps", "start", "end", "tolerance", "scene_threshold"):
            value = given.get(name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise SpecError(f"{name} must be a number, got {value!r}")
        if "mode" in given and not isinstance(given["mode"], str):
            raise SpecError(f"mode must be one of {', '.join(MODES)}, got {given['mode']!r}")
        return cls(**given)

    @property
    def strategy(self) -> str:
        if self.keyframes:
            return "keyframes"
        if self.scene_threshold is not None:
            return "scenes"
        return "fps" if self.fps is not None else "uniform"

    def replace(self, **changes) -> "SamplingSpec":
        return replace(self, **changes)

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None and v is not False}

    def key(self) -> str:
        """A stable text form, used in cache keys and manifests."""
        return json.dumps(asdict(self), sort_keys=True)

    def clip_range(self, duration: float) -> tuple[float, float]:
        """The half-open range [start, end) this spec covers in a video of ``duration`` s."""
        if self.start >= duration:
            raise SpecError(f"start {self.start}s is past the end of the video ({duration:.3f}s)")
        end = duration if self.end is None else min(self.end, duration)
        return self.start, end

    def frame_count(self, span: float) -> int:
        """How many frames the uniform or fps strategy wants over ``span`` seconds."""
        if self.nframes is not None:
            n = self.nframes
        else:
            n = max(1, int(math.floor(span * self.fps + 0.5))) if self.fps else 1
        if self.min_frames:
            n = max(n, self.min_frames)
        if self.max_frames:
            n = min(n, self.max_frames)
        return n

    def target_times(self, start: float, end: float) -> np.ndarray:
        """Centres of ``n`` equal slices of [start, end): evenly spread, never on the edges."""
        n = self.frame_count(end - start)
        step = (end - start) / n
        return start + (np.arange(n) + 0.5) * step

    def default_tolerance(self, start: float, end: float) -> float:
        if self.tolerance is not None:
            return self.tolerance
        return (end - start) / self.frame_count(end - start) / 2
