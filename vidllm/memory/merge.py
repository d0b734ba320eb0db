"""Fixed-capacity memories that merge the most similar adjacent items (MovieChat, MA-LMM).

Items arrive in time order. Whenever a ``MergeMemory`` holds more than ``capacity`` items, the
two ADJACENT items with the HIGHEST cosine similarity become one: their embeddings are averaged
by weight and re-normalised, their spans joined, their weights added and their frames pooled.
Only neighbours merge, so items stay in time order, never overlap, and together cover every
span added. (MovieChat's long-memory code ranks pairs by a cosine *distance* and so merges the
least similar pair; this merges the most similar, as its paper says.) A stretch unlike both of
its neighbours therefore stays an item of its own for as long as some other adjacent pair is
more alike, which is what lets a short event survive in a long video.

``TwoLevelMemory`` is MovieChat's layout: a short-term buffer that, once full, is merged down
to a few items which move into a long-term ``MergeMemory``.

>>> import numpy as np
>>> from vidllm.memory.items import MemoryItem, unit_rows
>>> vectors = unit_rows([[1, 0], [1, 0.1], [0, 1], [1, 0.2]])
>>> memory = MergeMemory(capacity=3)
>>> [memory.add(MemoryItem(t, t + 1, v)) for t, v in enumerate(vectors)]  # 4th add merges pair 0
[None, None, None, 0]
>>> [(item.start, item.end, item.weight) for item in memory.items]
[(0.0, 2.0, 2), (2.0, 3.0, 1), (3.0, 4.0, 1)]
"""

from __future__ import annotations

import numpy as np

from vidllm.errors import SpecError
from vidllm.memory.base import Memory
from vidllm.memory.items import MemoryItem, check_follows, cosine, whole_number

DEFAULT_CAPACITY = 256  # MovieChat's long-term memory
SHORT_CAPACITY = 18  # MovieChat's short-term memory...
SHORT_KEEP = 2  # ...merged down to this many items when full


def merge_items(left: MemoryItem, right: MemoryItem) -> MemoryItem:
    """One item for two adjacent ones: weight-averaged embedding, joined span, summed weight."""
    total = left.weight + right.weight
    mean = (left.weight * left.embedding.astype(np.float64) + right.weight * right.embedding.astype(np.float64)) / total
    norm = np.linalg.norm(mean)
    # opposite vectors of equal weight cancel out: the left one (earlier) is kept as the direction
    embedding = mean / norm if norm > 1e-9 else left.embedding
    return MemoryItem(
        min(left.start, right.start), max(left.end, right.end), embedding.astype(np.float32),
        weight=total, frame_indices=left.frame_indices + right.frame_indices,
        frame_times=left.frame_times + right.frame_times,
    )


class MergeMemory(Memory):
    """At most ``capacity`` items; over it, the most similar adjacent pair merges (ties: the
    earliest pair). The similarity of each adjacent pair is kept up to date, so an insertion
    costs one pass over ``capacity`` numbers, not over the embeddings."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY):
        self.capacity = whole_number(capacity, "a memory's capacity (items)", 1)
        self._items: list[MemoryItem] = []
        self._similarities: list[float] = []  # [j]: cosine of items j and j + 1

    @property
    def items(self) -> tuple[MemoryItem, ...]:
        return tuple(self._items)

    def add(self, item: MemoryItem) -> int | None:
        """Append ``item`` (it must not start before the last item ends); returns the position
        of the left item of the pair merged to stay within capacity, or None."""
        check_follows(self._items, item)
        if self._items:
            self._similarities.append(cosine(self._items[-1].embedding, item.embedding))
        self._items.append(item)
        merged = None
        while len(self._items) > self.capacity:
            merged = self._merge_most_similar()
        return merged

    def shrink(self, size: int) -> None:
        """Merge the most similar adjacent pairs until at most ``size`` items are left."""
        whole_number(size, "a memory's size (items)", 1)
        while len(self._items) > size:
            self._merge_most_similar()

    def _merge_most_similar(self) -> int:
        j = int(np.argmax(self._similarities))  # argmax takes the first of equal values
        merged = merge_items(self._items[j], self._items[j + 1])
        self._items[j:j + 2] = [merged]
        del self._similarities[j]
        if j > 0:
            self._similarities[j - 1] = cosine(self._items[j - 1].embedding, merged.embedding)
        if j < len(self._items) - 1:
            self._similarities[j] = cosine(merged.embedding, self._items[j + 1].embedding)
        return j


class TwoLevelMemory(Memory):
    """MovieChat's memory: items fill a short-term buffer of ``short_capacity``; when it is full
    it is merged down to ``short_keep`` items, which move into a long-term ``MergeMemory`` of
    ``long_capacity`` (merging as above when over it). ``items``: long-term, then short-term."""

    def __init__(self, short_capacity: int = SHORT_CAPACITY, short_keep: int = SHORT_KEEP,
                 long_capacity: int = DEFAULT_CAPACITY):
        self.short_capacity = whole_number(short_capacity, "a memory's short_capacity (items)", 1)
        self.short_keep = whole_number(short_keep, "a memory's short_keep (items)", 1)
        if short_keep > short_capacity:
            raise SpecError(f"short_keep ({short_keep}) must not exceed short_capacity ({short_capacity})")
        self.long = MergeMemory(long_capacity)
        self.short = MergeMemory(short_capacity)

    @property
    def items(self) -> tuple[MemoryItem, ...]:
        return self.long.items + self.short.items

    def add(self, item: MemoryItem) -> None:
        check_follows(self.items, item)
        self.short.add(item)
        if len(self.short) == self.short_capacity:
            self.short.shrink(self.short_keep)
            self.long.extend(self.short.items)
            self.short = MergeMemory(self.short_capacity)
