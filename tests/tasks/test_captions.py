"""``vidllm captions``: a video's events in time order, as text, JSON, WebVTT and SRT."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pysubs2
import pytest
import tiny_vlms
from media import SIGN_SHOWN, sign_clip
from reason_helpers import (
    BLUE_SEEN,
    RED_SEEN,
    ScriptedServer,
    frame_times,
    two_discs_clip,
)

from vidllm.models.pool import ModelPool
from vidllm.tasks.reason.captions import Captions, Event, captions


def cli(*args):
    return subprocess.run([sys.executable, "-m", "vidllm", *args], capture_output=True, text=True, timeout=600,
                          env=os.environ.copy())


@pytest.fixture(scope="module")
def discs(tmp_path_factory):
    return two_discs_clip(tmp_path_factory.mktemp("captions") / "discs.mp4")


@pytest.fixture
def no_proxy(monkeypatch):
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


def test_events_in_order_with_times_within_a_second(discs, tmp_path):
    result = cli("captions", discs, "--format", "json", "--no-progress")
    assert result.returncode == 0, result.stderr[-2000:]
    found = json.loads(result.stdout)
    assert found["decided_by"] == "perception" and found["calls"] == []
    events = found["events"]
    assert [(e["start"], e["end"]) for e in events] == sorted((e["start"], e["end"]) for e in events)
    moving = [e for e in events if e["kind"] == "track"]
    assert [("red" in e["text"], "blue" in e["text"]) for e in moving] == [(True, False), (False, True)]
    for event, truth, direction in zip(moving, (RED_SEEN, BLUE_SEEN), ("right", "down")):
        assert abs(event["start"] - truth[0]) <= 1.0 and abs(event["end"] - truth[1]) <= 1.0, event
        assert f"moves {direction}" in event["text"]

    out = tmp_path / "discs.vtt"
    written = cli("captions", discs, "--format", "vtt", "--out", str(out), "--no-progress")
    assert written.returncode == 0 and "events written" in written.stderr
    assert out.read_text().startswith("WEBVTT")
    back = pysubs2.load(str(out))  # a subtitle reader reads back the same events
    assert [(e.start / 1000, e.end / 1000) for e in back] == [(ev["start"], ev["end"]) for ev in events]
    assert [e.text for e in back] == [ev["text"] for ev in events]


def test_on_screen_text_is_an_event_at_its_time(tmp_path):
    clip = sign_clip(tmp_path / "sign.mp4")
    with ModelPool() as pool:
        result = captions(clip, pool=pool, model_options={"progress": False})
    [text] = [e for e in result.events if e.kind == "ocr"]
    assert "EXIT 42" in text.text
    assert abs(text.start - SIGN_SHOWN[0]) <= 1.0 and abs(text.end - SIGN_SHOWN[1]) <= 1.0


def test_render_formats_and_refuses_an_unknown_one():
    result = Captions([Event(0.0, 1.5, "A door opens.", "track"), Event(61.25, 62.0, 'Someone says: "hi"', "speech")],
                      "perception", "timeline", 63.0)
    assert result.render("text").splitlines() == ["00:00.0-00:01.5  A door opens.", '01:01.2-01:02.0  Someone says: "hi"']
    assert "00:01:01.250 --> 00:01:02.000" in result.render("vtt")
    assert "00:01:01,250 --> 00:01:02,000" in result.render("srt")
    with pytest.raises(ValueError, match="not one of text, json, vtt, srt"):
        result.render("ass")


def test_frame_reading_model_captions_segments_and_merges_repeats(discs, no_proxy):
    # the scripted model says what it is shown: its captions change once, at 4 s
    server = ScriptedServer(lambda prompt: "A red disc." if max(frame_times(prompt)) < 4 else "A blue disc.")
    try:
        result = captions(discs, model=server.uri, segment_seconds=2.0, nframes=3)
    finally:
        server.close()
    assert result.decided_by == "model" and len(result.calls) == 4  # 8 s in 2 s segments
    assert [(e.start, e.end, e.text) for e in result.events] == [(0.0, 4.0, "A red disc."), (4.0, 8.0, "A blue disc.")]
    for call, start in zip(result.calls, (0, 2, 4, 6)):
        assert len(call.frame_times) == 3 and all(start <= t < start + 2 for t in call.frame_times)


@pytest.mark.slow
@tiny_vlms.needs_transformers
def test_tiny_transformers_model_captions(discs, tmp_path):
    model = tiny_vlms.build("qwen2.5-vl", tmp_path / "qwen")
    result = cli("captions", discs, "--model", f"hf:{model}", "--segment-seconds", "4", "--format", "json")
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout)
    assert found["decided_by"] == "model" and len(found["calls"]) == 2
    assert found["events"][0]["start"] == 0.0 and found["events"][-1]["end"] == pytest.approx(8.0)
