"""Merge memories against brute force: capacity, weights, the pair merged, spans, needles."""

from __future__ import annotations

import numpy as np
import pytest
from memory_footage import haystack_with_needle

from vidllm.errors import RegistryError, SpecError
from vidllm.memory import (
    MEMORIES,
    MemoryItem,
    MergeMemory,
    TwoLevelMemory,
    frame_items,
    merge_items,
    unit_rows,
)


def brute_force_pair(items: list[MemoryItem]) -> int:
    """The adjacent pair with the highest cosine (the first of equals), by a plain loop."""
    best, best_similarity = -1, -np.inf
    for j in range(len(items) - 1):
        similarity = float(np.dot(items[j].embedding.astype(np.float64), items[j + 1].embedding.astype(np.float64)))
        if similarity > best_similarity:
            best, best_similarity = j, similarity
    return best


def assert_memory_invariants(held: tuple[MemoryItem, ...], ingested: list[MemoryItem], capacity: int):
    assert len(held) <= capacity
    assert sum(item.weight for item in held) == sum(item.weight for item in ingested)
    assert all(a.end <= b.start for a, b in zip(held, held[1:]))  # sorted, not overlapping
    assert held[0].start == ingested[0].start and held[-1].end == ingested[-1].end
    for item in ingested:  # every ingested span lies inside one held item
        assert any(h.start <= item.start and item.end <= h.end for h in held)
    assert sum((h.frame_indices for h in held), ()) == sum((i.frame_indices for i in ingested), ())
    for h in held:
        assert abs(np.linalg.norm(h.embedding) - 1.0) < 1e-5


def check_against_brute_force(items: list[MemoryItem], capacity: int):
    memory = MergeMemory(capacity)
    for count, item in enumerate(items, start=1):
        before = list(memory.items) + [item]
        merged = memory.add(item)
        if len(before) > capacity:
            expected = brute_force_pair(before)
            assert merged == expected
            pair = before[expected:expected + 2]
            assert memory.items[merged].frame_indices == pair[0].frame_indices + pair[1].frame_indices
            assert memory.items[:merged] == tuple(before[:merged])
            assert memory.items[merged + 1:] == tuple(before[merged + 2:])
        else:
            assert merged is None and memory.items == tuple(before)
        assert_memory_invariants(memory.items, items[:count], capacity)
    return memory


@pytest.mark.parametrize("capacity", [1, 2, 3, 8, 32])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_embeddings_match_brute_force(capacity, seed):
    rng = np.random.default_rng(seed)
    # runs of similar vectors, so that merged items are compared again and again
    bases = rng.normal(size=(12, 8))
    vectors = bases[np.sort(rng.integers(0, 12, size=120))] + rng.normal(size=(120, 8)) * 0.3
    check_against_brute_force(frame_items(vectors, np.cumsum(rng.uniform(0.1, 2.0, size=120))), capacity)


@pytest.mark.parametrize("capacity", [2, 6, 16])
@pytest.mark.parametrize("depth", [0.0, 0.5, 1.0])
def test_real_embeddings_match_brute_force(capacity, depth):
    embeddings, times, _ = haystack_with_needle(depth)
    check_against_brute_force(frame_items(embeddings, times), capacity)


@pytest.mark.parametrize("depth", [0.0, 0.3, 0.5, 0.8, 1.0])
def test_a_needle_survives_as_its_own_item_when_capacity_allows(depth):
    rng = np.random.default_rng(int(depth * 10))
    segments = 5
    bases = rng.normal(size=(segments, 32))
    vectors = list(np.repeat(bases, 20, axis=0) + rng.normal(size=(100, 32)) * 0.05)
    position = int(depth * 100)
    vectors.insert(position, rng.normal(size=32))
    # inside a segment the needle splits it in two: one more stretch to keep apart
    splits = 0 < position < 100 and position % 20 != 0
    capacity = segments + splits + 1
    memory = MergeMemory(capacity)
    memory.extend(frame_items(vectors, np.arange(101)))
    assert (position,) in [item.frame_indices for item in memory.items]
    # and segments were merged within, never across
    segment_of = [i // 20 for i in range(100)]
    segment_of.insert(position, -1)
    assert all(len({segment_of[i] for i in item.frame_indices}) == 1 for item in memory.items)


@pytest.mark.parametrize("depth", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("capacity", [4, 8, 16])
def test_the_real_needle_survives_in_a_small_memory(depth, capacity):
    embeddings, times, needle = haystack_with_needle(depth)
    memory = MergeMemory(capacity)
    memory.extend(frame_items(embeddings, times))
    assert (needle,) in [item.frame_indices for item in memory.items]


def test_the_most_similar_pair_merges_not_the_least():
    # MovieChat's long-memory code ranks by distance and would merge b with c here
    a, b, c = unit_rows([[1.0, 0.0, 0.0], [0.99, 0.1, 0.0], [0.0, 0.0, 1.0]])
    memory = MergeMemory(capacity=2)
    memory.extend(MemoryItem(t, t + 1, v, frame_indices=(t,), frame_times=(t,)) for t, v in enumerate([a, b, c]))
    assert [item.frame_indices for item in memory.items] == [(0, 1), (2,)]


def test_merge_averages_by_weight_and_joins_spans():
    heavy = MemoryItem(0, 3, [1.0, 0.0], weight=3, frame_indices=(0,), frame_times=(0.0,))
    light = MemoryItem(3, 4, [0.0, 1.0], weight=1, frame_indices=(9,), frame_times=(3.5,))
    merged = merge_items(heavy, light)
    assert np.allclose(merged.embedding, np.array([3.0, 1.0]) / np.sqrt(10))
    assert (merged.start, merged.end, merged.weight) == (0.0, 4.0, 4)
    assert (merged.frame_indices, merged.frame_times) == ((0, 9), (0.0, 3.5))
    # opposite directions of equal weight cancel: the earlier direction is kept
    assert merge_items(MemoryItem(0, 1, [1.0, 0.0]), MemoryItem(1, 2, [-1.0, 0.0])).embedding.tolist() == [1.0, 0.0]


def test_items_must_come_in_time_order():
    memory = MergeMemory(4)
    memory.add(MemoryItem(0, 2, [1.0, 0.0]))
    with pytest.raises(SpecError, match="time order"):
        memory.add(MemoryItem(1, 3, [1.0, 0.0]))
    with pytest.raises(SpecError):
        MergeMemory(0)


@pytest.mark.parametrize("short_capacity, short_keep, long_capacity", [(18, 2, 256), (4, 2, 5), (3, 3, 2), (5, 1, 1)])
def test_two_level_memory(short_capacity, short_keep, long_capacity):
    rng = np.random.default_rng(short_capacity)
    items = frame_items(rng.normal(size=(200, 8)), np.arange(200) * 0.5)
    memory = TwoLevelMemory(short_capacity, short_keep, long_capacity)
    for count, item in enumerate(items, start=1):
        memory.add(item)
        assert len(memory.short) < short_capacity  # a full buffer moves to long-term at once
        assert_memory_invariants(memory.items, items[:count], long_capacity + short_capacity - 1)
    flushes = 200 // short_capacity
    assert len(memory.long) == min(long_capacity, flushes * short_keep)
    with pytest.raises(SpecError):
        TwoLevelMemory(short_capacity=2, short_keep=3)


def test_the_registry_names_the_strategies():
    assert MEMORIES.get("merge") is MergeMemory and MEMORIES.get("two-level") is TwoLevelMemory
    with pytest.raises(RegistryError, match="merge"):
        MEMORIES.get("merg")
