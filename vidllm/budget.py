"""Model profiles and the token budget planner.

A Video-LLM turns each frame (or pair of frames) into a number of visual tokens that depends on
the family: Qwen-VL models cut frames into 14 or 16 px patches, merge 2x2 of them and pair
frames in time; LLaVA-OneVision pools every frame to a fixed grid; SmolVLM2 gives every frame
a fixed count. The planner picks the frame count and the per-frame resolution that fit a
budget of visual tokens, and predicts the exact count.

>>> from vidllm.budget import PROFILES, plan_budget
>>> plan = plan_budget(PROFILES["qwen2.5-vl"], width=1280, height=720, duration=60.0,
...                    budget=4096, spec=SamplingSpec(fps=1.0))
>>> plan.nframes, plan.width, plan.height, plan.visual_tokens
(60, 420, 224, 3600)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from vidllm.errors import SpecError
from vidllm.video.resize import fit_size
from vidllm.video.spec import SamplingSpec


@dataclass(frozen=True)
class ModelProfile:
    """What a model family does to frames. ``tokens_per_frame`` set means a fixed count per
    frame whatever the resolution (the frame is resized to ``frame_size`` first)."""

    name: str
    patch_size: int = 14
    spatial_merge: int = 1
    temporal_patch: int = 1
    tokens_per_frame: int | None = None
    extra_tokens: int = 0  # per video, e.g. a trailing newline embedding
    frame_size: int | None = None  # fixed square input side, for fixed-count families
    min_pixels: int | None = None
    max_pixels: int | None = None
    max_frames: int | None = None
    context_tokens: int = 32768

    @property
    def size_factor(self) -> int:
        return self.patch_size * self.spatial_merge

    def frame_groups(self, nframes: int) -> int:
        """Temporal groups: frames are padded to a multiple of ``temporal_patch``."""
        return math.ceil(nframes / self.temporal_patch)

    def frame_size_for(self, width: int, height: int, max_pixels: int | None = None) -> tuple[int, int]:
        if self.tokens_per_frame is not None:
            return (self.frame_size, self.frame_size) if self.frame_size else (width, height)
        cap = min(p for p in (max_pixels, self.max_pixels, width * height * 4) if p)
        return fit_size(width, height, max_pixels=cap, min_pixels=self.min_pixels, factor=self.size_factor)

    def visual_tokens(self, nframes: int, width: int, height: int) -> int:
        """Visual tokens for ``nframes`` frames already resized to ``width`` x ``height``."""
        if self.tokens_per_frame is not None:
            return nframes * self.tokens_per_frame + self.extra_tokens
        f = self.size_factor
        return self.frame_groups(nframes) * (width // f) * (height // f) + self.extra_tokens

    def to_dict(self) -> dict:
        return asdict(self)


PROFILES: dict[str, ModelProfile] = {
    p.name: p
    for p in [
        # qwen-vl-utils' video defaults: 128..768 merged patches per frame, frames in pairs.
        ModelProfile("qwen2.5-vl", patch_size=14, spatial_merge=2, temporal_patch=2,
                     min_pixels=128 * 28 * 28, max_pixels=768 * 28 * 28, max_frames=768,
                     context_tokens=128000),
        ModelProfile("qwen3-vl", patch_size=16, spatial_merge=2, temporal_patch=2,
                     min_pixels=128 * 32 * 32, max_pixels=768 * 32 * 32, max_frames=768,
                     context_tokens=256000),
        ModelProfile("smolvlm2", tokens_per_frame=64, frame_size=512, max_frames=64,
                     context_tokens=8192),
        ModelProfile("llava-onevision", tokens_per_frame=196, extra_tokens=1, frame_size=384,
                     max_frames=32, context_tokens=32768),
    ]
}


@dataclass(frozen=True)
class BudgetPlan:
    profile: str
    nframes: int
    width: int
    height: int
    visual_tokens: int
    budget: int
    spec: SamplingSpec  # the input spec with the chosen frame count and pixel cap

    def to_dict(self) -> dict:
        d = asdict(self)
        d["spec"] = self.spec.to_dict()
        return d


def plan_budget(
    profile: ModelProfile,
    *,
    width: int,
    height: int,
    duration: float,
    budget: int,
    spec: SamplingSpec | None = None,
) -> BudgetPlan:
    """Choose frame count and per-frame size so the visual tokens stay within ``budget``.

    Frames come first: the resolution shrinks down to the profile's minimum before any frame
    is dropped, because temporal coverage matters more to most questions than detail.
    """
    spec = spec or SamplingSpec(fps=1.0)
    if budget <= profile.extra_tokens:
        raise SpecError(f"a budget of {budget} visual tokens is too small for {profile.name}")
    start, end = spec.clip_range(duration) if duration > 0 else (0.0, 0.0)
    wanted = spec.frame_count(end - start) if spec.strategy in ("uniform", "fps") else spec.max_frames or 32
    if profile.max_frames:
        wanted = min(wanted, profile.max_frames)
    usable = budget - profile.extra_tokens
    if profile.tokens_per_frame is not None:
        n = min(wanted, usable // profile.tokens_per_frame)
        if n < 1:
            raise SpecError(f"{profile.name} needs {profile.tokens_per_frame} tokens a frame; budget {budget} is too small")
        w, h = profile.frame_size_for(width, height)
        new_spec = spec.replace(nframes=n, fps=None, min_frames=None, max_frames=None) if spec.strategy in ("uniform", "fps") else spec.replace(max_frames=n)
        return BudgetPlan(profile.name, n, w, h, profile.visual_tokens(n, w, h), budget, new_spec)
    f2 = profile.size_factor**2
    tp = profile.temporal_patch
    min_tokens = max(1, (profile.min_pixels or f2) // f2)
    n = max(1, wanted)
    groups = profile.frame_groups(n)
    if groups * min_tokens > usable:  # even the smallest frames do not fit: drop frames
        groups = max(1, usable // min_tokens)
        n = groups * tp
    pixels = (usable // groups) * f2
    if spec.max_pixels:
        pixels = min(pixels, spec.max_pixels)
    if profile.max_pixels:
        pixels = min(pixels, profile.max_pixels)
    pixels = max(pixels, f2)
    w, h = fit_size(width, height, max_pixels=pixels, factor=profile.size_factor)
    tokens = profile.visual_tokens(n, w, h)
    if tokens > budget:
        raise SpecError(f"cannot fit {profile.name} frames of {width}x{height} into {budget} tokens")
    if spec.strategy in ("uniform", "fps"):
        new_spec = spec.replace(nframes=n, fps=None, min_frames=None, max_frames=None)
    else:
        new_spec = spec.replace(max_frames=n)
    # the same cap gives the same size when the sampler calls fit_size again
    new_spec = new_spec.replace(max_pixels=pixels, size_factor=profile.size_factor, min_pixels=None)
    return BudgetPlan(profile.name, n, w, h, tokens, budget, new_spec)
