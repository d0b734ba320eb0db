"""Named, append-only migrations of vidllm's SQLite files (``vidllm.db``): fresh files, files of
the previous layout (``tests/fixtures/*_v0``, written by the previous code, see
``tests/fixtures/make_v0.py``), migrations appended later, and processes migrating one file at once."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from vidllm import db
from vidllm.db import CACHE_MIGRATIONS, Migration, applied_migrations, migrate, schema
from vidllm.eval import store as eval_store
from vidllm.eval.store import RunStore

FIXTURES = Path(__file__).parent / "fixtures"
CACHE_V0, EVAL_V0 = FIXTURES / "cache_v0", FIXTURES / "eval_v0"
CACHE_NAMES = [m.name for m in CACHE_MIGRATIONS]
EVAL_NAMES = [m.name for m in eval_store.MIGRATIONS]

# Released migrations: (name, hash of the SQL with whitespace folded). Never edit these lines,
# only add new ones at the end of each list when a migration is appended.
RELEASED = {
    "vidllm.sqlite": [
        ("m001_file_hashes", "98a5e0db9a6eefde"),
        ("m002_tool_runs", "cf9f2532fb5129a3"),
        ("m003_observations", "3c5535541341a3aa"),
        ("m004_observations_by_run", "672cc5307a528c19"),
        ("m005_file_digests", "af2fd88fba71819a"),
        ("m006_text_vectors", "20ead73c0b64ce3c"),
    ],
    "predictions.sqlite": [
        ("m001_meta_predictions_judge_calls", "b8b7a6c32849ac8a"),
    ],
}


def _rows(path: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def _schema(path: Path) -> set[tuple[str, str, str]]:
    conn = sqlite3.connect(path)
    try:
        return schema(conn)
    finally:
        conn.close()


@pytest.fixture
def old_cache(tmp_path) -> Path:
    """A copy of the previous layout's cache database and its clip."""
    folder = tmp_path / "cache_v0"
    shutil.copytree(CACHE_V0, folder)
    return folder


@pytest.fixture
def old_run(tmp_path) -> Path:
    """An output folder holding the previous layout's predictions.sqlite."""
    folder = tmp_path / "run"
    folder.mkdir()
    shutil.copyfile(EVAL_V0 / "predictions.sqlite", folder / "predictions.sqlite")
    return folder


# ---------------------------------------------------------------- the migration machinery


def test_a_fresh_cache_records_every_migration_by_name(isolated_cache):
    conn = db.connect()
    assert (isolated_cache / "vidllm.sqlite").exists()
    assert applied_migrations(conn) == CACHE_NAMES
    assert {name for kind, name, _ in schema(conn)} >= {"file_hashes", "tool_runs", "observations", "observations_by_run"}
    assert conn.execute("SELECT COUNT(*) FROM _vidllm_migrations WHERE adopted=1").fetchone()[0] == 0
    assert migrate(conn, CACHE_MIGRATIONS) == []
    assert not hasattr(db, "register_migration")  # nothing registers tables at import time any more
    conn.close()


def test_released_migrations_are_never_edited_or_reordered():
    for lists, released in ((CACHE_MIGRATIONS, RELEASED["vidllm.sqlite"]), (eval_store.MIGRATIONS, RELEASED["predictions.sqlite"])):
        found = [(m.name, hashlib.blake2b(" ".join(m.apply.split()).encode(), digest_size=8).hexdigest())
                 for m in lists[:len(released)]]
        assert found == released
        names = [m.name for m in lists]
        assert len(set(names)) == len(names)


def test_a_migration_appended_later_migrates_fresh_and_old_files(tmp_path, old_cache):
    added = Migration("m999_notes", lambda conn: conn.execute("CREATE TABLE notes (video_hash TEXT, note TEXT)"))
    fresh = db.connect(tmp_path / "fresh.sqlite")
    old = db.connect(old_cache / "vidllm.sqlite")
    for conn in (fresh, old):
        assert migrate(conn, [*CACHE_MIGRATIONS, added]) == ["m999_notes"]
        assert applied_migrations(conn) == [*CACHE_NAMES, "m999_notes"]
        assert migrate(conn, [*CACHE_MIGRATIONS, added]) == []
        conn.close()
    assert _rows(old_cache / "vidllm.sqlite", "SELECT COUNT(*) FROM observations") == [(4,)]


def test_a_failing_migration_leaves_nothing_behind_and_runs_again(tmp_path):
    path = tmp_path / "x.sqlite"
    conn = db.connect(path)

    def half_done(c):
        c.execute("CREATE TABLE half (x)")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        migrate(conn, [*CACHE_MIGRATIONS, Migration("m999_half", half_done)])
    assert "half" not in {name for _, name, _ in schema(conn)}
    assert "m999_half" not in applied_migrations(conn)
    assert migrate(conn, [*CACHE_MIGRATIONS, Migration("m999_half", "CREATE TABLE half (x)")]) == ["m999_half"]
    conn.close()


def test_duplicate_names_are_refused(tmp_path):
    conn = sqlite3.connect(tmp_path / "x.sqlite", isolation_level=None)
    with pytest.raises(ValueError, match="unique"):
        migrate(conn, [Migration("m001", "CREATE TABLE a (x)"), Migration("m001", "CREATE TABLE b (x)")])
    conn.close()


def test_threads_with_their_own_connections_migrate_one_file_at_once(tmp_path):
    path, errors, gate = tmp_path / "threads.sqlite", [], threading.Barrier(12)

    def slow(conn):
        time.sleep(0.02)
        conn.execute("CREATE TABLE slow (x)")

    def worker():
        try:
            gate.wait()
            db.connect(path, [*CACHE_MIGRATIONS, Migration("m999_slow", slow)]).close()
        except BaseException as exc:  # noqa: BLE001  (collected for the assertion)
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert _rows(path, "SELECT name FROM _vidllm_migrations ORDER BY rowid") == [(n,) for n in [*CACHE_NAMES, "m999_slow"]]


# Each child imports vidllm, says it is ready, waits for the common start, then opens the file.
CHILD = r"""
import os, sys, time
from pathlib import Path
from vidllm import db
target, start, which = sys.argv[1:4]
def slow(conn):
    time.sleep(0.02)
    conn.execute("CREATE TABLE slow (x)")
Path(start + f".{os.getpid()}.ready").touch()
while not os.path.exists(start):
    time.sleep(0.001)
if which == "cache":
    conn = db.connect(target, [*db.CACHE_MIGRATIONS, db.Migration("m999_slow", slow)])
    conn.execute("INSERT INTO file_hashes VALUES (?, 1, 1, 1, 'h')", (str(os.getpid()),))
    conn.close()
else:
    from vidllm.eval.store import RunStore
    from vidllm.eval.types import Prediction
    with RunStore(target) as store:
        store.check_fingerprint({"benchmark": "mlvu", "model": "oracle:"})
        store.put(f"doc-{os.getpid()}", 0, Prediction(text="A", model="oracle:"))
"""


def _race(target: Path, which: str, tmp_path: Path, n: int = 8) -> list[subprocess.CompletedProcess]:
    start = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, str(target), str(start), which],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(n)]
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("go.*.ready"))) < n and time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            break
        time.sleep(0.01)
    start.touch()
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        results.append(subprocess.CompletedProcess(p.args, p.returncode, out, err))
    return results


@pytest.mark.parametrize("layout", ["fresh", "v0"])
def test_processes_migrating_one_cache_at_once_all_succeed(layout, tmp_path, old_cache):
    target = old_cache / "vidllm.sqlite" if layout == "v0" else tmp_path / "race.sqlite"
    results = _race(target, "cache", tmp_path)
    assert [r.returncode for r in results] == [0] * len(results), [r.stderr for r in results if r.returncode]
    assert _rows(target, "SELECT name FROM _vidllm_migrations ORDER BY rowid") == [(n,) for n in [*CACHE_NAMES, "m999_slow"]]
    assert _rows(target, "SELECT COUNT(*) FROM file_hashes WHERE hash='h'") == [(len(results),)]
    if layout == "v0":
        assert _rows(target, "SELECT COUNT(*) FROM observations") == [(4,)]


@pytest.mark.parametrize("layout", ["fresh", "v0"])
def test_two_eval_processes_on_one_out_folder_both_succeed(layout, tmp_path, old_run):
    out = old_run if layout == "v0" else tmp_path / "out"
    if layout == "v0":  # the old run's fingerprint is the one the children present
        conn = sqlite3.connect(out / "predictions.sqlite")
        conn.execute("UPDATE meta SET value=? WHERE key='fingerprint'",
                     (json.dumps({"benchmark": "mlvu", "model": "oracle:"}, sort_keys=True),))
        conn.commit()
        conn.close()
    results = _race(out, "eval", tmp_path)
    assert [r.returncode for r in results] == [0] * len(results), [r.stderr for r in results if r.returncode]
    with RunStore(out) as store:
        assert sum(doc.startswith("doc-") for doc in store.done()) == len(results)
    assert _rows(out / "predictions.sqlite", "SELECT name FROM _vidllm_migrations") == [(n,) for n in EVAL_NAMES]


# ---------------------------------------------------------------- files of the previous layout


def test_old_cache_is_adopted_and_keeps_its_rows(old_cache):
    path = old_cache / "vidllm.sqlite"
    before = {t: _rows(path, f"SELECT * FROM {t} ORDER BY rowid") for t in ("file_hashes", "tool_runs", "observations")}
    assert _rows(path, "SELECT id FROM _migrations") == [(0,), (1,), (2,), (3,)]
    conn = db.connect(path)
    # the four tables the old layout made are adopted; the ones added since are created
    assert conn.execute("SELECT name, adopted FROM _vidllm_migrations ORDER BY rowid").fetchall() == \
        [(n, int(i < 4)) for i, n in enumerate(CACHE_NAMES)]
    conn.close()
    for table, rows in before.items():
        assert _rows(path, f"SELECT * FROM {table} ORDER BY rowid") == rows
    assert len(before["observations"]) == 4 and len(before["tool_runs"]) == 2
    # the old bookkeeping stays, so the previous vidllm can still open this cache
    assert _rows(path, "SELECT id FROM _migrations") == [(0,), (1,), (2,), (3,)]


def test_analyze_reads_the_old_cache_without_running_any_tool(old_cache, monkeypatch):
    from vidllm.perceive.analyze import analyze, make_tools
    from vidllm.perceive.store import ObservationStore

    expected = json.loads((old_cache / "expected.json").read_text())
    # tools whose outputs changed since (a bumped ``version``: ocr and tags became version 2 with
    # English spacing and merged spans) are meant to run again; every other stored run is read back
    changed = {"ocr", "tags"}
    expected["runs"] = {name: key for name, key in expected["runs"].items() if name not in changed}
    expected["observations"] = [o for o in expected["observations"] if o[2] not in changed]
    tools = make_tools(list(expected["runs"]))
    called = []
    for tool in tools:
        monkeypatch.setattr(tool, "run", lambda source, name=tool.name: called.append(name) or [])
    store = ObservationStore(old_cache / "vidllm.sqlite")
    timeline = analyze(str(old_cache / "clip.mp4"), tools, store=store, progress=False)
    store.conn.close()
    assert timeline.video_hash == expected["video_hash"]
    keys = {m["name"]: m["run"] for m in timeline.manifest["tools"]}
    assert keys == expected["runs"], (
        "the config keys of tools with default settings changed since the previous layout, so its stored runs are "
        f"not found: stored {expected['runs']}, now {keys}")
    assert called == []
    assert timeline.manifest["perception_seconds"] == {name: 0.0 for name in expected["runs"]}
    found = [[o.start, o.end, o.kind, o.text, o.score] for o in timeline.observations]
    assert sorted(found) == sorted(expected["observations"])


def test_old_run_store_opens_with_its_predictions(old_run):
    expected = json.loads((EVAL_V0 / "expected.json").read_text())
    assert _rows(old_run / "predictions.sqlite", "PRAGMA user_version") == [(expected["user_version"],)]
    with RunStore(old_run) as store:
        assert store.done() == set(expected["predictions"])
        assert {k: v.to_dict() for k, v in store.predictions().items()} == \
            {k: json.loads(v) for k, v in expected["predictions"].items()}
        store.check_fingerprint(expected["fingerprint"])  # the same settings are accepted
        store.put_judge_calls([])
        assert store.judge_calls() == {}
    assert _rows(old_run / "predictions.sqlite", "SELECT name, adopted FROM _vidllm_migrations") == [(n, 1) for n in EVAL_NAMES]


def _write_mlvu(root: Path) -> Path:
    spec = importlib.util.spec_from_file_location("make_v0", FIXTURES / "make_v0.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.write_mlvu(root)


def test_resuming_an_old_run_writes_nothing_twice(old_run, tmp_path):
    from click.testing import CliRunner

    from vidllm.cli.eval import eval_command

    expected = json.loads((EVAL_V0 / "expected.json").read_text())
    data = _write_mlvu(tmp_path / "MLVU")
    args = ["--model", "oracle:", "--bench", "mlvu", "--data", str(data), "--out", str(old_run), "--no-progress"]
    result = CliRunner().invoke(eval_command, [*args, "--limit", "4"])
    assert result.exit_code == 0, (
        "resuming the previous layout's run failed (a RunMismatchError here means the run fingerprint changed "
        f"since the previous layout): {result.output} {result.exception!r}")
    rows = _rows(old_run / "predictions.sqlite", "SELECT doc_id, seq, prediction FROM predictions ORDER BY seq")
    assert [doc for doc, _, _ in rows] == ["4_count/0", "4_count/1", "4_count/2", "4_count/3"]
    assert {doc: text for doc, _, text in rows[:2]} == expected["predictions"]  # the old answers were not redone
    again = CliRunner().invoke(eval_command, [*args, "--limit", "4"])
    assert again.exit_code == 0
    assert _rows(old_run / "predictions.sqlite", "SELECT doc_id, seq, prediction FROM predictions ORDER BY seq") == rows


def test_fresh_and_old_files_end_with_the_same_schema(tmp_path, old_cache, old_run):
    db.connect(tmp_path / "fresh.sqlite").close()
    db.connect(old_cache / "vidllm.sqlite").close()
    fresh, old = _schema(tmp_path / "fresh.sqlite"), _schema(old_cache / "vidllm.sqlite")
    assert {row for row in old - fresh} == {("table", "_migrations", "CREATE TABLE _migrations (id INTEGER PRIMARY KEY)")}
    assert fresh <= old

    RunStore(tmp_path / "fresh_run").close()
    RunStore(old_run).close()
    assert _schema(tmp_path / "fresh_run" / "predictions.sqlite") == _schema(old_run / "predictions.sqlite")
