"""``vidllm.budget.PROFILES`` against the released models' processors (no weights needed).

Each family's processor class is built with the settings its released checkpoint ships
(patch size, merge, crop size, tokens per image), given frames sampled from a real clip at the
size the planner chose, and the placeholder tokens it writes are counted: the count must equal
the planner's prediction. The profile each family reads from a model's config and processor
must also give back the released numbers.
"""

from __future__ import annotations

import numpy as np
import pytest
from tiny_vlms import (
    CHATML_TOKENS,
    LLAVA_TOKENS,
    QWEN_TOKENS,
    SMOL_TOKENS,
    needs_transformers,
    tokenizer,
)

from vidllm.budget import PROFILES, plan_budget
from vidllm.models.base import PreparedVideo
from vidllm.models.families import family_for
from vidllm.models.request import Video
from vidllm.models.transformers_backend import _accepted_keys
from vidllm.video.sample import probe, sample_frames
from vidllm.video.spec import SamplingSpec

pytestmark = needs_transformers


def released(name: str):
    """(model_type, processor with the released settings, the config fields that matter)."""
    import transformers as T
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import (
        Qwen2VLImageProcessor,
    )
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import (
        Qwen2VLVideoProcessor,
    )

    if name in ("qwen2-vl", "qwen2.5-vl"):
        proc = (T.Qwen2VLProcessor if name == "qwen2-vl" else T.Qwen2_5_VLProcessor)(
            image_processor=Qwen2VLImageProcessor(), tokenizer=tokenizer(QWEN_TOKENS),
            video_processor=Qwen2VLVideoProcessor())
        return name.replace("-", "_").replace(".", "_"), proc, {}
    if name == "qwen3-vl":
        from transformers.models.qwen3_vl.video_processing_qwen3_vl import (
            Qwen3VLVideoProcessor,
        )

        proc = T.Qwen3VLProcessor(image_processor=Qwen2VLImageProcessor(patch_size=16),
                                  tokenizer=tokenizer(QWEN_TOKENS), video_processor=Qwen3VLVideoProcessor(
                                      size={"shortest_edge": 4096, "longest_edge": 25165824}))
        return "qwen3_vl", proc, {}
    if name.startswith("smolvlm2"):
        from transformers.models.smolvlm.image_processing_smolvlm import (
            SmolVLMImageProcessor,
        )
        from transformers.models.smolvlm.video_processing_smolvlm import (
            SmolVLMVideoProcessor,
        )

        side, seq, patch = (384, 81, 14) if name.endswith("2.2b") else (512, 64, 16)
        tok = tokenizer(SMOL_TOKENS, extra_special_tokens={"fake_image_token": "<fake_token_around_image>",
                                                           "image_token": "<image>", "global_image_token": "<global-img>"})
        sizes = dict(size={"longest_edge": 4 * side}, max_image_size={"longest_edge": side})
        proc = T.SmolVLMProcessor(image_processor=SmolVLMImageProcessor(**sizes), tokenizer=tok,
                                  video_processor=SmolVLMVideoProcessor(num_frames=64, **sizes), image_seq_len=seq)
        return "smolvlm", proc, {"vision_config": {"patch_size": patch, "image_size": side}}
    if name in ("llava-onevision", "llava-video"):
        from transformers.models.llava_onevision.image_processing_llava_onevision import (
            LlavaOnevisionImageProcessor,
        )
        from transformers.models.llava_onevision.video_processing_llava_onevision import (
            LlavaOnevisionVideoProcessor,
        )

        proc = T.LlavaOnevisionProcessor(image_processor=LlavaOnevisionImageProcessor(), tokenizer=tokenizer(CHATML_TOKENS),
                                         video_processor=LlavaOnevisionVideoProcessor(), num_image_tokens=729,
                                         vision_feature_select_strategy="full")
        return "llava_onevision", proc, {}
    side = 336 if name == "llava-next-video" else 224
    sizes = dict(size={"shortest_edge": side}, crop_size={"height": side, "width": side})
    common = dict(tokenizer=tokenizer(LLAVA_TOKENS), patch_size=14, vision_feature_select_strategy="default",
                  num_additional_image_tokens=1)
    if name == "llava-next-video":
        from transformers.models.llava_next.image_processing_llava_next import (
            LlavaNextImageProcessor,
        )
        from transformers.models.llava_next_video.video_processing_llava_next_video import (
            LlavaNextVideoVideoProcessor,
        )

        proc = T.LlavaNextVideoProcessor(video_processor=LlavaNextVideoVideoProcessor(**sizes),
                                         image_processor=LlavaNextImageProcessor(**sizes), **common)
        return "llava_next_video", proc, {}
    from transformers.models.video_llava.image_processing_video_llava import (
        VideoLlavaImageProcessor,
    )
    from transformers.models.video_llava.video_processing_video_llava import (
        VideoLlavaVideoProcessor,
    )

    proc = T.VideoLlavaProcessor(image_processor=VideoLlavaImageProcessor(**sizes),
                                 video_processor=VideoLlavaVideoProcessor(**sizes), **common)
    return "video_llava", proc, {}


class Config:
    """The two config facts families read: the vision patch size and the context length."""

    def __init__(self, model_type, vision_config=None, context=None):
        self.model_type = model_type
        self.vision_config = type("V", (), vision_config or {"patch_size": 14})()
        self.text_config = type("T", (), {"max_position_embeddings": context})()


# (spec, visual token budget) on bikes.mp4 (640x272, 10 s): roomy, a tight budget, an odd count
SETTINGS = [(SamplingSpec(nframes=4), 8192), (SamplingSpec(fps=1.0, start=2.0), 2000), (SamplingSpec(nframes=3), 30000)]


@pytest.mark.parametrize("name", [n for n in PROFILES if n != "llava-video"])
@pytest.mark.parametrize("spec, budget", SETTINGS, ids=["4-frames", "fps-tight", "3-frames"])
def test_released_processors_count_what_the_planner_predicts(name, spec, budget, bikes):
    model_type, processor, _ = released(name)
    profile = PROFILES[name]
    info = probe(bikes)
    plan = plan_budget(profile, width=info.display_width, height=info.display_height, duration=info.duration,
                       budget=budget, spec=spec)
    frames = sample_frames(bikes, plan.spec)
    assert len(frames) == plan.nframes
    if profile.tokens_per_frame is None:
        assert (frames.width, frames.height) == (plan.width, plan.height)
    else:  # decoded no larger than needed, yet the processor's square input still fits inside
        native = min(info.display_width, info.display_height)
        assert min(frames.width, frames.height) >= min(profile.frame_size, native) - 1
    family = family_for(model_type)
    pv = PreparedVideo(Video(bikes, spec), frames, plan.spec, plan, info.duration)
    keys = _accepted_keys(processor.video_processor)
    kwargs = {k: v for k, v in family.video_kwargs([pv]).items() if keys is None or k in keys}
    marker = family.fallback_markers["video"]
    out = processor(text=[f"{marker}What happens?"], videos=[frames.data], return_tensors="pt", **kwargs)
    token = processor.tokenizer.convert_tokens_to_ids(family.frame_token(processor))
    assert int((out["input_ids"][0] == token).sum()) == plan.visual_tokens <= budget


@pytest.mark.parametrize("name", [n for n in PROFILES if n != "llava-video"])
def test_families_read_the_released_numbers_back(name):
    model_type, processor, config = released(name)
    derived = family_for(model_type).profile(Config(model_type, config.get("vision_config"), 4096), processor)
    want = PROFILES[name]
    fields = ("patch_size", "spatial_merge", "temporal_patch", "tokens_per_frame", "extra_tokens", "frame_size",
              "min_pixels", "max_pixels", "max_frames")
    assert {f: getattr(derived, f) for f in fields} == {f: getattr(want, f) for f in fields}
    assert derived.context_tokens == 4096  # the model's own config wins


def test_a_wrong_timestamp_would_be_seen():
    """The metadata clock is exact to the millisecond, even for variable frame rates."""
    family = family_for("qwen3_vl")
    frames = type("F", (), {"timestamps": np.array([0.04, 0.1, 0.52, 3.041]), "width": 32, "height": 32})()
    meta = family.metadata(frames, 5.0)
    assert np.allclose(np.array(meta["frames_indices"]) / meta["fps"], frames.timestamps, atol=5e-4)
