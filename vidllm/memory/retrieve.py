"""Query-aware retrieval: the ``k`` memory items to show a model for one question.

Relevance alone would put every pick where the question points and leave the rest of the video
unseen; coverage alone would miss the moment asked about. So ``k`` is shared, as the timeline
shares its text budget: ``k - round(coverage * k)`` picks (at least one, so the most relevant
item is always picked) go to the items most similar to the query; the others cover the video.
For coverage the video is cut into ``k`` equal stretches of time (an item lies in the stretch
that holds its midpoint); the coverage picks go to stretches that hold no pick yet, spread
evenly over them, each taking its most relevant item. Slots left over go to relevance again.
With ``coverage=1`` every stretch that holds an item gets a pick.

Ties are broken by time, then position, so the same input always gives the same picks. The
picks come back in time order with their cosine relevance.

>>> import numpy as np
>>> embeddings = np.eye(4, dtype=np.float32)
>>> spans = [[0, 10], [10, 20], [20, 30], [30, 40]]
>>> picked = retrieve(embeddings, spans, query=[0, 0, 1, 0], k=2, coverage=0.5)
>>> picked.indices.tolist(), picked.scores.tolist()  # item 2 answers, item 0 covers the first half
([0, 2], [0.0, 1.0])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vidllm.errors import SpecError
from vidllm.memory.items import MemoryItem, stack, unit_rows, whole_number

DEFAULT_COVERAGE = 0.25  # the timeline gives a quarter of its budget to coverage too


@dataclass(frozen=True, eq=False)
class Retrieval:
    """``indices`` of the items picked, in time order, and their ``scores`` (cosine to the query)."""

    indices: np.ndarray
    scores: np.ndarray


def retrieve(embeddings, spans, query, k: int, *, coverage: float = DEFAULT_COVERAGE) -> Retrieval:
    """Pick ``k`` of the items (embeddings (n, d), spans (n, 2) in seconds) for ``query`` (d,).

    ``coverage`` in [0, 1] is the share of ``k`` spent on spreading picks over time; with
    ``k >= n`` every item is picked.
    """
    k = whole_number(k, "k (items to pick)", 0)
    if not 0.0 <= coverage <= 1.0:
        raise SpecError(f"coverage is a share of k in [0, 1], got {coverage!r}")
    spans = np.asarray(spans, dtype=np.float64).reshape(-1, 2)
    embeddings = np.asarray(embeddings, dtype=np.float32)
    if len(spans) != len(embeddings):
        raise SpecError(f"{len(spans)} spans for {len(embeddings)} embeddings")
    if len(spans) == 0 or k == 0:
        return Retrieval(np.zeros(0, np.int64), np.zeros(0, np.float32))
    query_vector = unit_rows(np.asarray(query, dtype=np.float64).reshape(1, -1))[0]
    if query_vector.shape[0] != embeddings.shape[1]:
        raise SpecError(f"a query of {query_vector.shape[0]} dimensions for items of {embeddings.shape[1]}")
    relevance = unit_rows(embeddings) @ query_vector
    starts = spans[:, 0]
    positions = np.arange(len(spans))
    ranking = np.lexsort((positions, starts, -relevance)).tolist()  # most relevant, then earliest

    chosen = ranking[:max(1, k - int(coverage * k + 0.5))]
    free = k - len(chosen)
    if free > 0:
        stretch_of = _stretch_of(spans, k).tolist()
        best_in_stretch: dict[int, int] = {}
        for i in ranking:  # the first item met in a stretch is its most relevant
            best_in_stretch.setdefault(stretch_of[i], i)
        covered = {stretch_of[i] for i in chosen}
        uncovered = sorted(set(best_in_stretch) - covered)
        taken = min(free, len(uncovered))
        # spread the picks evenly over the uncovered stretches, centred (one pick: the middle one)
        chosen += [best_in_stretch[uncovered[int((j + 0.5) * len(uncovered) / taken)]] for j in range(taken)]
    picked = set(chosen)
    chosen += [i for i in ranking if i not in picked][:k - len(chosen)]  # leftovers: relevance
    in_time_order = np.array(sorted(chosen, key=lambda i: (starts[i], i)), dtype=np.int64)
    return Retrieval(in_time_order, relevance[in_time_order])


def _stretch_of(spans: np.ndarray, stretches: int) -> np.ndarray:
    """For each item, which of ``stretches`` equal stretches of the whole video holds its midpoint."""
    first, last = spans[:, 0].min(), spans[:, 1].max()
    if last <= first:
        return np.zeros(len(spans), dtype=np.int64)
    midpoints = spans.mean(axis=1)
    return np.minimum(((midpoints - first) / (last - first) * stretches).astype(np.int64), stretches - 1)


def retrieve_items(items: Sequence[MemoryItem], query, k: int, *,
                   coverage: float = DEFAULT_COVERAGE) -> list[MemoryItem]:
    """``retrieve`` over memory items: the picked items, in time order."""
    embeddings, spans = stack(items)
    picked = retrieve(embeddings, spans, query, k, coverage=coverage)
    return [items[i] for i in picked.indices]
