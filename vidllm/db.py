"""The SQLite file under the cache directory, with append-only migrations.

Every table vidllm keeps (file hashes, perception timelines, ...) is created by a migration
listed here; a migration is never edited once released, only new ones appended.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path


def cache_dir() -> Path:
    """``$VIDLLM_CACHE_DIR``, else ``$XDG_CACHE_HOME/vidllm``, else ``~/.cache/vidllm``."""
    root = os.environ.get("VIDLLM_CACHE_DIR")
    if not root:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
        root = os.path.join(base, "vidllm")
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


MIGRATIONS: list[str] = [
    """
    CREATE TABLE file_hashes (
        path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, inode INTEGER, hash TEXT
    )
    """,
]


def connect(path: str | os.PathLike | None = None) -> sqlite3.Connection:
    """Open (and migrate) the database; ``path`` defaults to ``vidllm.sqlite`` in the cache."""
    path = Path(path) if path else cache_dir() / "vidllm.sqlite"
    db = sqlite3.connect(path, timeout=30, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (id INTEGER PRIMARY KEY)")
    done = {row[0] for row in db.execute("SELECT id FROM _migrations")}
    for number, sql in enumerate(MIGRATIONS):
        if number not in done:
            with db:
                db.execute("BEGIN IMMEDIATE")
                if number not in {r[0] for r in db.execute("SELECT id FROM _migrations")}:
                    db.execute(sql)
                    db.execute("INSERT INTO _migrations (id) VALUES (?)", (number,))
    return db


def register_migration(sql: str) -> None:
    """Let a stage add its tables (call at import time, always in the same order)."""
    if sql not in MIGRATIONS:
        MIGRATIONS.append(sql)
