"""Model profiles and the token budget planner.

A Video-LLM turns each frame (or pair of frames) into a number of visual tokens that depends on
the family: Qwen-VL models cut frames into 14 or 16 px patches, merge 2x2 of them and pair
frames in time; LLaVA-OneVision pools every frame to a fixed grid; LLaVA-NeXT-Video pools by 2;
Video-LLaVA keeps every patch plus its CLS token; SmolVLM2 gives every frame a fixed count. The
planner picks the frame count and the per-frame resolution that fit a budget of visual tokens,
and predicts the count exactly: the prediction equals the number of placeholder tokens the
family's processor puts in ``input_ids`` (``tests/models`` checks it against the real
processors, and ``tests/test_budget.py`` against the released models' settings).

>>> from vidllm.budget import PROFILES, plan_budget
>>> plan = plan_budget(PROFILES["qwen2.5-vl"], width=1280, height=720, duration=60.0,
...                    budget=4096, spec=SamplingSpec(fps=1.0))
>>> plan.nframes, plan.width, plan.height, plan.visual_tokens
(60, 420, 224, 3600)
>>> plan_budget(PROFILES["llava-onevision"], width=1280, height=720, duration=60.0,
...             budget=4096, spec=SamplingSpec(nframes=32)).visual_tokens  # 20 frames x 196 + 1
3921

Reference mode (``plan_reference``) gives a Qwen family the frame count and size qwen-vl-utils
0.0.14 would give, so scores compare with published ones; vidllm still decodes frames at their
true times over the range:

>>> plan = plan_reference(PROFILES["qwen2.5-vl"], width=1280, height=720, frame_count=1500, fps=25.0,
...                       spec=SamplingSpec(nframes=17))
>>> plan.nframes, plan.width, plan.height, plan.mode    # 17 rounds to 16, as the reference does
(16, 1008, 560, 'reference')
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from vidllm.errors import SpecError
from vidllm.registry import Registry
from vidllm.video.resize import fit_size
from vidllm.video.spec import SamplingSpec


@dataclass(frozen=True)
class ModelProfile:
    """What a model family does to frames.

    Two kinds: *patch* families (Qwen-VL) whose count grows with resolution,
    ``(frames / temporal_patch) x (H / (patch x merge)) x (W / (patch x merge))``; and
    *fixed-count* families (``tokens_per_frame`` set) whose processor resizes every frame to
    ``frame_size`` and emits the same count whatever the input size. ``extra_tokens`` are
    per-video placeholders on top (LLaVA-OneVision's trailing newline embedding).
    ``min_pixels``/``max_pixels`` bound one frame of a patch family (qwen-vl-utils' video
    defaults); ``context_tokens`` is the language model's context length.
    """

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
        """The size the model sees a ``width`` x ``height`` frame at (before any budget)."""
        if self.tokens_per_frame is not None:
            return (self.frame_size, self.frame_size) if self.frame_size else (width, height)
        cap = min(p for p in (max_pixels, self.max_pixels, width * height * 4) if p)
        low = min(self.min_pixels, cap) if self.min_pixels else None
        return fit_size(width, height, max_pixels=cap, min_pixels=low, factor=self.size_factor)

    def visual_tokens(self, nframes: int, width: int, height: int) -> int:
        """Visual tokens for ``nframes`` frames already resized to ``width`` x ``height``."""
        if self.tokens_per_frame is not None:
            return nframes * self.tokens_per_frame + self.extra_tokens
        f = self.size_factor
        return self.frame_groups(nframes) * (width // f) * (height // f) + self.extra_tokens

    def to_dict(self) -> dict:
        return asdict(self)


def _qwen(name: str, patch: int, context: int) -> ModelProfile:
    # qwen-vl-utils' video defaults: 128..768 merged patches a frame, frames in pairs, <= 768 frames.
    f = patch * 2
    return ModelProfile(name, patch_size=patch, spatial_merge=2, temporal_patch=2,
                        min_pixels=128 * f * f, max_pixels=768 * f * f, max_frames=768,
                        context_tokens=context)


PROFILES: Registry[ModelProfile] = Registry("model profile", ModelProfile)
for _profile in [
    # Released checkpoints' text configs: Qwen2-VL 32768, Qwen2.5-VL 128000, Qwen3-VL 262144.
    _qwen("qwen2-vl", 14, 32768),
    _qwen("qwen2.5-vl", 14, 128000),
    _qwen("qwen3-vl", 16, 262144),
    # SmolVLM2-256M/500M: 512 px frames, 16 px patches, pixel shuffle 4 -> (32/4)^2 = 64.
    ModelProfile("smolvlm2", patch_size=16, tokens_per_frame=64, frame_size=512, max_frames=64,
                 context_tokens=8192),
    # SmolVLM2-2.2B: 384 px, 14 px patches, shuffle 3 -> (27/3)^2 = 81.
    ModelProfile("smolvlm2-2.2b", patch_size=14, tokens_per_frame=81, frame_size=384, max_frames=64,
                 context_tokens=8192),
    # SigLIP 384/14 = 27x27 patches, bilinear-pooled to ceil(27/2)^2 = 196 a frame, + 1 newline.
    ModelProfile("llava-onevision", patch_size=14, tokens_per_frame=196, extra_tokens=1, frame_size=384,
                 max_frames=32, context_tokens=32768),
    # LLaVA-Video-7B-Qwen2: the OneVision architecture, trained on up to 64 frames.
    ModelProfile("llava-video", patch_size=14, tokens_per_frame=196, extra_tokens=1, frame_size=384,
                 max_frames=64, context_tokens=32768),
    # CLIP-L/14 at 336 (24x24 = 576 patches, CLS dropped), average-pooled by 2 -> 144 a frame.
    ModelProfile("llava-next-video", patch_size=14, tokens_per_frame=144, frame_size=336, max_frames=32,
                 context_tokens=4096),
    # LanguageBind video tower, CLIP-L/14 at 224: 16x16 = 256 patches + CLS = 257 a frame, 8 frames.
    ModelProfile("video-llava", patch_size=14, tokens_per_frame=257, frame_size=224, max_frames=8,
                 context_tokens=4096),
]:
    PROFILES.register(_profile.name, _profile)


@dataclass(frozen=True)
class BudgetPlan:
    profile: str
    nframes: int
    width: int  # the size the model sees each frame at
    height: int
    visual_tokens: int
    budget: int
    spec: SamplingSpec  # the input spec with the chosen frame count and pixel cap
    mode: str = "budget"  # "budget" (fitted to a token budget) or "reference" (qwen-vl-utils' counts)

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
    is dropped, because temporal coverage matters more to most questions than detail. Where
    frames go in pairs (``temporal_patch`` 2), an odd count is rounded up when the caps allow,
    as qwen-vl-utils does: the processor would otherwise repeat the last frame, so the extra
    real frame costs no token. The returned spec makes ``sample_frames`` produce frames of
    exactly ``width`` x ``height`` (patch families) or no larger than the processor needs.
    """
    spec = spec or SamplingSpec(fps=1.0)
    if budget <= profile.extra_tokens:
        raise SpecError(f"a budget of {budget} visual tokens is too small for {profile.name}")
    start, end = spec.clip_range(duration) if duration > 0 else (0.0, 0.0)
    countable = spec.strategy in ("uniform", "fps")
    wanted = spec.frame_count(end - start) if countable else spec.max_frames or 32
    cap = min(c for c in (profile.max_frames, spec.max_frames if countable else None, 10**9) if c)
    wanted = min(wanted, cap)
    usable = budget - profile.extra_tokens
    if profile.tokens_per_frame is not None:
        n = min(wanted, usable // profile.tokens_per_frame)
        if n < 1:
            raise SpecError(f"{profile.name} needs {profile.tokens_per_frame} tokens a frame; "
                            f"budget {budget} is too small")
        w, h = profile.frame_size_for(width, height)
        new_spec = _with_count(spec, n, countable)
        if profile.frame_size and width * height > 0:
            # decode no larger than the processor's input: the short side stays >= frame_size
            short, long = min(width, height), max(width, height)
            pixels = math.ceil(profile.frame_size * profile.frame_size * long / short)
            if pixels < width * height and pixels >= new_spec.size_factor**2:
                new_spec = new_spec.replace(max_pixels=pixels, min_pixels=None)
        return BudgetPlan(profile.name, n, w, h, profile.visual_tokens(n, w, h), budget, new_spec)
    f = profile.size_factor
    f2 = f * f
    tp = profile.temporal_patch
    min_tokens = max(1, (profile.min_pixels or f2) // f2)
    n = max(1, wanted)
    if countable and n % tp and n + (tp - n % tp) <= cap:
        n += tp - n % tp
    groups = profile.frame_groups(n)
    if groups * min_tokens > usable:  # even the smallest frames do not fit: drop frames
        groups = max(1, usable // min_tokens)
        n = min(n, groups * tp)
    pixels = (usable // groups) * f2
    if spec.max_pixels:
        pixels = min(pixels, spec.max_pixels)
    if profile.max_pixels:
        pixels = min(pixels, profile.max_pixels)
    pixels = max(pixels, f2)
    low = min(profile.min_pixels, pixels) if profile.min_pixels else None
    w, h = fit_size(width, height, max_pixels=pixels, min_pixels=low, factor=f)
    if w * h > pixels or profile.visual_tokens(n, w, h) > budget:  # rounding up overshot
        low = None
        w, h = fit_size(width, height, max_pixels=pixels, factor=f)
    tokens = profile.visual_tokens(n, w, h)
    if tokens > budget:
        raise SpecError(f"cannot fit {profile.name} frames of {width}x{height} into {budget} tokens")
    # the same caps give the same size when the sampler calls fit_size again
    new_spec = _with_count(spec, n, countable).replace(max_pixels=pixels, min_pixels=low, size_factor=f)
    return BudgetPlan(profile.name, n, w, h, tokens, budget, new_spec)


def _with_count(spec: SamplingSpec, n: int, countable: bool) -> SamplingSpec:
    if countable:
        return spec.replace(nframes=n, fps=None, min_frames=None, max_frames=None)
    return spec.replace(max_frames=n)


# ---------------------------------------------------------------------- reference mode (qwen-vl-utils)

#: qwen-vl-utils 0.0.14's video defaults (vision_process.py)
REFERENCE_FPS = 2.0
REFERENCE_MIN_FRAMES = 4
REFERENCE_MAX_FRAMES = 768
REFERENCE_FRAME_FACTOR = 2
REFERENCE_MIN_TOKENS = 128
REFERENCE_MAX_TOKENS = 768
#: the sequence length qwen-vl-utils spreads over a video's frames (its MODEL_SEQ_LEN default)
REFERENCE_SEQ_LEN = 128000


def reference_family(profile: ModelProfile) -> bool:
    """Whether ``profile`` is a family qwen-vl-utils prepares videos for (Qwen2/2.5/3-VL)."""
    return profile.name.startswith("qwen") and profile.temporal_patch == 2 and profile.spatial_merge == 2


def reference_frame_count(spec: SamplingSpec, *, frame_count: int, fps: float) -> int:
    """How many frames qwen-vl-utils 0.0.14 takes (``smart_nframes`` over the frames of the range
    ``calculate_video_frame_range`` gives): ``nframes`` rounded to even (17 -> 16, Python's
    rounding), or the range's frames x fps / video fps kept within [4, 768 or the range's frames]
    and floored to even. ``frame_count``/``fps`` are what a frame-indexed reader reports (the
    frames in the file, their average rate)."""
    if frame_count <= 0 or fps <= 0:
        raise SpecError(f"reference mode needs the video's frame count and rate, got {frame_count} frames at {fps} fps")
    total = frame_count
    if spec.start or spec.end is not None:
        duration = frame_count / fps
        first = math.ceil(max(0.0, min(spec.start, duration)) * fps) if spec.start else 0
        last = frame_count - 1
        if spec.end is not None:
            last = min(math.floor(max(0.0, min(spec.end, duration)) * fps), frame_count - 1)
        if first >= last:
            raise SpecError(f"the range {spec.start}-{spec.end}s holds no frames of this video in reference mode")
        total = last - first + 1
    factor = REFERENCE_FRAME_FACTOR
    if spec.nframes is not None:
        n = round(spec.nframes / factor) * factor
    else:
        rate = spec.fps if spec.fps is not None else REFERENCE_FPS
        low = math.ceil((spec.min_frames or REFERENCE_MIN_FRAMES) / factor) * factor
        high = math.floor((spec.max_frames or min(REFERENCE_MAX_FRAMES, total)) / factor) * factor
        n = total / fps * rate
        n = math.floor(min(max(n, low), high, total) / factor) * factor
    if not factor <= n <= total:
        raise SpecError(f"reference mode takes between {factor} and {total} frames of this range, got {n}")
    return int(n)


def plan_reference(profile: ModelProfile, *, width: int, height: int, frame_count: int, fps: float,
                   spec: SamplingSpec | None = None) -> BudgetPlan:
    """The frame count and per-frame size qwen-vl-utils 0.0.14 gives a video (``fetch_video``):
    the count of ``reference_frame_count``; each frame between 128 and 768 merged patches and
    within the share of its 128000-token sequence that the frames leave (which may overshoot a
    model's context: the reference does not fit a budget); ``spec.max_pixels``/``min_pixels`` as
    the reference's ``max_pixels``/``min_pixels``. The spec returned samples that many frames
    uniformly over the same range at their true times (the reference indexes frames by number,
    which on variable-frame-rate video lands seconds away from the times it reports)."""
    spec = spec or SamplingSpec()
    if not reference_family(profile):
        raise SpecError(f"reference mode reproduces qwen-vl-utils, which prepares Qwen-VL videos; {profile.name} is not one")
    if spec.strategy not in ("uniform", "fps"):
        raise SpecError(f"reference mode takes frames by count or rate, not by {spec.strategy}")
    n = reference_frame_count(spec, frame_count=frame_count, fps=fps)
    f2 = profile.size_factor**2
    min_pixels = spec.min_pixels if spec.min_pixels is not None else REFERENCE_MIN_TOKENS * f2
    total_pixels = REFERENCE_SEQ_LEN * f2 * 0.9
    max_pixels = max(min(REFERENCE_MAX_TOKENS * f2, total_pixels / n * REFERENCE_FRAME_FACTOR), int(min_pixels * 1.05))
    if spec.max_pixels is not None:
        max_pixels = min(spec.max_pixels, max_pixels)
    # a max_pixels below the reference's default minimum wins, as in qwen-vl-utils' smart_resize
    # (a frame larger than max_pixels shrinks to it whatever the minimum)
    min_pixels = min(min_pixels, int(max_pixels))
    f = profile.size_factor
    w, h = fit_size(width, height, max_pixels=max_pixels, min_pixels=min_pixels, factor=f)  # the cap may be fractional
    # the sampler takes whole-pixel caps: the first that gives the same size
    cap = next((c for c in (math.floor(max_pixels), w * h) if c >= min_pixels
                and fit_size(width, height, max_pixels=c, min_pixels=min_pixels, factor=f) == (w, h)), None)
    if cap is None:
        raise SpecError(f"reference mode: no whole-pixel cap gives {w}x{h} frames of {width}x{height}")
    new_spec = spec.replace(nframes=n, fps=None, min_frames=None, max_frames=None, max_pixels=cap,
                            min_pixels=min_pixels, size_factor=f)
    tokens = profile.visual_tokens(n, w, h)
    return BudgetPlan(profile.name, n, w, h, tokens, tokens, new_spec, mode="reference")


def plan_video(profile: ModelProfile, *, width: int, height: int, duration: float, frame_count: int, fps: float,
               budget: int | None, spec: SamplingSpec | None = None) -> BudgetPlan | None:
    """The plan for one video: with no token budget set, a Qwen family gets reference mode
    (counts and sizes as qwen-vl-utils, so scores compare with published ones) and other
    families none (None: sample ``spec`` as it is); with a budget, ``plan_budget``. Strategies the
    reference has no counterpart for (keyframes, scenes) fall back to the budget path."""
    spec = spec or SamplingSpec()
    if budget is None:
        if reference_family(profile) and spec.strategy in ("uniform", "fps"):
            return plan_reference(profile, width=width, height=height, frame_count=frame_count, fps=fps, spec=spec)
        return None
    return plan_budget(profile, width=width, height=height, duration=duration, budget=budget, spec=spec)
