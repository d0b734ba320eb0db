"""The resumable runner: nothing lost and nothing duplicated when killed (kill -9 included),
identical results files after a restart, thread workers, refused configuration changes."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vidllm.errors import RunMismatchError, VideoNotFoundError
from vidllm.eval.benchmarks import load_benchmark
from vidllm.eval.predictors import make_baseline
from vidllm.eval.runner import run
from vidllm.eval.store import FILENAME
from vidllm.eval.types import Prediction


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "vidllm", *args]


def _stored(out: Path) -> int:
    db = out / FILENAME
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as con:
            return con.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_kill_9_mid_run_then_resume_gives_identical_results(mlvu_dir, tmp_path):
    args = ["eval", "--model", "sleep:0.2", "--bench", "mlvu", "--data", str(mlvu_dir), "--no-progress"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    whole, broken = tmp_path / "whole", tmp_path / "broken"
    subprocess.run(_cli(*args, "--out", str(whole)), check=True, env=env, capture_output=True, timeout=120)

    proc = subprocess.Popen(_cli(*args, "--out", str(broken), "--workers", "2"), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while _stored(broken) < 6 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    done_at_kill = _stored(broken)
    assert 6 <= done_at_kill < 20, "the kill should land mid-run"
    assert not (broken / "results.json").exists()

    resumed = subprocess.run(_cli(*args, "--out", str(broken)), env=env, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert _stored(broken) == 20                                   # nothing lost, nothing duplicated
    assert (broken / "results.json").read_bytes() == (whole / "results.json").read_bytes()
    assert (broken / "samples.jsonl").read_bytes() == (whole / "samples.jsonl").read_bytes()
    results = json.loads((whole / "results.json").read_text())
    assert results["samples"]["scored"] == 20 and results["baseline"] is True
    assert results["manifest"]["model"]["uri"] == "sleep:0.2"


def test_crash_and_resume_in_process(mlvu_dir, tmp_path):
    samples = load_benchmark("mlvu", mlvu_dir).load().samples
    oracle = make_baseline("oracle:")
    calls, failed = [], []

    def flaky(sample):
        calls.append(sample.doc_id)
        if len(calls) == 5 and not failed:
            failed.append(sample.doc_id)
            raise RuntimeError("backend went away")
        return oracle(sample)

    with pytest.raises(RuntimeError):
        run(samples, flaky, tmp_path, progress=False)
    calls.clear()
    preds = run(samples, flaky, tmp_path, progress=False)
    assert len(calls) == len(samples) - 4 and list(preds) == [s.doc_id for s in samples]
    assert all(preds[s.doc_id].text == s.target for s in samples)


def test_workers_give_the_same_answers_in_sample_order(mlvu_dir, tmp_path):
    samples = load_benchmark("mlvu", mlvu_dir).load().samples
    one = run(samples, make_baseline("hash:"), tmp_path / "one", progress=False)
    many = run(samples, make_baseline("sleep:0.01:hash"), tmp_path / "many", workers=4, progress=False)
    assert list(one) == list(many) == [s.doc_id for s in samples]
    assert [p.text for p in one.values()] == [p.text for p in many.values()]


def test_video_errors_are_recorded_and_the_run_goes_on(mlvu_dir, tmp_path):
    samples = load_benchmark("mlvu", mlvu_dir).load().samples[:3]

    def picky(sample):
        if sample.doc_id.endswith("/1"):
            raise VideoNotFoundError(sample.video_path, "gone")
        return Prediction(text="A", model="picky")

    preds = run(samples, picky, tmp_path, progress=False)
    assert preds[samples[1].doc_id].error.endswith("gone") and preds[samples[1].doc_id].text == ""
    assert preds[samples[2].doc_id].text == "A"


def test_a_changed_configuration_is_refused(mlvu_dir, tmp_path):
    samples = load_benchmark("mlvu", mlvu_dir).load().samples[:2]
    run(samples, make_baseline("first:"), tmp_path, fingerprint={"model": "first:"}, progress=False)
    with pytest.raises(RunMismatchError, match="changed: model"):
        run(samples, make_baseline("oracle:"), tmp_path, fingerprint={"model": "oracle:"}, progress=False)


def test_progress_bar_on_stderr(mlvu_dir, tmp_path, capsys):
    samples = load_benchmark("mlvu", mlvu_dir).load().samples[:3]
    run(samples, make_baseline("first:"), tmp_path, progress=True, description="demo")
    captured = capsys.readouterr()
    assert "demo" in captured.err and "3/3" in captured.err and captured.out == ""
