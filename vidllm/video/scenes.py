"""Scene changes: the frames where the picture changes by more than a threshold.

Needs every frame in the range, so it decodes them all, but converts each to a 32x18 grey
thumbnail only (the costly RGB conversion and resize of full frames is skipped).
"""

from __future__ import annotations

import av
import numpy as np

from vidllm.video.decode import _Deadline
from vidllm.video.probe import StreamIndex, open_container, video_stream

THUMB = (32, 18)


def frame_changes(path, index: StreamIndex, window: tuple[float, float], timeout=None):
    """(times, change) for every frame in ``window``; change is the mean absolute difference
    (0-1) of its thumbnail from the previous frame's (1.0 for the first frame)."""
    deadline = _Deadline(path, timeout)
    times, changes, previous = [], [], None
    with open_container(path) as container:
        stream = video_stream(container, path)
        stream.codec_context.thread_type = "AUTO"
        first_key = _key_before(index, window[0])
        container.seek(first_key, stream=stream, backward=True, any_frame=False)
        for packet in container.demux(stream):
            deadline.check()
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                continue
            for frame in frames:
                if frame.pts is None:
                    continue
                t = float(index.seconds(frame.pts))
                if t < window[0] - 1e-9:
                    continue
                if t >= window[1]:
                    return np.array(times), np.array(changes)
                thumb = frame.to_ndarray(format="gray", width=THUMB[0], height=THUMB[1]).astype(np.float32)
                change = 1.0 if previous is None else float(np.abs(thumb - previous).mean() / 255.0)
                times.append(t)
                changes.append(change)
                previous = thumb
    return np.array(times), np.array(changes)


def scene_starts(path, index: StreamIndex, window, threshold: float, timeout=None) -> np.ndarray:
    """Times of the first frame of each scene (the first frame of the range always counts)."""
    times, changes = frame_changes(path, index, window, timeout)
    return times[changes > threshold]


def _key_before(index: StreamIndex, t: float) -> int:
    key_times = index.seconds(index.key_pts)
    earlier = index.key_pts[key_times <= t + 1e-9]
    return int(earlier.max()) if len(earlier) else int(index.key_pts.min())
