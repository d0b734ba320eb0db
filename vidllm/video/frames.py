"""``Frames``: the value every stage after sampling receives."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, eq=False)
class Frames:
    """A batch of decoded frames with their true presentation times.

    ``data`` is uint8 RGB, shape (N, H, W, 3), already rotated upright and resized.
    ``timestamps`` are seconds from the start of the video stream, read from each frame's PTS
    (never computed from a frame rate). ``targets`` are the times the spec asked for; in
    ``fast`` mode a timestamp may differ from its target by at most the tolerance.
    """

    data: np.ndarray
    timestamps: np.ndarray
    targets: np.ndarray
    source: str
    content_hash: str
    mode: str
    warnings: tuple[str, ...] = field(default=())
    decoded_frames: int = 0  # frames the decoder produced for this call; 0 when from the cache

    def __post_init__(self) -> None:
        if self.data.dtype != np.uint8 or self.data.ndim != 4 or self.data.shape[-1] != 3:
            raise ValueError(f"Frames.data must be uint8 (N, H, W, 3), got {self.data.dtype} {self.data.shape}")
        if len(self.timestamps) != len(self.data):
            raise ValueError(f"{len(self.timestamps)} timestamps for {len(self.data)} frames")
        if len(self.targets) != len(self.data):
            raise ValueError(f"{len(self.targets)} targets for {len(self.data)} frames")

    def __len__(self) -> int:
        return len(self.data)

    @property
    def height(self) -> int:
        return int(self.data.shape[1])

    @property
    def width(self) -> int:
        return int(self.data.shape[2])

    def __repr__(self) -> str:
        span = (
            f"{self.timestamps[0]:.3f}-{self.timestamps[-1]:.3f}s" if len(self) else "empty"
        )
        return f"Frames(n={len(self)}, size={self.width}x{self.height}, {span}, mode={self.mode!r}, source={self.source!r})"
