"""Scene changes: the frames where the picture changes by more than a threshold.

Needs every frame in the range, so it decodes them all, but converts each to a 32x18 colour
thumbnail only (the costly RGB conversion and resize of full frames is skipped).
"""

from __future__ import annotations

import av
import numpy as np

from vidllm.video.decode import seek_target
from vidllm.video.probe import Deadline, StreamIndex, open_container, video_stream

THUMB = (32, 18)


def frame_changes(path, index: StreamIndex, window: tuple[float, float], timeout=None):
    """(times, change) for every frame in ``window``; change is the mean absolute difference
    (0-1) of its thumbnail from the previous frame's (1.0 for the first frame)."""
    deadline = Deadline(path, timeout)
    times, changes, previous = [], [], None
    with open_container(path) as container:
        stream = video_stream(container, path)
        stream.codec_context.thread_type = "AUTO"
        gop = _gop_before(index, window[0])
        if gop > 0:  # from the first GOP, read on from the start: no seek needed
            container.seek(seek_target(container, index, gop), stream=stream, backward=True)
        # frames without a pts (raw streams, negative starts) lead the file: matched in order
        untimed = iter(index.pts[: index.untimed] if gop == 0 else ())
        for packet in container.demux(stream):
            deadline.check()
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                continue
            for frame in frames:
                pts = frame.pts if frame.pts is not None else next(untimed, None)
                if pts is None:
                    continue
                t = float(index.seconds(pts))
                if t < window[0] - 1e-9:
                    continue
                if t >= window[1]:
                    return np.array(times), np.array(changes)
                thumb = frame.to_ndarray(format="rgb24", width=THUMB[0], height=THUMB[1]).astype(np.float32)
                change = 1.0 if previous is None else float(np.abs(thumb - previous).mean() / 255.0)
                times.append(t)
                changes.append(change)
                previous = thumb
    return np.array(times), np.array(changes)


def scene_starts(path, index: StreamIndex, window, threshold: float, timeout=None) -> np.ndarray:
    """Times of the first frame of each scene (the first frame of the range always counts)."""
    times, changes = frame_changes(path, index, window, timeout)
    return times[changes > threshold]


def _gop_before(index: StreamIndex, t: float) -> int:
    """The last GOP whose keyframe is shown at or before ``t`` (keyframes in decode order)."""
    earlier = np.flatnonzero(index.seconds(index.key_pts) <= t + 1e-9)
    return int(earlier.max()) if len(earlier) else 0
