"""Open a video safely, read what its header says and what a scan of its packets shows.

Header values and scanned values are kept apart: ``frame_count`` comes from a demux of every
packet (exact, no decoding), ``header_frame_count`` is what the container claims (it can lie:
MPEG-PS and WebM often claim 0).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from vidllm.errors import NotAVideoError, VideoNotFoundError, VideoTooLargeError

# A frame this large would need more than ~800 MB as RGB; far beyond any real Video-LLM input.
MAX_DECODE_PIXELS = int(os.environ.get("VIDLLM_MAX_DECODE_PIXELS", 16384 * 16384))


def check_path(path: str | os.PathLike) -> Path:
    """Fail early, with the reason, on paths that cannot be a video file."""
    p = Path(path)
    if "://" in str(path):  # URLs (rtsp, http) go straight to FFmpeg
        return p
    if not p.exists():
        raise VideoNotFoundError(path, "no such file")
    if p.is_dir():
        raise NotAVideoError(path, "is a directory, not a video file")
    if p.stat().st_size == 0:
        raise NotAVideoError(path, "is empty (0 bytes)")
    return p


def open_container(path: str | os.PathLike):
    """``av.open`` with FFmpeg's errors turned into one-line ``VideoError``s."""
    check_path(path)
    options = {"timeout": (10.0, 30.0)} if "://" in str(path) else {}
    try:
        return av.open(str(path), **options)
    except av.error.InvalidDataError:
        raise NotAVideoError(path, "is not a video FFmpeg can read (invalid data)") from None
    except av.error.FFmpegError as exc:
        raise NotAVideoError(path, f"cannot be opened: {exc.strerror or exc}") from None


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


def scan_index(path) -> StreamIndex:
    """Demux the first video stream once and index its packets."""
    with open_container(path) as container:
        stream = video_stream(container, path)
        pts_list, gops, positions, key_pts, key_dts = [], [], [], [], []
        bad, truncated, gop, pos, end = 0, False, -1, 0, None
        try:
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                ts = packet.pts if packet.pts is not None else packet.dts
                if ts is None:
                    bad += 1
                    continue
                if packet.is_keyframe or gop < 0:
                    gop, pos = gop + 1, 0
                    key_pts.append(ts)
                    key_dts.append(packet.dts if packet.dts is not None else ts)
                pts_list.append(ts)
                if packet.duration:
                    end = max(end or 0, ts + packet.duration)
                gops.append(gop)
                positions.append(pos)
                pos += 1
        except av.error.FFmpegError:
            truncated = True
        if not pts_list:
            raise NotAVideoError(path, "video stream holds no readable frames")
        pts = np.asarray(pts_list, dtype=np.int64)
        order = np.argsort(pts, kind="stable")
        start = stream.start_time if stream.start_time is not None else int(pts.min())
        start = min(start, int(pts.min()))
        last = int(pts.max())
        if end is None or end <= last:  # no packet durations: one typical frame step
            steps = np.diff(np.sort(pts))
            rate = stream.guessed_rate or stream.average_rate or 25
            step = int(np.median(steps)) if len(steps) else int(round(1 / (float(rate) * stream.time_base)))
            end = last + max(step, 1)
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
                header_frame_count=int(stream.frames or 0),
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
