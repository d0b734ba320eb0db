"""``MemoryItem``: one stretch of video in memory, and the vector helpers every memory stage shares.

An item is a half-open time span ``[start, end)`` in seconds, one L2-normalised float32
embedding that stands for it, a ``weight`` (how many original frames it stands for) and the
frames it still holds (their indices in the sampled sequence and their times), so that a model
can later be shown those frames. Deduplication makes one item per kept frame; merging two
adjacent items makes one item of their union.

>>> import numpy as np
>>> vectors = unit_rows([[3.0, 4.0], [1.0, 0.0]])
>>> vectors.tolist()
[[0.6000000238418579, 0.800000011920929], [1.0, 0.0]]
>>> frame_spans([0.0, 0.5, 1.0]).tolist()  # the last frame lasts as long as the gap before it
[[0.0, 0.5], [0.5, 1.0], [1.0, 1.5]]
>>> item = MemoryItem(0.0, 0.5, vectors[0], weight=1, frame_indices=(0,), frame_times=(0.0,))
>>> item
MemoryItem(0.000-0.500s, weight=1, frames=(0,))
>>> round(cosine(item.embedding, vectors[1]), 3)
0.6
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vidllm.errors import SpecError

NORM_TOLERANCE = 1e-3  # float32 rounding after averaging stays far below this


def whole_number(value, what: str, minimum: int) -> int:
    """``value`` as an int if it is a whole number >= ``minimum`` (a bool is not), else SpecError."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise SpecError(f"{what} must be a whole number >= {minimum}, got {value!r}")
    return int(value)


def unit_rows(vectors) -> np.ndarray:
    """Rows of ``vectors`` (shape (n, d)) scaled to length 1, as float32.

    A row of length zero has no direction, so it cannot be compared by cosine: SpecError.
    """
    array = np.asarray(vectors, dtype=np.float64)
    if array.ndim != 2:
        raise SpecError(f"embeddings must be a 2-D array (frames, dimensions), got shape {array.shape}")
    if not np.isfinite(array).all():
        raise SpecError("embeddings hold NaN or infinite values")
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    if (norms == 0).any():
        raise SpecError(f"embedding {int(np.flatnonzero(norms[:, 0] == 0)[0])} is all zeros: it has no direction")
    return (array / norms).astype(np.float32)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two unit vectors, summed in float64 so that every caller that
    compares the same pair gets the same number (tie-breaking depends on it)."""
    return float(np.dot(a.astype(np.float64), b.astype(np.float64)))


def frame_spans(times, end: float | None = None) -> np.ndarray:
    """Half-open spans, shape (n, 2), for frames sampled at ``times``: each frame lasts until the
    next one; the last lasts until ``end``, or as long as the gap before it when ``end`` is not
    known (zero for a single frame)."""
    times = np.asarray(times, dtype=np.float64)
    if times.ndim != 1:
        raise SpecError(f"times must be 1-D, got shape {times.shape}")
    if (np.diff(times) < 0).any():
        raise SpecError("frame times must not decrease")
    if len(times) == 0:
        return np.zeros((0, 2))
    ends = np.append(times[1:], last_end(times[-1], times[-2] if len(times) > 1 else None, end))
    return np.stack([times, ends], axis=1)


def last_end(last_time: float, time_before: float | None, end: float | None) -> float:
    """Where the last frame's span ends (see ``frame_spans``); shared with the streaming
    deduplicator, which knows only the last two times."""
    if end is not None:
        if end < last_time:
            raise SpecError(f"end {end} is before the last frame time {last_time}")
        return float(end)
    gap = 0.0 if time_before is None else last_time - time_before
    return float(last_time + gap)


@dataclass(frozen=True, eq=False)
class MemoryItem:
    """One stretch ``[start, end)`` of video and the unit embedding that stands for it.

    ``weight`` counts the original frames the item stands for (dropped duplicates and merged
    items included); ``frame_indices``/``frame_times`` name the frames it still holds.
    """

    start: float
    end: float
    embedding: np.ndarray
    weight: int = 1
    frame_indices: tuple[int, ...] = ()
    frame_times: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", float(self.start))
        object.__setattr__(self, "end", float(self.end))
        if not (np.isfinite(self.start) and np.isfinite(self.end)) or self.start > self.end:
            raise SpecError(f"a memory item spans [{self.start}, {self.end}): start must be <= end")
        embedding = np.array(self.embedding, dtype=np.float32)  # a private copy: items are values
        if embedding.ndim != 1 or embedding.size == 0:
            raise SpecError(f"a memory item's embedding must be a non-empty vector, got shape {embedding.shape}")
        norm = float(np.linalg.norm(embedding))
        if abs(norm - 1.0) > NORM_TOLERANCE:
            raise SpecError(f"a memory item's embedding must be L2-normalised (unit_rows), got length {norm:.4f}")
        embedding.setflags(write=False)
        object.__setattr__(self, "embedding", embedding)
        if int(self.weight) != self.weight or self.weight < 1:
            raise SpecError(f"a memory item's weight counts frames: a whole number >= 1, got {self.weight}")
        object.__setattr__(self, "weight", int(self.weight))
        object.__setattr__(self, "frame_indices", tuple(int(i) for i in self.frame_indices))
        object.__setattr__(self, "frame_times", tuple(float(t) for t in self.frame_times))
        if len(self.frame_indices) != len(self.frame_times):
            raise SpecError(f"{len(self.frame_indices)} frame indices for {len(self.frame_times)} frame times")
        outside = [t for t in self.frame_times if not self.start <= t <= self.end]
        if outside:
            raise SpecError(f"frame time {outside[0]} lies outside the item's span [{self.start}, {self.end})")

    @property
    def duration(self) -> float:
        return self.end - self.start

    def __repr__(self) -> str:
        return (f"MemoryItem({self.start:.3f}-{self.end:.3f}s, weight={self.weight}, "
                f"frames={self.frame_indices})")


def check_follows(held: Sequence[MemoryItem], item: MemoryItem) -> None:
    """Memories take items in time order: ``item`` must not start before the last held one ends."""
    if held and item.start < held[-1].end:
        raise SpecError(f"memory items must come in time order: {item!r} starts before "
                        f"the last item ends ({held[-1].end})")


def frame_items(embeddings, times, end: float | None = None) -> list[MemoryItem]:
    """One item per frame (weight 1, spans as ``frame_spans``), for a memory fed every frame."""
    vectors = unit_rows(embeddings)
    spans = frame_spans(times, end)
    if len(spans) != len(vectors):
        raise SpecError(f"{len(spans)} times for {len(vectors)} embeddings")
    return [MemoryItem(start, stop, vector, frame_indices=(i,), frame_times=(start,))
            for i, (vector, (start, stop)) in enumerate(zip(vectors, spans))]


def stack(items: Sequence[MemoryItem]) -> tuple[np.ndarray, np.ndarray]:
    """The embeddings (n, d) and spans (n, 2) of ``items``, the arrays ``retrieve`` reads."""
    if not items:
        return np.zeros((0, 0), np.float32), np.zeros((0, 2))
    embeddings = np.stack([item.embedding for item in items])
    spans = np.array([[item.start, item.end] for item in items], dtype=np.float64)
    return embeddings, spans
