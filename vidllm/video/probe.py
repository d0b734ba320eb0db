"""Open a video safely, read what its header says and what a scan of its packets shows.

Header values and scanned values are kept apart: ``frame_count`` comes from a demux of every
packet (exact, no decoding), ``header_frame_count`` is what the container claims (it can lie:
MPEG-PS and WebM often claim 0).
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from vidllm.errors import (
    DecodeTimeoutError,
    NotAVideoError,
    VideoError,
    VideoNotFoundError,
    VideoTooLargeError,
)

# A frame this large would need more than ~800 MB as RGB; far beyond any real Video-LLM input.
MAX_DECODE_PIXELS = int(os.environ.get("VIDLLM_MAX_DECODE_PIXELS", 16384 * 16384))
# Every read of a file (demuxing, decoding) stops after this many seconds.
DEFAULT_TIMEOUT = float(os.environ.get("VIDLLM_DECODE_TIMEOUT", 600))
# FFmpeg demuxers that turn any file into "video" without it being one (text rendered as ANSI art).
NOT_VIDEO_FORMATS = {"tty"}
# Transport stream packet sizes FFmpeg's mpegts demuxer reads, with the bytes before each sync
# byte (0x47): plain MPEG-TS, M2TS (Blu-ray, AVCHD: a 4-byte timestamp first), and DVB with
# 16 bytes of Reed-Solomon parity after the packet.
TS_PACKETS = ((188, 0), (192, 4), (204, 0))


class Deadline:
    """A wall-clock limit checked between packets, so that no damaged file can hang a read."""

    def __init__(self, path, timeout: float | None = None):
        self.path = path
        self.timeout = timeout if timeout is not None else DEFAULT_TIMEOUT
        self.end = time.monotonic() + self.timeout

    def check(self) -> None:
        if time.monotonic() > self.end:
            raise DecodeTimeoutError(
                self.path,
                f"reading took longer than {self.timeout:.0f}s; the file may be damaged "
                "(raise the limit with VIDLLM_DECODE_TIMEOUT)",
            )


def is_url(path) -> bool:
    return "://" in str(path)


def check_path(path: str | os.PathLike) -> Path:
    """Fail early, with the reason, on paths that cannot be a video file."""
    p = Path(path)
    if is_url(path):  # URLs (rtsp, http) go straight to FFmpeg
        return p
    try:
        mode = p.stat().st_mode
    except FileNotFoundError:
        problem = "is a broken symbolic link" if p.is_symlink() else "no such file"
        raise VideoNotFoundError(path, problem) from None
    except OSError as exc:  # a symlink loop (ELOOP), a name too long, no permission
        raise VideoNotFoundError(path, f"cannot be read: {exc.strerror or exc}") from None
    if stat.S_ISDIR(mode):
        raise NotAVideoError(path, "is a directory, not a video file")
    if not stat.S_ISREG(mode):  # reading a FIFO or a device could block forever
        raise NotAVideoError(path, "is not a regular file (a FIFO, socket or device); save the video to a file first")
    if p.stat().st_size == 0:
        raise NotAVideoError(path, "is empty (0 bytes)")
    return p


def check_local_file(path: str | os.PathLike) -> Path:
    """``check_path`` for callers that hash and cache a file: URLs are refused in one line."""
    if is_url(path):
        raise VideoError(path, "is a URL; vidllm reads local video files (download it first, e.g. curl -LO URL)")
    return check_path(path)


def open_container(path: str | os.PathLike):
    """``av.open`` with FFmpeg's errors turned into one-line ``VideoError``s."""
    check_path(path)
    options = {"timeout": (10.0, 30.0)} if "://" in str(path) else {}
    try:
        container = av.open(str(path), **options)
    except av.error.InvalidDataError:
        raise NotAVideoError(path, "is not a video FFmpeg can read (invalid data)") from None
    except av.error.FFmpegError as exc:
        raise NotAVideoError(path, f"cannot be opened: {exc.strerror or exc}") from None
    if container.format.name in NOT_VIDEO_FORMATS:
        container.close()
        raise NotAVideoError(path, "is a text file, not a video")
    return container


def video_stream(container, path):
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams}) or ["no streams"]
        raise NotAVideoError(path, f"has no video stream (found: {', '.join(kinds)})")
    stream = container.streams.video[0]
    width, height = stream.codec_context.width, stream.codec_context.height
    if width <= 0 or height <= 0:
        raise NotAVideoError(path, "video stream has no picture size (damaged header)")
    if width * height > MAX_DECODE_PIXELS:
        raise VideoTooLargeError(
            path,
            f"frames are {width}x{height}, above the limit of {MAX_DECODE_PIXELS} pixels "
            "(set VIDLLM_MAX_DECODE_PIXELS to raise it)",
        )
    return stream


@dataclass(frozen=True)
class StreamIndex:
    """Every video packet's timestamp and keyframe flag, read by demuxing (no decoding).

    Arrays are in presentation order. ``gop`` numbers the group of pictures each frame belongs
    to in decode order (a frame of GOP g is decodable after seeking to ``key_pts[g]``);
    ``gop_pos`` is its position in decode order inside that GOP: the cost of reaching it.

    ``untimed``: the first frames carry no timestamp at all (a raw ``.h264`` stream; an MKV
    whose timeline starts below zero, where FFmpeg's demuxer drops the negative ones); their pts
    are extrapolated back from the first timed frame at the frame step, and decoded frames are
    matched to them by their order from the start of the file. ``hidden``: packets an MP4 edit
    list hides (FFmpeg flags them to be discarded); they are not frames of the video.
    ``header_frames``: what the container's header claims (0 when it says nothing).
    """

    pts: np.ndarray
    gop: np.ndarray
    gop_pos: np.ndarray
    key_pts: np.ndarray
    key_dts: np.ndarray  # demuxers without AVFMT_SEEK_TO_PTS (MPEG-PS/TS) seek by dts
    time_base: Fraction
    start_pts: int
    end_pts: int  # where the last frame stops being shown
    bad_packets: int
    truncated: bool
    untimed: int = 0
    hidden: int = 0
    header_frames: int = 0

    def seconds(self, pts) -> np.ndarray:
        return (np.asarray(pts, dtype=np.float64) - self.start_pts) * float(self.time_base)

    @property
    def times(self) -> np.ndarray:
        return self.seconds(self.pts)

    @property
    def is_key(self) -> np.ndarray:
        return self.gop_pos == 0

    def duration(self) -> float:
        """Seconds from the stream's start to the last frame's end."""
        return float(self.seconds(self.end_pts))

    def notes(self) -> list[str]:
        """What a user should know about how this file's times were read (one line each)."""
        out = []
        if self.hidden:
            out.append(f"an edit list hides {self.hidden} frames stored before the start; "
                       "times count from the edited start, as players show it")
        if self.untimed:
            step = float(self.time_base) * (self.pts[1] - self.pts[0]) if len(self.pts) > 1 else 0.0
            whole = self.untimed == len(self.pts)
            out.append(f"{'no frame carries a' if whole else f'the first {self.untimed} frames carry no'} timestamp"
                       f"{' (a raw stream)' if whole else ' (the timeline starts below zero)'}: their times are "
                       f"counted at the {step:.4g} s frame step")
        if self.truncated:
            claimed = f" (the header lists {self.header_frames} frames, {len(self.pts)} are there)" \
                if self.header_frames > len(self.pts) + self.hidden else ""
            out.append(f"the file is truncated: readable up to {self.duration():.2f}s{claimed}")
        return out


def ts_cut_mid_packet(path) -> bool:
    """Whether an MPEG-TS (or M2TS) file stops inside a transport packet: packets have a fixed
    size, so a whole file is a whole number of them from the first sync byte the demuxer locks
    on to. A cut that falls exactly on a packet boundary is not seen here (see ``scan_index``)."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        head = f.read(204 * 6)
    for packet, lead in TS_PACKETS:
        for sync in range(lead, lead + packet):
            syncs = range(sync, len(head), packet)
            # four sync bytes in a row (or every one a short file has) mark the packet size
            if len(syncs) >= 2 and all(head[i] == 0x47 for i in syncs[:4]):
                return (size - (sync - lead)) % packet != 0
    return False


def scan_index(path, timeout: float | None = None) -> StreamIndex:
    """Demux the first video stream once and index its packets."""
    deadline = Deadline(path, timeout)
    with open_container(path) as container:
        stream = video_stream(container, path)
        pts_list, gops, positions, key_pts, key_dts = [], [], [], [], []
        bad, hidden, truncated, gop, pos, end = 0, 0, False, -1, 0, None
        corrupt_tail = [False, False]  # the demuxer's corrupt flag on the last two packets
        untimed_steps = []  # packet durations of leading frames without timestamps
        untimed_keys = []  # (position in key_pts, position among the untimed frames)
        try:
            for packet in container.demux(stream):
                deadline.check()
                if packet.size == 0:
                    continue
                corrupt_tail = [corrupt_tail[1], packet.is_corrupt]
                ts = packet.pts if packet.pts is not None else packet.dts
                if ts is None and pts_list:  # a lost timestamp mid-stream: unusable
                    bad += 1
                    continue
                if packet.is_keyframe or gop < 0:
                    gop, pos = gop + 1, 0
                    if ts is None:  # an untimed keyframe: its pts is filled in below
                        untimed_keys.append((len(key_pts), len(untimed_steps)))
                    key_pts.append(ts)
                    key_dts.append(packet.dts if packet.dts is not None else ts)
                if packet.is_discard:  # hidden by an edit list: part of a GOP, not a frame
                    hidden += 1
                    pos += 1
                    continue
                if ts is None:
                    untimed_steps.append(packet.duration or 0)
                else:
                    pts_list.append(ts)
                if packet.duration and ts is not None:
                    end = max(end or 0, ts + packet.duration)
                gops.append(gop)
                positions.append(pos)
                pos += 1
        except av.error.FFmpegError:
            truncated = True
        if not pts_list and not untimed_steps:
            raise NotAVideoError(path, "video stream holds no readable frames")
        rate = stream.guessed_rate or stream.average_rate or 25
        rate_step = max(1, int(round(1 / (float(rate) * stream.time_base))))
        untimed = len(untimed_steps)
        if untimed:
            # extrapolate back from the first timed frame (or forward from 0 in a raw stream)
            known = [d for d in untimed_steps if d > 0]
            step = int(np.median(known)) if known else rate_step
            first = min(pts_list) if pts_list else untimed * step
            # untimed frames lead the file, so their GOP rows are the first ones: prepending
            # keeps pts_list aligned with gops and positions
            pts_list = [first - (untimed - k) * step for k in range(untimed)] + pts_list
            for slot, k in untimed_keys:
                key_pts[slot] = key_dts[slot] = pts_list[k]
        pts = np.asarray(pts_list, dtype=np.int64)
        order = np.argsort(pts, kind="stable")
        start = stream.start_time if stream.start_time is not None and not untimed else int(pts.min())
        start = min(start, int(pts.min()))
        last = int(pts.max())
        if end is None or end <= last:  # no packet durations: one typical frame step
            steps = np.diff(np.sort(pts))
            step = int(np.median(steps)) if len(steps) else rate_step
            end = last + max(step, 1)
        header_frames = int(stream.frames or 0)
        if "mp4" in container.format.name and header_frames > len(pts) + hidden + bad:
            # an MP4 whose index (moov) lists more samples than the file holds: cut short
            truncated = True
        if container.format.name == "mpegts" and not is_url(path):
            # cut inside a packet; or on a packet boundary inside a video PES that declared its
            # length, which the demuxer flags corrupt at the end (the parser hands that frame
            # on one packet late, hence the last two). A boundary cut inside a PES of no stated
            # length (FFmpeg's default for video) leaves a file that reads as whole.
            truncated = truncated or any(corrupt_tail) or ts_cut_mid_packet(path)
        return StreamIndex(
            pts=pts[order],
            gop=np.asarray(gops, dtype=np.int64)[order],
            gop_pos=np.asarray(positions, dtype=np.int64)[order],
            key_pts=np.asarray(key_pts, dtype=np.int64),
            key_dts=np.asarray(key_dts, dtype=np.int64),
            time_base=stream.time_base,
            start_pts=int(start),
            end_pts=int(end),
            bad_packets=bad,
            truncated=truncated,
            untimed=untimed,
            hidden=hidden,
            header_frames=header_frames,
        )


@dataclass(frozen=True)
class VideoInfo:
    """What ``vidllm info`` reports. Times in seconds; rates are floats (never rounded)."""

    path: str
    container: str
    size_bytes: int
    duration: float
    average_fps: float
    real_fps: float | None
    frame_count: int
    frame_count_source: str  # "scan" (every packet counted) or "header" or "estimate"
    header_frame_count: int
    width: int
    height: int
    rotation: int
    display_width: int
    display_height: int
    codec: str
    pixel_format: str | None
    keyframe_count: int
    keyframe_interval: float | None
    has_audio: bool
    audio_sample_rate: int | None
    audio_channels: int | None
    truncated: bool
    # what to know about how the times were read: edit lists, untimed frames, truncation
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "notes", tuple(self.notes))  # read back from JSON as a list

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_path(cls, path, index: StreamIndex | None = None) -> "VideoInfo":
        """Probe ``path``; pass an ``index`` already scanned to avoid demuxing twice."""
        index = index if index is not None else scan_index(path)
        with open_container(path) as container:
            stream = video_stream(container, path)
            rotation = _first_frame_rotation(container, stream)
            audio = container.streams.audio[0] if container.streams.audio else None
            duration = index.duration()
            count = len(index.pts)
            keys = index.seconds(index.key_pts)
            key_interval = float(np.mean(np.diff(np.sort(keys)))) if len(keys) > 1 else None
            width, height = stream.codec_context.width, stream.codec_context.height
            turned = rotation % 180 != 0
            return cls(
                path=str(path),
                container=container.format.name,
                size_bytes=Path(path).stat().st_size if Path(path).exists() else 0,
                duration=round(duration, 6),
                average_fps=round(count / duration, 6) if duration > 0 else 0.0,
                real_fps=float(stream.base_rate) if stream.base_rate else None,
                frame_count=count,
                frame_count_source="scan",
                header_frame_count=index.header_frames,
                width=width,
                height=height,
                rotation=rotation,
                display_width=height if turned else width,
                display_height=width if turned else height,
                codec=stream.codec_context.name,
                pixel_format=stream.codec_context.pix_fmt,
                keyframe_count=len(keys),
                keyframe_interval=round(key_interval, 6) if key_interval else None,
                has_audio=audio is not None,
                audio_sample_rate=audio.sample_rate if audio is not None else None,
                audio_channels=audio.channels if audio is not None else None,
                truncated=index.truncated,
                notes=tuple(index.notes()),
            )


def _first_frame_rotation(container, stream) -> int:
    """Rotation (degrees counter-clockwise) from the display matrix, read off the first frame."""
    try:
        for packet in container.demux(stream):
            for frame in packet.decode():
                return int(round(frame.rotation or 0)) % 360
    except av.error.FFmpegError:
        pass
    return 0
