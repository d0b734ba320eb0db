"""Near-duplicate frame removal (LongVU's temporal reduction), one-shot or chunk by chunk.

LongVU drops a frame when its mean cosine similarity to the other frames of its window (16
frames) is at least a threshold (0.83). On its own that rule can drop every frame of a static
window, and it looks at no particular neighbour. Here a frame is dropped only when all three
hold:

1. it is similar (cosine >= threshold) to the frame just before it,
2. it is similar to the last frame that was kept (the one that will stand for it), and
3. its mean similarity to the other frames of its window is >= threshold (LongVU's rule).

Rule 1 is what keeps needles: a frame unlike the frame before it (a cut, or a one-frame insert
unlike its neighbours) is always kept, whatever the window, and so is the frame after a needle,
where the scene comes back. The first frame is always kept. Rule 2 keeps slow drift (a pan)
from collapsing into one frame: once the picture has moved away from the kept frame, a new one
is kept. So every dropped frame is at least ``threshold``-similar to the kept frame that
represents it, and a kept frame stands for itself and the dropped frames after it up to the
next kept frame (one contiguous run, one ``MemoryItem``).

The window of frame ``i`` holds the ``window`` frames around it, ``i - window // 2`` up to
``i + window - window // 2 - 1``, cut at the ends of the video. Deciding frame ``i`` therefore
waits for ``window - window // 2 - 1`` later frames, so the streaming ``Deduplicator`` holds
only one window of embeddings and gives the same answer as ``dedup`` on the whole sequence.

>>> a, b = [1.0, 0.0], [0.0, 1.0]
>>> result = dedup([a, a, a, a, b, a, a, a, a], times=range(9))
>>> result.kept.tolist(), result.represented_by.tolist()
([0, 4, 5], [0, 0, 0, 0, 4, 5, 5, 5, 5])
>>> [(item.start, item.end, item.weight) for item in result.items]
[(0.0, 4.0, 4), (4.0, 5.0, 1), (5.0, 9.0, 4)]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vidllm.errors import SpecError
from vidllm.memory.items import MemoryItem, cosine, last_end, unit_rows, whole_number

DEFAULT_WINDOW = 16  # LongVU
DEFAULT_THRESHOLD = 0.83  # LongVU, for DINOv2 features; other embeddings may want another value


@dataclass(frozen=True, eq=False)
class DedupResult:
    """``kept``: indices of the kept frames, ascending. ``represented_by``: for every frame, the
    kept frame that stands for it (itself when kept). ``items``: one ``MemoryItem`` per kept
    frame, spanning its run of duplicates, weight = the run's length."""

    kept: np.ndarray
    represented_by: np.ndarray
    items: tuple[MemoryItem, ...]


class Deduplicator:
    """Streaming dedup: ``push`` chunks of (embeddings, times), then ``finish``.

    Both return the items whose run of duplicates has closed (a run closes when the next frame
    is kept, or at ``finish``), ready to go into a memory; they are not kept here. Only one
    window of embeddings is held; ``kept`` and ``represented_by`` give the decisions so far
    (a number per frame).

    >>> stream = Deduplicator(window=4)  # a frame is decided once the frame after it is in
    >>> stream.push([[1.0, 0.0]] * 5, times=[0.0, 0.5, 1.0, 1.5, 2.0])
    []
    >>> stream.push([[0.0, 1.0]], times=[2.5])  # frame 4's window now holds a new picture: kept
    [MemoryItem(0.000-2.000s, weight=4, frames=(0,))]
    >>> stream.finish()
    [MemoryItem(2.000-2.500s, weight=1, frames=(4,)), MemoryItem(2.500-3.000s, weight=1, frames=(5,))]
    """

    def __init__(self, threshold: float = DEFAULT_THRESHOLD, window: int = DEFAULT_WINDOW):
        window = whole_number(window, "the dedup window (frames)", 2)
        if not -1.0 <= threshold <= 1.0:
            raise SpecError(f"the dedup threshold is a cosine similarity in [-1, 1], got {threshold!r}")
        self.threshold = float(threshold)
        self.window = window
        self._before = window // 2  # frames before a frame in its window
        self._after = window - 1 - self._before  # frames after it: how far decisions lag behind
        self._held: np.ndarray | None = None  # embeddings of frames self._first .. self._count - 1
        self._held_times = np.zeros(0)
        self._first = 0
        self._count = 0  # frames pushed
        self._decided = 0  # frames decided, in order
        self._last_times: list[float] = []  # the last two times pushed: the last frame's span
        self._run: tuple[int, float, int] | None = None  # (kept frame, its time, run length)
        self._kept_vector: np.ndarray | None = None  # the kept frame's embedding, held apart
        self._kept: list[int] = []
        self._represented_by: list[int] = []
        self._finished = False

    def push(self, embeddings, times) -> list[MemoryItem]:
        """Add frames (embeddings (n, d), times (n,) in seconds, not decreasing)."""
        if self._finished:
            raise SpecError("this Deduplicator has finished; start a new one for more frames")
        vectors = unit_rows(embeddings)
        times = np.asarray(times, dtype=np.float64)
        if times.shape != (len(vectors),):
            raise SpecError(f"{len(times)} times for {len(vectors)} embeddings")
        if (np.diff(np.concatenate([self._last_times[-1:], times])) < 0).any():
            raise SpecError("frame times must not decrease")
        if self._held is not None and vectors.shape[1] != self._held.shape[1]:
            raise SpecError(f"embeddings of {vectors.shape[1]} dimensions after {self._held.shape[1]}")
        self._held = vectors if self._held is None else np.concatenate([self._held, vectors])
        self._held_times = np.concatenate([self._held_times, times])
        self._count += len(vectors)
        self._last_times = (self._last_times + times.tolist())[-2:]
        return self._decide(until=self._count - self._after)

    def finish(self, end: float | None = None) -> list[MemoryItem]:
        """Decide the frames left and close the last run; it ends at ``end`` (default: the last
        frame time plus the gap before it)."""
        closed = self._decide(until=self._count)
        if self._run is not None:
            time_before = self._last_times[0] if len(self._last_times) == 2 else None
            closed.append(self._close_run(last_end(self._last_times[-1], time_before, end)))
        self._finished = True
        return closed

    @property
    def held_frames(self) -> int:
        """How many embeddings are held now: never more than the window (less one) once a
        push has returned, however long the stream."""
        return 0 if self._held is None else len(self._held)

    @property
    def kept(self) -> np.ndarray:
        return np.array(self._kept, dtype=np.int64)

    @property
    def represented_by(self) -> np.ndarray:
        return np.array(self._represented_by, dtype=np.int64)

    # -- the rule ---------------------------------------------------------------------------

    def _is_kept(self, i: int) -> bool:
        if i == 0:
            return True
        vector = self._vector(i)
        if cosine(vector, self._vector(i - 1)) < self.threshold:
            return True  # unlike the frame before: a cut or a needle
        if cosine(vector, self._kept_vector) < self.threshold:
            return True  # drifted away from the frame that would stand for it
        lo, hi = max(0, i - self._before), min(self._count, i + self._after + 1)
        window = self._held[lo - self._first:hi - self._first].astype(np.float64)
        similarities = window @ vector.astype(np.float64)
        mean_to_others = (similarities.sum() - similarities[i - lo]) / (hi - lo - 1)
        return bool(mean_to_others < self.threshold)

    # -- bookkeeping --------------------------------------------------------------------------

    def _vector(self, i: int) -> np.ndarray:
        return self._held[i - self._first]

    def _decide(self, until: int) -> list[MemoryItem]:
        closed = []
        while self._decided < until:
            i = self._decided
            time = float(self._held_times[i - self._first])
            if self._is_kept(i):
                if self._run is not None:
                    closed.append(self._close_run(time))
                self._run = (i, time, 1)
                self._kept_vector = self._vector(i).copy()  # a view would pin a whole chunk
                self._kept.append(i)
            else:
                kept, kept_time, length = self._run
                self._run = (kept, kept_time, length + 1)
            self._represented_by.append(self._run[0])
            self._decided += 1
        # what the next frame's window and rules still need; older frames are forgotten
        keep_from = max(self._first, self._decided - self._before)
        if self._held is not None and keep_from > self._first:
            self._held = self._held[keep_from - self._first:].copy()  # let the chunk go
            self._held_times = self._held_times[keep_from - self._first:]
            self._first = keep_from
        return closed

    def _close_run(self, end: float) -> MemoryItem:
        kept, kept_time, length = self._run
        self._run = None
        return MemoryItem(kept_time, end, self._kept_vector, weight=length,
                          frame_indices=(kept,), frame_times=(kept_time,))


def dedup(embeddings, times, *, threshold: float = DEFAULT_THRESHOLD, window: int = DEFAULT_WINDOW,
          end: float | None = None) -> DedupResult:
    """Deduplicate a whole sequence of frame embeddings (n, d) sampled at ``times`` (see the
    module's docstring for the rule); ``end`` is where the last frame's span ends."""
    stream = Deduplicator(threshold, window)
    items = stream.push(embeddings, times) + stream.finish(end)
    return DedupResult(stream.kept, stream.represented_by, tuple(items))
