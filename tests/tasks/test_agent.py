"""``vidllm agent``: VideoAgent's loop. It stops at confidence 3, never runs more rounds than
allowed, reports the segments and frames it used, calls no network for a local model, and
gives the same output when run again."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import tiny_vlms
from media import SIGN_SHOWN, sign_clip
from reason_helpers import ScriptedServer, images_in

from vidllm.errors import SpecError
from vidllm.models.pool import ModelPool
from vidllm.tasks.reason.agent import agent
from vidllm.video.sample import sample_frames
from vidllm.video.spec import SamplingSpec

NUMBERS = ["A. 24", "B. 12", "C. 42", "D. 4"]


def cli(*args):
    return subprocess.run([sys.executable, "-m", "vidllm", *args], capture_output=True, text=True, timeout=600,
                          env=os.environ.copy())


@pytest.fixture(scope="module")
def sign(tmp_path_factory):
    return sign_clip(tmp_path_factory.mktemp("agent") / "sign.mp4")


@pytest.fixture
def no_proxy(monkeypatch):
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


def without_times(value):
    """The output with its timings taken out: what must repeat exactly."""
    if isinstance(value, dict):
        return {k: without_times(v) for k, v in value.items() if k not in ("timings", "seconds")}
    if isinstance(value, list):
        return [without_times(v) for v in value]
    return value


@pytest.mark.slow
def test_embedded_default_offline_stops_when_sure_and_repeats_itself(sign, monkeypatch):
    def refuse(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            raise AssertionError(f"network call to {address} by a local model")
        return real_connect(self, address)

    real_connect = socket.socket.connect
    monkeypatch.setattr(socket.socket, "connect", refuse)
    with ModelPool() as pool:
        result = agent(sign, "What number is written on the sign?", options=NUMBERS, pool=pool,
                       model_options={"progress": False})
    monkeypatch.undo()
    assert result.answer == "C" and result.confidence == 3 and result.stopped == "confident"
    assert len(result.rounds) == 1 and result.decided_by == "evidence"
    assert result.segments_used == 5 and result.frames_used == 0  # it read text, no frames
    shown = [result.segments[i] for i in result.rounds[0].segments]
    assert any(s.start < SIGN_SHOWN[1] and s.end > SIGN_SHOWN[0] and "EXIT 42" in s.text for s in shown)

    again = cli("agent", sign, "What number is written on the sign?", "--options", *NUMBERS, "--json", "--no-progress")
    assert again.returncode == 0, again.stderr[-2000:]
    assert without_times(json.loads(again.stdout)) == without_times(json.loads(json.dumps(result.to_dict())))


def test_confidence_three_stops_the_loop_and_rounds_are_capped(sign, no_proxy):
    said = {"answers": 0}

    def reply(prompt):
        if "what must still be looked for" in prompt:
            return "the text on the sign"
        said["answers"] += 1
        return f"Answer: a cat\nConfidence: {3 if said['answers'] == 2 else 1}"

    server = ScriptedServer(reply)
    timeline = {"llm": server.uri, "llm_options": {}, "progress": False}
    try:
        with ModelPool() as pool:
            sure = agent(sign, "What is written on the sign?", pool=pool, model_options=timeline)
            said["answers"] = -10  # never 3 again
            capped = agent(sign, "What is written on the sign?", pool=pool, model_options=timeline, max_rounds=3)
            short = agent(sign, "What is written on the sign?", pool=pool, model_options=timeline, max_rounds=1)
    finally:
        server.close()
    assert len(sure.rounds) == 2 and sure.stopped == "confident" and sure.confidence == 3
    assert len(capped.rounds) == 3 and capped.stopped == "max rounds" and capped.confidence == 1
    assert len(short.rounds) == 1
    assert len(server.received) == (2 + 1) + (3 + 2) + 1  # answers plus one "what is missing" between rounds
    assert [len(r.segments) for r in capped.rounds] == [5, 8, 11] and capped.segments_used == 11
    second = capped.rounds[1]
    assert second.query == "the text on the sign" and second.query_call.reply == "the text on the sign"
    # what was missing was found: the segments retrieved are those where the sign has text
    assert all(capped.segments[i].start < SIGN_SHOWN[1] and capped.segments[i].end > SIGN_SHOWN[0]
               for i in second.added)
    assert all("Confidence" in r.call.prompt and "EXIT 42" in r.call.prompt for r in capped.rounds[1:])


def test_frame_reading_model_is_shown_the_frames_of_its_segments(sign, no_proxy):
    def reply(prompt):
        return "the number" if "what must still be looked for" in prompt else "Answer: B\nConfidence: 2"

    server = ScriptedServer(reply)
    try:
        result = agent(sign, "What number is written on the sign?", options=NUMBERS, model=server.uri)
    finally:
        server.close()
    assert result.answer == "B" and result.decided_by == "model" and len(result.rounds) == 3
    assert result.frames_used == result.segments_used == 11
    truth = sample_frames(sign, SamplingSpec(nframes=len(result.segments))).timestamps
    used = result.rounds[-1].segments
    np.testing.assert_allclose(result.frame_times, truth[used], atol=1e-3)
    answers = [r["body"] for r in server.received if "Confidence" in json.dumps(r["body"])]
    assert [images_in(body) for body in answers] == [5, 8, 11]


@pytest.mark.slow
@tiny_vlms.needs_transformers
def test_tiny_transformers_model_runs_the_loop(sign, tmp_path):
    model = tiny_vlms.build("qwen2.5-vl", tmp_path / "qwen")
    result = cli("agent", sign, "What number is on the sign?", "--options", *NUMBERS, "--model", f"hf:{model}",
                 "--rounds", "2", "--initial", "2", "--per-round", "1", "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout)
    assert 1 <= len(found["rounds"]) <= 2 and found["answer"] in "ABCD" and found["answer"]
    assert found["frames_used"] == len(found["frame_times"]) == found["segments_used"]


def test_bad_settings_are_refused(sign):
    result = cli("agent", sign, "What?", "--rounds", "0")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    with pytest.raises(SpecError, match="initial must be a whole number >= 1"):
        agent(sign, "What?", initial=0, model="openai:http://127.0.0.1:9/v1#m")
