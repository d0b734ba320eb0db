"""Run ``vidllm`` commands on inputs under a deadline and tabulate what happened.

Each run is a real subprocess; its outcome is one of ``ok`` (exit 0), ``error`` (exit 2 with a
one-line message), or a failure: ``traceback``, ``hang`` (killed at the deadline), ``exit N``
(any other exit code), ``multi-line`` (an error message of more than one line).

Peak memory is the child's own high-water mark (``VmHWM``), which it writes to stderr as it
exits: the ``ru_maxrss`` that ``wait4`` reports would include the RSS of the parent at fork
time (Linux carries it over ``exec``), so a big test process would make every child look big.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

FAILURES = ("traceback", "hang", "multi-line", "lost")  # lost: an eval run that dropped a sample
PEAK_MARK = "vidllm-peak-kb:"
# ``python -m vidllm`` that reports its memory high-water mark on stderr when it exits
PEAK_REPORTING_VIDLLM = f"""
import atexit, runpy, sys

def report_peak():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                sys.stderr.write("\\n{PEAK_MARK} " + line.split()[1] + "\\n")

atexit.register(report_peak)
sys.argv[0] = "vidllm"
runpy.run_module("vidllm", run_name="__main__", alter_sys=True)
"""


def vidllm_command(args: list[str]) -> list[str]:
    return [sys.executable, "-c", PEAK_REPORTING_VIDLLM, *args]


def split_peak(stderr: str) -> tuple[str, float | None]:
    """The stderr without the peak line, and the peak in MB (None when the child was killed)."""
    head, mark, tail = stderr.rpartition(PEAK_MARK)
    if not mark:
        return stderr, None
    return head.rstrip("\n"), int(tail.split()[0]) / 1024


@dataclass(frozen=True)
class Outcome:
    status: str  # ok, error, traceback, hang, multi-line, exit N
    code: int | None
    seconds: float
    peak_mb: float
    message: str  # the error line, or the first warning

    @property
    def failed(self) -> bool:
        return self.status in FAILURES or self.status.startswith("exit")


def run_vidllm(args: list[str], *, timeout: float = 120, env: dict | None = None) -> Outcome:
    """``python -m vidllm ARGS`` with a deadline; the whole process group is killed on a hang."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        began = time.monotonic()
        proc = subprocess.Popen(vidllm_command(args), stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})},
                                start_new_session=True)
        deadline, status, hung = began + timeout, None, False
        while status is None:
            pid, status_word, _ = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                status = os.waitstatus_to_exitcode(status_word)
                break
            if time.monotonic() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                _, status_word, _ = os.wait4(proc.pid, 0)
                status, hung = os.waitstatus_to_exitcode(status_word), True
                break
            time.sleep(0.02)
        proc.returncode = status  # reaped here: keep Popen from waiting again
        seconds = time.monotonic() - began
        err.seek(0)
        stderr, peak_mb = split_peak(err.read().decode(errors="replace"))
    peak_mb = peak_mb or 0.0
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("vidllm: error")]
    warnings = [line for line in lines if "warning" in line]
    if hung:
        kind = "hang"
    elif "Traceback" in stderr:
        kind = "traceback"
    elif status == 0:
        kind = "ok"
    elif status == 2:
        kind = "error" if len(errors) == 1 else "multi-line"
    else:
        kind = f"exit {status}"
    message = (errors or warnings or lines or [""])[-1 if kind == "traceback" else 0]
    return Outcome(kind, status, round(seconds, 2), round(peak_mb, 1), message[:160])


def table(rows: list[str], columns: list[str], cells: dict[tuple[str, str], Outcome]) -> str:
    """A plain-text table: one row per input, one column per command, ``status (peak MB)``."""
    def cell(outcome: Outcome | None) -> str:
        if outcome is None:
            return "-"
        return f"{outcome.status} {outcome.peak_mb:.0f}MB"

    width = max(len(r) for r in rows) + 2
    col = max(16, *(len(c) + 2 for c in columns))
    lines = ["input".ljust(width) + "".join(c.ljust(col) for c in columns)]
    for r in rows:
        lines.append(r.ljust(width) + "".join(cell(cells.get((r, c))).ljust(col) for c in columns))
    return "\n".join(lines)
