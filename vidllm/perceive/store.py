"""Perception results in SQLite, per video content hash and tool configuration.

Each tool's observations are written in one transaction the moment the tool finishes, so an
interrupted analysis loses at most the tool that was running, and a second question about the
same video reads everything back instead of perceiving again.

The tables (``tool_runs``, ``observations``) live in the cache database; their migrations are
listed with every other table of that file in ``vidllm.db.CACHE_MIGRATIONS``.
"""

from __future__ import annotations

import json
import time

import numpy as np

from vidllm import db
from vidllm.perceive.base import Observation


def _encode(payload: dict) -> str:
    def default(value):
        if isinstance(value, np.ndarray):
            return {"__ndarray__": value.astype(np.float32).tolist()}
        if isinstance(value, (np.floating, np.integer)):
            return value.item()
        raise TypeError(f"cannot store {type(value).__name__} in an observation payload")

    return json.dumps(payload, default=default)


def _decode(text: str) -> dict:
    def hook(obj):
        if "__ndarray__" in obj:
            return np.asarray(obj["__ndarray__"], dtype=np.float32)
        return obj

    return json.loads(text, object_hook=hook)


# Finished runs already read in this process: a second question about a video skips SQLite and
# the JSON decoding of per-frame embeddings (finished runs never change, so this cannot go stale).
_LOADED: dict[tuple[str, str, str, str], list[Observation]] = {}
_LOADED_MAX = 256


class ObservationStore:
    """Finished tool runs and their observations, in ``path`` (default: the cache database)."""

    def __init__(self, path=None):
        self.path = str(path) if path else str(db.cache_dir() / db.FILENAME)
        self.conn = db.connect(path)

    def load(self, video_hash: str, tool: str, config_key: str) -> list[Observation] | None:
        """The stored observations of a finished run, or None when the run never finished."""
        memo = (self.path, video_hash, tool, config_key)
        if memo in _LOADED:
            return _LOADED[memo]
        found = self._read(video_hash, tool, config_key)
        if found is not None:
            if len(_LOADED) >= _LOADED_MAX:
                _LOADED.pop(next(iter(_LOADED)))
            _LOADED[memo] = found
        return found

    def _read(self, video_hash: str, tool: str, config_key: str) -> list[Observation] | None:
        run = self.conn.execute(
            "SELECT 1 FROM tool_runs WHERE video_hash=? AND tool=? AND config_key=?",
            (video_hash, tool, config_key),
        ).fetchone()
        if run is None:
            return None
        rows = self.conn.execute(
            "SELECT start, end, kind, text, score, payload FROM observations "
            "WHERE video_hash=? AND tool=? AND config_key=? ORDER BY rowid",
            (video_hash, tool, config_key),
        )
        return [Observation(s, e, k, t, sc, _decode(p)) for s, e, k, t, sc, p in rows]

    def save(self, video_hash: str, tool: str, config_key: str, manifest: dict,
             observations: list[Observation], seconds: float) -> None:
        with db.disk_full_as_error(self.path), db.transaction(self.conn):
            self.conn.execute(
                "DELETE FROM observations WHERE video_hash=? AND tool=? AND config_key=?",
                (video_hash, tool, config_key),
            )
            self.conn.executemany(
                "INSERT INTO observations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(video_hash, tool, config_key, o.start, o.end, o.kind, o.text, o.score, _encode(o.payload))
                 for o in observations],
            )
            self.conn.execute(
                "INSERT OR REPLACE INTO tool_runs VALUES (?, ?, ?, ?, ?, ?)",
                (video_hash, tool, config_key, json.dumps(manifest, default=str), seconds, time.time()),
            )

    def runs(self, video_hash: str) -> list[dict]:
        rows = self.conn.execute(
            "SELECT tool, config_key, manifest, seconds, finished_at FROM tool_runs WHERE video_hash=?",
            (video_hash,),
        )
        return [{"tool": t, "config_key": c, "manifest": json.loads(m), "seconds": s, "finished_at": f}
                for t, c, m, s, f in rows]
