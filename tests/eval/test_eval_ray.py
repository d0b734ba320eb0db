"""``vidllm eval --ray``: samples spread over Ray tasks on a local 2-CPU cluster write the same
store as a single-process run: identical results whatever the order, no duplicate after a
worker is killed mid-task, and a run whose driver is killed resumes."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from vidllm.eval import EvalConfig, evaluate

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow

OUTPUTS = ("results.json", "samples.jsonl", "lmms_eval_results.json")


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def config(data, out, model, **kw):
    return EvalConfig(model=model, benchmark="mlvu", data_dir=data, out_dir=out, progress=False, thumbnails=0,
                      sampling={"nframes": 2}, **kw)


def same_outputs(a: Path, b: Path) -> bool:
    return all((a / name).read_bytes() == (b / name).read_bytes() for name in OUTPUTS)


def rows(out: Path) -> list[str]:
    with sqlite3.connect(out / "predictions.sqlite") as db:
        return [r[0] for r in db.execute("SELECT doc_id FROM predictions")]


def task_workers() -> list[int]:
    """PIDs of Ray worker processes running a predict_sample task now (Ray sets their title)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if cmdline.startswith(b"ray::predict_sample"):
                found.append(int(entry))
    return found


def test_ray_run_equals_a_single_process_run(cluster, mlvu_dir, tmp_path):
    model = "sleep:0.05:hash"   # tasks finish in whatever order the two workers take them
    single = evaluate(config(mlvu_dir, tmp_path / "single", model))
    spread = evaluate(config(mlvu_dir, tmp_path / "ray", model, ray="local"))
    assert spread.results == single.results and same_outputs(tmp_path / "single", tmp_path / "ray")
    # a Ray run resumes a single-process one (the same store): nothing left to do, nothing duplicated
    evaluate(config(mlvu_dir, tmp_path / "single", model, ray="local"))
    assert sorted(rows(tmp_path / "single")) == sorted(s.doc_id for s in single.graded.samples)


def test_no_duplicate_after_a_worker_is_killed(cluster, mlvu_dir, tmp_path):
    model = "sleep:0.4:hash"
    outcome: dict = {}
    run = threading.Thread(target=lambda: outcome.update(result=evaluate(config(mlvu_dir, tmp_path / "ray", model, ray="local"))))
    run.start()
    killed = None
    deadline = time.monotonic() + 60
    while killed is None and time.monotonic() < deadline and run.is_alive():
        for pid in task_workers():   # a worker of the cluster this test started
            os.kill(pid, signal.SIGKILL)
            killed = pid
            break
        time.sleep(0.05)
    run.join(timeout=180)
    assert killed is not None and "result" in outcome
    done = rows(tmp_path / "ray")
    assert len(done) == len(set(done)) == 20
    single = evaluate(config(mlvu_dir, tmp_path / "single", model, workers=8))
    assert outcome["result"].results == single.results and same_outputs(tmp_path / "single", tmp_path / "ray")


def test_a_killed_driver_resumes(cluster, mlvu_dir, tmp_path):
    """The driver is a `vidllm eval --ray auto` process joining this test's cluster; it is killed
    (SIGKILL) once some answers are committed, and the same command finishes the run."""
    out = tmp_path / "ray"
    command = [sys.executable, "-m", "vidllm", "eval", "-m", "sleep:0.5:hash", "--bench", "mlvu", "--data", str(mlvu_dir),
               "--out", str(out), "--nframes", "2", "--no-progress", "--thumbnails", "0", "--ray", "auto"]
    driver = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and driver.poll() is None:
        if (out / "predictions.sqlite").exists() and len(rows(out)) >= 3:
            break
        time.sleep(0.1)
    driver.kill()
    driver.wait()
    before = rows(out)
    assert 3 <= len(before) < 20, driver.stdout.read().decode()
    finished = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    after = rows(out)
    assert len(after) == len(set(after)) == 20 and set(before) <= set(after)
    evaluate(config(mlvu_dir, tmp_path / "single", "sleep:0.5:hash", workers=8))   # the unbroken run
    assert same_outputs(tmp_path / "single", out)
