"""Backends on a CUDA GPU, with the same tiny local models (skipped where there is no GPU).

Written to run on a GPU machine; not run where these tests were written (no GPU there).
"""

from __future__ import annotations

import importlib.util

import pytest
from tiny_vlms import needs_transformers

from vidllm.models import Request, load_model
from vidllm.video.spec import SamplingSpec

pytestmark = [pytest.mark.gpu, needs_transformers]


@pytest.mark.parametrize("family", ["qwen2.5-vl", "smolvlm2", "llava-next-video"])
def test_transformers_on_cuda_in_bfloat16(family, tiny_models, bikes):
    model = load_model(f"hf:{tiny_models(family)}", device="cuda", dtype="bfloat16", batch_size=2)
    reqs = [Request.ask(bikes, "What happens?", spec=SamplingSpec(nframes=4), max_new_tokens=3)] * 2
    for resp in model.generate(reqs):
        assert resp.manifest["device"].startswith("cuda") and resp.manifest["dtype"] == "bfloat16"
        assert resp.usage.visual_tokens == resp.manifest["videos"][0]["plan"]["visual_tokens"]


@pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="needs vllm")
@pytest.mark.parametrize("family", ["qwen2.5-vl", "qwen3-vl", "llava-onevision"])
def test_vllm_engine_on_tiny_local_models(family, tiny_models, bikes):
    """vLLM loads a local folder as it loads a hub id; the counts it reports must match the plan."""
    model = load_model(f"vllm:{tiny_models(family)}", gpu_memory_utilization=0.3, max_model_len=8192,
                       enforce_eager=True)
    [resp] = model.generate([Request.ask(bikes, "What happens?", spec=SamplingSpec(nframes=4), max_new_tokens=3)])
    assert resp.usage.generated_tokens >= 1
    assert resp.usage.visual_tokens == resp.manifest["videos"][0]["plan"]["visual_tokens"]
    model.close()
