"""Dedup: the rule as written down, streaming equal to one-shot, needles kept, repeats collapsed."""

from __future__ import annotations

import numpy as np
import pytest
from memory_footage import bikes, haystack_with_needle

from vidllm.errors import SpecError
from vidllm.memory import Deduplicator, DedupResult, dedup, unit_rows
from vidllm.memory.dedup import DEFAULT_THRESHOLD


def scenes(rng: np.random.Generator, n: int, dimensions: int = 16, noise: float = 0.15) -> np.ndarray:
    """Unit rows in runs ("shots") of 1-20 noisy copies of a random direction, some drifting."""
    rows = []
    while len(rows) < n:
        base = rng.normal(size=dimensions)
        drift = rng.normal(size=dimensions) * rng.choice([0.0, 0.1])
        for step in range(rng.integers(1, 21)):
            rows.append(base + step * drift + rng.normal(size=dimensions) * noise)
    return unit_rows(np.array(rows[:n]))


def dedup_by_definition(vectors: np.ndarray, threshold: float, window: int) -> tuple[list[int], list[int]]:
    """The rule of vidllm.memory.dedup spelt out frame by frame, with whole-array access."""
    vectors = vectors.astype(np.float64)
    before, after = window // 2, window - 1 - window // 2
    kept: list[int] = []
    represented_by: list[int] = []
    for i in range(len(vectors)):
        if i == 0:
            keep = True
        else:
            others = [j for j in range(max(0, i - before), min(len(vectors), i + after + 1)) if j != i]
            mean = sum(vectors[i] @ vectors[j] for j in others) / len(others)
            keep = (vectors[i] @ vectors[i - 1] < threshold or vectors[i] @ vectors[kept[-1]] < threshold
                    or mean < threshold)
        if keep:
            kept.append(i)
        represented_by.append(kept[-1])
    return kept, represented_by


@pytest.mark.parametrize("window", [2, 3, 4, 16, 33])
@pytest.mark.parametrize("threshold", [0.5, 0.83, 0.95])
def test_rule_matches_its_definition(window, threshold):
    rng = np.random.default_rng(window * 100 + int(threshold * 100))
    vectors = scenes(rng, 150)
    result = dedup(vectors, np.arange(150) * 0.5, threshold=threshold, window=window)
    kept, represented_by = dedup_by_definition(vectors, threshold, window)
    assert result.kept.tolist() == kept
    assert result.represented_by.tolist() == represented_by


def assert_same_result(a, b):
    assert a.kept.tolist() == b.kept.tolist()
    assert a.represented_by.tolist() == b.represented_by.tolist()
    assert len(a.items) == len(b.items)
    for x, y in zip(a.items, b.items):
        assert (x.start, x.end, x.weight, x.frame_indices, x.frame_times) == \
               (y.start, y.end, y.weight, y.frame_indices, y.frame_times)
        assert np.array_equal(x.embedding, y.embedding)


@pytest.mark.parametrize("chunk", [1, 2, 7, 15, 16, 17, 1000, "random"])
def test_streaming_gives_the_one_shot_result(chunk):
    rng = np.random.default_rng(7)
    vectors = scenes(rng, 300)
    times = np.cumsum(rng.uniform(0.2, 1.0, size=300))
    whole = dedup(vectors, times, end=times[-1] + 2.0)

    stream = Deduplicator()
    items, start = [], 0
    while start < len(vectors):
        size = int(rng.integers(1, 40)) if chunk == "random" else chunk
        items += stream.push(vectors[start:start + size], times[start:start + size])
        assert stream.held_frames < stream.window  # bounded state: one window, however long
        start += size
    items += stream.finish(end=times[-1] + 2.0)
    assert_same_result(DedupResult(stream.kept, stream.represented_by, tuple(items)), whole)


@pytest.mark.parametrize("chunk", [1, 3, 8])
def test_streaming_real_footage_gives_the_one_shot_result(chunk):
    embeddings, times, _ = haystack_with_needle(0.5)
    whole = dedup(embeddings, times, threshold=0.7)
    stream = Deduplicator(threshold=0.7)
    items = []
    for start in range(0, len(embeddings), chunk):
        items += stream.push(embeddings[start:start + chunk], times[start:start + chunk])
    items += stream.finish()
    assert_same_result(DedupResult(stream.kept, stream.represented_by, tuple(items)), whole)
    assert len(whole.kept) < len(embeddings) / 2


def test_items_tile_the_video_and_weights_count_every_frame():
    rng = np.random.default_rng(3)
    vectors = scenes(rng, 200)
    times = np.arange(200) * 0.5
    result = dedup(vectors, times, end=100.0)
    assert sum(item.weight for item in result.items) == 200
    assert result.items[0].start == 0.0 and result.items[-1].end == 100.0
    assert all(a.end == b.start for a, b in zip(result.items, result.items[1:]))
    # each kept frame stands for the contiguous run up to the next kept frame
    assert [item.frame_indices[0] for item in result.items] == result.kept.tolist()
    assert np.array_equal(np.unique(result.represented_by), result.kept)
    assert np.all(np.diff(result.represented_by) >= 0)
    # and every frame it stands for is at least threshold-similar to it
    similarity = np.einsum("ij,ij->i", vectors, vectors[result.represented_by])
    assert np.all(similarity >= DEFAULT_THRESHOLD - 1e-6)


@pytest.mark.parametrize("window", [2, 3, 5, 16, 64])
@pytest.mark.parametrize("position", [0, 1, 50, 98, 99])
def test_a_one_frame_needle_survives_any_window(window, position):
    rng = np.random.default_rng(position)
    scene = unit_rows(np.ones((1, 16)) + rng.normal(size=(100, 16)) * 0.01)  # one static shot
    needle = unit_rows(rng.normal(size=(1, 16)))
    vectors = np.insert(scene, position, needle[0], axis=0)
    result = dedup(vectors, np.arange(101), window=window)
    assert position in result.kept
    if position < 100:  # the frame after it, where the shot comes back, is kept too
        assert position + 1 in result.kept
    # the rest of the shot collapses; in a window of under 7 frames a needle alone pulls the
    # mean similarity below 0.83, so the frames whose window holds it stay too
    assert len(result.kept) <= (3 if window >= 7 else 3 + window)


def test_every_frame_unlike_the_one_before_is_kept():
    rng = np.random.default_rng(11)
    for window in (2, 4, 16):
        vectors = scenes(rng, 200, noise=0.4)
        result = dedup(vectors, np.arange(200), window=window)
        unlike_previous = np.flatnonzero(np.einsum("ij,ij->i", vectors[1:], vectors[:-1]) < DEFAULT_THRESHOLD) + 1
        assert set(unlike_previous) <= set(result.kept.tolist())


def test_a_repeated_real_frame_collapses_to_one_item():
    _, _, embeddings = bikes()
    result = dedup(np.repeat(embeddings[5:6], 30, axis=0), np.arange(30) * 0.5)
    assert result.kept.tolist() == [0]
    assert [(i.start, i.end, i.weight) for i in result.items] == [(0.0, 15.0, 30)]


@pytest.mark.parametrize("depth", [0.0, 0.25, 0.5, 0.75, 1.0])
@pytest.mark.parametrize("threshold", [0.6, 0.7, DEFAULT_THRESHOLD])
def test_real_needle_survives_dedup_at_every_depth(depth, threshold):
    embeddings, times, needle = haystack_with_needle(depth)
    neighbours = [j for j in (needle - 1, needle + 1) if 0 <= j < len(embeddings)]
    assert all(embeddings[needle] @ embeddings[j] < threshold for j in neighbours)  # it is a needle
    result = dedup(embeddings, times, threshold=threshold)
    assert needle in result.kept
    needle_item = result.items[result.kept.tolist().index(needle)]
    assert needle_item.frame_indices == (needle,)
    if threshold <= 0.7:  # with these simple embeddings the street footage itself shrinks a lot
        assert len(result.kept) < 0.5 * len(embeddings)


def test_empty_input_and_a_single_frame():
    empty = dedup(np.zeros((0, 4)), [])
    assert empty.kept.size == 0 and empty.items == ()
    single = dedup([[0.0, 1.0]], [3.0])
    assert single.kept.tolist() == [0] and [(i.start, i.end) for i in single.items] == [(3.0, 3.0)]


@pytest.mark.parametrize("settings", [dict(window=1), dict(window=2.5), dict(window=True),
                                      dict(threshold=1.5), dict(threshold=-2)])
def test_bad_settings(settings):
    with pytest.raises(SpecError):
        Deduplicator(**settings)


def test_bad_pushes():
    stream = Deduplicator()
    stream.push([[1.0, 0.0]], [1.0])
    with pytest.raises(SpecError, match="decrease"):
        stream.push([[1.0, 0.0]], [0.5])
    with pytest.raises(SpecError, match="dimensions"):
        stream.push([[1.0, 0.0, 0.0]], [2.0])
    with pytest.raises(SpecError, match="times for"):
        stream.push([[1.0, 0.0]], [2.0, 3.0])
    stream.finish()
    with pytest.raises(SpecError, match="finished"):
        stream.push([[1.0, 0.0]], [4.0])
