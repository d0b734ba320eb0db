"""Turn target times into the real frames that will be decoded.

All choices are made against the packet index before anything is decoded (torchcodec's
samplers work the same way): ``exact`` takes the frame nearest each target, ``fast`` takes a
keyframe whenever one lies within the tolerance, since a keyframe costs one decode after a seek.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vidllm.video.probe import StreamIndex


@dataclass(frozen=True)
class FramePlan:
    """Which frames to decode. Rows are in presentation order, one per *distinct* frame."""

    pts: np.ndarray  # int64 stream pts of each chosen frame
    targets: np.ndarray  # the target time (s) each chosen frame answers
    gop: np.ndarray  # the GOP each chosen frame belongs to
    dropped_duplicates: int  # targets that fell on a frame already chosen

    def __len__(self) -> int:
        return len(self.pts)


def nearest_frames(times: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Index of the frame whose time is nearest each target (ties go to the earlier frame)."""
    right = np.clip(np.searchsorted(times, targets, side="left"), 0, len(times) - 1)
    left = np.clip(right - 1, 0, len(times) - 1)
    pick_left = np.abs(times[left] - targets) <= np.abs(times[right] - targets)
    return np.where(pick_left, left, right)


def plan_frames(
    index: StreamIndex,
    targets: np.ndarray,
    *,
    mode: str,
    tolerance: float,
    window: tuple[float, float],
) -> FramePlan:
    times = index.times
    inside = np.flatnonzero((times >= window[0] - 1e-9) & (times < window[1]))
    if len(inside) == 0:  # the range holds no frame start: take the one covering it
        inside = np.array([nearest_frames(times, np.array([window[0]]))[0]])
    chosen = inside[nearest_frames(times[inside], targets)]
    if mode == "fast":
        key_rows = inside[index.is_key[inside]]
        if len(key_rows):
            nearest_key = key_rows[nearest_frames(times[key_rows], targets)]
            distance = np.abs(times[nearest_key] - targets)
            use_key = distance <= tolerance + 1e-9
            # a keyframe serves only the target nearest to it: two targets never collapse
            # onto one frame while the range has other frames to give
            for key in np.unique(nearest_key[use_key]):
                sharing = np.flatnonzero(use_key & (nearest_key == key))
                use_key[sharing[sharing != sharing[np.argmin(distance[sharing])]]] = False
            chosen = np.where(use_key, nearest_key, chosen)
    unique_rows, first = np.unique(chosen, return_index=True)
    return FramePlan(
        pts=index.pts[unique_rows],
        targets=np.asarray(targets, dtype=np.float64)[first],
        gop=index.gop[unique_rows],
        dropped_duplicates=len(chosen) - len(unique_rows),
    )
