"""Long video through frame-reading models: every strategy stays within the planned budget.

Real footage looped into long videos (``tests.media.long_footage``), with a text card shown
once; tiny random-weight models of each transformers family count the visual tokens they
really received, which must equal what the planner predicted.
"""

from __future__ import annotations

import numpy as np
import pytest
import tiny_vlms as tiny

from tests.media import long_footage
from vidllm.models.pool import ModelPool
from vidllm.tasks.ask import ask
from vidllm.tasks.frame_selection import select_frames
from vidllm.video.spec import SamplingSpec

CARD = (700.0, 702.0)  # shown once, for two seconds, in a 20-minute video


@pytest.fixture(scope="module")
def twenty_minutes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("long-strategies")
    return long_footage(folder / "twenty.mp4", 20, size=(192, 108), fps=1, cards={CARD: "TEAL 31"})


def test_memory_keeps_the_card_shown_once_and_accounts_for_every_frame(twenty_minutes):
    selection = select_frames(twenty_minutes, "memory", 12, SamplingSpec(max_pixels=192 * 108))
    m = selection.manifest
    assert len(selection.frames) <= 12 and m["frames"] == len(selection.frames)
    assert m["scanned_frames"] == 1200
    assert sum(weight for _, _, weight in m["spans"]) == m["scanned_frames"]  # merged sizes add up
    assert any(CARD[0] <= t < CARD[1] for t in selection.frames.timestamps)
    # the chosen frame really is the card: mostly white in the middle
    i = next(i for i, t in enumerate(selection.frames.timestamps) if CARD[0] <= t < CARD[1])
    h, w = selection.frames.data.shape[1:3]
    assert selection.frames.data[i, h // 2 - 5: h // 2 + 5, w // 4: w // 3].mean() > 200
    # uniform spreading at the same count misses it
    uniform = select_frames(twenty_minutes, "uniform", 12, SamplingSpec(max_pixels=192 * 108))
    assert not any(CARD[0] <= t < CARD[1] for t in uniform.frames.timestamps)
    assert np.all(np.diff(selection.frames.timestamps) > 0)


def test_retrieve_takes_frames_where_the_timeline_answers(twenty_minutes):
    from vidllm.perceive.analyze import analyze, make_tools

    timeline = analyze(twenty_minutes, make_tools(["ocr"]), progress=False)
    selection = select_frames(twenty_minutes, "retrieve", 6, SamplingSpec(max_pixels=192 * 108),
                              question="What did the sign say?", timeline=timeline)
    assert any(CARD[0] <= t < CARD[1] + 0.5 for t in selection.frames.timestamps)
    assert any("TEAL" in r["line"] for r in selection.manifest["retrieved"])


@pytest.fixture(scope="module")
def an_hour(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hour")
    return long_footage(folder / "hour.mp4", 60, size=(160, 90), fps=1, cards={(2000.0, 2002.0): "SAGE 12"})


@pytest.mark.slow
@pytest.mark.parametrize("family", tiny.FAMILIES + tiny.HF_ONLY_FAMILIES)
@pytest.mark.parametrize("strategy", ["uniform", "memory"])
def test_predicted_visual_tokens_equal_counted_whatever_the_strategy(family, strategy, tiny_models, an_hour):
    pool = ModelPool()
    try:
        answer = ask(an_hour, "What is shown?", model=f"hf:{tiny_models(family)}",
                     model_options={"device": "cpu"}, pool=pool, max_new_tokens=2, budget=1200,
                     strategy=strategy)
    finally:
        pool.close()
    [video] = answer.manifest["videos"]
    assert answer.usage["visual_tokens"] == video["predicted_visual_tokens"] <= 1200
    if strategy == "memory":
        assert answer.manifest["frame_selection"]["strategy"] == "memory"
        assert video["timestamps"] == answer.manifest["frame_selection"]["times"][:len(video["timestamps"])]


def test_an_unknown_strategy_is_refused_before_any_work(twenty_minutes):
    from vidllm.errors import RegistryError

    with pytest.raises(RegistryError, match="did you mean memory"):
        ask(twenty_minutes, "What is shown?", model="hf:/nonexistent", strategy="memroy")


