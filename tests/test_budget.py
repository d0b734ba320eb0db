"""The token budget planner: predictions, caps and agreement with the sampler's resizing.

The predictions are checked against the released models' processors in
``tests/models/test_profiles.py``; here the planner's own rules are checked on a grid.
"""

from __future__ import annotations

import doctest
import itertools
import math
from pathlib import Path

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


# ---------------------------------------------------------------------- reference mode vs qwen-vl-utils 0.0.14


def _qwen_reader(vp):
    """decord's part in qwen-vl-utils, played by PyAV (decord is not installed here, and
    torchvision no longer reads video): every frame decoded, counted and indexed as decord does,
    then the reference's own ``calculate_video_frame_range``, ``smart_nframes`` and linspace."""
    import av
    import numpy as np
    import torch

    def read(ele):
        with av.open(ele["video"]) as container:
            stream = container.streams.video[0]
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
            video_fps = float(stream.average_rate)
        start, end, total = vp.calculate_video_frame_range(ele, len(frames), video_fps)
        nframes = vp.smart_nframes(ele, total_frames=total, video_fps=video_fps)
        idx = torch.linspace(start, end, nframes).round().long().tolist()
        video = torch.from_numpy(np.stack([frames[i] for i in idx])).permute(0, 3, 1, 2)
        return video, {"fps": video_fps, "frames_indices": idx, "total_num_frames": total}, nframes / total * video_fps

    return read


REFERENCE_VIDEOS = {  # name: make_clip arguments
    "small_10fps": {"nframes": 30, "fps": 10.0, "size": (64, 48)},
    "qvga_25fps": {"nframes": 100, "fps": 25.0, "size": (320, 240)},
    "hd_30fps": {"nframes": 45, "fps": 30.0, "size": (1280, 720)},
    "portrait_vfr": {"timestamps": [i * 0.1 + (0.05 if i % 3 == 0 else 0.0) for i in range(40)], "size": (48, 96)},
    "long_4fps": {"nframes": 1600, "fps": 4.0, "size": (96, 64)},
}
REFERENCE_SETTINGS = [
    {"nframes": 17}, {"nframes": 8}, {"fps": 1.0}, {"fps": 0.7}, {"fps": 2.0, "max_frames": 9},
    {"fps": 1.0, "start": 0.5, "end": 2.0}, {"nframes": 6, "max_pixels": 200_704}, {"fps": 2.0, "min_pixels": 50_176},
]


@pytest.fixture(scope="module")
def reference_videos(tmp_path_factory):
    from vidllm.video.synthetic import make_clip

    root = tmp_path_factory.mktemp("reference")
    return {name: Path(make_clip(root / f"{name}.mp4", draw_index=False, **kw)) for name, kw in REFERENCE_VIDEOS.items()}


@pytest.mark.slow  # about a minute: the reference resizes up to 768 frames with torch
def test_reference_mode_equals_qwen_vl_utils(reference_videos, monkeypatch):
    """>= 20 (video, setting) pairs: the frame count and size of vidllm's reference mode are
    those qwen-vl-utils' ``fetch_video`` gives, and vidllm's sampler delivers exactly them (at
    their true times); where the reference refuses, so does vidllm."""
    vp = pytest.importorskip("qwen_vl_utils.vision_process")
    from vidllm.budget import plan_reference
    from vidllm.video.sample import probe, sample_frames

    monkeypatch.setitem(vp.VIDEO_READER_BACKENDS, vp.get_video_reader_backend(), _qwen_reader(vp))
    rename = {"start": "video_start", "end": "video_end"}
    compared = refused = 0
    for (name, path), setting in itertools.product(reference_videos.items(), REFERENCE_SETTINGS):
        ele = {"type": "video", "video": str(path), **{rename.get(k, k): v for k, v in setting.items()}}
        info = probe(path)
        try:
            video = vp.fetch_video(ele, image_patch_size=14)
        except ValueError:
            with pytest.raises(SpecError):
                plan_reference(PROFILES["qwen2.5-vl"], width=info.display_width, height=info.display_height,
                               frame_count=info.frame_count, fps=info.average_fps, spec=SamplingSpec(**setting))
            refused += 1
            continue
        plan = plan_reference(PROFILES["qwen2.5-vl"], width=info.display_width, height=info.display_height,
                              frame_count=info.frame_count, fps=info.average_fps, spec=SamplingSpec(**setting))
        count, _, height, width = video.shape
        assert (plan.nframes, plan.width, plan.height) == (count, width, height), (name, setting)
        frames = sample_frames(path, plan.spec)
        assert frames.data.shape[:3] == (count, height, width), (name, setting)
        assert all(plan.spec.start <= t for t in frames.timestamps)
        compared += 1
    assert compared >= 20 and compared + refused == len(REFERENCE_VIDEOS) * len(REFERENCE_SETTINGS)


def test_reference_mode_where_it_differs_from_the_budget_planner():
    """The issue's four differences: odd nframes, fractional fps counts, the 4-frame minimum and
    the pixel cap spread over a 128000-token sequence (which overshoots a small budget)."""
    from vidllm.budget import plan_reference

    qwen = PROFILES["qwen2.5-vl"]

    def ref(spec, frames=750, fps=25.0, size=(1280, 720)):
        return plan_reference(qwen, width=size[0], height=size[1], frame_count=frames, fps=fps, spec=spec)

    assert ref(SamplingSpec(nframes=17)).nframes == 16
    assert plan_budget(qwen, width=1280, height=720, duration=30, budget=100_000, spec=SamplingSpec(nframes=17)).nframes == 18
    assert ref(SamplingSpec(fps=0.7)).nframes == 20                                   # 30 s x 0.7 = 21 -> 20
    assert ref(SamplingSpec(fps=1.0, start=0.5, end=2.0)).nframes == 4                # the 4-frame minimum
    long = ref(SamplingSpec(fps=2.0), frames=36000, fps=30.0)                         # 20 minutes: 768 frames
    assert long.nframes == 768 and long.width * long.height <= 128000 * 784 * 0.9 / 768 * 2
    assert long.visual_tokens > 100_000                                               # no budget: the reference overshoots
    with pytest.raises(SpecError, match="not one"):
        plan_reference(PROFILES["llava-onevision"], width=640, height=360, frame_count=100, fps=25.0)
    with pytest.raises(SpecError, match="by count or rate"):
        ref(SamplingSpec(keyframes=True))


def test_plan_video_picks_reference_mode_only_without_a_budget():
    from vidllm.budget import plan_video

    qwen, llava = PROFILES["qwen2-vl"], PROFILES["llava-onevision"]
    args = {"width": 1280, "height": 720, "duration": 30.0, "frame_count": 750, "fps": 25.0, "spec": SamplingSpec(nframes=17)}
    assert plan_video(qwen, budget=None, **args).mode == "reference"
    assert plan_video(qwen, budget=None, **args).nframes == 16
    assert plan_video(qwen, budget=20_000, **args).mode == "budget"
    assert plan_video(llava, budget=None, **args) is None
    assert plan_video(qwen, budget=None, **{**args, "spec": SamplingSpec(keyframes=True)}) is None
