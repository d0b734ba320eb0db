"""vidllm's SQLite files and their append-only, named migrations.

The cache directory holds ``vidllm.sqlite``; every table in it (file hashes, perception tool runs
and their observations) is created by a migration in ``CACHE_MIGRATIONS`` below, one ordered list
in this one module, so what a file holds never depends on which modules were imported. Other
files keep their own list beside the code that uses them (the evaluation run store:
``vidllm.eval.store.MIGRATIONS``) and go through the same ``migrate``.

Rules for a migration list: a migration is a name and either SQL or a function of the
connection; a released migration is never edited, renamed or moved, only new ones appended.
``migrate`` records each applied migration by name in ``_vidllm_migrations`` and applies each in
its own ``BEGIN IMMEDIATE`` transaction, checking again inside it, so any number of processes may
open (and migrate) the same file at once.

>>> import os, tempfile
>>> conn = connect(os.path.join(tempfile.mkdtemp(), "example.sqlite"))
>>> applied_migrations(conn) == [m.name for m in CACHE_MIGRATIONS]
True
>>> more = [*CACHE_MIGRATIONS, Migration("m999_notes", "CREATE TABLE notes (text TEXT)")]
>>> migrate(conn, more)
['m999_notes']
>>> migrate(conn, more)  # a second run finds nothing to do
[]
>>> conn.close()

A file written before migrations had names (the cache's ``_migrations`` table of integers, the
run store's ``PRAGMA user_version``) is recognised by having tables but no ``_vidllm_migrations``:
each migration whose tables and indexes already exist there is recorded as applied (marked
``adopted``) instead of being run again, and its rows are kept.
"""

from __future__ import annotations

import datetime
import errno
import os
import random
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from vidllm.errors import DiskFullError

FILENAME = "vidllm.sqlite"
TABLE = "_vidllm_migrations"
BUSY_TIMEOUT_S = 30.0


def cache_dir() -> Path:
    """``$VIDLLM_CACHE_DIR``, else ``$XDG_CACHE_HOME/vidllm``, else ``~/.cache/vidllm``."""
    root = os.environ.get("VIDLLM_CACHE_DIR")
    if not root:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
        root = os.path.join(base, "vidllm")
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class Migration:
    """One schema change: ``apply`` is SQL (one or more statements) or ``f(connection)``.

    It runs inside a transaction that ``migrate`` opens and commits, so a function must not
    commit, and SQL must not hold ``BEGIN``/``COMMIT``.
    """

    name: str
    apply: str | Callable[[sqlite3.Connection], None]

    def run(self, conn: sqlite3.Connection) -> None:
        if callable(self.apply):
            self.apply(conn)
            return
        for statement in split_sql(self.apply):
            conn.execute(statement)


def split_sql(script: str) -> list[str]:
    """The statements of ``script`` (semicolons inside strings or trigger bodies kept).

    >>> split_sql("CREATE TABLE a (x); CREATE TABLE b (y TEXT DEFAULT ';');")
    ['CREATE TABLE a (x);', "CREATE TABLE b (y TEXT DEFAULT ';');"]
    """
    statements, pending = [], ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \t\r\n;"):
                statements.append(pending.strip())
            pending = ""
    if pending.strip(" \t\r\n;"):
        statements.append(pending.strip().rstrip(";"))
    return statements


# The cache database, vidllm.sqlite. Append only. The first four are the tables the previous layout
# created by import order (its _migrations ids 0-3); their SQL is kept as it was.
CACHE_MIGRATIONS: tuple[Migration, ...] = (
    # a file's hash, memoised by path, size, mtime and inode, as vidllm kept it before
    # m005_file_digests (which video.cache.content_hash now uses); kept, as every released table is.
    Migration("m001_file_hashes", """
    CREATE TABLE file_hashes (
        path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, inode INTEGER, hash TEXT
    )
    """),
    # vidllm.perceive.store: one row per finished tool run ...
    Migration("m002_tool_runs", """
    CREATE TABLE tool_runs (
        video_hash TEXT, tool TEXT, config_key TEXT, manifest TEXT, seconds REAL, finished_at REAL,
        PRIMARY KEY (video_hash, tool, config_key)
    )
    """),
    # ... and its observations.
    Migration("m003_observations", """
    CREATE TABLE observations (
        video_hash TEXT, tool TEXT, config_key TEXT,
        start REAL, end REAL, kind TEXT, text TEXT, score REAL, payload TEXT
    )
    """),
    Migration("m004_observations_by_run",
              "CREATE INDEX observations_by_run ON observations (video_hash, tool, config_key)"),
    # file_digest: a file's digest by any algorithm (a video's blake2b-128 content hash, the sha256
    # of model weights that every manifest names), memoised by path, size, mtime and inode so a new process reads no weights
    Migration("m005_file_digests", """
    CREATE TABLE file_digests (
        path TEXT, algorithm TEXT, size INTEGER, mtime_ns INTEGER, inode INTEGER, digest TEXT,
        PRIMARY KEY (path, algorithm)
    )
    """),
    # vidllm.perceive.text_embed: sentence vectors of timeline lines, per embedder and weights, so
    # a question in a new process embeds only itself
    Migration("m006_text_vectors", """
    CREATE TABLE text_vectors (
        embedder TEXT, text TEXT, vector BLOB, PRIMARY KEY (embedder, text)
    )
    """),
)


def connect(path: str | os.PathLike | None = None,
            migrations: Sequence[Migration] = CACHE_MIGRATIONS) -> sqlite3.Connection:
    """Open and migrate a SQLite file: ``path`` defaults to ``vidllm.sqlite`` in the cache
    directory, ``migrations`` to the cache's. The connection is in autocommit mode
    (``isolation_level=None``: open transactions with ``transaction``), uses the WAL journal and
    waits up to 30 s for another writer."""
    path = Path(path) if path else cache_dir() / FILENAME
    with disk_full_as_error(path):
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        try:
            _when_not_busy(lambda: conn.execute("PRAGMA journal_mode=WAL"))
            migrate(conn, migrations)
        except BaseException:
            conn.close()
            raise
    return conn


def file_digest(path: str | os.PathLike, algorithm: str = "sha256", digest_size: int | None = None) -> str:
    """The hex digest of a file's bytes (``hashlib.new(algorithm)``, of ``digest_size`` bytes
    for the BLAKE2 family), memoised in the cache database by path, size, mtime and inode:
    hundreds of MB of weights, or a video, are read once, not by every process that names them."""
    import hashlib
    from contextlib import closing

    path = os.path.abspath(path)
    st = os.stat(path)
    identity = (st.st_size, st.st_mtime_ns, st.st_ino)
    label = f"{algorithm}-{digest_size * 8}" if digest_size else algorithm  # "blake2b-128"
    with closing(connect()) as conn:
        row = conn.execute("SELECT size, mtime_ns, inode, digest FROM file_digests WHERE path=? AND algorithm=?",
                           (path, label)).fetchone()
        if row and tuple(row[:3]) == identity:
            return row[3]
        digest = hashlib.new(algorithm, **({"digest_size": digest_size} if digest_size else {}))
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
        value = digest.hexdigest()
        conn.execute("INSERT OR REPLACE INTO file_digests VALUES (?, ?, ?, ?, ?, ?)",
                     (path, label, *identity, value))
        return value


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on any exception) on an autocommit
    connection. IMMEDIATE takes the write lock at once, so what is read inside cannot change
    before the writes."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # a failed COMMIT (disk full) may leave the transaction open
            conn.execute("ROLLBACK")
        raise


# What a full disk looks like: SQLite says SQLITE_FULL on ENOSPC and SQLITE_IOERR (extended
# codes: WRITE, SHMSIZE, FSYNC ...) on any other failed write, EFBIG from a file-size limit
# included; Python's own writes raise OSError with the errno.
_DISK_FULL_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}
_SQLITE_FULL, _SQLITE_IOERR = 13, 10


def disk_full_error(exc: BaseException, path: str | os.PathLike | None = None) -> DiskFullError | None:
    """``exc`` as a one-line ``DiskFullError`` naming ``path`` (else the file the error names)
    when it comes from a full disk, a file-size limit or a failing disk; None otherwise.

    >>> print(disk_full_error(OSError(errno.ENOSPC, "No space left on device"), "/data/run"))
    cannot write /data/run: No space left on device; free some space (or write elsewhere) and run the same command again to resume
    >>> disk_full_error(ValueError("no")) is None
    True
    """
    if isinstance(exc, DiskFullError):
        return exc
    if isinstance(exc, sqlite3.Error):
        if (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF not in (_SQLITE_FULL, _SQLITE_IOERR):
            return None
        detail = f"{exc} ({exc.sqlite_errorname}: disk full, file too large or failing disk)"
    elif isinstance(exc, OSError) and exc.errno in _DISK_FULL_ERRNOS:
        detail = exc.strerror or str(exc)
        if exc.errno == errno.EFBIG:
            detail += " (a file-size limit, or a file system that holds no larger file)"
        path = path or exc.filename
    else:
        return None
    return DiskFullError(f"cannot write {path or 'vidllm files'}: {detail}; free some space (or write elsewhere) "
                         "and run the same command again to resume")


@contextmanager
def disk_full_as_error(path: str | os.PathLike) -> Iterator[None]:
    """Raise a full disk met while writing ``path`` as a ``DiskFullError`` (one line, naming
    ``path``); any other error passes through unchanged."""
    try:
        yield
    except (OSError, sqlite3.Error) as exc:
        error = disk_full_error(exc, path)
        if error is None or error is exc:
            raise
        raise error from exc


def applied_migrations(conn: sqlite3.Connection) -> list[str]:
    """Names of the migrations recorded in the file, in the order they were applied."""
    if not _has_table(conn, TABLE):
        return []
    return [row[0] for row in conn.execute(f"SELECT name FROM {TABLE} ORDER BY rowid")]


def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration]) -> list[str]:
    """Apply the migrations the file has not recorded, in list order; returns their names.

    Safe against other processes migrating the same file at the same moment: each migration runs
    in its own ``BEGIN IMMEDIATE`` transaction and is skipped if, once the lock is held, it turns
    out to be recorded already.
    """
    names = [m.name for m in migrations]
    if len(set(names)) != len(names):
        raise ValueError(f"migration names must be unique, got {names}")  # a bug in a list, not input
    recorded = set(applied_migrations(conn))
    if recorded.issuperset(names):  # the common case: nothing to do, no lock taken
        return []
    saved = conn.isolation_level
    conn.isolation_level = None
    applied = []
    try:
        if not _has_table(conn, TABLE):
            with transaction(conn):
                if not _has_table(conn, TABLE):
                    conn.execute(f"CREATE TABLE {TABLE} (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL, "
                                 "adopted INTEGER NOT NULL DEFAULT 0)")
                    _adopt(conn, migrations)
        for migration in migrations:
            if migration.name in recorded:
                continue
            with transaction(conn):
                if conn.execute(f"SELECT 1 FROM {TABLE} WHERE name=?", (migration.name,)).fetchone():
                    continue
                migration.run(conn)
                _record(conn, migration.name)
            applied.append(migration.name)
    finally:
        conn.isolation_level = saved
    return applied


def schema(conn: sqlite3.Connection) -> set[tuple[str, str, str]]:
    """The file's tables, indexes, views and triggers as (type, name, SQL with whitespace folded),
    SQLite's own objects left out: two files with equal ``schema`` have the same layout."""
    rows = conn.execute("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
    return {(kind, name, " ".join((sql or "").split())) for kind, name, sql in rows}


def _when_not_busy(step: Callable[[], object]) -> None:
    """Run ``step``, retrying while SQLite answers "database is locked" without waiting itself:
    switching a new file to WAL while another connection does the same is refused at once."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            step()
            return
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorcode", 0) & 0xFF != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                raise
            time.sleep(random.uniform(0.005, 0.05))


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone() is not None


def _record(conn: sqlite3.Connection, name: str, adopted: bool = False) -> None:
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    conn.execute(f"INSERT INTO {TABLE} (name, applied_at, adopted) VALUES (?, ?, ?)", (name, now, int(adopted)))


def _adopt(conn: sqlite3.Connection, migrations: Sequence[Migration]) -> None:
    """In a file written before migrations had names, record as applied each migration whose
    tables and indexes all exist already. What a migration creates is found by replaying the
    list on an empty in-memory database."""
    existing = {(kind, name) for kind, name, _ in schema(conn)} - {("table", TABLE)}
    if not existing:
        return
    for migration, created in zip(migrations, _footprints(migrations)):
        if created and created <= existing:
            _record(conn, migration.name, adopted=True)


def _footprints(migrations: Sequence[Migration]) -> list[set[tuple[str, str]]]:
    """For each migration, the objects it creates (an ALTER creates none, so it is never adopted)."""
    scratch = sqlite3.connect(":memory:", isolation_level=None)
    try:
        before, found = set(), []
        for migration in migrations:
            with transaction(scratch):
                migration.run(scratch)
            after = {(kind, name) for kind, name, _ in schema(scratch)}
            found.append(after - before)
            before = after
        return found
    finally:
        scratch.close()
