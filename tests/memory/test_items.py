"""MemoryItem is a checked value; the vector helpers refuse what cosine cannot compare."""

from __future__ import annotations

import numpy as np
import pytest

from vidllm.errors import SpecError
from vidllm.memory import MemoryItem, frame_items, frame_spans, stack, unit_rows

UNIT = np.array([0.6, 0.8], dtype=np.float32)


def test_item_holds_a_read_only_float32_copy():
    source = np.array([0.6, 0.8])
    item = MemoryItem(1, 2, source, weight=3, frame_indices=(4,), frame_times=(1.5,))
    source[0] = 9.0
    assert item.embedding.dtype == np.float32 and item.embedding[0] == np.float32(0.6)
    assert not item.embedding.flags.writeable
    assert (item.start, item.end, item.duration, item.weight) == (1.0, 2.0, 1.0, 3)


@pytest.mark.parametrize("fields", [
    dict(start=2.0, end=1.0),  # ends before it starts
    dict(start=float("nan")),
    dict(embedding=np.array([3.0, 4.0])),  # not normalised
    dict(embedding=np.zeros((1, 2))),  # not a vector
    dict(weight=0),
    dict(weight=1.5),
    dict(frame_indices=(0, 1), frame_times=(0.0,)),
    dict(frame_indices=(0,), frame_times=(5.0,)),  # outside the span
])
def test_item_rejects_what_it_cannot_be(fields):
    values = dict(start=0.0, end=1.0, embedding=UNIT, weight=1, frame_indices=(), frame_times=())
    with pytest.raises(SpecError):
        MemoryItem(**{**values, **fields})


def test_an_instant_is_a_valid_item():
    assert MemoryItem(2.0, 2.0, UNIT, frame_indices=(0,), frame_times=(2.0,)).duration == 0.0


def test_unit_rows_normalises_and_refuses_zero_and_nan():
    assert np.allclose(np.linalg.norm(unit_rows([[1, 2, 2], [0, 0, 5]]), axis=1), 1.0)
    for bad in ([[0.0, 0.0]], [[np.nan, 1.0]], [1.0, 2.0]):
        with pytest.raises(SpecError):
            unit_rows(bad)


def test_frame_spans_tile_the_timeline():
    assert frame_spans([1.0, 1.5, 3.0]).tolist() == [[1.0, 1.5], [1.5, 3.0], [3.0, 4.5]]
    assert frame_spans([1.0, 1.5], end=10.0).tolist() == [[1.0, 1.5], [1.5, 10.0]]
    assert frame_spans([2.0]).tolist() == [[2.0, 2.0]]
    assert frame_spans([]).shape == (0, 2)
    with pytest.raises(SpecError):
        frame_spans([1.0, 0.5])
    with pytest.raises(SpecError):
        frame_spans([1.0, 2.0], end=1.5)


def test_frame_items_and_stack_round_trip():
    items = frame_items([[1, 0], [0, 2]], [0.0, 0.5])
    assert [(i.start, i.end, i.frame_indices) for i in items] == [(0.0, 0.5, (0,)), (0.5, 1.0, (1,))]
    embeddings, spans = stack(items)
    assert embeddings.tolist() == [[1, 0], [0, 1]] and spans.tolist() == [[0.0, 0.5], [0.5, 1.0]]
    assert stack([])[1].shape == (0, 2)
