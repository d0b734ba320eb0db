"""Crash safety of `vidllm eval`, with real processes: a second run on the same --out is refused
with the first one's pid (also when both start at once), and Ctrl-C exits 130 with a message,
keeping every answer received, so the same command resumes to the unbroken run's results."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from vidllm.cli import main


def command(data: Path, out: Path, model: str = "sleep:0.3:hash") -> list[str]:
    return [sys.executable, "-m", "vidllm", "eval", "-m", model, "--bench", "mlvu", "--data", str(data), "--out", str(out),
            "--nframes", "2", "--no-progress", "--thumbnails", "0"]


def committed(out: Path) -> int:
    try:
        with sqlite3.connect(out / "predictions.sqlite") as db:
            return db.execute("SELECT count(*) FROM predictions").fetchone()[0]
    except sqlite3.Error:
        return 0


def wait_for(condition, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_a_second_run_on_the_same_folder_is_refused(mlvu_dir, tmp_path):
    out = tmp_path / "run"
    first = subprocess.Popen(command(mlvu_dir, out), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: committed(out) >= 1)
        second = subprocess.run(command(mlvu_dir, out), capture_output=True, text=True, timeout=60)
        assert second.returncode == 2
        assert f"is being written by pid {first.pid}" in second.stderr and "another --out" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert committed(out) == 20


def test_two_runs_started_at_once_one_refused(mlvu_dir, tmp_path):
    out = tmp_path / "run"
    runs = [subprocess.Popen(command(mlvu_dir, out, "sleep:0.05:hash"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for _ in range(2)]
    results = [(run.wait(timeout=120), run.stderr.read()) for run in runs]
    codes = sorted(code for code, _ in results)
    errors = "".join(err for _, err in results)
    assert codes in ([0, 0], [0, 2]), errors   # the second may also start after the first has finished
    assert "already exists" not in errors and "Traceback" not in errors
    assert committed(out) == 20 and not list(out.glob("*.tmp"))


def test_ctrl_c_keeps_the_answers_and_the_run_resumes(mlvu_dir, tmp_path):
    out = tmp_path / "run"
    run = subprocess.Popen(command(mlvu_dir, out), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert wait_for(lambda: committed(out) >= 3)
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 130
    kept = committed(out)
    assert f"interrupted; {kept} answers kept in {out}/" in err and 3 <= kept < 20
    resumed = CliRunner().invoke(main, command(mlvu_dir, out)[3:])
    assert resumed.exit_code == 0, resumed.output
    unbroken = tmp_path / "unbroken"
    done = CliRunner().invoke(main, command(mlvu_dir, unbroken, "sleep:0.3:hash")[3:] + ["--workers", "8"])
    assert done.exit_code == 0, done.output
    for name in ("results.json", "samples.jsonl"):
        assert (out / name).read_bytes() == (unbroken / name).read_bytes()
