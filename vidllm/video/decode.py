"""The PyAV decoding engine: decode exactly the frames a plan names, each GOP at most once.

For every group of pictures (GOP) that holds a wanted frame, seek to its keyframe and decode
up to the last wanted frame, never further. Adjacent GOPs are read straight through when the
gap is short; when a GOP's only wanted frame is its keyframe, the decoder is told to skip
every other frame. Each packet is decoded on its own so that one damaged packet costs one
frame, not the rest of the file, and a deadline is checked between packets so that a damaged
file cannot hang the caller.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

import av
import numpy as np

from vidllm.video.probe import Deadline, StreamIndex, open_container, video_stream

log = logging.getLogger(__name__)

@dataclass
class DecodeResult:
    """What a decode produced. Without a ``sink`` the frames are kept in ``images``; with one,
    each frame is handed to ``sink(pts, image)`` the moment it is decoded and not kept, so
    that memory holds one frame per worker whatever the number of frames."""

    images: dict[int, np.ndarray] = field(default_factory=dict)  # pts -> HxWx3 uint8
    decoded_frames: int = 0
    bad_packets: int = 0
    seeks: int = 0
    got: set[int] = field(default_factory=set)  # pts of every frame delivered
    sink: Callable[[int, np.ndarray], None] | None = None

    def deliver(self, pts: int, image: np.ndarray) -> None:
        self.got.add(pts)
        if self.sink is None:
            self.images[pts] = image
        else:
            self.sink(pts, image)


class _Untimed:
    """Gives frames that come out of the decoder without a pts the pts the index extrapolated
    for them, in order. Valid only for a read that began at the start of the file."""

    def __init__(self, index: StreamIndex):
        self.pts = index.pts[: index.untimed]
        self.seen = 0

    def next(self) -> int | None:
        if self.seen >= len(self.pts):
            return None
        self.seen += 1
        return int(self.pts[self.seen - 1])


def _to_rgb(frame, size: tuple[int, int] | None) -> np.ndarray:
    if size is None or size == (frame.width, frame.height):
        return frame.to_ndarray(format="rgb24")
    return frame.to_ndarray(format="rgb24", width=size[0], height=size[1], interpolation="AREA")


DEFAULT_WORKERS = int(os.environ.get("VIDLLM_DECODE_WORKERS", min(2, os.cpu_count() or 1)))


def decode_frames(
    path,
    index: StreamIndex,
    wanted_pts: np.ndarray,
    *,
    decode_size: tuple[int, int] | None = None,
    timeout: float | None = None,
    threads: bool = True,
    workers: int | None = None,
    sink: Callable[[int, np.ndarray], None] | None = None,
) -> DecodeResult:
    """Decode the frames whose pts are in ``wanted_pts`` at ``decode_size`` (width, height, as
    stored, before rotation). Frames that cannot be decoded are simply absent from the result.

    With ``workers`` > 1 the needed GOPs are split into contiguous shares, each decoded by its
    own thread with its own demuxer (PyAV releases the GIL while decoding), since GOPs are
    independent and frame threading alone uses two cores poorly. ``sink`` (see ``DecodeResult``)
    is then called from those threads.
    """
    deadline = Deadline(path, timeout)
    row_of = {int(p): i for i, p in enumerate(index.pts)}
    rows = np.array([row_of[int(p)] for p in wanted_pts], dtype=np.int64)
    # untimed frames cannot be sought: the pass from the start below reads them in order
    gops = np.unique(index.gop[rows[rows >= index.untimed]])
    workers = max(1, min(workers or DEFAULT_WORKERS, len(gops) // 2))
    with open_container(path) as container:
        seekable = can_seek(container)
    if not len(gops):
        result = DecodeResult(sink=sink)
    elif workers == 1 or not seekable:
        result = _decode_gops(path, index, rows, gops, decode_size, deadline, threads, DecodeResult(sink=sink))
    else:
        shares = np.array_split(gops, workers)
        with ThreadPoolExecutor(workers) as pool:
            parts = list(pool.map(
                lambda share: _decode_gops(path, index, rows, share, decode_size, deadline, threads,
                                           DecodeResult(sink=sink)), shares))
        result = DecodeResult(sink=sink)
        for part in parts:
            result.images.update(part.images)
            result.got |= part.got
            result.decoded_frames += part.decoded_frames
            result.bad_packets += part.bad_packets
            result.seeks += part.seeks
    remaining = {int(p) for p in wanted_pts} - result.got
    if remaining:
        # Open-GOP leading frames, or a demuxer whose seeks land late: read the file from the
        # start once, without seeking, up to the last frame still missing.
        log.debug("%s: %d frames missed after seeking; reading from the start", path, len(remaining))
        with open_container(path) as container:
            stream = video_stream(container, path)
            if threads:
                stream.codec_context.thread_type = "AUTO"
            _decode_until(container.demux(stream), set(remaining), remaining, decode_size, deadline, result,
                          untimed=_Untimed(index) if index.untimed else None)
    return result


def _decode_gops(path, index: StreamIndex, rows: np.ndarray, gops: np.ndarray, decode_size,
                 deadline, threads: bool, result: DecodeResult) -> DecodeResult:
    """One demuxer's pass over ``gops`` (ascending), decoding the wanted rows in them."""
    rows = rows[np.isin(index.gop[rows], gops) & (rows >= index.untimed)]
    gop_sizes = np.bincount(index.gop)
    with open_container(path) as container:
        stream = video_stream(container, path)
        # Frame threading pays off when runs of frames are decoded; for lone keyframes its
        # pipeline latency after every seek costs more than it gives (measured: 1.6x slower).
        if threads and not np.all(index.gop_pos[rows] == 0):
            stream.codec_context.thread_type = "AUTO"
        remaining = {int(index.pts[r]) for r in rows}
        packets, skip_now, frames_left = None, None, None  # frames_left: to the next GOP
        previous_gop = None
        for g in gops:
            need_rows = rows[index.gop[rows] == g]
            need = {int(index.pts[r]) for r in need_rows} & remaining
            if not need:
                continue
            skip = "NONKEY" if bool(np.all(index.gop_pos[need_rows] == 0)) else "DEFAULT"
            read_on = (
                previous_gop is not None
                and g == previous_gop + 1
                and skip == skip_now
                and frames_left <= max(8, gop_sizes[previous_gop] // 4)
            )
            if not can_seek(container):
                if packets is None:
                    stream.codec_context.skip_frame = skip
                    packets = container.demux(stream)
                    skip_now = skip
                if skip != skip_now:  # mixed needs: decode everything from here on
                    stream.codec_context.skip_frame = skip_now = "DEFAULT"
            elif not read_on:
                if g == 0 and packets is None:  # already at the start: no seek (some
                    stream.codec_context.skip_frame = skip  # demuxers seek imprecisely)
                    packets = container.demux(stream)
                else:
                    packets = _seek(container, stream, seek_target(container, index, g), skip, result)
                skip_now = skip
            _decode_until(packets, need, remaining, decode_size, deadline, result,
                          ctx=stream.codec_context, skip=skip_now)
            previous_gop = g
            frames_left = int(gop_sizes[g] - 1 - index.gop_pos[need_rows].max())
    return result


# Formats whose frame timestamps after a seek were seen to be wrong (MPEG-PS labels the
# keyframe with the next frame's pts) or that have no timestamps to seek by: read them
# straight through instead.
NO_SEEK_FORMATS = {"mpeg", "mpegvideo", "h264", "hevc", "m4v", "mjpeg"}
# Demuxers that seek by decode timestamp (measured: MPEG-TS lands a GOP late when given pts).
SEEK_BY_DTS_FORMATS = {"mpegts"}


def can_seek(container) -> bool:
    return container.format.name not in NO_SEEK_FORMATS


def seek_target(container, index: StreamIndex, gop: int) -> int:
    """The timestamp that makes FFmpeg land on GOP ``gop``'s keyframe."""
    by_dts = container.format.name in SEEK_BY_DTS_FORMATS
    return int(index.key_dts[gop] if by_dts else index.key_pts[gop])


def _seek(container, stream, key_pts: int, skip: str, result: DecodeResult):
    container.seek(key_pts, stream=stream, backward=True, any_frame=False)
    stream.codec_context.skip_frame = skip
    result.seeks += 1
    return container.demux(stream)


def _decode_until(packets, need, remaining, size, deadline, result, ctx=None, skip="DEFAULT",
                  untimed: _Untimed | None = None) -> None:
    """Decode packets until every pts in ``need`` is out, or the decoder has passed them all.

    With ``ctx`` (the codec context) two shortcuts apply. ``skip="DEFAULT"``: packets of frames
    nobody wants are decoded with ``skip_frame=NONREF``, so a frame no other frame refers to
    (most B-frames) is skipped outright, while a wanted frame is always decoded.
    ``skip="NONKEY"``: after a keyframe the decoder is drained at once; otherwise a decoder
    that reorders B-frames holds the keyframe back until the *next* keyframe arrives (measured:
    500 packets read per keyframe instead of 1).

    With ``untimed`` (a read from the start of a file whose first frames carry no timestamp),
    frames without a pts take the index's extrapolated ones in order.
    """
    last_needed = max(need)
    for packet in packets:
        deadline.check()
        if ctx is not None and skip == "DEFAULT":
            ctx.skip_frame = "DEFAULT" if packet.pts is None or packet.pts in remaining else "NONREF"
        try:
            frames = list(packet.decode())
            if ctx is not None and skip == "NONKEY" and packet.is_keyframe:
                frames += ctx.decode(None)
                ctx.flush_buffers()  # ready for the packets that follow
        except av.error.InvalidDataError:
            result.bad_packets += 1
            continue
        except av.error.FFmpegError as exc:
            log.debug("decode error %s", exc)
            result.bad_packets += 1
            continue
        passed = False
        for frame in frames:
            result.decoded_frames += 1
            pts = frame.pts
            if pts is None and untimed is not None:
                pts = untimed.next()
            if pts in remaining:
                result.deliver(pts, _to_rgb(frame, size))
                remaining.discard(pts)
            if pts is not None and pts >= last_needed:
                passed = True
        if passed or not (need & remaining):
            return
