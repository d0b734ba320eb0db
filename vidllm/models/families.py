"""Per-family profiles: only what truly differs between Video-LLM families.

Everything a family shares with the others (sampling, budgets, chat templates, batching,
generation) lives in the base and the backends. A family says:

* how its processor counts visual tokens, as a ``vidllm.budget.ModelProfile`` read from the
  loaded model's own config and processor (so a fine-tune with another resolution is planned
  right), bounded by the released models' defaults in ``vidllm.budget.PROFILES``;
* how the frames' times reach the model (``timing``):

  - ``"grid"``: Qwen2.5-VL's M-RoPE spaces frame pairs by ``second_per_grid_ts`` (temporal
    patch / sampled fps). transformers 4.x reads it from the ``fps`` argument (default 2.0),
    5.x from the video metadata (default 24 fps): both are passed, and the value is checked
    after processing;
  - ``"metadata"``: the processor writes the times into the prompt from the metadata
    (Qwen3-VL ``<t seconds>`` per frame pair, SmolVLM2 ``Frame from MM:SS``). The metadata
    uses a millisecond clock (fps 1000, indices = round(t x 1000)) so VFR times stay true;
  - ``"text"``: no absolute time in the model, so the frames' true times are written in the
    prompt after the video (LLaVA-Video's training wording, see ``base.time_note``);

* processor call quirks: frames already sampled (``do_sample_frames=False``, SmolVLM2 fails
  without it), frames already at the planned size (``do_resize=False`` for Qwen, whose
  processor would otherwise resize again with its own min/max), which token marks a frame.
"""

from __future__ import annotations

import logging
import math
from typing import Any, ClassVar

import numpy as np

from vidllm.budget import PROFILES, ModelProfile
from vidllm.models.base import time_note
from vidllm.registry import Registry

log = logging.getLogger(__name__)

CLOCK = 1000.0  # metadata "fps" for the millisecond clock


def _get(obj, key, default=None):
    """Read ``key`` from a dict or an object (transformers' SizeDict, configs)."""
    if obj is None:
        return default
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default)


def _context(config) -> int | None:
    text = getattr(config, "text_config", None) or config
    return _get(text, "max_position_embeddings")


class Family:
    """The defaults: a family with no absolute time whose processor pools each frame."""

    name: ClassVar[str] = "generic"
    model_types: ClassVar[tuple[str, ...]] = ()
    profile_name: ClassVar[str | None] = None
    timing: ClassVar[str] = "text"
    resize_frames: ClassVar[bool] = True  # False: frames arrive at the planned size
    ragged_batches: ClassVar[bool] = False  # True: the processor takes videos of different shapes
    frame_token_attr: ClassVar[str] = "video_token"  # processor attribute of the placeholder
    fallback_markers: ClassVar[dict[str, str]] = {"video": "<video>\n", "image": "<image>\n"}

    def profile(self, config, processor) -> ModelProfile | None:
        """How this model counts visual tokens, or None when it cannot be predicted."""
        return None

    def base_profile(self) -> ModelProfile | None:
        return PROFILES.get(self.profile_name) if self.profile_name else None

    # -- the processor call --------------------------------------------------------------------

    def metadata(self, frames, duration: float | None) -> dict:
        """Video metadata on the millisecond clock: ``frames_indices / fps`` are true times."""
        ts = np.asarray(frames.timestamps, dtype=float)
        span = float(duration) if duration else float(ts[-1]) + 1e-3
        return {
            "fps": CLOCK,
            "frames_indices": [int(round(t * CLOCK)) for t in ts],
            "total_num_frames": int(round(span * CLOCK)) + 1,
            "duration": span,
            "width": int(frames.width),
            "height": int(frames.height),
        }

    def video_kwargs(self, videos: list) -> dict:
        """Keyword arguments for the processor call (``videos``: ``PreparedVideo``s in order)."""
        kwargs: dict[str, Any] = {"do_sample_frames": False}
        kwargs["video_metadata"] = [self.metadata(pv.frames, pv.duration) for pv in videos]
        if not self.resize_frames:
            kwargs.update(do_resize=False, cap_pixels_per_frame=False)  # the cap is a resize setting
        return kwargs

    def after_processing(self, inputs, videos: list, processor) -> None:
        """Check or correct what the processor produced (in place)."""

    def note(self, pv) -> str | None:
        """Text placed after the video in the prompt, or None."""
        if self.timing == "text":
            return time_note(pv.frames, pv.duration)
        return None

    def frame_token(self, processor) -> str | None:
        return getattr(processor, self.frame_token_attr, None)


class QwenFamily(Family):
    resize_frames = False
    ragged_batches = True
    fallback_markers = {"video": "<|vision_start|><|video_pad|><|vision_end|>",
                        "image": "<|vision_start|><|image_pad|><|vision_end|>"}

    def profile(self, config, processor) -> ModelProfile | None:
        vp = processor.video_processor
        base = self.base_profile()
        patch, merge, tp = vp.patch_size, vp.merge_size, vp.temporal_patch_size
        f2 = (patch * merge) ** 2
        size = getattr(vp, "size", None)
        # The processor's own bounds only tighten the reference (qwen-vl-utils) per-frame bounds;
        # Qwen3-VL's are for the whole clip (t x h x w), far above one frame.
        high = min(p for p in (_get(size, "longest_edge"), base.max_pixels) if p)
        low = min(max(_get(size, "shortest_edge") or 0, base.min_pixels), high)
        return ModelProfile(
            self.name, patch_size=patch, spatial_merge=merge, temporal_patch=tp,
            min_pixels=max(low, f2), max_pixels=max(high, f2), max_frames=base.max_frames,
            context_tokens=_context(config) or base.context_tokens,
        )


class Qwen2VL(QwenFamily):
    """Qwen2-VL: frame pairs are numbered, not timed, so the times go in the prompt."""

    name = "qwen2-vl"
    model_types = ("qwen2_vl",)
    profile_name = "qwen2-vl"
    timing = "text"


class Qwen25VL(QwenFamily):
    name = "qwen2.5-vl"
    model_types = ("qwen2_5_vl",)
    profile_name = "qwen2.5-vl"
    timing = "grid"

    @staticmethod
    def sampled_fps(frames, duration: float | None = None) -> float:
        """Frames per second of the sample, from the true timestamps (their mean spacing)."""
        ts = np.asarray(frames.timestamps, dtype=float)
        if len(ts) > 1 and ts[-1] > ts[0]:
            return (len(ts) - 1) / float(ts[-1] - ts[0])
        return len(ts) / (duration or 1.0)

    def metadata(self, frames, duration: float | None) -> dict:
        """transformers 5.x: second_per_grid_ts = temporal_patch / metadata.sampled_fps, where
        sampled_fps = len(frames_indices) / total_num_frames x fps: here, the sample's rate."""
        rate = self.sampled_fps(frames, duration)
        return {"fps": rate, "frames_indices": list(range(len(frames))), "total_num_frames": len(frames),
                "duration": len(frames) / rate}

    def video_kwargs(self, videos: list) -> dict:
        kwargs = super().video_kwargs(videos)
        rates = {round(m["fps"], 9) for m in kwargs["video_metadata"]}
        if len(rates) == 1:
            kwargs["fps"] = float(kwargs["video_metadata"][0]["fps"])  # what transformers 4.x reads (a number)
        return kwargs

    def after_processing(self, inputs, videos: list, processor) -> None:
        if not videos:
            return
        import torch

        tp = int(processor.video_processor.temporal_patch_size)
        want = torch.tensor([tp / self.sampled_fps(pv.frames, pv.duration) for pv in videos], dtype=torch.float32)
        got = inputs.get("second_per_grid_ts")
        got = torch.as_tensor(got, dtype=torch.float32) if got is not None else None
        if got is None or got.shape != want.shape or not torch.allclose(got, want, rtol=1e-4, atol=1e-6):
            log.info("qwen2.5-vl: the processor gave second_per_grid_ts=%s; using the true %s",
                     None if got is None else got.tolist(), want.tolist())
            inputs["second_per_grid_ts"] = want

    def note(self, pv) -> str | None:
        # M-RoPE times are relative to the first frame: say where that frame is when it matters
        first = float(pv.frames.timestamps[0])
        return f"The first frame is at {first:.2f} seconds into the video." if first >= 1.0 else None


class Qwen3VL(QwenFamily):
    name = "qwen3-vl"
    model_types = ("qwen3_vl", "qwen3_vl_moe")
    profile_name = "qwen3-vl"
    timing = "metadata"


class SmolVLM2(Family):
    name = "smolvlm2"
    model_types = ("smolvlm",)
    profile_name = "smolvlm2"
    timing = "metadata"
    ragged_batches = True
    frame_token_attr = "image_token"  # each frame becomes <image> tokens
    fallback_markers = {"video": "<video>", "image": "<image>"}

    def profile(self, config, processor) -> ModelProfile | None:
        base = self.base_profile()
        vp = processor.video_processor
        return ModelProfile(
            self.name, patch_size=_get(config.vision_config, "patch_size", base.patch_size),
            tokens_per_frame=int(processor.image_seq_len),
            frame_size=int(_get(vp.max_image_size, "longest_edge")),
            max_frames=getattr(vp, "num_frames", None) or base.max_frames,
            context_tokens=_context(config) or base.context_tokens,
        )


class LlavaOneVision(Family):
    name = "llava-onevision"
    model_types = ("llava_onevision",)
    profile_name = "llava-onevision"

    def profile(self, config, processor) -> ModelProfile | None:
        base = self.base_profile()
        side = int(math.sqrt(processor.num_image_tokens))
        pooled = math.ceil(side / 2)  # the model pools every frame bilinearly to half size
        return ModelProfile(
            self.name, patch_size=_get(config.vision_config, "patch_size", 14),
            tokens_per_frame=pooled * pooled, extra_tokens=1,
            frame_size=int(_get(processor.video_processor.size, "height")),
            max_frames=base.max_frames, context_tokens=_context(config) or base.context_tokens,
        )


class InternVL(Family):
    """InternVL 2.5 / 3 (``model_type`` "internvl", the -hf checkpoints): each frame becomes
    "FrameN: <img>" + ``image_seq_length`` x <IMG_CONTEXT> + "</img>"; the prompt numbers the
    frames but gives no time, so vidllm's time note carries their true times."""

    name = "internvl"
    model_types = ("internvl",)
    frame_token_attr = "image_token"  # <IMG_CONTEXT>, the placeholder every frame token is
    fallback_markers = {"video": "<video>\n", "image": "<IMG_CONTEXT>\n"}
    #: the released models' video setting (32 frames) and language context (InternVL3-1B/2B)
    max_frames, context_tokens = 32, 32768

    def profile(self, config, processor) -> ModelProfile | None:
        # released: 448 px frames, 14 px patches, pixel shuffle 0.5 -> (32 / 2)^2 = 256 tokens a frame
        patch = _get(config.vision_config, "patch_size", 14)
        return ModelProfile(
            self.name, patch_size=int(patch[0] if isinstance(patch, (list, tuple)) else patch),
            tokens_per_frame=int(processor.image_seq_length),
            frame_size=int(_get(processor.video_processor.size, "height")),
            max_frames=self.max_frames, context_tokens=_context(config) or self.context_tokens,
        )


def _crop_side(vp) -> int | None:
    crop = getattr(vp, "crop_size", None)
    if getattr(vp, "do_center_crop", False) and _get(crop, "height") and _get(crop, "height") == _get(crop, "width"):
        return int(_get(crop, "height"))
    return None  # frames keep their aspect: the count depends on it and is not predicted


class CroppedFrameFamily(Family):
    """Families that center-crop every frame to a square and give it a fixed token count; they
    differ only in how a crop's patches become tokens (``tokens_for``)."""

    def tokens_for(self, patches_per_side: int, processor) -> int:
        raise NotImplementedError

    def profile(self, config, processor) -> ModelProfile | None:
        base, side = self.base_profile(), _crop_side(processor.video_processor)
        if side is None:
            return None
        per_side = side // processor.patch_size
        return ModelProfile(
            self.name, patch_size=processor.patch_size, tokens_per_frame=self.tokens_for(per_side, processor),
            frame_size=side, max_frames=base.max_frames, context_tokens=_context(config) or base.context_tokens,
        )


class LlavaNextVideo(CroppedFrameFamily):
    name = "llava-next-video"
    model_types = ("llava_next_video",)
    profile_name = "llava-next-video"

    def tokens_for(self, patches_per_side: int, processor) -> int:
        return patches_per_side * patches_per_side // 4  # 2x2 pooling


class VideoLlava(CroppedFrameFamily):
    name = "video-llava"
    model_types = ("video_llava",)
    profile_name = "video-llava"

    def tokens_for(self, patches_per_side: int, processor) -> int:
        return patches_per_side * patches_per_side + int(processor.num_additional_image_tokens)  # + CLS


FAMILIES: Registry[Family] = Registry("model family", Family)
for _family in (Qwen2VL, Qwen25VL, Qwen3VL, SmolVLM2, LlavaOneVision, LlavaNextVideo, VideoLlava, InternVL):
    FAMILIES.register(_family.name, _family)


def family_for(model_type: str | None) -> Family:
    """The family of a model, from its config's ``model_type``; ``Family()`` (times in the
    prompt, counts read from ``input_ids`` only) for models not listed here. Another package
    adds a family with ``FAMILIES.register(name, "package.module:FamilyClass")``."""
    for _, cls in FAMILIES.items():
        if model_type in cls.model_types:
            return cls()
    log.warning("model type %r is not a known video family; frames go through its processor with "
                "their times written in the prompt, and visual tokens are counted, not predicted", model_type)
    return Family()


def family_names() -> list[str]:
    return FAMILIES.names()
