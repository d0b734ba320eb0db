"""The whole stage on real footage: a stream of frames -> dedup -> memory -> retrieval finds the needle."""

from __future__ import annotations

import pytest
from memory_footage import embed_images, haystack_with_needle, text_card

from vidllm.memory import MEMORIES, Deduplicator, retrieve_items


@pytest.mark.parametrize("strategy, settings", [("merge", dict(capacity=8)),
                                                ("two-level", dict(short_capacity=6, short_keep=2, long_capacity=6))])
@pytest.mark.parametrize("depth", [0.0, 0.5, 1.0])
def test_a_streamed_needle_is_found_again(strategy, settings, depth):
    embeddings, times, needle = haystack_with_needle(depth)
    memory = MEMORIES.get(strategy)(**settings)
    stream = Deduplicator(threshold=0.7)
    for start in range(0, len(embeddings), 5):  # frames arrive five at a time
        memory.extend(stream.push(embeddings[start:start + 5], times[start:start + 5]))
    memory.extend(stream.finish())

    assert sum(item.weight for item in memory.items) == len(embeddings)
    if strategy == "merge":  # MovieChat's short buffer, squeezed to 2 items, may merge it away
        assert (needle,) in [item.frame_indices for item in memory.items]
    # a differently worded card of another size, as a question about it would be embedded
    query = embed_images(text_card(200, 300, "A NOTE")[None])[0]
    picked = retrieve_items(memory.items, query, k=3, coverage=0.5)
    assert any(needle in item.frame_indices for item in picked)
    assert picked[0].start <= times[needle] < picked[-1].end
