"""The memory interface and the registry of memory strategies.

A memory takes ``MemoryItem``s in time order (``add``) and holds a bounded, time-ordered list
of items (``items``) that stands for everything added so far. Strategies register by name
so that a command-line option can choose one; entries are lazy, like every registry.

>>> sorted(MEMORIES.names())
['merge', 'two-level']
>>> memory = MEMORIES.get("merge")(capacity=4)
>>> len(memory)
0
"""

from __future__ import annotations

from vidllm.memory.items import MemoryItem
from vidllm.registry import Registry


class Memory:
    """Holds at most a fixed number of items standing for all items added, in time order."""

    def add(self, item: MemoryItem) -> None:
        raise NotImplementedError

    @property
    def items(self) -> tuple[MemoryItem, ...]:
        raise NotImplementedError

    def extend(self, items) -> None:
        for item in items:
            self.add(item)

    def __len__(self) -> int:
        return len(self.items)


MEMORIES: Registry[Memory] = Registry("memory strategy", Memory)
MEMORIES.register("merge", "vidllm.memory.merge:MergeMemory")
MEMORIES.register("two-level", "vidllm.memory.merge:TwoLevelMemory")
