"""vLLM request construction, checked against vLLM's documented multimodal input format.

vLLM is not installed here and there is no GPU: the inputs are built from the tiny models'
real processors and then fed to those processors the way vLLM's HF-processor path does
(video array + metadata, ``mm_processor_kwargs``), so token counts and frame times are checked
for real; the engine itself is a stand-in that records its arguments. The engine on a GPU is
not exercised here (see the module docstring of ``vidllm.models.vllm_backend``).
"""

from __future__ import annotations

import importlib.machinery
import sys
import types

import numpy as np
import pytest
from tiny_vlms import FAMILIES, needs_transformers

from vidllm.errors import MissingDependencyError, NoGPUError
from vidllm.models import Request, load_model
from vidllm.models.vllm_backend import VLLMOptions, VLLMRequests
from vidllm.video.spec import SamplingSpec

pytestmark = needs_transformers

METADATA_KEYS = {"total_num_frames", "fps", "width", "height", "duration", "video_backend", "frames_indices",
                 "do_sample_frames"}


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed here")
def test_missing_vllm_is_one_line(tiny_models):
    with pytest.raises(MissingDependencyError) as info:
        load_model(f"vllm:{tiny_models('qwen2.5-vl')}")
    assert "\n" not in str(info.value) and "pip install vllm" in str(info.value)


def run_like_vllm(processor, item: dict):
    """What vLLM does with one documented input: its HF processor on the prompt and media."""
    videos = item.get("multi_modal_data", {}).get("video", [])
    arrays = [v[0] if isinstance(v, tuple) else v for v in videos]
    metadata = [{k: x for k, x in v[1].items() if k != "do_sample_frames"} for v in videos if isinstance(v, tuple)]
    kwargs = dict(item.get("mm_processor_kwargs", {}))
    if metadata:
        kwargs["video_metadata"] = metadata
    return processor(text=[item["prompt"]], videos=arrays or None, images=item.get("multi_modal_data", {}).get("image"),
                     return_tensors="pt", **kwargs)


@pytest.mark.parametrize("family", FAMILIES)
def test_inputs_follow_the_documented_format(family, tiny_models, loaded_models, bikes):
    hf = loaded_models(family)  # the same model through hf: plans and samples the frames
    builder = VLLMRequests(tiny_models(family), f"vllm:{family}", VLLMOptions())
    prepared = hf.prepare(Request.ask(bikes, "What happens?", spec=SamplingSpec(nframes=4), max_new_tokens=5))
    item = builder.inputs(prepared)
    assert set(item) <= {"prompt", "multi_modal_data", "mm_processor_kwargs"}
    assert isinstance(item["prompt"], str)
    [video] = item["multi_modal_data"]["video"]
    frames, meta = video
    pv = prepared.videos[0]
    assert frames.dtype == np.uint8 and frames.shape == pv.frames.data.shape and frames.ndim == 4
    assert set(meta) <= METADATA_KEYS and meta["do_sample_frames"] is False
    assert item["mm_processor_kwargs"]["do_sample_frames"] is False
    if family != "qwen2.5-vl":  # metadata clock: frames_indices / fps are the true times
        np.testing.assert_allclose(np.array(meta["frames_indices"]) / meta["fps"], pv.frames.timestamps, atol=5e-4)
    out = run_like_vllm(builder.processor, item)
    token = builder.processor.tokenizer.convert_tokens_to_ids(builder.prompting.family.frame_token(builder.processor))
    assert int((out["input_ids"][0] == token).sum()) == pv.plan.visual_tokens
    # the same prompt the hf: backend sends, so both backends give a model the same input
    assert item["prompt"] == hf.encode([prepared]).prompts[0]
    assert VLLMRequests.sampling_args(prepared.request.generation) == {"max_tokens": 5, "temperature": 0.0, "seed": 0}


@pytest.fixture
def fake_vllm(monkeypatch):
    """A stand-in ``vllm`` module with the documented ``LLM`` / ``SamplingParams`` API."""
    module = types.ModuleType("vllm")
    module.__spec__ = importlib.machinery.ModuleSpec("vllm", None)
    calls: dict = {}

    class SamplingParams:
        def __init__(self, **kwargs):
            self.kwargs = kwargs

    class LLM:
        def __init__(self, **kwargs):
            calls["engine"] = kwargs
            from transformers import AutoProcessor

            self.processor = AutoProcessor.from_pretrained(kwargs["model"])

        def generate(self, prompts, sampling_params=None, use_tqdm=True):
            calls["prompts"], calls["params"] = prompts, sampling_params
            results = []
            for item, params in zip(prompts, sampling_params):
                ids = run_like_vllm(self.processor, item)["input_ids"][0].tolist()
                completion = types.SimpleNamespace(text=" a bike", token_ids=[1, 2], finish_reason="stop")
                results.append(types.SimpleNamespace(prompt_token_ids=ids, outputs=[completion]))
            return results

    module.LLM, module.SamplingParams = LLM, SamplingParams
    monkeypatch.setitem(sys.modules, "vllm", module)
    return calls


def test_engine_options_and_generate(fake_vllm, monkeypatch, tiny_models, bikes, clip_cfr):
    monkeypatch.setattr("vidllm.models.base.has_cuda", lambda: True)
    model = load_model(f"vllm:{tiny_models('qwen3-vl')}", tensor_parallel_size=2, pipeline_parallel_size=2,
                       distributed_executor_backend="ray", max_model_len=4096, max_videos_per_prompt=2)
    engine = fake_vllm["engine"]
    assert engine["tensor_parallel_size"] == 2 and engine["pipeline_parallel_size"] == 2
    assert engine["distributed_executor_backend"] == "ray" and engine["max_model_len"] == 4096
    assert engine["limit_mm_per_prompt"] == {"video": 2, "image": 4}
    reqs = [Request.ask(bikes, "What happens?", spec=SamplingSpec(nframes=4), stop=["."], temperature=0.7, seed=5),
            Request.ask(clip_cfr, "Count.", spec=SamplingSpec(nframes=2))]
    out = model.generate(reqs)
    assert [r.text for r in out] == ["a bike", "a bike"]
    assert fake_vllm["params"][0].kwargs == {"max_tokens": 256, "temperature": 0.7, "seed": 5, "stop": ["."]}
    for resp in out:
        assert resp.usage.visual_tokens == resp.manifest["videos"][0]["plan"]["visual_tokens"]
        assert resp.usage.generated_tokens == 2
        assert resp.manifest["engine"]["distributed_executor_backend"] == "ray"
    assert out[0].manifest["batch_size"] == 2  # one engine call for both


def test_no_gpu_is_one_line(fake_vllm, monkeypatch, tiny_models):
    monkeypatch.setattr("vidllm.models.base.has_cuda", lambda: False)
    with pytest.raises(NoGPUError, match="needs a CUDA GPU"):
        load_model(f"vllm:{tiny_models('qwen2.5-vl')}")
