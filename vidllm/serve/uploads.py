"""Uploaded media, kept content-addressed in ``<cache>/uploads`` within a total size.

Each upload is streamed into its own temporary file (so identical uploads at once never share
one), hashed on the way, refused past the size limit (nothing stays behind), then renamed to
its hash. Beyond the total, the oldest uploads are removed. ``vidllm cache clear`` empties it.

>>> store = UploadStore(max_bytes=10_000_000, max_total_bytes=100_000_000)   # doctest: +SKIP
>>> upload_id = await store.save(request.stream(), "clip.mp4")                # doctest: +SKIP
>>> store.path(upload_id)                                                     # doctest: +SKIP
PosixPath('.../uploads/5f0c...e1.mp4')
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path

from vidllm.db import cache_dir
from vidllm.errors import MediaTooLargeError, RequestError

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".flv", ".3gp", ".ogv")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp")
_ID = re.compile(r"^file-([0-9a-f]{32})$")


def uploads_dir() -> Path:
    return cache_dir() / "uploads"


def clear_uploads() -> int:
    """Remove every upload, and request folders a killed server left behind; returns the bytes freed."""
    freed = 0
    for folder in (uploads_dir(), cache_dir() / "serve-tmp"):
        if folder.exists():
            freed += sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
            shutil.rmtree(folder, ignore_errors=True)
    return freed


def suffix_for(filename: str | None, mime: str | None = None) -> str:
    """A safe suffix from the client's file name or MIME type (never a path from the client)."""
    suffix = Path(filename or "").suffix.lower()
    if suffix in VIDEO_SUFFIXES + IMAGE_SUFFIXES:
        return suffix
    by_mime = {"video/mp4": ".mp4", "video/webm": ".webm", "video/quicktime": ".mov", "video/x-matroska": ".mkv",
               "video/mpeg": ".mpg", "video/x-msvideo": ".avi", "image/jpeg": ".jpg", "image/png": ".png",
               "image/webp": ".webp", "image/gif": ".gif"}
    return by_mime.get((mime or "").split(";")[0].strip().lower(), ".mp4")


class UploadStore:
    def __init__(self, max_bytes: int, max_total_bytes: int):
        self.max_bytes, self.max_total_bytes = max_bytes, max_total_bytes

    @property
    def folder(self) -> Path:
        folder = uploads_dir()
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    async def save(self, chunks, filename: str | None = None, mime: str | None = None) -> str:
        """Stream ``chunks`` (an async iterator of bytes) to disk; returns the upload's id."""
        folder = self.folder
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".part-")
        digest, size = hashlib.blake2b(digest_size=16), 0
        try:
            with os.fdopen(fd, "wb") as out:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise MediaTooLargeError(f"the upload is over this server's limit of {self.max_bytes} bytes")
                    digest.update(chunk)
                    out.write(chunk)
            if size == 0:
                raise RequestError("the upload is empty")
            name = digest.hexdigest()
            os.replace(tmp, folder / (name + suffix_for(filename, mime)))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._trim()
        return f"file-{name}"

    def path(self, upload_id: str) -> Path:
        """The file of an upload id; an id of any other shape is refused (no paths from clients)."""
        match = _ID.match(upload_id or "")
        found = sorted(self.folder.glob(match.group(1) + ".*")) if match else []
        if not found:
            raise RequestError(f"no upload with id {upload_id[:60]!r} (upload the file to /v1/uploads first)")
        return found[0]

    def _trim(self) -> None:
        files = sorted((p for p in self.folder.iterdir() if p.is_file() and not p.name.startswith(".")),
                       key=lambda p: p.stat().st_mtime)
        total = sum(p.stat().st_size for p in files)
        for old in files[:-1]:  # the newest (just saved) stays whatever its size
            if total <= self.max_total_bytes:
                break
            total -= old.stat().st_size
            old.unlink(missing_ok=True)
