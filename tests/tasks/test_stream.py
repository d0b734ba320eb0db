"""The stream session on generated clips with known events: forward questions are answered
after the event and never before, with the delay measured; backward questions about the start
of a 10-minute stream are answered from memory; memory stays bounded; every backend kind."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest
from stream_media import jumping_disc_clip, jumps, text_events_clip

from vidllm.errors import OptionError
from vidllm.tasks.stream import StreamSession, classify, run
from vidllm.video.live import open_stream

pytestmark = pytest.mark.timeout(300)

TEXT_EVENTS = [(3.2, 6.0, "EXIT 42"), (8.0, 10.0, "OPEN 7")]
JUMPS = jumps(first=2.0, period=3.0, count=4)  # landings at 3, 6, 9, 12 s


@pytest.fixture(scope="module")
def text_clip(tmp_path_factory) -> str:
    return text_events_clip(tmp_path_factory.mktemp("stream") / "text.mp4", TEXT_EVENTS, duration=12)


@pytest.fixture(scope="module")
def jump_clip(tmp_path_factory) -> str:
    return jumping_disc_clip(tmp_path_factory.mktemp("stream") / "jumps.mp4", JUMPS, duration=15)


@pytest.mark.parametrize("question, check, target", [
    ('Tell me when the text "EXIT 42" appears', "text-match", "EXIT 42"),
    ("tell me when ‘OPEN 7’ is shown on the sign", "text-match", "OPEN 7"),
    ("Count the jumps and tell me each time", "counter", ""),
    ("How many times did they jump?", "counter", ""),
    ("What was written on the board two minutes ago?", "text-read", "120"),
    ("What text was on screen at the start?", "text-read", "start"),
    ("What does the sign say now?", "text-read", ""),
    ("Tell me when a dog appears", "presence", "dog"),
    ("Is the man cooking?", "model", ""),
])
def test_questions_go_to_the_check_that_decides_them(question, check, target):
    assert classify(question) == (check, target)


def test_unknown_stream_tool_is_refused():
    with pytest.raises(OptionError, match="speech"):
        StreamSession(model=None, tools=("ocr", "speech"))


def test_text_watch_speaks_after_the_text_appears_and_not_before(text_clip):
    session = StreamSession(model=None, tools=("ocr",))
    events = run(open_stream(text_clip, fps=2), session, watches=[
        'tell me when the text "EXIT 42" appears', 'tell me when "OPEN 7" is on the sign',
        'tell me when the text "CLOSED" appears']).events
    answers = {e.question_id: e for e in events if e.kind == "answer"}
    assert set(answers) == {"q1", "q2"}  # nothing about CLOSED, which never appears
    for qid, (shown_at, _, text) in zip(("q1", "q2"), TEXT_EVENTS):
        event = answers[qid]
        assert text in event.answer and event.decided_by == "text-match"
        # the first frame at 2 fps on or after the appearance, and never a frame before it
        assert shown_at <= event.evidence_time <= shown_at + 0.5
        assert event.stream_time >= event.evidence_time and event.used_until <= event.stream_time
        assert 0 <= event.delay <= 0.5  # a replay's delay: stream time of the answer - evidence time
    ended = [e for e in events if e.kind == "ended"]
    assert [e.question_id for e in ended] == ["q1", "q2", "q3"]


def test_counter_reports_each_repetition_after_it_ends(jump_clip):
    session = StreamSession(model=None, tools=())
    events = [e for e in run(open_stream(jump_clip, fps=2), session, watches=["count the jumps and tell me each time"]).events
              if e.kind == "answer"]
    assert [e.answer for e in events] == ["1", "2", "3", "4"]
    for event, (_, landing) in zip(events, JUMPS):
        assert landing <= event.evidence_time <= landing + 0.5  # after the landing, within a frame
        assert event.decided_by == "counter" and event.delay >= 0
    assert session.ask("How many times did it jump?").answer == "4"


def test_watch_asked_midway_counts_from_then_and_can_be_cancelled(jump_clip):
    session = StreamSession(model=None, tools=())
    source = open_stream(jump_clip, fps=2)
    events, qid, cancelled = [], None, None
    for frames in source:
        events += session.feed(frames)
        if qid is None and session.now >= 4.0:
            qid = session.watch("count the jumps")  # one jump (landing at 3 s) is before the question
        if cancelled is None and session.now >= 10.0:
            cancelled = session.cancel(qid)
    assert [e.answer for e in events] == ["1", "2"]  # landings at 6 and 9 s; 12 s comes after the cancel
    assert cancelled.kind == "cancelled" and not session.questions


def test_asks_use_nothing_later_than_their_moment(text_clip):
    session = StreamSession(model=None, tools=("ocr",))
    answers = {}
    for frames in open_stream(text_clip, fps=2):
        session.feed(frames)
        if session.now in (2.0, 4.0, 9.0):
            answers[session.now] = session.ask("What does the sign say now?")
    assert "no text" in answers[2.0].answer  # EXIT 42 appears at 3.2 s: not yet
    assert answers[4.0].answer == '"EXIT 42"' and answers[9.0].answer == '"OPEN 7"'
    for now, event in answers.items():
        assert event.stream_time == now and (event.used_until is None or event.used_until <= now)
    assert session.ask("What was written 3 seconds ago?").answer == '"OPEN 7"'  # 11.5 - 3 = 8.5 s
    assert "no text" in session.ask("What was written 5 seconds ago?").answer  # 6.5 s: between the two


@pytest.fixture(scope="module")
def ten_minutes(tmp_path_factory) -> str:
    """10 minutes at 1 fps: "START 1" for the first 5 s, then a new number every 2 minutes."""
    events = [(0.0, 5.0, "START 1")] + [(120.0 * k, 120.0 * k + 6, f"PART {k}") for k in range(1, 5)]
    return text_events_clip(tmp_path_factory.mktemp("stream") / "ten.mp4", events, duration=600, fps=1, size=(320, 180))


@pytest.mark.slow
def test_backward_question_about_the_start_of_a_ten_minute_stream(ten_minutes):
    session = StreamSession(model=None, tools=("ocr",), memory_capacity=16, max_lines=50)
    held = []
    for frames in open_stream(ten_minutes, fps=1):
        session.feed(frames)
        held.append(session.held_frames)
    assert session.now == pytest.approx(599.0)
    event = session.ask("What text was on screen at the start?")
    assert event.answer == '"START 1"' and event.evidence_time == 0.0
    assert session.ask("What was written two minutes ago?").answer.startswith("no text")  # 479 s: blank
    assert session.ask("What was written 2 minutes ago?").answer == "no text on screen at 07:59.0"
    # bounded: 16 memory items (one frame each), the dedup window and the recent frames
    assert len(session.memory) <= 16 and max(held) <= 16 + 1 + 16 + 4
    assert max(held[300:]) <= max(held[:300]) + 1  # flat after the first minutes


@pytest.mark.slow
def test_embedded_default_answers_from_the_session_lines(text_clip):
    session = StreamSession(tools=("ocr",))  # the embedded default: timeline lines + SmolLM2
    try:
        events = []
        for frames in open_stream(text_clip, fps=2):
            session.feed(frames)
            if session.now == 5.0:
                events.append(session.ask("Is there a sign with a number? What number?"))
        event = events[0]
        assert event.decided_by == "model" and event.answer
        assert event.used_until <= 5.0  # EXIT 42 is still on screen at 5 s; its line is cut at now
        assert any("EXIT 42" in e["text"] for e in event.evidence)
        assert all(e["end"] <= 5.0 for e in event.evidence)
    finally:
        session.close()


@pytest.mark.slow
def test_frame_reading_backend_sees_memory_frames_with_true_times(text_clip, tmp_path):
    pytest.importorskip("transformers")
    import tiny_vlms

    folder = tiny_vlms.build("qwen2.5-vl", tmp_path / "qwen")
    session = StreamSession(f"hf:{folder}", model_options={"device": "cpu"}, tools=(), max_new_tokens=4)
    try:
        for frames in open_stream(text_clip, fps=2):
            session.feed(frames)
            if session.now == 7.0:
                event = session.ask("What is on screen?")
                break
        shown = [e["start"] for e in event.evidence]
        assert event.decided_by == "model" and 1 <= len(shown) <= 8
        assert shown == sorted(shown) and max(shown) == 7.0 == event.used_until
        assert set(shown) <= {k * 0.5 for k in range(15)}  # true frame times of the 2 fps stream
    finally:
        session.close()


def vidllm(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "vidllm", *args], capture_output=True, text=True, timeout=240, **kwargs)


def test_cli_prints_json_events_and_a_summary(text_clip):
    result = vidllm("stream", text_clip, "--no-model", "--tools", "ocr", "--json", "--ask-at", "9",
                    "--watch", 'tell me when the text "OPEN 7" appears', "--ask", "what does the sign say now?")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    answers = [line for line in lines if line.get("kind") == "answer"]
    assert [a["question"] for a in answers] == ['tell me when the text "OPEN 7" appears', "what does the sign say now?"]
    assert answers[0]["evidence_time"] == 8.0 and answers[0]["decided_by"] == "text-match"
    assert answers[1]["stream_time"] == 9.0 and answers[1]["answer"] == '"OPEN 7"' 
    assert lines[-1]["summary"]["session"]["frames"] == 24


def test_cli_ctrl_c_stops_cleanly_with_a_summary(jump_clip):
    proc = subprocess.Popen([sys.executable, "-m", "vidllm", "stream", jump_clip, "--realtime", "--no-model", "--tools", "",
                             "--watch", "count the jumps"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = proc.stdout.readline()  # the first jump is counted after 3 s of stream
    assert "counter" in first
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "stream interrupted" in err and "Traceback" not in err


def test_cli_source_that_never_starts_exits_2_with_one_line():
    result = vidllm("stream", "udp://127.0.0.1:9", "--no-model", "--open-timeout", "1", "--read-timeout", "0.5")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "nothing received within 1 s" in result.stderr
