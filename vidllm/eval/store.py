"""The write-ahead store of a run: one SQLite file in the output folder.

Every finished prediction is committed on its own (WAL journal, ``synchronous=FULL``) before the
next one is counted, so a process killed at any moment - ``kill -9`` included - loses nothing that
was reported done, and a restart skips exactly those samples. The primary key on ``doc_id``
makes a second write of the same sample a no-op: nothing is duplicated.

The file also keeps the run's fingerprint (benchmark, model, sampling, sample set), so a restart
with different settings is refused instead of mixing two runs, and the judge calls made while
scoring.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from vidllm import db
from vidllm.db import Migration
from vidllm.errors import RunInUseError, RunMismatchError
from vidllm.eval.judge import JudgeCall
from vidllm.eval.types import Prediction

FILENAME = "predictions.sqlite"

# Append-only, in order: a released migration is never edited, only new ones added at the end
# (see vidllm.db). m001 is the layout the previous store created under PRAGMA user_version 1; a
# file from then is recognised by its tables and keeps its rows.
MIGRATIONS: tuple[Migration, ...] = (
    Migration("m001_meta_predictions_judge_calls", """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE predictions (
        doc_id TEXT PRIMARY KEY,
        seq INTEGER NOT NULL,
        prediction TEXT NOT NULL
    );
    CREATE TABLE judge_calls (key TEXT PRIMARY KEY, call TEXT NOT NULL);
    """),
)


class RunStore:
    """Predictions of one run, keyed by ``doc_id``; safe against being killed at any point, and
    against several processes opening the same output folder at once.

    >>> import tempfile
    >>> with RunStore(tempfile.mkdtemp()) as store:
    ...     store.check_fingerprint({"bench": "mlvu", "model": "oracle:"})
    ...     store.done()
    set()
    """

    def __init__(self, out_dir: str | Path):
        self.path = Path(out_dir) / FILENAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = db.connect(self.path, MIGRATIONS)
        self.db.execute("PRAGMA synchronous=FULL")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ fingerprint

    def check_fingerprint(self, fingerprint: Mapping, *, what: str = "run") -> None:
        """Record ``fingerprint`` on first use; refuse a different one later (the first of two
        processes starting at once records it, the other compares against it)."""
        text = json.dumps(fingerprint, sort_keys=True, default=str)
        with db.disk_full_as_error(self.path):
            self.db.execute("INSERT OR IGNORE INTO meta VALUES ('fingerprint', ?)", (text,))
        row = self.db.execute("SELECT value FROM meta WHERE key = 'fingerprint'").fetchone()
        if row[0] != text:
            old, new = json.loads(row[0]), json.loads(text)
            changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            raise RunMismatchError(
                f"{self.path.parent} already holds a {what} with different settings (changed: {', '.join(changed)}); "
                "use another --out folder, or delete this one to start over"
            )

    # ------------------------------------------------------------------ predictions

    def done(self) -> set[str]:
        return {row[0] for row in self.db.execute("SELECT doc_id FROM predictions")}

    def put(self, doc_id: str, seq: int, prediction: Prediction) -> None:
        """Commit one prediction (a second write of the same doc_id is ignored); a full disk is
        a ``DiskFullError`` naming this file, and what was committed before stays."""
        with db.disk_full_as_error(self.path):
            self.db.execute(
                "INSERT OR IGNORE INTO predictions (doc_id, seq, prediction) VALUES (?, ?, ?)",
                (doc_id, seq, json.dumps(prediction.to_dict(), sort_keys=True)),
            )

    def predictions(self) -> dict[str, Prediction]:
        rows = self.db.execute("SELECT doc_id, prediction FROM predictions ORDER BY seq")
        return {doc_id: Prediction.from_dict(json.loads(text)) for doc_id, text in rows}

    # ------------------------------------------------------------------ judge calls

    def put_judge_calls(self, calls: Iterable[JudgeCall]) -> None:
        with db.disk_full_as_error(self.path), db.transaction(self.db):
            self.db.executemany("INSERT OR IGNORE INTO judge_calls VALUES (?, ?)",
                                [(call.key, json.dumps(call.to_dict())) for call in calls])

    def judge_calls(self) -> dict[str, JudgeCall]:
        return {key: JudgeCall(**json.loads(text)) for key, text in self.db.execute("SELECT key, call FROM judge_calls")}


LOCKNAME = ".vidllm-run.lock"


class RunLock:
    """One writer per output folder: an exclusive ``flock`` on ``<out>/.vidllm-run.lock`` for as
    long as an evaluation writes there. A second process is refused at once with the first
    one's pid and command (written into the lock file); the kernel drops the lock when its
    holder exits, however it exits, so a crash leaves nothing stale behind.

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with RunLock(folder):
    ...     pass
    """

    def __init__(self, out_dir: str | Path):
        self.path = Path(out_dir) / LOCKNAME
        self.file = None
        self.created = False

    def __enter__(self) -> RunLock:
        self.created = not self.path.parent.exists()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        file = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.seek(0)
            holder = file.read().strip() or "another process"
            file.close()
            raise RunInUseError(f"{self.path.parent} is being written by {holder}; wait for it to finish "
                                "(then re-run to resume) or use another --out folder") from None
        file.seek(0)
        file.truncate()
        command = " ".join([os.path.basename(sys.argv[0]) if sys.argv else "python", *sys.argv[1:4]])
        file.write(f"pid {os.getpid()} ({command} ..., since {time.strftime('%Y-%m-%d %H:%M:%S')})")
        file.flush()
        self.file = file
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if self.file is None:
            return
        if exc_type is not None and self.created and [p.name for p in self.path.parent.iterdir()] == [LOCKNAME]:
            # a run refused before writing anything leaves no folder behind
            self.path.unlink()
            self.path.parent.rmdir()
        fcntl.flock(self.file, fcntl.LOCK_UN)
        self.file.close()
        self.file = None
