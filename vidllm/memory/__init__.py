"""Long-video and stream memory: from many frame embeddings to a few items worth showing.

The stage works on sequences of (time span, embedding) items, in numpy only:

- ``items``: ``MemoryItem`` (span, unit embedding, weight, frames held) and vector helpers;
- ``dedup``: drop near-duplicate frames, LongVU-style, never a frame unlike the one before it;
- ``merge``: fixed-capacity memories that merge the most similar adjacent items (MovieChat,
  MA-LMM), and the ``MEMORIES`` registry of them (``base``);
- ``retrieve``: the ``k`` items to show for a query, by relevance plus coverage of the video.

A typical path: frame embeddings -> ``dedup`` (or a streaming ``Deduplicator``) -> items ->
a ``MergeMemory`` -> ``retrieve_items`` for the question.

>>> import numpy as np
>>> from vidllm.memory import MergeMemory, dedup, retrieve_items
>>> frames = np.repeat(np.eye(3), 40, axis=0)  # three scenes of 40 identical frames
>>> kept = dedup(frames, times=np.arange(120) * 0.5)
>>> len(kept.items)  # most near the cuts: there a window holds two scenes, so its mean is low
23
>>> memory = MergeMemory(capacity=3)
>>> memory.extend(kept.items)
>>> [(item.start, item.end, item.weight) for item in memory.items]
[(0.0, 20.0, 40), (20.0, 40.0, 40), (40.0, 60.0, 40)]
>>> [item.start for item in retrieve_items(memory.items, query=[0, 1, 0], k=1)]
[20.0]
"""

from vidllm.memory.base import MEMORIES, Memory
from vidllm.memory.dedup import Deduplicator, DedupResult, dedup
from vidllm.memory.items import (
    MemoryItem,
    cosine,
    frame_items,
    frame_spans,
    stack,
    unit_rows,
)
from vidllm.memory.merge import MergeMemory, TwoLevelMemory, merge_items
from vidllm.memory.retrieve import Retrieval, retrieve, retrieve_items

__all__ = [
    "MEMORIES", "DedupResult", "Deduplicator", "Memory", "MemoryItem", "MergeMemory", "Retrieval",
    "TwoLevelMemory", "cosine", "dedup", "frame_items", "frame_spans", "merge_items", "retrieve", "retrieve_items",
    "stack", "unit_rows",
]
