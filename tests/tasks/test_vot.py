"""``vidllm vot``: Video-of-Thought's five steps, each a recorded call whose output the next
step is shown; perception carries what a small model cannot."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import tiny_vlms
from reason_helpers import (
    BLUE_SEEN,
    RED_SEEN,
    ScriptedServer,
    images_in,
    two_discs_clip,
)

from vidllm.tasks.reason.common import read_score, reply_lines
from vidllm.tasks.reason.vot import model_score, vot

OPTIONS = ["A. left", "B. right", "C. up", "D. down"]
STEPS = ["targets", "tracks", "actions", "ranking", "verification"]


def cli(*args):
    return subprocess.run([sys.executable, "-m", "vidllm", *args], capture_output=True, text=True, timeout=900,
                          env=os.environ.copy())


@pytest.fixture(scope="module")
def discs(tmp_path_factory):
    return two_discs_clip(tmp_path_factory.mktemp("vot") / "discs.mp4")


@pytest.fixture
def no_proxy(monkeypatch):
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


def step_input(step: dict) -> str:
    """What a step was given: its first call's prompt, or the query of a step without calls."""
    return step["calls"][0]["prompt"] if step["calls"] else step["data"]["input"]


def assert_chained(steps: list[dict]) -> None:
    for before, after in zip(steps, steps[1:]):
        assert before["output"].strip() and before["output"] in step_input(after), (before["name"], after["name"])


def tracks_by_colour(step: dict) -> dict:
    return {t["what"]: t for t in step["data"]["tracks"] if t["kind"] == "track"}


@pytest.mark.slow
def test_embedded_default_tracks_both_objects_and_picks_the_right_option(discs):
    result = cli("vot", discs, "Which direction does the blue object move?", "--options", *OPTIONS,
                 "--json", "--no-progress")
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout)
    steps = found["steps"]
    assert [s["name"] for s in steps] == STEPS
    tracks = tracks_by_colour(steps[1])
    assert tracks["red object"]["direction"] == "right" and tracks["blue object"]["direction"] == "down"
    for what, truth in (("red object", RED_SEEN), ("blue object", BLUE_SEEN)):
        assert abs(tracks[what]["start"] - truth[0]) <= 1.0 and abs(tracks[what]["end"] - truth[1]) <= 1.0
    assert steps[1]["decided_by"] == "perception"
    assert "blue object [00:04" in steps[2]["calls"][0]["prompt"]  # the action step is given the tracks
    assert_chained(steps)
    assert found["answer"] == "D" and found["answer_text"] == "down" and found["verified"] is True
    assert len(steps[3]["calls"]) == 4  # every option scored in its own call
    for step in steps:
        assert step["seconds"] >= 0 and all(c["prompt"] and c["seconds"] >= 0 for c in step["calls"])
    assert steps[4]["evidence"] and all(e["end"] > e["start"] for e in steps[4]["evidence"])


def scripted(prompt: str) -> str:
    """A frame-reading model that follows VoT's prompts but favours the wrong option ("right")."""
    if "must be watched" in prompt:
        return "1. the blue object\n2. the sky"
    if "For each frame time" in prompt:
        return "The blue disc goes from the top to the bottom."
    if "describe what each target does" in prompt:
        return "The blue object falls down through the picture."
    if "Candidate answer" in prompt:
        return "Score: 9/10" if "Candidate answer: B" in prompt else "Score: 3/10"
    if "Which other option" in prompt:
        return "C"
    if "Reply yes or no" in prompt:
        return "Yes."
    return "?"


def test_each_step_sees_the_last_and_evidence_overrules_a_wrong_model(discs, no_proxy):
    server = ScriptedServer(scripted)
    try:
        result = vot(discs, "Which direction does the blue object move?", options=OPTIONS, model=server.uri, nframes=4)
    finally:
        server.close()
    steps = [s.to_dict() for s in result.steps]
    assert [s["name"] for s in steps] == STEPS
    assert_chained(steps)
    assert steps[0]["data"]["targets"] == ["the blue object"]  # "the sky" is not in the question
    tracks = tracks_by_colour(steps[1])
    assert tracks["blue object"]["direction"] == "down"
    assert any(t["kind"] == "model" for t in steps[1]["data"]["tracks"])  # the model's own account, with times
    assert steps[1]["decided_by"] == "perception+model"
    assert steps[3]["data"]["ranked"][0] == "B" and steps[3]["decided_by"] == "model"
    attempts = steps[4]["data"]["attempts"]
    assert [(a["answer"], a["verified"], a["by"]) for a in attempts] == [("B", False, "evidence"), ("C", False, "evidence")]
    assert result.answer == "D" and result.decided_by == "evidence" and result.verified
    assert any("Which other option" in c.prompt for c in result.steps[4].calls)  # the one retry
    # every call showed the model frames with their true times
    assert all(images_in(r["body"]) == 4 for r in server.received)
    assert all(c.frame_times for s in result.steps for c in s.calls)


def test_open_question_gets_candidates_first(discs, no_proxy):
    def reply(prompt):
        if "possible answers" in prompt:
            return "- it falls\n- it flies away"
        if "Candidate answer" in prompt:
            return "Score: 8" if "falls" in prompt.split("Candidate answer")[1] else "Score: 2"
        return "yes"

    server = ScriptedServer(reply)
    try:
        result = vot(discs, "What does the blue object do?", model=server.uri, nframes=2)
    finally:
        server.close()
    names = [s.name for s in result.steps]
    assert names == ["targets", "tracks", "actions", "candidates", "ranking", "verification"]
    options = dict(result.options)
    assert options["A"] == "it falls" and options["B"] == "it flies away"
    assert any("blue object moves down" in text for text in options.values())  # from the evidence
    assert_chained([s.to_dict() for s in result.steps])
    assert result.steps[4].data["ranked"][0] == "A"


@pytest.mark.slow
@tiny_vlms.needs_transformers
def test_tiny_transformers_model_goes_through_the_five_steps(discs, tmp_path):
    model = tiny_vlms.build("qwen2.5-vl", tmp_path / "qwen")
    result = cli("vot", discs, "Which way does the blue object move?", "--options", *OPTIONS,
                 "--model", f"hf:{model}", "--nframes", "2", "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout)
    assert [s["name"] for s in found["steps"]] == STEPS
    assert_chained(found["steps"])
    assert found["answer"] in "ABCD" and found["answer"]  # random weights: the mechanics, not the answer
    assert tracks_by_colour(found["steps"][1])["blue object"]["direction"] == "down"  # perception still holds


def test_reading_replies():
    assert reply_lines("Targets:\n1. the red ball\n2) a cup") == ["Targets", "the red ball", "a cup"]
    assert read_score("I would give it 7 out of 10") == 7 and read_score("Score: 11") is None
    assert read_score("no number") is None
    pairs = [("A", "left"), ("B", "down")]
    assert model_score("Yes, it is right.", "A", pairs) == (8, "yes/no")
    assert model_score("hmm", "A", pairs) == (None, None)  # unread: recorded, never guessed


def test_question_missing_is_one_line(discs):
    result = cli("vot", discs, "   ", "--model", "openai:http://127.0.0.1:9/v1#m")
    assert result.returncode == 2 and "needs a question" in result.stderr and "Traceback" not in result.stderr


def test_cli_json_holds_every_step_with_its_calls(discs, no_proxy):
    server = ScriptedServer(scripted)
    try:
        result = cli("vot", discs, "Which direction does the blue object move?", "--options", *OPTIONS,
                     "--model", server.uri, "--nframes", "2", "--json")
    finally:
        server.close()
    assert result.returncode == 0, result.stderr[-2000:]
    found = json.loads(result.stdout)
    assert found["options"] == OPTIONS and found["answer"] == "D"
    assert set(found["timings"]) == {"total", *STEPS}
    for step in found["steps"]:
        assert {"name", "output", "decided_by", "calls", "evidence", "seconds", "data"} <= set(step)
        for call in step["calls"]:
            assert call["prompt"] and isinstance(call["reply"], str) and len(call["frame_times"]) == 2
        assert all(e["start"] <= e["end"] for e in step["evidence"])
    text = cli("vot", discs, "Which direction does the blue object move? A. left B. right C. up D. down",
               "--model", "openai:http://127.0.0.1:9/v1#m")
    assert text.returncode == 2 and "cannot reach" in text.stderr  # a server that is not there: one line
