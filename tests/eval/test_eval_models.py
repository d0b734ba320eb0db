"""End to end: real models evaluated on a benchmark folder in MVBench's published layout.

The embedded default (perception + SmolLM2) and a tiny Qwen2.5-VL built locally (random
weights: its answers are noise, the path is what is tested) go through the same runner; a run
killed with SIGKILL and restarted ends with the same results as an uninterrupted one.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import tiny_vlms


def run_eval(model: str, data: Path, out: Path, *extra: str, wait: bool = True):
    frames = [] if model == "timeline" else ["--nframes", "4"]  # the timeline model picks its own frames
    args = [sys.executable, "-m", "vidllm", "eval", "--model", model, "--bench", "mvbench", "--data", str(data),
            "--out", str(out), *frames, *extra]
    if not wait:
        return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    result = subprocess.run(args, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def scores(out: Path) -> dict:
    results = json.loads((out / "results.json").read_text())
    return {k: results[k] for k in ("scores",) if k in results} or results


def test_embedded_default_evaluates_and_resumes_after_kill(mvbench_dir, tmp_path):
    whole = tmp_path / "whole"
    run_eval("timeline", mvbench_dir, whole)
    results = json.loads((whole / "results.json").read_text())
    assert results["manifest"]["model"]["name"] == "timeline"
    assert results["manifest"]["model"]["baseline"] is False
    lines = [json.loads(x) for x in (whole / "samples.jsonl").read_text().splitlines()]
    assert len(lines) == 4 and all(line["resps"][0][0] for line in lines)

    killed = tmp_path / "killed"
    proc = run_eval("timeline", mvbench_dir, killed, wait=False)
    deadline = time.monotonic() + 600
    done = 0
    while time.monotonic() < deadline and proc.poll() is None:
        stores = list(killed.glob("*.sqlite")) + list(killed.glob("*.db"))
        if stores:
            try:
                with sqlite3.connect(stores[0]) as conn:
                    done = conn.execute("SELECT count(*) FROM predictions").fetchone()[0]
            except sqlite3.OperationalError:
                done = 0
        if done >= 1:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    proc.wait()
    assert 1 <= done < 4, f"the kill landed after {done} of 4 samples"
    run_eval("timeline", mvbench_dir, killed)
    assert scores(killed) == scores(whole)
    again = [json.loads(x) for x in (killed / "samples.jsonl").read_text().splitlines()]
    assert [(x["doc_id"], x["resps"]) for x in again] == [(x["doc_id"], x["resps"]) for x in lines]


@tiny_vlms.needs_transformers
def test_tiny_transformers_model_evaluates(mvbench_dir, tmp_path):
    model = tiny_vlms.build("qwen2.5-vl", tmp_path / "tiny-qwen")
    out = tmp_path / "out"
    run_eval(f"hf:{model}", mvbench_dir, out)
    results = json.loads((out / "results.json").read_text())
    assert results["manifest"]["model"]["name"] == f"hf:{model}"
    lines = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert len(lines) == 4
    # the frames the model saw are stored with their true times: 4 per sample, and for the
    # bounded item (start 0.4 s, end 1.6 s) only from inside its range
    with sqlite3.connect(out / "predictions.sqlite") as conn:
        stored = {doc: json.loads(p) for doc, p in conn.execute("SELECT doc_id, prediction FROM predictions")}
    assert all(len(p["frame_timestamps"]) == 4 for p in stored.values())
    bounded = stored["action_sequence/0"]["frame_timestamps"]
    assert all(0.4 <= t < 1.6 for t in bounded)


def test_a_frame_flag_the_embedded_default_cannot_honour_is_refused(mvbench_dir, tmp_path):
    result = subprocess.run([sys.executable, "-m", "vidllm", "eval", "--model", "timeline", "--bench", "mvbench",
                             "--data", str(mvbench_dir), "--out", str(tmp_path / "out"), "--max-frames", "4"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--max-frames" in result.stderr and "cannot honour" in result.stderr
    assert not (tmp_path / "out").exists()  # refused before anything ran
