"""The content-addressed frame cache shared by every command.

A video is known by a hash of its bytes (memoised per path, size and mtime so a file is read
once), not by its name: renaming or copying a file keeps its cache, editing it does not.
Entries are keyed by that hash plus the sampling spec plus the output size, so any later
command asking for the same frames gets them without decoding.

Frames are streamed into an entry as they are decoded (``FrameWriter``: each frame written at
its row, nothing held) and read back memory-mapped copy-on-write, so memory does not grow with
the number of frames and no caller can change the cache. The frames kept on disk are capped (``$VIDLLM_CACHE_MAX_BYTES``, default 20 GB):
the least recently used entries are evicted first.

Every file is written under a temporary name (``.tmp-<pid>@<host>-...``) and renamed into place,
so a reader never sees half a file; a writer killed mid-write leaves its temporary file behind,
and eviction and ``clear`` sweep those whose process is gone (``sweep_temp_files``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import tempfile
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from vidllm import db
from vidllm.video.probe import StreamIndex

MAX_BYTES = int(float(os.environ.get("VIDLLM_CACHE_MAX_BYTES", 20e9)))
FORMAT_VERSION = 5  # bump when decoding or resizing changes what is stored (5: edit lists, untimed frames)
INDEX_VERSION = 3  # bump when scanning changes what an index holds (2: untimed, hidden, header_frames; 3: cut MPEG-TS)
# A temporary file whose writer cannot be told (an older vidllm's name, another host sharing the
# folder) is a leftover once nothing has written to it for this long: a live writer writes each
# frame as it is decoded, and every decode gives up long before (``VIDLLM_DECODE_TIMEOUT``).
STALE_TEMP_SECONDS = 3600
TEMP_NAME = re.compile(r"\.tmp-(?P<pid>\d+)@(?P<host>[^/]*?)-[^-]*$")


def _temp_file(folder: Path, suffix: str = "") -> tuple[int, str]:
    """``mkstemp`` in ``folder``, named after this process so a sweep can tell if it is alive."""
    return tempfile.mkstemp(dir=folder, prefix=f".tmp-{os.getpid()}@{socket.gethostname()}-", suffix=suffix)


def _writer_alive(name: str) -> bool | None:
    """Whether the process that named this temporary file still runs; None when it cannot be
    told (no pid in the name, or a process of another host)."""
    match = TEMP_NAME.match(name)
    if match is None or match["host"] != socket.gethostname():
        return None
    try:
        os.kill(int(match["pid"]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    except (OverflowError, ValueError):  # no pid this system can hold
        return False
    return True


def is_leftover(path: Path, now: float | None = None) -> bool:
    """A temporary file no live writer will finish: its process is gone or, when that cannot be
    told, nothing has written to it for ``STALE_TEMP_SECONDS``."""
    alive = _writer_alive(path.name)
    if alive is not None:
        return not alive
    try:
        age = (time.time() if now is None else now) - path.stat().st_mtime
    except FileNotFoundError:  # finished or swept by another process meanwhile
        return False
    return age > STALE_TEMP_SECONDS


def sweep_temp_files(*folders: Path) -> int:
    """Delete the leftover temporary files in ``folders``; returns the bytes freed."""
    freed = 0
    for folder in folders:
        for path in folder.glob(".tmp-*") if folder.is_dir() else ():
            if is_leftover(path):
                freed += _unlink(path)
    return freed


def _unlink(path: Path) -> int:
    """Delete ``path``; its size, or 0 when another process deleted it first."""
    try:
        size = path.stat().st_size
        path.unlink()
    except FileNotFoundError:
        return 0
    return size


def content_hash(path: str | os.PathLike) -> str:
    """blake2b-128 of the file's bytes, memoised in the cache database (``db.file_digest``)."""
    return db.file_digest(path, "blake2b", digest_size=16)


@dataclass(frozen=True)
class CacheInfo:
    path: str
    entries: int
    indexes: int
    bytes: int


class FrameWriter:
    """An ``.npy`` file of ``shape`` filled one frame at a time, at any row, from any thread
    (``os.pwrite``: no memory map, so written frames do not stay in the process's memory)."""

    def __init__(self, path: Path, shape: tuple[int, ...]):
        self.path, self.shape = path, tuple(shape)
        self.frame_bytes = int(np.prod(shape[1:]))
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, self.tmp = _temp_file(path.parent, ".npy")
        with os.fdopen(fd, "wb") as f:
            np.lib.format.write_array_header_1_0(f, {"descr": "|u1", "fortran_order": False, "shape": self.shape})
            self.offset = f.tell()
        self.fd = os.open(self.tmp, os.O_RDWR)
        os.ftruncate(self.fd, self.offset + self.shape[0] * self.frame_bytes)

    def write(self, row: int, image: np.ndarray) -> None:
        data = memoryview(np.ascontiguousarray(image, dtype=np.uint8)).cast("B")  # no copy
        if len(data) != self.frame_bytes:
            raise ValueError(f"frame of {len(data)} bytes for rows of {self.frame_bytes}")
        at = self.offset + row * self.frame_bytes
        while len(data):  # pwrite may write less than asked (large frames)
            done = os.pwrite(self.fd, data, at)
            data, at = data[done:], at + done

    def finish(self, keep: np.ndarray | None = None) -> np.ndarray:
        """Close the file (keeping only the rows ``keep`` marks, in order) and move it into
        place; returns the frames memory-mapped copy-on-write (a caller's change never reaches
        the cache)."""
        os.close(self.fd)
        try:
            if keep is not None and not keep.all():
                self._compact(keep)
            os.replace(self.tmp, self.path)
        except BaseException:
            os.unlink(self.tmp)
            raise
        return np.load(self.path, mmap_mode="c")

    def discard(self) -> None:
        try:
            os.close(self.fd)
        except OSError:
            pass
        if os.path.exists(self.tmp):
            os.unlink(self.tmp)

    def _compact(self, keep: np.ndarray) -> None:
        rows = np.flatnonzero(keep)
        shape = (len(rows), *self.shape[1:])
        fd, tmp = _temp_file(self.path.parent, ".npy")
        with os.fdopen(fd, "wb") as out, open(self.tmp, "rb") as src:
            np.lib.format.write_array_header_1_0(out, {"descr": "|u1", "fortran_order": False, "shape": shape})
            for row in rows:
                src.seek(self.offset + int(row) * self.frame_bytes)
                out.write(src.read(self.frame_bytes))
        os.replace(tmp, self.tmp)


class MemoryWriter:
    """``FrameWriter``'s interface over an array in memory (when nothing may be cached)."""

    def __init__(self, shape: tuple[int, ...]):
        self.data = np.empty(shape, dtype=np.uint8)

    def write(self, row: int, image: np.ndarray) -> None:
        self.data[row] = image

    def finish(self, keep: np.ndarray | None = None) -> np.ndarray:
        return self.data if keep is None or keep.all() else self.data[keep]

    def discard(self) -> None:
        self.data = None


def iter_images(data: np.ndarray):
    """Yield each frame of ``data`` in turn; a memory-mapped file is read frame by frame, so
    walking a long batch does not keep its pages in the process."""
    if not isinstance(data, np.memmap) or data.filename is None:
        yield from data
        return
    frame_bytes = int(np.prod(data.shape[1:]))
    with open(data.filename, "rb") as f:
        f.seek(data.offset)
        for _ in range(len(data)):
            yield np.frombuffer(f.read(frame_bytes), dtype=np.uint8).reshape(data.shape[1:])


class FrameCache:
    """Sampled frames on disk: ``<root>/frames/<key>.npy`` plus a JSON sidecar."""

    def __init__(self, root: str | os.PathLike | None = None, max_bytes: int | None = None):
        self.root = Path(root) if root else db.cache_dir()
        self.frames_dir = self.root / "frames"
        self.index_dir = self.root / "index"
        self.max_bytes = MAX_BYTES if max_bytes is None else max_bytes

    @staticmethod
    def key(video_hash: str, spec_key: str, size: tuple[int, int] | None) -> str:
        text = json.dumps([FORMAT_VERSION, video_hash, spec_key, size])
        return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()

    def get(self, key: str) -> tuple[np.ndarray, dict] | None:
        meta_path = self.frames_dir / f"{key}.json"
        data_path = self.frames_dir / f"{key}.npy"
        if not (meta_path.exists() and data_path.exists()):
            return None
        try:
            data, meta = np.load(data_path, mmap_mode="c"), json.loads(meta_path.read_text())
        except (ValueError, OSError):  # a torn entry from an interrupted write: drop it
            return None
        os.utime(meta_path)  # recently used: evicted last
        return data, meta

    def put(self, key: str, data: np.ndarray, meta: dict) -> None:
        self.frames_dir.mkdir(parents=True, exist_ok=True)
        _atomic_write(self.frames_dir / f"{key}.npy", lambda f: np.save(f, data))
        self.put_meta(key, meta)

    def writer(self, key: str, shape: tuple[int, ...]) -> FrameWriter:
        """Stream an entry's frames in; ``finish()`` it, then ``put_meta`` makes it visible."""
        return FrameWriter(self.frames_dir / f"{key}.npy", shape)

    def put_meta(self, key: str, meta: dict) -> None:
        _atomic_write(self.frames_dir / f"{key}.json", lambda f: f.write(json.dumps(meta).encode()))
        self.evict()

    def evict(self) -> int:
        """Delete the least recently used entries until the frames fit ``max_bytes``; an entry
        larger than the whole limit goes too (a caller that mapped it keeps its frames: the
        mapping outlives the file). Temporary files left by killed writers go first. Returns the
        bytes freed."""
        if not self.frames_dir.exists():
            return 0
        freed = sweep_temp_files(self.frames_dir, self.index_dir)
        entries = []
        for meta in self.frames_dir.glob("*.json"):
            data = meta.with_suffix(".npy")
            try:
                entries.append((meta.stat().st_mtime_ns, data.stat().st_size, meta, data))
            except FileNotFoundError:  # torn, or evicted by another process meanwhile
                continue
        total = sum(e[1] for e in entries)
        for _, size, meta, data in sorted(entries, key=lambda e: e[0]):
            if total <= self.max_bytes:
                break
            for path in (meta, data):
                path.unlink(missing_ok=True)
            total, freed = total - size, freed + size
        return freed

    def get_index(self, video_hash: str) -> StreamIndex | None:
        path = self.index_dir / f"{video_hash}.npz"
        if not path.exists():
            return None
        try:
            z = np.load(path)
            if int(z["version"]) != INDEX_VERSION:  # scanned by an older vidllm: scan again
                return None
            return StreamIndex(
                pts=z["pts"], gop=z["gop"], gop_pos=z["gop_pos"], key_pts=z["key_pts"], key_dts=z["key_dts"],
                time_base=Fraction(int(z["tb"][0]), int(z["tb"][1])),
                start_pts=int(z["start_pts"]), end_pts=int(z["end_pts"]), bad_packets=int(z["bad_packets"]),
                truncated=bool(z["truncated"]), untimed=int(z["untimed"]), hidden=int(z["hidden"]),
                header_frames=int(z["header_frames"]),
            )
        except (ValueError, OSError, KeyError):
            return None

    def put_index(self, video_hash: str, index: StreamIndex) -> None:
        self.index_dir.mkdir(parents=True, exist_ok=True)
        arrays = dict(
            pts=index.pts, gop=index.gop, gop_pos=index.gop_pos, key_pts=index.key_pts, key_dts=index.key_dts,
            tb=np.array([index.time_base.numerator, index.time_base.denominator]),
            start_pts=index.start_pts, end_pts=index.end_pts, bad_packets=index.bad_packets, truncated=index.truncated,
            untimed=index.untimed, hidden=index.hidden, header_frames=index.header_frames, version=INDEX_VERSION,
        )
        _atomic_write(self.index_dir / f"{video_hash}.npz", lambda f: np.savez(f, **arrays))

    def get_info(self, video_hash: str):
        from vidllm.video.probe import VideoInfo

        path = self.index_dir / f"{video_hash}.info{INDEX_VERSION}.json"
        try:
            return VideoInfo(**json.loads(path.read_text())) if path.exists() else None
        except (ValueError, TypeError, OSError):  # torn or from an older layout: probe again
            return None

    def put_info(self, video_hash: str, info) -> None:
        self.index_dir.mkdir(parents=True, exist_ok=True)
        _atomic_write(self.index_dir / f"{video_hash}.info{INDEX_VERSION}.json", lambda f: f.write(json.dumps(info.to_dict()).encode()))

    def info(self) -> CacheInfo:
        files = [p for p in self.root.rglob("*") if p.is_file()]
        return CacheInfo(
            path=str(self.root),
            entries=len(list(self.frames_dir.glob("*.npy"))) if self.frames_dir.exists() else 0,
            indexes=len(list(self.index_dir.glob("*.npz"))) if self.index_dir.exists() else 0,
            bytes=sum(p.stat().st_size for p in files),
        )

    def clear(self) -> int:
        """Remove every cached frame and index, and the temporary files of writers that are
        gone; returns the bytes freed. A live writer's temporary file is left to it (it becomes
        an entry when that writer finishes)."""
        freed = 0
        for folder in (self.frames_dir, self.index_dir):
            if not folder.is_dir():
                continue
            for path in folder.iterdir():
                if path.is_file() and (not path.name.startswith(".tmp-") or is_leftover(path)):
                    freed += _unlink(path)
            try:
                folder.rmdir()
            except OSError:  # a live writer's file is still in it
                pass
        return freed


def _atomic_write(path: Path, write) -> None:
    fd, tmp = _temp_file(path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
