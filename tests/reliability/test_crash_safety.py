"""Crash safety with real processes: `vidllm eval` and `vidllm describe` killed with SIGKILL at
seeded random moments and restarted, two analyses of one video at once, and a full disk.

Each kill lands where the seeded plan says: after a random number of further answers (or tool
runs) are committed, plus a random delay, so kills fall during start-up, between and inside
commits, and while results are written. After every kill the store must open and pass SQLite's
``integrity_check`` and hold everything it held before; at the end the restarted run's files must
be byte-identical to an uninterrupted run's.

A full disk is simulated for the child alone with ``RLIMIT_FSIZE`` (a write past the limit fails
with EFBIG; SIGXFSZ is ignored so the write fails instead of killing): every command must end
with a result or one line naming the write that failed (exit 2, no traceback), and a run with
space then completes and matches.
"""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import media
import pytest

from vidllm.video.synthetic import make_clip

SEED = 15
KILLS = 20
DESCRIBE_KILLS = 5
EVAL_SAMPLES = 20


# ------------------------------------------------------------------ helpers


def vidllm(*args) -> list[str]:
    return [sys.executable, "-m", "vidllm", *map(str, args)]


def file_size_limit(limit: int):
    """preexec_fn: writes past ``limit`` bytes fail with EFBIG, as on a full disk."""
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def stored_keys(db_path: Path, query: str) -> set | None:
    """The rows ``query`` reads from ``db_path`` (read-only); None when the file or table is not
    there yet. Fails the test if the file is damaged."""
    if not db_path.exists():
        return None
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30) as con:
        try:
            return set(con.execute(query).fetchall())
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return None
            raise


def intact(db_path: Path) -> bool:
    """SQLite's own check of every page and index (a missing file is intact: nothing written)."""
    if not db_path.exists():
        return True
    with sqlite3.connect(db_path, timeout=30) as con:  # read-write: replays a WAL left by a kill
        return con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def wait_until(condition, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None and not condition():
        time.sleep(0.02)


def kill_at_random_moments(command: list[str], env: dict, count_done, total: int, kills: int, moment,
                           state_ok=lambda: True) -> list[dict]:
    """Start ``command`` again and again and SIGKILL it at seeded random moments until ``kills``
    kills have landed. ``moment(done)`` gives the moment: once ``count_done()`` reaches a target,
    a delay more. After each attempt the store must be intact (``state_ok``) and hold at least
    what it held before. Returns one row per attempt, with the state the kill left:
    ``nothing stored``, ``part stored`` or ``all stored`` (results being written)."""
    rows, landed = [], 0
    for attempt in range(kills * 4):
        if landed == kills:
            break
        before = count_done()
        target, delay = moment(before)
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                start_new_session=True)
        wait_until(lambda: count_done() >= min(target, total), proc)
        time.sleep(delay)
        killed = proc.poll() is None
        if killed:
            os.killpg(proc.pid, signal.SIGKILL)
            landed += 1
        _, err = proc.communicate(timeout=120)
        assert killed or proc.returncode == 0, err.decode(errors="replace")
        after = count_done()
        assert state_ok(), f"the store is damaged after kill {landed}"
        assert after >= before, f"kill {landed} lost {before - after} committed results"
        phase = "nothing stored" if after == 0 else "part stored" if after < total else "all stored"
        rows.append({"attempt": attempt + 1, "killed": killed, "before": before, "at_kill": after,
                     "phase": phase if killed else "ran to the end"})
    assert landed == kills, f"only {landed} of {kills} kills landed"
    return rows


def phase_counts(rows: list[dict]) -> str:
    phases = [r["phase"] for r in rows if r["killed"]]
    return ", ".join(f"{phases.count(p)} {p}" for p in dict.fromkeys(phases))


def print_kill_table(title: str, rows: list[dict], unit: str) -> None:
    print(f"\n{title}\n  attempt  killed  {unit} before  {unit} after  phase")
    for r in rows:
        print(f"  {r['attempt']:>7}  {'yes' if r['killed'] else 'no':>6}  {r['before']:>{len(unit) + 7}}  "
              f"{r['at_kill']:>{len(unit) + 6}}  {r['phase']}")


def one_line_disk_error(stderr: str) -> bool:
    """One line naming the write that failed and why, or (the frame cache checks the free space
    before decoding) saying that the frames do not fit what is free."""
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    if len(lines) != 1 or not lines[0].startswith("vidllm: error: "):
        return False
    return ((lines[0].startswith("vidllm: error: cannot write ")
             and any(why in lines[0] for why in ("disk full", "No space", "too large")))
            or "free for the frame cache" in lines[0])


# ------------------------------------------------------------------ an evaluation


@pytest.fixture(scope="module")
def mlvu(tmp_path_factory) -> Path:
    """An MLVU folder with 20 real clips (the layout MLVU publishes: json/ and video/)."""
    root = tmp_path_factory.mktemp("MLVU")
    for stem, task in (("4_count", "count"), ("2_needle", "findNeedle")):
        items = []
        for i in range(EVAL_SAMPLES // 2):
            video = root / "video" / stem / f"{task}_{i}.mp4"
            video.parent.mkdir(parents=True, exist_ok=True)
            make_clip(video, nframes=10, fps=5.0, size=(64, 48))
            items.append({"video": video.name, "duration": 2.0, "question": f"{task} question {i}?",
                          "candidates": ["one", "two", "three", "four"], "answer": ["one", "two", "three", "four"][i % 4],
                          "question_type": task})
        (root / "json").mkdir(exist_ok=True)
        (root / "json" / f"{stem}.json").write_text(json.dumps(items))
    return root


def eval_command(data: Path, out: Path, model: str = "sleep:0.2:hash", workers: int = 2) -> list[str]:
    return vidllm("eval", "-m", model, "--bench", "mlvu", "--data", data, "--out", out, "--workers", workers,
                  "--nframes", 2, "--no-progress", "--thumbnails", 0)


@pytest.fixture(scope="module")
def unbroken_eval(mlvu, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("unbroken") / "run"
    done = subprocess.run(eval_command(mlvu, out), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return out


def predictions(out: Path) -> set | None:
    return stored_keys(out / "predictions.sqlite", "SELECT doc_id, prediction FROM predictions")


def assert_same_eval(out: Path, unbroken: Path) -> None:
    rows = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    doc_ids = [row["doc_id"] for row in rows]
    assert len(doc_ids) == len(set(doc_ids)) == EVAL_SAMPLES            # 0 lost, 0 duplicated
    assert len(predictions(out)) == EVAL_SAMPLES
    for name in ("samples.jsonl", "results.json"):
        assert (out / name).read_bytes() == (unbroken / name).read_bytes(), name


def growing_count(read, lost: str):
    """How many things ``read()`` finds (a set, or None before anything exists), asserting at
    each call that everything found at the previous call is still there (``lost`` says what)."""
    kept: list[set] = []

    def count() -> int:
        found = read() or set()
        assert not kept or kept[-1] <= found, lost
        kept.append(found)
        return len(found)

    return count


@pytest.mark.slow
def test_eval_killed_20_times_ends_identical_to_an_unbroken_run(mlvu, unbroken_eval, tmp_path):
    out = tmp_path / "run"
    command, rng = eval_command(mlvu, out), random.Random(SEED)
    count_done = growing_count(lambda: predictions(out), "a committed answer was lost or changed")

    def moment(done: int) -> tuple[int, float]:
        # 0 or 1 more answers committed, then up to 1.5 answers' time (2 workers x 0.2 s each);
        # once all are stored, up to 1 s: kills while scoring and writing results.json
        return done + rng.choice((0, 1)), rng.uniform(0, 0.3 if done < EVAL_SAMPLES else 1.0)

    rows = kill_at_random_moments(command, dict(os.environ), count_done, EVAL_SAMPLES, KILLS, moment,
                                  state_ok=lambda: intact(out / "predictions.sqlite"))
    final = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr
    assert_same_eval(out, unbroken_eval)
    print_kill_table(f"vidllm eval, {KILLS} SIGKILLs (seed {SEED}), then one run to the end", rows, "stored")
    print(f"  kills survived: {KILLS} ({phase_counts(rows)}); samples compared: {EVAL_SAMPLES}, "
          "byte-identical, 0 lost, 0 duplicated")
    assert any(r["killed"] and r["phase"] == "part stored" for r in rows)   # not only at start-up


@pytest.mark.slow
def test_eval_on_a_full_disk_fails_in_one_line_and_resumes(mlvu, unbroken_eval, tmp_path):
    out = tmp_path / "run"
    command = eval_command(mlvu, out, workers=1)
    print("\nvidllm eval with a file-size limit (EFBIG), the same --out each time\n  limit      exit  stored  message")
    stored_before, outcomes = 0, []
    # growing limits on one folder: first nothing can be created, then the run stops part way
    for limit in (8_000, 32_000, 64_000, 100_000, 140_000, 10_000_000):
        run = subprocess.run(command, capture_output=True, text=True, timeout=300, preexec_fn=file_size_limit(limit))
        assert "Traceback" not in run.stderr
        assert run.returncode == 0 or (run.returncode == 2 and one_line_disk_error(run.stderr)), run.stderr
        assert intact(out / "predictions.sqlite")
        stored = len(predictions(out) or ())
        assert stored >= stored_before
        outcomes.append((run.returncode, stored))
        print(f"  {limit:>9,}  {run.returncode:>4}  {stored:>6}  {run.stderr.strip()[:110]}")
        stored_before = stored
    assert any(code == 2 and 0 < stored < EVAL_SAMPLES for code, stored in outcomes), "no limit stopped the run part way"
    final = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr
    assert_same_eval(out, unbroken_eval)


@pytest.fixture
def small_disk(tmp_path):
    """A real tmpfs (where this user may mount one: root), resized with ``resize("64k")``: a disk
    that really fills up (ENOSPC, SQLite's SQLITE_FULL) where RLIMIT_FSIZE gives EFBIG."""
    folder = tmp_path / "disk"
    folder.mkdir()
    mount = shutil.which("mount")
    if os.geteuid() != 0 or mount is None or subprocess.run(
            [mount, "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("mounting a tmpfs needs root with CAP_SYS_ADMIN (RLIMIT_FSIZE covers the rest)")

    def resize(size: str) -> None:
        subprocess.run([mount, "-o", f"remount,size={size}", str(folder)], check=True, capture_output=True)

    resize.folder = folder
    yield resize
    subprocess.run(["umount", "-l", str(folder)], capture_output=True)


@pytest.mark.slow
def test_eval_on_a_really_full_disk(mlvu, unbroken_eval, small_disk):
    out = small_disk.folder / "run"
    command = eval_command(mlvu, out, workers=1)
    print("\nvidllm eval with --out on a tmpfs of growing size (ENOSPC)\n  size   exit  stored  message")
    outcomes = []
    for size in ("16k", "48k", "96k", "128k", "4m"):
        small_disk(size)
        run = subprocess.run(command, capture_output=True, text=True, timeout=300)
        assert "Traceback" not in run.stderr
        assert run.returncode == 0 or (run.returncode == 2 and one_line_disk_error(run.stderr)), run.stderr
        small_disk("8m")  # a reader of a WAL file needs room for its -shm: check with space, as a user would
        assert intact(out / "predictions.sqlite")
        outcomes.append((run.returncode, len(predictions(out) or ())))
        print(f"  {size:>5}  {run.returncode:>4}  {outcomes[-1][1]:>6}  {run.stderr.strip()[:110]}")
    assert [stored for _, stored in outcomes] == sorted(stored for _, stored in outcomes)
    assert outcomes[0][0] == 2 and outcomes[-1] == (0, EVAL_SAMPLES)
    assert_same_eval(out, unbroken_eval)


# ------------------------------------------------------------------ an analysis (vidllm describe)


@pytest.fixture(scope="module")
def disc(tmp_path_factory) -> str:
    return media.moving_disc_clip(tmp_path_factory.mktemp("clips") / "disc.mp4")


def describe(video, cache: Path, **popen) -> subprocess.CompletedProcess:
    env = {**os.environ, "VIDLLM_CACHE_DIR": str(cache)}
    return subprocess.run(vidllm("describe", video, "--no-progress"), env=env, capture_output=True, text=True,
                          timeout=600, **popen)


def tool_runs(cache: Path) -> set | None:
    return stored_keys(cache / "vidllm.sqlite", "SELECT tool, config_key FROM tool_runs")


@pytest.fixture(scope="module")
def unbroken(disc, tmp_path_factory) -> tuple[str, int]:
    """The timeline of an uninterrupted analysis, and how many tool runs it stored."""
    cache = tmp_path_factory.mktemp("cache-unbroken")
    done = describe(disc, cache)
    assert done.returncode == 0, done.stderr
    assert "moves right" in done.stdout   # a real timeline, not an empty one
    return done.stdout, len(tool_runs(cache))


@pytest.fixture(scope="module")
def unbroken_timeline(unbroken) -> str:
    return unbroken[0]


@pytest.mark.slow
def test_describe_killed_mid_run_resumes_to_the_same_timeline(disc, unbroken, tmp_path):
    unbroken_timeline, total = unbroken
    cache = tmp_path / "cache"
    env = {**os.environ, "VIDLLM_CACHE_DIR": str(cache)}
    rng = random.Random(SEED)
    count_done = growing_count(lambda: tool_runs(cache), "a finished tool run was lost")

    def moment(done: int) -> tuple[int, float]:
        # models load for seconds before the first tool finishes, the later tools are quick: most
        # kills land just after a tool run is stored, while the next one runs
        step = rng.choice((0, 1, 1))
        return done + step, rng.uniform(0, 3.0 if step == 0 else 0.1)

    rows = kill_at_random_moments(vidllm("describe", disc, "--no-progress"), env, count_done, total, DESCRIBE_KILLS,
                                  moment,
                                  state_ok=lambda: intact(cache / "vidllm.sqlite"))
    print_kill_table(f"vidllm describe, {DESCRIBE_KILLS} SIGKILLs (seed {SEED}), then one run to the end", rows, "tool runs")
    final = describe(disc, cache)
    assert final.returncode == 0, final.stderr
    assert final.stdout == unbroken_timeline
    assert len(tool_runs(cache)) == total
    print(f"  kills survived: {DESCRIBE_KILLS} ({phase_counts(rows)}); timeline identical")
    assert any(r["killed"] and r["phase"] == "part stored" for r in rows)   # resumed from part of the tools


@pytest.mark.slow
def test_two_analyses_of_one_video_at_once_share_the_store(disc, unbroken_timeline, tmp_path):
    env = {**os.environ, "VIDLLM_CACHE_DIR": str(tmp_path / "cache")}
    runs = [subprocess.Popen(vidllm("describe", disc, "--no-progress"), env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [run.communicate(timeout=600) for run in runs]
    for run, (out, err) in zip(runs, results):
        assert run.returncode == 0 and "Traceback" not in err and "locked" not in err, err
        assert out == unbroken_timeline
    assert intact(tmp_path / "cache" / "vidllm.sqlite")


@pytest.mark.slow
def test_describe_on_a_full_disk_fails_in_one_line_and_resumes(disc, unbroken_timeline, tmp_path):
    cache = tmp_path / "cache"
    print("\nvidllm describe with a file-size limit (EFBIG), the same cache each time\n  limit        exit  runs  message")
    codes = []
    # the database cannot be created; the frame cache cannot take the frames; room for all
    for limit in (8_000, 64_000, 1_000_000, 200_000_000):
        run = describe(disc, cache, preexec_fn=file_size_limit(limit))
        assert "Traceback" not in run.stderr
        assert run.returncode == 0 or (run.returncode == 2 and one_line_disk_error(run.stderr)), run.stderr
        assert intact(cache / "vidllm.sqlite")
        codes.append(run.returncode)
        print(f"  {limit:>11,}  {run.returncode:>4}  {len(tool_runs(cache) or ()):>4}  {run.stderr.strip()[:110]}")
    assert 2 in codes and codes[-1] == 0
    assert describe(disc, cache).stdout == unbroken_timeline


@pytest.mark.slow
def test_describe_on_a_really_full_disk(disc, unbroken_timeline, small_disk):
    cache = small_disk.folder / "cache"
    print("\nvidllm describe with its cache on a tmpfs of growing size (ENOSPC)\n  size   exit  runs  message")
    codes = []
    for size in ("16k", "256k", "3m", "64m"):
        small_disk(size)
        run = describe(disc, cache)
        assert "Traceback" not in run.stderr
        assert run.returncode == 0 or (run.returncode == 2 and one_line_disk_error(run.stderr)), run.stderr
        small_disk("64m")  # readers need room for the WAL's -shm file
        assert intact(cache / "vidllm.sqlite")
        codes.append(run.returncode)
        print(f"  {size:>5}  {run.returncode:>4}  {len(tool_runs(cache) or ()):>4}  {run.stderr.strip()[:110]}")
    assert codes[0] == 2 and codes[-1] == 0
    assert describe(disc, cache).stdout == unbroken_timeline
