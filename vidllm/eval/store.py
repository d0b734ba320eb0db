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

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from vidllm import db
from vidllm.db import Migration
from vidllm.errors import RunMismatchError
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
        """Commit one prediction (a second write of the same doc_id is ignored)."""
        self.db.execute(
            "INSERT OR IGNORE INTO predictions (doc_id, seq, prediction) VALUES (?, ?, ?)",
            (doc_id, seq, json.dumps(prediction.to_dict(), sort_keys=True)),
        )

    def predictions(self) -> dict[str, Prediction]:
        rows = self.db.execute("SELECT doc_id, prediction FROM predictions ORDER BY seq")
        return {doc_id: Prediction.from_dict(json.loads(text)) for doc_id, text in rows}

    # ------------------------------------------------------------------ judge calls

    def put_judge_calls(self, calls: Iterable[JudgeCall]) -> None:
        with db.transaction(self.db):
            self.db.executemany("INSERT OR IGNORE INTO judge_calls VALUES (?, ?)",
                                [(call.key, json.dumps(call.to_dict())) for call in calls])

    def judge_calls(self) -> dict[str, JudgeCall]:
        return {key: JudgeCall(**json.loads(text)) for key, text in self.db.execute("SELECT key, call FROM judge_calls")}
