"""Retrieval: the best item always, the whole video when asked, the same picks every time."""

from __future__ import annotations

import numpy as np
import pytest

from vidllm.errors import SpecError
from vidllm.memory import retrieve
from vidllm.memory.retrieve import _stretch_of


def uniform_spans(n: int, length: float = 2.0) -> np.ndarray:
    starts = np.arange(n) * length
    return np.stack([starts, starts + length], axis=1)


@pytest.mark.parametrize("coverage", [0.0, 0.25, 0.5, 1.0])
@pytest.mark.parametrize("k", [1, 2, 5, 13])
def test_the_most_relevant_item_is_always_picked(k, coverage):
    rng = np.random.default_rng(k)
    for _ in range(20):
        embeddings = rng.normal(size=(40, 6)).astype(np.float32)
        query = rng.normal(size=6)
        picked = retrieve(embeddings, uniform_spans(40), query, k, coverage=coverage)
        relevance = embeddings @ query / np.linalg.norm(embeddings, axis=1) / np.linalg.norm(query)
        assert int(np.argmax(relevance)) in picked.indices
        assert len(picked.indices) == k and len(set(picked.indices.tolist())) == k
        assert np.all(np.diff(picked.indices) > 0)  # time order (spans are in order here)
        assert np.allclose(picked.scores, relevance[picked.indices], atol=1e-5)


def test_without_coverage_the_k_most_relevant():
    rng = np.random.default_rng(1)
    embeddings = rng.normal(size=(30, 5))
    query = rng.normal(size=5)
    picked = retrieve(embeddings, uniform_spans(30), query, 6, coverage=0.0)
    relevance = (embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)) @ query
    assert set(picked.indices.tolist()) == set(np.argsort(-relevance)[:6].tolist())


def test_coverage_spreads_picks_over_the_whole_video():
    # the query matches the first tenth of the video only
    n = 100
    embeddings = np.tile([0.0, 1.0], (n, 1))
    embeddings[:10] = [1.0, 0.2]
    spans = uniform_spans(n)
    relevance_only = retrieve(embeddings, spans, [1.0, 0.0], 8, coverage=0.0)
    assert relevance_only.indices.max() < 10

    picked = retrieve(embeddings, spans, [1.0, 0.0], 8, coverage=1.0)
    stretches = set(_stretch_of(spans, 8)[picked.indices].tolist())
    assert stretches == set(range(8))  # every eighth of the video holds a pick

    half = retrieve(embeddings, spans, [1.0, 0.0], 8, coverage=0.5)
    assert (half.indices < 10).sum() >= 4  # the relevance share stays where the answer is
    assert half.indices.max() >= 75 and np.any((half.indices >= 25) & (half.indices < 75))


def test_ties_are_broken_by_time_and_are_deterministic():
    embeddings = np.ones((12, 3))
    spans = uniform_spans(12)
    order = np.random.default_rng(0).permutation(12)  # the same items, listed out of order
    first = retrieve(embeddings, spans, [1, 1, 1], 3, coverage=0.0)
    assert first.indices.tolist() == [0, 1, 2]
    shuffled = retrieve(embeddings[order], spans[order], [1, 1, 1], 3, coverage=0.0)
    assert sorted(order[shuffled.indices].tolist()) == [0, 1, 2]
    assert order[shuffled.indices].tolist() == [0, 1, 2]  # returned in time order
    again = [retrieve(embeddings, spans, [1, 1, 1], 5, coverage=0.6).indices.tolist() for _ in range(3)]
    assert again[0] == again[1] == again[2]


def test_k_at_least_the_number_of_items_returns_them_all_in_time_order():
    spans = uniform_spans(4)[[2, 0, 3, 1]]
    picked = retrieve(np.eye(4), spans, [1, 0, 0, 0], 10, coverage=0.5)
    assert picked.indices.tolist() == [1, 3, 0, 2]
    assert picked.scores.tolist() == [0.0, 0.0, 1.0, 0.0]


def test_nothing_to_pick():
    assert retrieve(np.zeros((0, 4)), np.zeros((0, 2)), [1, 0, 0, 0], 3).indices.size == 0
    assert retrieve(np.zeros((0, 0)), [], [1.0], 3).indices.size == 0
    assert retrieve(np.eye(3), uniform_spans(3), [1, 0, 0], 0).indices.size == 0


def test_all_items_at_one_instant():
    picked = retrieve(np.eye(3), [[5, 5]] * 3, [0, 0, 1], 2, coverage=1.0)
    assert 2 in picked.indices and len(picked.indices) == 2


@pytest.mark.parametrize("arguments", [
    dict(k=-1), dict(k=1.5), dict(coverage=1.5), dict(query=[1.0, 0.0]), dict(query=[0.0, 0.0, 0.0]),
    dict(spans=[[0, 1]]),
])
def test_bad_arguments(arguments):
    values = dict(embeddings=np.eye(3), spans=uniform_spans(3), query=[1.0, 0.0, 0.0], k=2)
    values.update(arguments)
    with pytest.raises(SpecError):
        retrieve(values.pop("embeddings"), values.pop("spans"), values.pop("query"), values.pop("k"), **values)
