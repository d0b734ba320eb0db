"""Where a request's media may come from, and turning it into files and pictures the models read.

One policy for every part type (``image_url``, ``video_url``, ``file``, vidllm's ``video``):

- ``data:`` URLs are decoded into the request's own temporary folder (``Workspace``), which is
  deleted when the request ends, answered or refused;
- local paths (bare or ``file://``) only inside ``--allowed-local-media-path``, after resolving
  ``..`` and symlinks; nothing outside it, and no server path in any message;
- ``http(s)`` only with ``--allow-remote-media``, and then never to a loopback, link-local,
  private or otherwise non-public address: every address the host resolves to is checked
  before connecting, the connection goes to the checked address (no second lookup that DNS
  rebinding could change), and each redirect is checked again;
- any other scheme is refused. Every file is bounded by ``max_bytes``; pictures and videos by
  ``max_source_pixels``.
"""

from __future__ import annotations

import base64
import binascii
import http.client
import io
import ipaddress
import shutil
import socket
import ssl
import tempfile
import uuid
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import numpy as np

from vidllm.db import cache_dir
from vidllm.errors import (
    MediaForbiddenError,
    MediaTooLargeError,
    RequestError,
    VidllmError,
)
from vidllm.serve.uploads import IMAGE_SUFFIXES, VIDEO_SUFFIXES, UploadStore, suffix_for

REMOTE_TIMEOUT = 30.0
MAX_REDIRECTS = 3


class Workspace:
    """A request's temporary folder under ``<cache>/serve-tmp``; ``close()`` removes it."""

    def __init__(self):
        root = cache_dir() / "serve-tmp"
        root.mkdir(parents=True, exist_ok=True)
        self.folder = Path(tempfile.mkdtemp(dir=root, prefix="req-"))

    def new_file(self, suffix: str) -> Path:
        return self.folder / f"{uuid.uuid4().hex}{suffix}"

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


class MediaPolicy:
    def __init__(self, *, allowed_folder: Path | None, allow_remote: bool, max_bytes: int,
                 max_source_pixels: int, uploads: UploadStore | None = None):
        self.allowed_folder = allowed_folder
        self.allow_remote = allow_remote
        self.max_bytes = max_bytes
        self.max_source_pixels = max_source_pixels
        self.uploads = uploads

    # -- the three kinds of part --------------------------------------------------------------

    def video(self, url: str, work: Workspace) -> str:
        """A local file holding the video ``url`` names, checked against the policy and limits."""
        path = self._file(url, work, kind="video")
        self.check_video(path)
        return str(path)

    def image(self, url: str, work: Workspace) -> np.ndarray:
        """The picture ``url`` names as an (H, W, 3) uint8 array."""
        if url.lower().startswith("data:"):
            _, data = self.data_url(url)
            return self.decode_image(data)
        return self.decode_image(self._file(url, work, kind="image").read_bytes())

    def file(self, file_data: str | None, file_id: str | None, filename: str | None,
             work: Workspace) -> tuple[str, str | np.ndarray]:
        """An OpenAI ``file`` part: ``("video", path)`` or ``("image", array)``."""
        if file_id:
            if self.uploads is None:
                raise RequestError("this server keeps no uploads; send the file as file_data")
            path = self.uploads.path(file_id)
        elif file_data:
            mime, data = self.data_url(file_data if file_data.startswith("data:") else
                                       f"data:application/octet-stream;base64,{file_data}")
            path = work.new_file(suffix_for(filename, mime))
            path.write_bytes(data)
        else:
            raise RequestError("a file part needs file_data (a data: URL or base64) or file_id")
        if path.suffix in IMAGE_SUFFIXES:
            return "image", self.decode_image(path.read_bytes())
        if path.suffix in VIDEO_SUFFIXES:
            self.check_video(path)
            return "video", str(path)
        raise RequestError("a file part must hold a video or an image")

    # -- checks ---------------------------------------------------------------------------------

    def check_video(self, path: Path | str) -> None:
        """The picture size from the header only: nothing decoded, nothing cached for a video
        that is then refused."""
        from vidllm.video.probe import open_container, video_stream

        try:
            with open_container(path) as container:
                stream = video_stream(container, path)
                width, height = stream.codec_context.width, stream.codec_context.height
        except VidllmError as exc:  # its message names the server's path: say it without
            if isinstance(exc, MediaTooLargeError):
                raise
            raise RequestError(f"the video cannot be read: {getattr(exc, 'problem', 'not a video')}") from None
        if width * height > self.max_source_pixels:
            raise MediaTooLargeError(f"the video is {width}x{height}; this server takes at most "
                                     f"{self.max_source_pixels} pixels a frame")

    def decode_image(self, data: bytes) -> np.ndarray:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(io.BytesIO(data)) as picture:
                width, height = picture.size  # read from the header, before any pixel is decoded
                if width * height > self.max_source_pixels:
                    raise MediaTooLargeError(f"the image is {width}x{height}; this server takes at most "
                                             f"{self.max_source_pixels} pixels")
                return np.asarray(picture.convert("RGB")).copy()
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError, ValueError) as exc:
            if isinstance(exc, VidllmError):
                raise
            raise RequestError("the image part holds no picture that can be read") from None

    def data_url(self, url: str) -> tuple[str, bytes]:
        header, sep, payload = url.partition(",")
        if not sep or not header.lower().startswith("data:") or ";base64" not in header.lower():
            raise RequestError("a data URL must be base64: data:<type>;base64,<data>")
        if len(payload) * 3 // 4 > self.max_bytes:
            raise MediaTooLargeError(f"the data URL holds more than this server's limit of {self.max_bytes} bytes")
        try:
            return header[5:].split(";")[0], base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise RequestError("the data URL's base64 payload does not decode") from None

    # -- where files come from ------------------------------------------------------------------

    def _file(self, url: str, work: Workspace, kind: str) -> Path:
        if url.lower().startswith("data:"):
            mime, data = self.data_url(url)
            path = work.new_file(suffix_for(None, mime))
            path.write_bytes(data)
            return path
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme in ("http", "https"):
            return self._download(url, work)
        if scheme == "file":
            if parts.netloc not in ("", "localhost"):
                raise MediaForbiddenError("file:// URLs name files on this server only (file:///path)")
            return self.local(unquote(parts.path))
        if scheme and len(scheme) > 1:  # "c:" would be a Windows drive, not a scheme
            raise RequestError(f"{kind} URLs may be data:, http(s):, file:// or a path, not {scheme}:")
        return self.local(url)

    def local(self, raw: str) -> Path:
        """A path inside the allowed folder, ``..`` and symlinks resolved; else refused."""
        if self.allowed_folder is None:
            raise MediaForbiddenError("this server reads no local files; send the media as a data: URL "
                                      "(or start it with --allowed-local-media-path DIR)")
        try:
            path = (self.allowed_folder / raw).resolve()  # an absolute ``raw`` replaces the folder
            inside = path.is_relative_to(self.allowed_folder)
            exists = inside and path.is_file()
        except (OSError, ValueError):  # a NUL byte, a name too long
            raise RequestError(f"{raw[:200]!r} is not a usable path") from None
        if not inside:
            raise MediaForbiddenError(f"{raw[:200]!r} is outside the folder this server allows media from")
        if not exists:
            raise RequestError(f"no such file in the allowed folder: {raw[:200]!r}")
        if path.stat().st_size > self.max_bytes:
            raise MediaTooLargeError(f"{raw[:200]!r} is over this server's limit of {self.max_bytes} bytes")
        return path

    def _download(self, url: str, work: Workspace) -> Path:
        if not self.allow_remote:
            raise MediaForbiddenError("this server fetches no remote media (start it with --allow-remote-media)")
        for _ in range(MAX_REDIRECTS + 1):
            parts = urlsplit(url)
            if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
                raise MediaForbiddenError(f"remote media must be http(s) with a host, not {url[:200]!r}")
            https = parts.scheme.lower() == "https"
            port = parts.port or (443 if https else 80)
            address = public_address(parts.hostname, port)
            conn = _PinnedConnection(parts.hostname, port, address, https)
            try:
                target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
                conn.request("GET", target, headers={"User-Agent": "vidllm-serve"})
                resp = conn.getresponse()
                if resp.status in (301, 302, 303, 307, 308) and resp.getheader("Location"):
                    url = urljoin(url, resp.getheader("Location"))
                    continue
                if resp.status != 200:
                    raise RequestError(f"{url[:200]} answered HTTP {resp.status}")
                path = work.new_file(suffix_for(parts.path, resp.getheader("Content-Type")))
                size = 0
                with open(path, "wb") as out:
                    while chunk := resp.read(1 << 16):
                        size += len(chunk)
                        if size > self.max_bytes:
                            raise MediaTooLargeError(f"{url[:200]} is over this server's limit of "
                                                     f"{self.max_bytes} bytes")
                        out.write(chunk)
                return path
            except (OSError, http.client.HTTPException) as exc:
                raise RequestError(f"cannot fetch {url[:200]}: {type(exc).__name__}") from None
            finally:
                conn.close()
        raise RequestError(f"{url[:200]}: more than {MAX_REDIRECTS} redirects")


def public_address(host: str, port: int) -> str:
    """The address to connect to for ``host``; refused unless every address it resolves to is
    public (an attacker's name may resolve to 127.0.0.1 or 169.254.169.254)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise RequestError(f"cannot resolve host {host[:100]!r}") from None
    addresses = [info[4][0] for info in infos]
    for text in addresses:
        ip = ipaddress.ip_address(text.split("%")[0])
        mapped = getattr(ip, "ipv4_mapped", None)
        if not (mapped or ip).is_global or (mapped or ip).is_multicast:
            raise MediaForbiddenError(f"{host[:100]!r} resolves to a loopback, link-local or private address; "
                                      "this server fetches media from public addresses only")
    return addresses[0]


class _PinnedConnection(http.client.HTTPSConnection):
    """HTTP(S) to an address checked beforehand, with the host's name for TLS and ``Host``."""

    def __init__(self, host: str, port: int, address: str, https: bool):
        super().__init__(host, port, timeout=REMOTE_TIMEOUT, context=ssl.create_default_context())
        self._address, self._https = address, https

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        if self._https:
            self.sock = self._context.wrap_socket(self.sock, server_hostname=self.host)
