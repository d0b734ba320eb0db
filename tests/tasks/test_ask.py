"""The embedded default answers real questions about real and generated clips, offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from media import espeak_available, moving_disc_clip, sign_clip, speech_clip

from vidllm.perceive.store import ObservationStore
from vidllm.tasks.ask import ask
from vidllm.video.cache import content_hash


def cli(*args, check=True, env=None):
    result = subprocess.run([sys.executable, "-m", "vidllm", *args], capture_output=True, text=True, timeout=600,
                            env={**os.environ, **(env or {})})
    if check:
        assert result.returncode == 0, result.stderr[-2000:]
    return result


def overlaps(evidence, lo, hi) -> bool:
    return any(e["start"] < hi and e["end"] > lo for e in evidence)


@pytest.fixture(scope="module")
def sign(tmp_path_factory):
    return sign_clip(tmp_path_factory.mktemp("sign") / "sign.mp4")


def test_number_on_a_sign_with_evidence_at_its_time(sign):
    result = json.loads(cli("ask", sign, "What number is written on the sign?", "--json").stdout)
    assert "42" in result["answer"]
    assert overlaps(result["evidence"], 3.0, 5.0)
    manifest = result["manifest"]
    # read off the evidence: the rule and the lines are recorded, and the reasoner was not needed
    assert manifest["reading"]["answered"] and manifest["reading"]["rule"] == "most relevant"
    assert manifest["llm"]["used"] is False and manifest["retrieval"]["embedder"]["sha256"]
    assert manifest["prompt"] and manifest["perception"]["tools"]
    assert set(result["timings"]) >= {"perception", "reasoning", "total"}


def test_the_reasoner_writes_open_answers_when_asked_and_is_recorded(sign):
    result = json.loads(cli("ask", sign, "Which number is on the sign?", "-o", "answers", "llm", "--json").stdout)
    manifest = result["manifest"]
    assert manifest["reading"]["answered"] is False and manifest["llm"]["sha256"]
    assert result["usage"]["generated_tokens"] > 0
    assert result["grounding"]["unsupported"] == [] or result["answer"].startswith("The video does not say")


def test_second_question_reuses_the_stored_timeline(sign):
    first = ask(sign, "What number is written on the sign?")
    store = ObservationStore()
    runs = store.runs(content_hash(sign))
    assert {r["tool"] for r in runs} >= {"tags", "ocr", "visual"}
    finished = {r["tool"]: r["finished_at"] for r in runs}
    second = ask(sign, "What colour is the sign?")
    assert {r["tool"]: r["finished_at"] for r in store.runs(content_hash(sign))} == finished
    assert all(v == 0.0 for v in second.manifest["perception"]["perception_seconds"].values())
    assert first.manifest["perception"]["tools"] == second.manifest["perception"]["tools"]


@pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed (make system-deps)")
def test_spoken_time_is_heard(tmp_path):
    clip, (start, end) = speech_clip(tmp_path / "speech.mp4")
    result = json.loads(cli("ask", clip, "When does the meeting start?", "--json").stdout)
    assert "nine" in result["answer"].lower() or "9" in result["answer"]
    assert overlaps(result["evidence"], start, end)


def test_direction_of_motion_multiple_choice(tmp_path):
    clip = moving_disc_clip(tmp_path / "disc.mp4")
    result = json.loads(cli("ask", clip, "Which direction does the red object move?",
                            "--options", "A. left", "B. right", "C. up", "D. down", "--json").stdout)
    assert result["answer"] == "B"
    assert result["options"] == ["A. left", "B. right", "C. up", "D. down"]
    text = cli("ask", clip, "Which direction does the red object move? A. left B. right C. up D. down").stdout
    assert text.startswith("B. right")


def test_describe_real_bikes_clip_names_a_bicycle(bikes):
    lines = json.loads(cli("describe", bikes, "--tools", "tags", "--json").stdout)["lines"]
    bicycle = [l for l in lines if l["kind"] == "tags" and ("bike" in l["text"] or "bicycle" in l["text"])]
    assert bicycle and all(l["end"] > l["start"] for l in bicycle)
    assert "bike" in cli("describe", bikes, "--tools", "tags").stdout


def test_missing_video_and_unknown_tool_are_one_line(sign, tmp_path):
    result = cli("ask", str(tmp_path / "none.mp4"), "What?", check=False)
    assert result.returncode == 2 and "no such file" in result.stderr and "Traceback" not in result.stderr
    result = cli("ask", sign, "What?", "--tools", "tagz", check=False)
    assert result.returncode == 2 and "did you mean tags" in result.stderr


def test_interrupted_analysis_resumes_without_redoing_finished_tools(tmp_path):
    import signal
    import sqlite3
    import time

    clip = sign_clip(tmp_path / "long_sign.mp4", duration=30.0)
    db_path = os.path.join(os.environ["VIDLLM_CACHE_DIR"], "vidllm.sqlite")
    proc = subprocess.Popen([sys.executable, "-m", "vidllm", "describe", clip], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    finished = {}
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with sqlite3.connect(db_path) as conn:
                finished = dict(conn.execute("SELECT tool, finished_at FROM tool_runs"))
        except sqlite3.OperationalError:  # not created yet
            pass
        if finished:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    proc.wait()
    assert finished, "the first tool never finished"
    assert len(finished) < 4, "every tool finished before the kill landed"
    cli("describe", clip)
    with sqlite3.connect(db_path) as conn:
        after = dict(conn.execute("SELECT tool, finished_at FROM tool_runs"))
    assert set(after) == {"tags", "ocr", "speech", "visual"}
    for tool, when in finished.items():
        assert after[tool] == when  # not run again


@pytest.mark.parametrize("colour, rgb, direction, options, truth", [
    ("blue", (20, 40, 220), "down", ["A. left", "B. up", "C. down", "D. right"], "C"),
    ("green", (20, 170, 40), "up", ["A. down", "B. right", "C. left", "D. up"], "D"),
    ("blue", (20, 40, 220), "left", ["A. right", "B. left", "C. down", "D. up"], "B"),
])
def test_the_option_the_evidence_states_wins(tmp_path, colour, rgb, direction, options, truth):
    """A 135M model's letter is a guess; a description that states one option settles it."""
    clip = moving_disc_clip(tmp_path / f"{colour}-{direction}.mp4", colour=rgb, direction=direction)
    answer = ask(clip, f"Which direction does the {colour} object move?", options=options,
                 model_options={"progress": False, "score_options": "always"})
    assert answer.answer == truth, (answer.reply, answer.option_support)
    assert answer.option_support[truth] == 1.0
    assert all(v < 1.0 for k, v in answer.option_support.items() if k != truth)
    assert answer.choice_source in ("likelihood", "evidence")  # the reasoner scored every option
    assert sorted(answer.option_scores) == ["A", "B", "C", "D"]
    # by default the reasoner is not asked what the lines settle: same answer, no scores
    settled = ask(clip, f"Which direction does the {colour} object move?", options=options,
                  model_options={"progress": False})
    assert settled.answer == truth and settled.choice_source == "evidence" and settled.option_scores is None
    assert settled.manifest["llm"]["used"] is False
    assert any(f"moves {direction}" in e.text for e in answer.evidence)


@pytest.mark.parametrize("rgb, options, truth", [
    ((240, 130, 20), ["A. purple", "B. orange", "C. green", "D. blue"], "B"),
    ((140, 40, 200), ["A. red", "B. yellow", "C. purple", "D. orange"], "C"),
])
def test_the_colour_the_evidence_states_wins(tmp_path, rgb, options, truth):
    clip = moving_disc_clip(tmp_path / f"disc-{truth}.mp4", colour=rgb, direction="left")
    answer = ask(clip, "Which colour is the disc that crosses the frame?", options=options,
                 model_options={"progress": False})
    assert answer.answer == truth, (answer.reply, answer.option_support, answer.option_scores)
    assert answer.option_support[truth] == 1.0 and answer.choice_source == "evidence"


def test_a_number_among_options_is_read_from_the_screen(sign):
    answer = ask(sign, "What number is written on the sign? A. 24 B. 12 C. 42 D. 4",
                 model_options={"progress": False})
    assert answer.answer == "C" and answer.option_support["C"] == 1.0
    assert answer.option_support["D"] < 1.0  # "4" is not a word of "EXIT 42"
