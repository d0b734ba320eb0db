"""Live sources: frames with their true stream times, as they arrive.

``open_stream(uri)`` returns a ``LiveSource``; iterating it yields one ``Frames`` (one frame) at a
time, already thinned to the chosen rate and fitted to ``max_pixels``:

- a file replayed at real speed (``realtime=True``; without it, as fast as the consumer reads:
  the evaluation's replay), frames timed by their PTS as ``sample_frames`` times them;
- a growing file (``follow=True``): read while a recorder appends to it (a streamable container
  such as MPEG-TS, Matroska or FLV), finished once it stops growing for ``read_timeout``;
- a network stream FFmpeg opens (``rtsp://``, ``rtmp://``, ``http(s)://`` incl. HLS, ``udp://``,
  ``tcp://``, ``srt://``), reconnected with exponential backoff when it stalls or drops;
- a capture device (``device:/dev/video0``; ``device:avfoundation:0``, ``device:dshow:video=Cam``).

A reader thread decodes into a bounded queue. For live sources (network, device, real-speed
replay) a full queue drops its OLDEST frame, counted in ``stats.dropped``: a consumer slower than
real time then reads the newest picture, never a growing backlog. The replay of a file as fast as
possible waits for the consumer instead (no frame is lost in an evaluation).

Timeouts make every failure a one-line ``StreamError``, never a hang: nothing within
``open_timeout`` (a source that never starts); no frame within ``read_timeout`` (a stall: live
sources reconnect for up to ``reconnect_for`` seconds before they end).

Stream times are seconds from the first frame's PTS (a file's stream start, as everywhere in
vidllm). After a reconnect the new connection's PTS restart; its frames are placed at the
wall-clock time they arrive relative to the stream's start, so times keep increasing and a gap
shows as a gap.

>>> source = open_stream("clip.mp4", fps=2, realtime=True)   # doctest: +SKIP
>>> for frames in source:                                     # doctest: +SKIP
...     print(frames.timestamps[0], source.stats.dropped)
0.0 0
0.52 0
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import av
import numpy as np

from vidllm.errors import StreamError, VideoNotFoundError
from vidllm.video.frames import Frames
from vidllm.video.resize import fit_size

log = logging.getLogger(__name__)

NETWORK_SCHEMES = ("rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "udp", "tcp", "srt", "rtp")
DEVICE_FORMATS = {"linux": "v4l2", "darwin": "avfoundation", "win32": "dshow"}
DEFAULT_MAX_PIXELS = 640 * 360  # what the perception tools read


@dataclass
class StreamStats:
    """What a source did so far: ``received`` frames decoded, ``delivered`` to the consumer,
    ``skipped`` by the rate, ``dropped`` because the consumer was behind, ``reconnects``."""

    received: int = 0
    delivered: int = 0
    skipped: int = 0
    dropped: int = 0
    reconnects: int = 0
    decode_errors: int = 0
    last_error: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def source_kind(uri: str, follow: bool = False) -> str:
    """``network``, ``device``, ``growing`` or ``file`` for a source string."""
    scheme = uri.split("://", 1)[0].lower() if "://" in uri else ""
    if scheme in NETWORK_SCHEMES:
        return "network"
    if uri.startswith("device:") or uri.startswith("/dev/video"):
        return "device"
    return "growing" if follow else "file"


def open_stream(uri: str, **settings) -> "LiveSource":
    """A started ``LiveSource`` for ``uri`` (see ``LiveSource`` for the settings)."""
    return LiveSource(uri, **settings).start()


class LiveSource:
    """Frames of a live source, one ``Frames`` per frame, at most ``fps`` a second.

    ``clock()`` is the stream time now (for a live source: the newest frame's time plus the wall
    time since it arrived), so a consumer can measure how far behind real time it is.
    """

    def __init__(self, uri: str, *, fps: float | None = 2.0, max_pixels: int | None = DEFAULT_MAX_PIXELS,
                 realtime: bool = False, follow: bool = False, open_timeout: float = 10.0,
                 read_timeout: float = 5.0, reconnect_for: float = 30.0, queue_size: int = 8,
                 speed: float = 1.0):
        if fps is not None and fps <= 0:
            raise StreamError(uri, f"fps must be > 0, got {fps}")
        if queue_size < 1:
            raise StreamError(uri, f"queue_size must be >= 1, got {queue_size}")
        self.uri = str(uri)
        self.kind = source_kind(self.uri, follow)
        if self.kind in ("file", "growing") and not Path(self.uri).exists():
            raise VideoNotFoundError(self.uri, "no such file")
        self.fps, self.max_pixels, self.speed = fps, max_pixels, float(speed)
        self.realtime = realtime and self.kind == "file"
        self.open_timeout, self.read_timeout, self.reconnect_for = open_timeout, read_timeout, reconnect_for
        # a live source must not fall behind: a full queue drops its oldest frame
        self.drops = self.kind in ("network", "device") or self.realtime
        self.stats = StreamStats()
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._newest: tuple[float, float] | None = None  # (stream time, wall time) of the newest frame
        self._wall_origin: float | None = None  # wall time at stream time 0

    # -- consumer side -----------------------------------------------------------------------

    def start(self) -> "LiveSource":
        if self._thread is None:
            self._thread = threading.Thread(target=self._read, name=f"vidllm-live {self.uri}", daemon=True)
            self._thread.start()
        return self

    def __iter__(self):
        self.start()
        began = time.monotonic()
        last = began
        while True:
            try:
                item = self._queue.get(timeout=0.1)
            except queue.Empty:
                # the reader enforces the timeouts; this is the backstop should FFmpeg ignore them
                limit = self.open_timeout if self.stats.delivered == 0 else self.read_timeout + self.reconnect_for
                if time.monotonic() - last > limit + 10.0:
                    self.close()
                    raise StreamError(self.uri, f"no frame for {limit + 10.0:.0f} s and the reader did not stop") from None
                continue
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            last = time.monotonic()
            self.stats.delivered += 1
            yield item

    def clock(self) -> float | None:
        """The stream time now, or None before the first frame."""
        with self._lock:
            if self._newest is None:
                return None
            if not self.drops:  # replay as fast as possible: now is the newest frame read
                return self._newest[0]
            return self._newest[0] + (time.monotonic() - self._newest[1]) * self.speed

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=self.read_timeout + 2)

    def __enter__(self) -> "LiveSource":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # -- reader thread -----------------------------------------------------------------------

    def _read(self) -> None:
        try:
            self._read_connections()
        except BaseException as exc:  # handed to the consumer, which raises it
            self._put(exc if isinstance(exc, StreamError) else StreamError(self.uri, f"{type(exc).__name__}: {exc}"), final=True)
            return
        self._put(None, final=True)

    def _read_connections(self) -> None:
        began = time.monotonic()
        backoff = 0.25
        connection = 0
        last_frame_wall = None
        while not self._stop.is_set():
            try:
                container = self._open()
            except (av.error.FFmpegError, OSError) as exc:
                problem = _ffmpeg_problem(exc)
                self.stats.last_error = problem
                waited = time.monotonic() - (last_frame_wall or began)
                limit = self.open_timeout if last_frame_wall is None else self.reconnect_for
                if self.kind in ("file", "growing"):
                    raise StreamError(self.uri, f"cannot be read as a video: {problem}") from None
                if waited >= limit:
                    if last_frame_wall is None:
                        raise StreamError(self.uri, f"nothing received within {self.open_timeout:g} s (open timeout: "
                                                    f"{problem}); is the source running and the address right?") from None
                    log.warning("%s: gave up reconnecting after %.0f s: %s", self.uri, waited, problem)
                    return
                self._stop.wait(min(backoff, max(0.0, limit - waited)))
                backoff = min(backoff * 2, 4.0)
                continue
            try:
                got = self._decode(container, connection)
            finally:
                container.close()
            if got:
                last_frame_wall, backoff = time.monotonic(), 0.25
                connection += 1
            if self.kind not in ("network", "device") or self._stop.is_set():
                return
            if last_frame_wall is None and time.monotonic() - began >= self.open_timeout:
                raise StreamError(self.uri, f"no frame within {self.open_timeout:g} s (open timeout): "
                                            f"{self.stats.last_error or 'the stream sent nothing decodable'}")
            if last_frame_wall is not None and time.monotonic() - last_frame_wall >= self.reconnect_for:
                log.warning("%s: no frame for %.0f s; the stream ended", self.uri, self.reconnect_for)
                return
            self.stats.reconnects += 1
            log.info("%s: reconnecting (attempt %d)", self.uri, self.stats.reconnects)
            self._stop.wait(backoff)
            backoff = min(backoff * 2, 4.0)

    def _open(self):
        timeouts = (self.open_timeout, self.read_timeout)
        if self.kind == "network":
            options = {"rw_timeout": str(int(self.read_timeout * 1e6))}
            if self.uri.startswith("udp://"):
                options = {"timeout": str(int(self.read_timeout * 1e6)), "overrun_nonfatal": "1", "fifo_size": "50000"}
            if self.uri.startswith("rtsp"):
                options = {"rtsp_transport": "tcp", "timeout": str(int(self.read_timeout * 1e6))}
            return av.open(self.uri, options=options, timeout=timeouts)
        if self.kind == "device":
            return _open_device(self.uri, timeouts)
        if self.kind == "growing":
            return av.open(GrowingFile(self.uri, self.read_timeout, self._stop), mode="r", timeout=timeouts)
        return av.open(self.uri, timeout=timeouts)

    def _decode(self, container, connection: int) -> int:
        """Decode one connection until it ends, stalls or drops; returns the frames it gave."""
        if not container.streams.video:
            raise StreamError(self.uri, "the source holds no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        state = _Connection(stream, connection, self._newest[0] if self._newest else None, self.fps)
        try:
            for packet in container.demux(stream):
                if self._stop.is_set():
                    break
                try:
                    decoded = packet.decode()
                except av.error.InvalidDataError:
                    self.stats.decode_errors += 1  # one damaged packet costs one frame, not the stream
                    continue
                for frame in decoded:
                    self._deliver(frame, state)
        except (av.error.FFmpegError, OSError) as exc:  # a stall (read timeout) or a dropped connection
            self.stats.last_error = _ffmpeg_problem(exc)
            log.info("%s: read failed: %s", self.uri, self.stats.last_error)
        return state.got

    def _deliver(self, frame, state: "_Connection") -> None:
        if frame.pts is None:
            return
        if state.start_pts is None:
            state.start_pts = frame.pts
            if state.number == 0 and state.stream.start_time is not None and state.stream.start_time <= frame.pts:
                state.start_pts = state.stream.start_time  # a file's times count from its stream start
            elif state.number > 0 and self._wall_origin is not None:
                # PTS restart after a reconnect: place this connection where the wall clock says it is
                state.offset = max(state.previous + state.interval / 2,
                                   (time.monotonic() - self._wall_origin) * self.speed)
        t = state.offset + (frame.pts - state.start_pts) * state.time_base
        self.stats.received += 1
        state.got += 1
        if state.previous is not None and t <= state.previous:  # a repeated or out-of-order frame
            return
        if t + 1e-6 < state.next_due:
            self.stats.skipped += 1
            return
        state.next_due = max(state.next_due + state.interval, t + state.interval / 2) if state.interval else t
        if self.realtime:
            self._pace(t)
        if state.size is None:
            state.size = (fit_size(frame.width, frame.height, max_pixels=self.max_pixels) if self.max_pixels
                          else (frame.width, frame.height))
        rgb = frame.to_ndarray(format="rgb24", width=state.size[0], height=state.size[1], interpolation="AREA")
        now = time.monotonic()
        with self._lock:
            if self._wall_origin is None:
                self._wall_origin = now - t / self.speed
            self._newest = (t, now)
        state.previous = t
        stamp = np.array([t], dtype=np.float64)
        self._put(Frames(data=rgb[None], timestamps=stamp, targets=stamp, source=self.uri, content_hash="", mode="live"))

    def _pace(self, t: float) -> None:
        """Wait until stream time ``t`` is due on the wall clock (real-speed replay)."""
        if self._wall_origin is None:
            self._wall_origin = time.monotonic() - t / self.speed
        delay = self._wall_origin + t / self.speed - time.monotonic()
        if delay > 0:
            self._stop.wait(delay)

    def _put(self, item, final: bool = False) -> None:
        """Queue ``item``. A live source drops the oldest frame when the queue is full; a replay
        waits for the consumer. The ``final`` item (the end, or an error) always gets in."""
        while True:
            try:
                # a live source never waits for the consumer: a full queue loses its oldest frame now
                self._queue.put(item, timeout=None if self.drops else 0.1, block=not self.drops)
                return
            except queue.Full:
                if self._stop.is_set() and not final:
                    return
                if self.drops or self._stop.is_set():
                    try:
                        if isinstance(self._queue.get_nowait(), Frames):
                            self.stats.dropped += 1
                    except queue.Empty:
                        pass


class _Connection:
    """The reading state of one connection: its PTS origin, and the rate it is thinned to."""

    def __init__(self, stream, number: int, previous: float | None, fps: float | None):
        self.stream, self.number, self.previous = stream, number, previous
        self.time_base = float(stream.time_base) if stream.time_base else 1 / 90000
        self.interval = 1.0 / fps if fps else 0.0
        self.next_due = previous + self.interval if previous is not None else 0.0
        self.start_pts: int | None = None
        self.offset = 0.0  # stream time of this connection's PTS origin
        self.size: tuple[int, int] | None = None
        self.got = 0


class GrowingFile:
    """A read-only file object over a file that is still being written: at its end, ``read``
    waits for more bytes, and reports the end only once the file has not grown for ``idle``
    seconds. FFmpeg reads it as a pipe (no ``seek``), so the container must be streamable."""

    def __init__(self, path: str, idle: float, stop: threading.Event | None = None, poll: float = 0.05):
        self.path, self.idle, self.poll = path, idle, poll
        self._file = open(path, "rb")
        self._stop = stop or threading.Event()
        self.name = path

    def read(self, size: int = -1) -> bytes:
        waited = 0.0
        while True:
            data = self._file.read(size)
            if data or self._stop.is_set():
                return data
            if waited >= self.idle:
                return b""
            time.sleep(self.poll)
            waited += self.poll

    def close(self) -> None:
        self._file.close()


def _open_device(uri: str, timeouts):
    """``device:/dev/video0`` (Linux), ``device:avfoundation:0``, ``device:dshow:video=Name``."""
    import sys

    spec = uri[len("device:"):] if uri.startswith("device:") else uri
    fmt, _, name = spec.partition(":") if spec.split(":", 1)[0] in DEVICE_FORMATS.values() else ("", "", spec)
    fmt = fmt or DEVICE_FORMATS.get(sys.platform, "v4l2")
    if fmt == "v4l2" and not Path(name).exists():
        raise StreamError(uri, f"no capture device {name} (list them with: ls /dev/video*)")
    return av.open(name, format=fmt, timeout=timeouts)


def _ffmpeg_problem(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    if isinstance(exc, av.error.ExitError) or "Immediate exit" in text:
        return "timed out waiting for data"
    return " ".join(str(text).split())


__all__ = ["LiveSource", "StreamStats", "GrowingFile", "open_stream", "source_kind"]
