"""``vidllm ask --model URI`` as a user runs it, for every transformers family (tiny local
models with random weights: the answer is noise, the path from frames to reply is what counts)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tiny_vlms

from vidllm.video.sample import sample_frames
from vidllm.video.spec import SamplingSpec

FAST = {"qwen2.5-vl"}  # the rest run in CI's slow suite


def vidllm(*args):
    return subprocess.run([sys.executable, "-m", "vidllm", *args], capture_output=True, text=True, timeout=600,
                          env=os.environ.copy())


@tiny_vlms.needs_transformers
@pytest.mark.parametrize("family", [
    pytest.param(f, marks=() if f in FAST else pytest.mark.slow)
    for f in ["qwen2.5-vl", "qwen3-vl", "smolvlm2", "llava-onevision", "llava-next-video", "video-llava"]
])
def test_ask_runs_every_family_from_the_cli(family, tmp_path, bikes):
    model = tiny_vlms.build(family, tmp_path / family)
    result = vidllm("ask", bikes, "What is the person riding?", "--model", f"hf:{model}", "--nframes", "4", "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    answer = json.loads(result.stdout)
    video = answer["manifest"]["videos"][0]
    truth = sample_frames(bikes, SamplingSpec(nframes=4)).timestamps
    np.testing.assert_allclose(video["timestamps"], truth)
    assert answer["usage"]["visual_tokens"] == video["predicted_visual_tokens"]
    assert isinstance(answer["reply"], str)


@pytest.mark.parametrize("model, words", [
    ("hf:/no/such/model", "no such model folder"),
    ("vllm:Qwen/Qwen2.5-VL-3B-Instruct", "needs"),
    ("openai:http://127.0.0.1:9/v1#m", "cannot reach http://127.0.0.1:9/v1"),
    ("gemini:pro", "not a model URI"),
])
def test_unusable_models_are_one_line(model, words, bikes):
    result = vidllm("ask", bikes, "What?", "--model", model)
    assert result.returncode == 2, result.stderr
    assert words in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@tiny_vlms.needs_transformers
def test_sampling_flags_reach_a_frame_reading_model(tmp_path, bikes):
    """--fps with --max-frames (and a range) is what the model receives, as the manifest shows."""
    model = tiny_vlms.build("qwen2.5-vl", tmp_path / "qwen")
    result = vidllm("ask", bikes, "What happens?", "--model", f"hf:{model}", "--fps", "2", "--max-frames", "6",
                    "--start", "2", "--end", "8", "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    video = json.loads(result.stdout)["manifest"]["videos"][0]
    assert video["requested_spec"]["max_frames"] == 6 and video["frames"] == 6
    assert all(2 <= t < 8 for t in video["timestamps"])
    truth = sample_frames(bikes, SamplingSpec(fps=2, max_frames=6, start=2, end=8)).timestamps
    np.testing.assert_allclose(video["timestamps"], truth)
