"""OVO-Bench online mode: generated OVO-style data end to end (stand-in clips with known events),
official numbers unchanged, the delay table in report.html; and zero future leaks over the
whole real annotation file's probe schedule."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from stream_media import jumping_disc_clip, jumps, text_events_clip

from vidllm.eval.benchmarks.ovobench import OVOBench
from vidllm.eval.online import check_no_leak, evaluate_online, probe_schedule, replay
from vidllm.eval.pipeline import EvalConfig, score
from vidllm.tasks.stream import StreamEvent, StreamSession
from vidllm.video.frames import Frames

pytestmark = pytest.mark.timeout(600)

REAL_ANNOTATIONS = Path("/work/shared/benchmarks/ovo_bench")
JUMPS = jumps(first=2.0, period=4.0, count=3, airtime=2.0)  # landings at 4, 8, 12 s


@pytest.fixture(scope="module")
def ovo_folder(tmp_path_factory) -> Path:
    """An OVO-Bench folder as published (ovo_bench_new.json + src_videos/) with generated clips."""
    root = tmp_path_factory.mktemp("ovo")
    videos = root / "src_videos"
    videos.mkdir()
    text_events_clip(videos / "sign.mp4", [(2.0, 6.0, "EXIT 42"), (9.0, 13.0, "OPEN 7")], duration=14, fps=5)
    jumping_disc_clip(videos / "jumps.mp4", JUMPS, duration=14, fps=5)
    annotations = [
        {"id": 0, "task": "OCR", "video": "sign.mp4", "realtime": 4, "question": "What is written on the sign?",
         "options": ["OPEN 7", "EXIT 42", "STOP", "EXIT 24"], "gt": 1, "answer": "EXIT 42"},
        {"id": 1, "task": "EPM", "video": "sign.mp4", "realtime": 11, "question": "What was written on the sign before?",
         "options": ["EXIT 42", "OPEN 7", "STOP", "EXIT 24"], "gt": 0, "answer": "EXIT 42"},
        {"id": 2, "task": "REC", "video": "jumps.mp4", "activity": "jump", "start_times": [s for s, _ in JUMPS],
         "end_times": [e for _, e in JUMPS], "test_info": [{"realtime": 5, "count": 1}, {"realtime": 9, "count": 2},
                                                            {"realtime": 13, "count": 3}]},
        {"id": 3, "task": "CRR", "video": "sign.mp4", "question": "What number is on the sign?", "answer": "42",
         "ask_time": 1, "clue_time": 2, "test_info": [{"realtime": 1, "type": 0}, {"realtime": 4, "type": 1}]},
        {"id": 4, "task": "SSR", "video": "sign.mp4", "tutorial": "signs", "all_steps": ["show exit", "show open"],
         "start_time": [2, 9], "end_time": [6, 13], "test_info": [{"realtime": 3, "step": "show exit", "type": 1},
                                                                  {"realtime": 10, "step": "show exit", "type": 0}]},
    ]
    (root / "ovo_bench_new.json").write_text(json.dumps(annotations), encoding="utf-8")
    return root


def test_online_run_keeps_the_official_scores_and_reports_delays(ovo_folder, tmp_path):
    config = EvalConfig(model="checks:", benchmark="ovobench", data_dir=ovo_folder, out_dir=tmp_path / "run", progress=False,
                        model_options={"stream_tools": ""})  # the counter needs no perception model
    result = evaluate_online(config)
    official = result.results["scores"]["official"]
    assert official["tasks"]["REC"]["acc"] == 1.0  # the repetition counter, at 5, 9 and 13 s
    # the official numbers are the official scorer's reading of these replies, nothing else
    rescored = score(tmp_path / "run" / "samples.jsonl", "ovobench")
    assert rescored.results["scores"]["official"] == official
    # the true online mode: each jump counted after its landing (1 fps: within a frame)
    online = json.loads((tmp_path / "run" / "online.json").read_text())
    rec = [q for q in online["questions"] if q["task"] == "REC"]
    assert [q["evidence_time"] for q in rec] == [4.0, 8.0, 12.0]
    assert all(0.0 <= q["delay"] <= 1.0 and q["premature_at"] is None for q in rec)
    assert online["delays"]["REC"]["answered"] == 3 and online["delays"]["REC"]["missed"] == 0
    assert online["delays"]["CRR"]["missed"] == 1  # no model: nobody says Yes
    report = (tmp_path / "run" / "report.html").read_text()
    assert "Online mode: response delay" in report and "<td>REC</td><td>3</td><td>3</td>" in report
    # a re-run resumes: nothing is replayed, the scores and the delays are kept
    again = evaluate_online(config)
    assert again.results["scores"]["official"] == official
    assert json.loads((tmp_path / "run" / "online.json").read_text()) == online


def test_probes_answered_at_their_realtime_see_no_later_frame(ovo_folder):
    samples = OVOBench(ovo_folder).load().samples
    schedule = probe_schedule(samples)
    seen = []

    class Recording(StreamSession):
        def ask(self, question, **kwargs):
            seen.append(self.now)
            return super().ask(question, **kwargs)

    from vidllm.video.live import open_stream

    video = str(ovo_folder / "src_videos" / "sign.mp4")
    answers, _ = replay(open_stream(video, fps=1), schedule[video], Recording(model=None, tools=()), online=False)
    realtimes = sorted(float(s.realtime) for s in schedule[video])
    assert sorted(answers) == sorted(s.doc_id for s in schedule[video])
    assert seen == [float(int(r)) for r in realtimes]  # the last frame at or before each probe: 1 fps


def test_a_leak_is_caught():
    session = StreamSession(model=None, tools=())
    image = np.zeros((1, 8, 8, 3), np.uint8)
    session.feed(Frames(image, np.array([5.0]), np.array([5.0]), "x", "", "live"))
    event = StreamEvent("answer", "q1", "?", "ask", 5.0, used_until=5.0)
    check_no_leak(session, event, 5.0, "ok")
    with pytest.raises(AssertionError, match="future leak at late"):
        check_no_leak(session, event, 4.5, "late")


def synthetic_frames(duration: float, fps: float):
    """Stand-in frames of a video of ``duration`` s: tiny pictures that change now and then."""
    rng = np.random.default_rng(0)
    picture = rng.integers(0, 255, (1, 8, 8, 3), dtype=np.uint8)
    for k in range(int(duration * fps) + 1):
        if k % 7 == 0:
            picture = rng.integers(0, 255, (1, 8, 8, 3), dtype=np.uint8)
        t = np.array([k / fps])
        yield Frames(picture, t, t, "stand-in", "", "live")


@pytest.mark.slow
@pytest.mark.skipif(not (REAL_ANNOTATIONS / "ovo_bench_new.json").exists(), reason="no OVO-Bench annotations")
def test_zero_future_leaks_over_the_whole_annotation_replay():
    samples = OVOBench(REAL_ANNOTATIONS).load(require_videos=False).samples
    schedule = probe_schedule(samples)
    answered = 0
    for video, probes in schedule.items():
        duration = max(float(s.realtime) for s in probes) + 1
        answers, _ = replay(synthetic_frames(duration, fps=0.5), probes, StreamSession(model=None, tools=()), online=False)
        assert set(answers) == {s.doc_id for s in probes}  # check_no_leak ran at every one of them
        answered += len(answers)
    assert answered == len(samples) == 1640 - 172 + 1567  # 172 forward entries become their 1567 probes


@pytest.mark.slow
def test_cli_online_eval_with_the_embedded_default(ovo_folder, tmp_path):
    out = tmp_path / "cli"
    result = subprocess.run([sys.executable, "-m", "vidllm", "eval", "--bench", "ovobench", "--online", "-m", "timeline",
                             "--data", str(ovo_folder), "--out", str(out), "--no-progress", "-o", "online_interval", "3"],
                            capture_output=True, text=True, timeout=580)
    assert result.returncode == 0, result.stderr
    assert "OVO-Bench" in result.stdout
    assert "Online mode: response delay" in (out / "report.html").read_text()
    online = json.loads((out / "online.json").read_text())
    assert set(online["delays"]) == {"REC", "SSR", "CRR"}
