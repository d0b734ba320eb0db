"""``vidllm ground``: when a query happens, with the embedded default, a frame-reading model
behind a real OpenAI-compatible server, and a tiny transformers model."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tiny_vlms
from media import SIGN_SHOWN, sign_clip
from model_servers import FakeServer
from reason_helpers import (
    BLUE_SEEN,
    ScriptedServer,
    frame_times,
    images_in,
    two_discs_clip,
)

from vidllm.models.pool import ModelPool
from vidllm.perceive.timeline import Line
from vidllm.tasks.reason.ground import ground, iou, spans_by_similarity
from vidllm.video.sample import sample_frames
from vidllm.video.spec import SamplingSpec


def cli(*args):
    return subprocess.run([sys.executable, "-m", "vidllm", *args], capture_output=True, text=True, timeout=600,
                          env=os.environ.copy())


@pytest.fixture(scope="module")
def sign(tmp_path_factory):
    return sign_clip(tmp_path_factory.mktemp("ground") / "sign.mp4")


@pytest.fixture(scope="module")
def pool():
    with ModelPool() as models:
        yield models


@pytest.fixture
def no_proxy(monkeypatch):
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


def test_text_appearance_is_found_with_iou_over_half(sign):
    result = cli("ground", sign, "the sign shows EXIT 42", "--json", "--no-progress")
    assert result.returncode == 0, result.stderr[-2000:]
    found = json.loads(result.stdout)
    assert found["decided_by"] == "similarity" and found["calls"] == []  # perception decided, no LLM call
    best = found["spans"][0]
    assert iou((best["start"], best["end"]), SIGN_SHOWN) >= 0.5, found
    assert best["score"] == max(s["score"] for s in found["spans"])
    assert "EXIT 42" in best["text"]


def test_a_moving_object_is_found_where_it_moves(tmp_path, pool):
    clip = two_discs_clip(tmp_path / "discs.mp4")
    result = ground(clip, "the blue object moves down", pool=pool,
                    model_options={"progress": False, "tools": ["visual"]})  # the tool that tracks
    best = result.spans[0]
    assert iou((best.start, best.end), BLUE_SEEN) >= 0.5, result.spans
    assert "blue" in best.text


def test_similarity_spans_drop_overlapping_weaker_ones():
    lines = [Line(0.0, 10.0, "colour", "mostly white"),
             Line(2.0, 4.0, "ocr", '"OPEN 24 HOURS"'),
             Line(2.5, 4.0, "tags", "street sign"),
             Line(6.0, 7.0, "speech", "the shop opens all day")]
    spans = spans_by_similarity(lines, "the text OPEN 24 HOURS", keep=0.3)
    assert (spans[0].start, spans[0].end) == (2.0, 4.0) and "OPEN 24 HOURS" in spans[0].text
    assert all(iou((s.start, s.end), (2.0, 4.0)) <= 0.5 for s in spans[1:])  # the sign's tag overlaps: dropped
    assert [s.score for s in spans] == sorted((s.score for s in spans), reverse=True)
    assert spans_by_similarity([], "anything") == []


def test_frame_reading_model_reply_is_read_as_a_span(sign, no_proxy):
    server = ScriptedServer(lambda prompt: "It happens from 3.2 to 4.9 seconds.")
    try:
        result = ground(sign, "the sign shows EXIT 42", model=server.uri, nframes=6)
    finally:
        server.close()
    assert result.decided_by == "model"
    assert [(s.start, s.end) for s in result.spans] == [(3.2, 4.9)]
    [call] = result.calls
    truth = sample_frames(sign, SamplingSpec(nframes=6)).timestamps
    np.testing.assert_allclose(call.frame_times, truth, atol=1e-3)
    body = server.received[0]["body"]
    assert images_in(body) == 6
    np.testing.assert_allclose(frame_times(call.prompt), truth, atol=0.01)  # the true times, in the prompt


def test_a_reply_without_times_gives_no_span(sign, no_proxy):
    server = FakeServer()  # always "a bicycle"
    try:
        result = ground(sign, "the sign", model=f"openai:{server.base}#fake-model", nframes=4)
    finally:
        server.close()
    assert result.spans == [] and result.decided_by == "unparsed"
    assert result.calls[0].reply == "a bicycle"


def test_a_lone_moment_becomes_the_frame_interval_around_it(sign, no_proxy):
    server = ScriptedServer(lambda prompt: "At 4 s.")
    try:
        result = ground(sign, "the sign", model=server.uri, nframes=8)
    finally:
        server.close()
    [span] = result.spans
    assert span.start == pytest.approx(3.5) and span.end == pytest.approx(4.5)  # 8 s / 8 frames


@pytest.mark.slow
@tiny_vlms.needs_transformers
def test_tiny_transformers_model_runs_the_same_path(sign, tmp_path):
    model = tiny_vlms.build("qwen2.5-vl", tmp_path / "qwen")
    result = cli("ground", sign, "the sign", "--model", f"hf:{model}", "--nframes", "4", "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout)
    assert found["decided_by"] in ("model", "unparsed")  # random weights: only the path is checked
    assert len(found["calls"]) == 1 and len(found["calls"][0]["frame_times"]) == 4
    assert all(0 <= s["start"] < s["end"] <= 8.0 for s in found["spans"])


@pytest.mark.parametrize("args, words", [
    (["QUERY-MISSING-VIDEO"], "no such file"),
    (["", "--model", "openai:http://127.0.0.1:9/v1#m"], "needs a query"),
])
def test_bad_input_is_one_line(sign, tmp_path, args, words):
    video = str(tmp_path / "none.mp4") if args[0] == "QUERY-MISSING-VIDEO" else sign
    query = "x" if args[0] == "QUERY-MISSING-VIDEO" else args[0]
    result = cli("ground", video, query, *args[1:])
    assert result.returncode == 2 and words in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
