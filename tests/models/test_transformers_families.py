"""Every transformers family, end to end through ``hf:<folder>`` on real sampled frames.

For each family and several videos and sampling settings:
* the planner's predicted visual token count equals the number of visual placeholder tokens
  the family's processor actually put in ``input_ids`` (and the count the response reports);
* the times the model receives are the frames' true timestamps, read back independently
  from what the processor produced (the prompt text, or Qwen2.5-VL's M-RoPE positions).
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from tiny_vlms import FAMILIES, HF_ONLY_FAMILIES, needs_transformers

from vidllm.errors import ContextOverflowError, UnsupportedInputError
from vidllm.models import Generation, Request, Text, Turn, Video
from vidllm.video.spec import SamplingSpec

pytestmark = needs_transformers

# (clip fixture, spec, budget): budget "tight" leaves room for two frames' worth of tokens
CASES = [
    ("bikes", SamplingSpec(nframes=4), None),
    ("clip_cfr", SamplingSpec(fps=0.5, max_frames=5), None),
    ("clip_vfr", SamplingSpec(nframes=3), None),
    ("bikes", SamplingSpec(nframes=6, start=2.0, end=8.0, mode="fast"), "tight"),
]


@pytest.fixture
def clips(request):
    def get(name):
        value = request.getfixturevalue(name)
        return value.path if hasattr(value, "path") else value

    return get


def tight_budget(backend) -> int:
    p = backend.profile
    if p.tokens_per_frame:
        return 2 * p.tokens_per_frame + p.extra_tokens
    return 2 * p.min_pixels // p.size_factor**2 + 1  # two frame pairs at the smallest size


def frame_token_id(backend) -> int:
    return backend.tokenizer.convert_tokens_to_ids(backend.family.frame_token(backend.processor))


def expected_times(family: str, ts: np.ndarray) -> list:
    if family == "qwen3-vl":  # one "<t seconds>" per frame pair: the pair's mean, one decimal
        padded = list(ts) + ([ts[-1]] if len(ts) % 2 else [])
        return [round((padded[i] + padded[i + 1]) / 2, 1) for i in range(0, len(padded), 2)]
    if family == "smolvlm2":  # "Frame from MM:SS" per frame, seconds truncated
        return [int(t // 60) * 60 + int(t % 60) for t in ts]
    return [round(float(t), 2) for t in ts]  # the time note: every frame, two decimals


def times_in_prompt(family: str, text: str) -> list:
    if family == "qwen3-vl":
        return [float(x) for x in re.findall(r"<(\d+\.\d) seconds>", text)]
    if family == "smolvlm2":
        return [int(m) * 60 + int(s) for m, s in re.findall(r"Frame from (\d\d):(\d\d):", text)]
    found = re.search(r"These frames are located at (.*?)\.(?:\s|<|$)", text)
    assert found, f"no time note in {text[-400:]!r}"
    return [float(x.rstrip("s")) for x in found.group(1).split(", ")]


def check_qwen25_positions(backend, enc, ts: np.ndarray) -> None:
    """M-RoPE: frame pair k sits at temporal position floor(k x tokens_per_second x spg), i.e.
    at the true time of its first frame relative to the first frame (up to 1/tokens_per_second)."""
    inputs = enc.inputs
    tps = backend.model.config.vision_config.tokens_per_second
    spg = float(inputs["second_per_grid_ts"][0])
    positions, _ = backend.model.model.get_rope_index(
        inputs["input_ids"], inputs["mm_token_type_ids"], video_grid_thw=inputs["video_grid_thw"],
        second_per_grid_ts=inputs["second_per_grid_ts"], attention_mask=inputs["attention_mask"])
    video = inputs["input_ids"][0] == frame_token_id(backend)
    temporal = positions[0, 0][video]
    grid_t, grid_h, grid_w = inputs["video_grid_thw"][0].tolist()
    per_group = grid_h * grid_w // 4
    starts = temporal[::per_group] - temporal[0]
    for k, pos in enumerate(starts.tolist()):
        true = ts[min(2 * k, len(ts) - 1)] - ts[0]
        assert pos == math.floor(k * tps * spg + 1e-9)
        assert abs(pos / tps - true) <= 1 / tps + (ts[-1] - ts[0]) / max(1, len(ts) - 1) / 2 + 1e-6


@pytest.mark.parametrize("family", FAMILIES + HF_ONLY_FAMILIES)
@pytest.mark.parametrize("clip, spec, budget", CASES, ids=["bikes-4", "cfr-fps", "vfr-3", "bikes-range-tight"])
def test_tokens_and_times_match_what_the_processor_gives(family, clip, spec, budget, loaded_models, clips):
    backend = loaded_models(family)
    assert backend.family.name == family
    req = Request.ask(clips(clip), "What is happening?", spec=spec, max_new_tokens=3,
                      budget=tight_budget(backend) if budget == "tight" else None)
    prepared = backend.prepare(req)
    [pv] = prepared.videos
    ts = pv.frames.timestamps
    if budget == "tight":
        assert pv.plan.nframes == 2 * backend.profile.temporal_patch  # two frames, or two pairs
    enc = backend.encode([prepared])
    ids = enc.inputs["input_ids"][0]
    counted = int((ids == frame_token_id(backend)).sum())
    assert counted == pv.plan.visual_tokens == pv.predicted_tokens
    assert len(pv.frames) == pv.plan.nframes
    if backend.profile.tokens_per_frame is None:  # patch families get frames at the planned size
        assert (pv.frames.width, pv.frames.height) == (pv.plan.width, pv.plan.height)
    else:  # fixed-token families: the processor resizes to its own input, the plan says which
        assert (pv.plan.width, pv.plan.height) == (backend.profile.frame_size, backend.profile.frame_size)

    text = backend.tokenizer.decode(ids)
    if family == "qwen2.5-vl":
        spg = float(enc.inputs["second_per_grid_ts"][0])
        assert spg == pytest.approx(2 * (ts[-1] - ts[0]) / (len(ts) - 1), rel=1e-5)
        check_qwen25_positions(backend, enc, ts)
    else:
        got, want = times_in_prompt(family, text), expected_times(family, ts)
        assert len(got) == len(want)
        assert np.allclose(got, want, atol=0.05 + 1e-6 if family == "qwen3-vl" else 1e-9)

    [resp] = backend.generate([req])
    assert resp.usage.visual_tokens == counted
    assert resp.usage.prompt_tokens == len(ids)
    assert 1 <= resp.usage.generated_tokens <= 3
    video = resp.manifest["videos"][0]
    assert video["timestamps"] == [round(float(t), 6) for t in ts]
    assert video["plan"]["visual_tokens"] == counted
    assert resp.manifest["family"] == family
    assert resp.manifest["time_inputs"][0]["timestamps"] == video["timestamps"]


def test_frames_are_the_true_frames(clip_cfr, clip_vfr, loaded_models):
    """The times above are PTS, not a frame-rate guess: every one is a real frame's time."""
    backend = loaded_models("llava-onevision")
    cfr = backend.prepare(Request.ask(clip_cfr, "?", spec=SamplingSpec(nframes=5))).videos[0].frames
    assert np.allclose(cfr.timestamps * 25, np.round(cfr.timestamps * 25), atol=1e-6)
    vfr = backend.prepare(Request.ask(clip_vfr.path, "?", spec=SamplingSpec(nframes=4))).videos[0].frames
    assert all(min(abs(t - np.array(clip_vfr.timestamps))) < 1e-6 for t in vfr.timestamps)


@pytest.mark.parametrize("family", ["qwen2.5-vl", "smolvlm2", "video-llava"])
def test_batch_of_two_matches_one_by_one(family, loaded_models, bikes, clip_cfr):
    """A batch goes through one processor call and one generate call (left padding), with the
    same counts as when each request runs alone."""
    backend = loaded_models(family, batch_size=2)
    reqs = [Request.ask(bikes, "What is happening?", spec=SamplingSpec(nframes=2), max_new_tokens=2),
            Request.ask(clip_cfr, "Count the squares.", spec=SamplingSpec(nframes=2), max_new_tokens=2)]
    together = backend.generate(reqs)
    alone = [loaded_models(family).generate([r])[0] for r in reqs]
    assert [r.usage.visual_tokens for r in together] == [r.usage.visual_tokens for r in alone]
    assert [r.usage.prompt_tokens for r in together] == [r.usage.prompt_tokens for r in alone]
    assert [r.manifest["batch_size"] for r in together] == [2, 2]
    assert [r.text for r in together] == [r.text for r in alone]  # greedy: padding changes nothing


def test_interleaved_images_and_two_videos(loaded_models, bikes, clip_cfr):
    """Video-LLaVA's unified input: an image and two videos in one turn, each counted."""
    backend = loaded_models("video-llava")
    frame = np.zeros((40, 60, 3), np.uint8)
    from vidllm.models import Image

    def request(n1, n2):
        turn = Turn("user", (Text("Compare"), Image(frame), Video(bikes, SamplingSpec(nframes=n1)),
                             Text("with"), Video(clip_cfr, SamplingSpec(nframes=n2)), Text("?")))
        return Request((turn,), Generation(max_new_tokens=2), budget=10_000)

    [resp] = backend.generate([request(3, 3)])
    per_frame = backend.profile.tokens_per_frame
    image_tokens = 4 * 4 + 1 - 1  # CLIP patches + CLS, minus CLS for the "default" strategy
    assert resp.usage.visual_tokens == (3 + 3) * per_frame + image_tokens
    assert [v["frames"] for v in resp.manifest["videos"]] == [3, 3]
    assert resp.manifest["predicted_visual_tokens"] == 6 * per_frame
    # its processor stacks a call's videos into one tensor: unequal counts are refused clearly
    with pytest.raises(UnsupportedInputError, match="same number of frames; got 2, 3"):
        backend.generate([request(2, 3)])


def test_videos_of_different_lengths_in_one_request_for_qwen(loaded_models, bikes, clip_cfr):
    backend = loaded_models("qwen3-vl")
    req = Request((Turn("user", (Video(bikes, SamplingSpec(nframes=2)), Video(clip_cfr, SamplingSpec(nframes=4)),
                                 Text("Which is longer?"))),), Generation(max_new_tokens=2))
    [resp] = backend.generate([req])
    assert resp.usage.visual_tokens == sum(v["predicted_visual_tokens"] for v in resp.manifest["videos"])


def test_sampling_is_repeatable_with_a_seed(loaded_models, clip_cfr):
    backend = loaded_models("smolvlm2")

    def run(seed):
        req = Request.ask(clip_cfr, "Describe.", spec=SamplingSpec(nframes=2), max_new_tokens=6,
                          temperature=1.5, seed=seed)
        return backend.generate([req])[0].text

    assert run(7) == run(7)
    assert len({run(s) for s in range(4)}) > 1  # random weights, high temperature: seeds differ


def test_a_prompt_over_the_context_is_refused(loaded_models, clip_cfr, monkeypatch):
    backend = loaded_models("llava-onevision")
    monkeypatch.setattr(backend.config.text_config, "max_position_embeddings", 40)
    with pytest.raises(ContextOverflowError) as info:
        backend.generate([Request.ask(clip_cfr, "Describe.", spec=SamplingSpec(nframes=8), max_new_tokens=4,
                                      budget=1000)])
    assert "over the model's context of 40" in str(info.value) and "\n" not in str(info.value)


def test_a_model_without_chat_template_gets_a_plain_prompt(loaded_models, clip_cfr, monkeypatch):
    backend = loaded_models("qwen2.5-vl")
    monkeypatch.setattr(backend.prompting, "chat_template", None)
    [resp] = backend.generate([Request.ask(clip_cfr, "Describe.", spec=SamplingSpec(nframes=2), system="Brief.",
                                           max_new_tokens=2)])
    first = resp.manifest["videos"][0]["timestamps"][0]
    assert resp.manifest["prompt"] == ("System: Brief.\nUser: <|vision_start|><|video_pad|><|vision_end|>"
                                       f"The first frame is at {first:.2f} seconds into the video.\nDescribe."
                                       "\nAssistant:")
    assert resp.usage.visual_tokens == resp.manifest["videos"][0]["plan"]["visual_tokens"]


def test_qwen25_grid_seconds_are_checked_and_corrected():
    """transformers versions read second_per_grid_ts from different places with different
    defaults (fps 2.0 in 4.x, 24 in 5.x): a wrong value is replaced by the true one."""
    import torch

    from vidllm.models.families import family_for
    from vidllm.video.frames import Frames

    frames = Frames(data=np.zeros((4, 28, 28, 3), np.uint8), timestamps=np.array([0.5, 1.5, 2.5, 3.5]),
                    targets=np.zeros(4), source="x.mp4", content_hash="h", mode="exact")
    pv = type("PV", (), {"frames": frames, "duration": 4.0})()
    processor = type("P", (), {"video_processor": type("VP", (), {"temporal_patch_size": 2})()})()
    inputs = {"second_per_grid_ts": torch.tensor([2 / 24])}  # 5.x's default when metadata is missing
    family_for("qwen2_5_vl").after_processing(inputs, [pv], processor)
    assert inputs["second_per_grid_ts"].tolist() == [2.0]  # two frames a second apart per pair


@pytest.mark.parametrize("family", FAMILIES + HF_ONLY_FAMILIES)
def test_images_and_text_only_requests(family, loaded_models):
    from vidllm.models import Image

    backend = loaded_models(family)
    picture = (np.arange(90 * 120 * 3) % 251).astype(np.uint8).reshape(90, 120, 3)
    [with_image, text_only] = backend.generate([
        Request((Turn("user", (Image(picture), Text("What colour is it?"))),), Generation(max_new_tokens=2)),
        Request((Turn("user", "Say hello."),), Generation(max_new_tokens=2)),
    ])
    assert with_image.usage.visual_tokens > 0 and with_image.manifest["videos"] == []
    assert text_only.usage.visual_tokens == 0 and text_only.usage.prompt_tokens > 0


@pytest.mark.parametrize("family", ["qwen2.5-vl", "llava-onevision"])
def test_frames_the_caller_already_sampled(family, loaded_models, clip_vfr):
    """A stream or memory stage hands over Frames: their times are kept, and a patch family
    gets them resized to a size its patches divide."""
    from vidllm.video.sample import sample_frames

    frames = sample_frames(clip_vfr.path, SamplingSpec(nframes=4))  # 160x128: not a multiple of 28
    backend = loaded_models(family)
    req = Request((Turn("user", (Video(None, frames=frames), Text("What moves?"))),), Generation(max_new_tokens=2))
    [resp] = backend.generate([req])
    video = resp.manifest["videos"][0]
    assert video["timestamps"] == [round(float(t), 6) for t in frames.timestamps]
    assert resp.usage.visual_tokens == video["predicted_visual_tokens"] == video["plan"]["visual_tokens"]
    if family == "qwen2.5-vl":
        assert video["width"] % 28 == 0 and video["height"] % 28 == 0
