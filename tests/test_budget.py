"""The token budget planner: predictions, caps and agreement with the sampler's resizing.

The predictions are checked against the released models' processors in
``tests/models/test_profiles.py``; here the planner's own rules are checked on a grid.
"""

from __future__ import annotations

import doctest
import itertools
import math

import pytest

import vidllm.budget
from vidllm.budget import PROFILES, ModelProfile, plan_budget
from vidllm.errors import SpecError
from vidllm.video.resize import fit_size
from vidllm.video.spec import SamplingSpec


def test_docstring_examples():
    assert doctest.testmod(vidllm.budget).failed == 0


def test_released_counts_follow_each_familys_arithmetic():
    assert PROFILES["llava-onevision"].tokens_per_frame == math.ceil((384 // 14) / 2) ** 2 == 196
    assert PROFILES["llava-next-video"].tokens_per_frame == (336 // 14) ** 2 // 4 == 144
    assert PROFILES["video-llava"].tokens_per_frame == (224 // 14) ** 2 + 1 == 257
    assert PROFILES["smolvlm2"].tokens_per_frame == (512 // 16) ** 2 // 4**2 == 64
    assert PROFILES["smolvlm2-2.2b"].tokens_per_frame == (384 // 14) ** 2 // 3**2 == 81
    assert PROFILES["qwen2.5-vl"].size_factor == 28 and PROFILES["qwen3-vl"].size_factor == 32
    # Qwen: frames pair up; 8 frames of 448x252 -> 4 x 16 x 9
    assert PROFILES["qwen2.5-vl"].visual_tokens(8, 448, 252) == 4 * 16 * 9
    assert PROFILES["qwen2.5-vl"].visual_tokens(7, 448, 252) == 4 * 16 * 9  # the 7th frame is repeated


SIZES = [(1280, 720), (640, 272), (160, 128), (720, 1280), (3840, 2160)]
SPECS = [SamplingSpec(nframes=8), SamplingSpec(fps=1.0, max_frames=64), SamplingSpec(fps=2.0, start=5.0, end=25.0),
         SamplingSpec(nframes=5, max_pixels=200_000), SamplingSpec(keyframes=True, max_frames=12)]
BUDGETS = [300, 2048, 16384]


@pytest.mark.parametrize("name", list(PROFILES))
def test_plans_stay_in_budget_and_the_sampler_agrees(name):
    profile = PROFILES[name]
    for (w, h), spec, budget in itertools.product(SIZES, SPECS, BUDGETS):
        if budget <= (profile.tokens_per_frame or 0) + profile.extra_tokens:
            with pytest.raises(SpecError):
                plan_budget(profile, width=w, height=h, duration=60.0, budget=budget, spec=spec)
            continue
        plan = plan_budget(profile, width=w, height=h, duration=60.0, budget=budget, spec=spec)
        assert 1 <= plan.nframes and plan.visual_tokens <= budget
        assert plan.visual_tokens == profile.visual_tokens(plan.nframes, plan.width, plan.height)
        if profile.max_frames:
            assert plan.nframes <= profile.max_frames
        if spec.max_frames and spec.strategy in ("uniform", "fps"):
            assert plan.nframes <= spec.max_frames
        out = fit_size(w, h, max_pixels=plan.spec.max_pixels, min_pixels=plan.spec.min_pixels,
                       factor=plan.spec.size_factor)
        if profile.tokens_per_frame is None:
            # the sampler resizes to exactly the planned size, a multiple of patch x merge
            assert out == (plan.width, plan.height)
            assert plan.width % profile.size_factor == 0 and plan.height % profile.size_factor == 0
            # within the pixel budget, unless a minimum asks for more (then no more than it rounds to)
            floor = plan.spec.min_pixels or 0
            assert plan.width * plan.height <= max(spec.max_pixels or profile.max_pixels, floor + 2 * profile.size_factor * max(w, h))
        else:
            assert (plan.width, plan.height) == (profile.frame_size, profile.frame_size)
            assert min(out) >= min(profile.frame_size, w, h) - 1  # never smaller than the processor's input
        if spec.strategy in ("uniform", "fps"):
            assert plan.spec.nframes == plan.nframes


def test_resolution_shrinks_before_frames_are_dropped():
    qwen = PROFILES["qwen2.5-vl"]
    roomy = plan_budget(qwen, width=1280, height=720, duration=60, budget=100_000, spec=SamplingSpec(nframes=16))
    tight = plan_budget(qwen, width=1280, height=720, duration=60, budget=4000, spec=SamplingSpec(nframes=16))
    tighter = plan_budget(qwen, width=1280, height=720, duration=60, budget=600, spec=SamplingSpec(nframes=16))
    assert roomy.nframes == tight.nframes == 16 and roomy.width * roomy.height > tight.width * tight.height
    assert tighter.nframes < 16 and tighter.visual_tokens <= 600


def test_frames_in_pairs_round_up_when_the_caps_allow():
    qwen = PROFILES["qwen3-vl"]
    assert plan_budget(qwen, width=640, height=360, duration=10, budget=50_000, spec=SamplingSpec(nframes=5)).nframes == 6
    capped = SamplingSpec(fps=1.0, max_frames=5)
    assert plan_budget(qwen, width=640, height=360, duration=10, budget=50_000, spec=capped).nframes == 5
    llava = PROFILES["llava-onevision"]
    assert plan_budget(llava, width=640, height=360, duration=10, budget=50_000, spec=SamplingSpec(nframes=5)).nframes == 5


def test_small_videos_are_brought_up_to_the_minimum():
    """qwen-vl-utils upscales a small video to 128 merged patches a frame; so does the planner."""
    qwen = PROFILES["qwen2.5-vl"]
    plan = plan_budget(qwen, width=160, height=120, duration=10, budget=50_000, spec=SamplingSpec(nframes=4))
    assert plan.width * plan.height >= qwen.min_pixels
    assert plan.visual_tokens == 2 * (plan.width // 28) * (plan.height // 28)


def test_family_caps_and_errors():
    assert plan_budget(PROFILES["video-llava"], width=640, height=360, duration=60, budget=100_000,
                       spec=SamplingSpec(nframes=32)).nframes == 8
    with pytest.raises(SpecError, match="too small"):
        plan_budget(PROFILES["llava-onevision"], width=640, height=360, duration=60, budget=1)
    with pytest.raises(SpecError, match="needs 257 tokens a frame"):
        plan_budget(PROFILES["video-llava"], width=640, height=360, duration=60, budget=100)


def test_a_custom_profile():
    tiny = ModelProfile("tiny", patch_size=14, spatial_merge=2, temporal_patch=2, min_pixels=28 * 28,
                        max_pixels=4 * 28 * 28, context_tokens=512)
    plan = plan_budget(tiny, width=320, height=240, duration=4, budget=100, spec=SamplingSpec(nframes=4))
    assert plan.visual_tokens == 2 * (plan.width // 28) * (plan.height // 28) <= 100
    assert plan.to_dict()["spec"]["nframes"] == 4
