"""The content-addressed frame cache shared by every command.

A video is known by a hash of its bytes (memoised per path, size and mtime so a file is read
once), not by its name: renaming or copying a file keeps its cache, editing it does not.
Entries are keyed by that hash plus the sampling spec plus the output size, so any later
command asking for the same frames gets them without decoding.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from contextlib import closing
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from vidllm import db
from vidllm.video.probe import StreamIndex

FORMAT_VERSION = 4  # bump when decoding or resizing changes what is stored


def content_hash(path: str | os.PathLike) -> str:
    """blake2b-128 of the file's bytes, memoised in the cache database (table ``file_hashes``)."""
    path = os.path.abspath(path)
    st = os.stat(path)
    with closing(db.connect()) as conn:
        row = conn.execute(
            "SELECT hash FROM file_hashes WHERE path=? AND size=? AND mtime_ns=? AND inode=?",
            (path, st.st_size, st.st_mtime_ns, st.st_ino),
        ).fetchone()
        if row:
            return row[0]
        digest = hashlib.blake2b(digest_size=16)
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
        value = digest.hexdigest()
        conn.execute(
            "INSERT OR REPLACE INTO file_hashes VALUES (?, ?, ?, ?, ?)",
            (path, st.st_size, st.st_mtime_ns, st.st_ino, value),
        )
        return value


@dataclass(frozen=True)
class CacheInfo:
    path: str
    entries: int
    indexes: int
    bytes: int


class FrameCache:
    """Sampled frames on disk: ``<root>/frames/<key>.npy`` plus a JSON sidecar."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root else db.cache_dir()
        self.frames_dir = self.root / "frames"
        self.index_dir = self.root / "index"

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
            return np.load(data_path, mmap_mode=None), json.loads(meta_path.read_text())
        except (ValueError, OSError):  # a torn entry from an interrupted write: drop it
            return None

    def put(self, key: str, data: np.ndarray, meta: dict) -> None:
        self.frames_dir.mkdir(parents=True, exist_ok=True)
        _atomic_write(self.frames_dir / f"{key}.npy", lambda f: np.save(f, data))
        _atomic_write(self.frames_dir / f"{key}.json", lambda f: f.write(json.dumps(meta).encode()))

    def get_index(self, video_hash: str) -> StreamIndex | None:
        path = self.index_dir / f"{video_hash}.npz"
        if not path.exists():
            return None
        try:
            z = np.load(path)
            return StreamIndex(
                pts=z["pts"], gop=z["gop"], gop_pos=z["gop_pos"], key_pts=z["key_pts"], key_dts=z["key_dts"],
                time_base=Fraction(int(z["tb"][0]), int(z["tb"][1])),
                start_pts=int(z["start_pts"]), end_pts=int(z["end_pts"]), bad_packets=int(z["bad_packets"]),
                truncated=bool(z["truncated"]),
            )
        except (ValueError, OSError, KeyError):
            return None

    def put_index(self, video_hash: str, index: StreamIndex) -> None:
        self.index_dir.mkdir(parents=True, exist_ok=True)
        arrays = dict(
            pts=index.pts, gop=index.gop, gop_pos=index.gop_pos, key_pts=index.key_pts, key_dts=index.key_dts,
            tb=np.array([index.time_base.numerator, index.time_base.denominator]),
            start_pts=index.start_pts, end_pts=index.end_pts, bad_packets=index.bad_packets, truncated=index.truncated,
        )
        _atomic_write(self.index_dir / f"{video_hash}.npz", lambda f: np.savez(f, **arrays))

    def get_info(self, video_hash: str):
        from vidllm.video.probe import VideoInfo

        path = self.index_dir / f"{video_hash}.json"
        try:
            return VideoInfo(**json.loads(path.read_text())) if path.exists() else None
        except (ValueError, TypeError, OSError):  # torn or from an older layout: probe again
            return None

    def put_info(self, video_hash: str, info) -> None:
        self.index_dir.mkdir(parents=True, exist_ok=True)
        _atomic_write(self.index_dir / f"{video_hash}.json", lambda f: f.write(json.dumps(info.to_dict()).encode()))

    def info(self) -> CacheInfo:
        files = [p for p in self.root.rglob("*") if p.is_file()]
        return CacheInfo(
            path=str(self.root),
            entries=len(list(self.frames_dir.glob("*.npy"))) if self.frames_dir.exists() else 0,
            indexes=len(list(self.index_dir.glob("*.npz"))) if self.index_dir.exists() else 0,
            bytes=sum(p.stat().st_size for p in files),
        )

    def clear(self) -> int:
        """Remove every cached frame and index; returns the bytes freed."""
        freed = 0
        for folder in (self.frames_dir, self.index_dir):
            if folder.exists():
                freed += sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
                shutil.rmtree(folder)
        return freed


def _atomic_write(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
