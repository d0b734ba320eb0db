"""``speech``: espeak-ng says "the meeting starts at nine" from 2 s; Whisper hears it then."""

from __future__ import annotations

import re

import pytest
from conftest import perception_input

from vidllm.errors import MissingDependencyError, SpecError
from vidllm.perceive.tools.speech import SpeechTool

NINE = re.compile(r"\b(nine|9)\b", re.IGNORECASE)


@pytest.mark.parametrize("model", ["tiny.en", "base"])
def test_hears_nine_at_the_right_time(speech_clip, model):
    path, (spoken_from, spoken_to) = speech_clip
    tool = SpeechTool(model=model)
    try:
        tool.check_available()
    except MissingDependencyError as exc:
        if model == "tiny.en":  # the default model is part of the default install: never skip it
            raise
        pytest.skip(f"the optional multilingual model is not installed: {exc}")
    observations = tool.run(perception_input(path, tool))
    text = " ".join(o.text for o in observations)
    assert NINE.search(text), text
    assert "meeting" in text.lower()
    for o in observations:
        assert o.start < spoken_to and o.end > spoken_from, o  # overlaps the voice
        assert o.start > spoken_from - 1.5 and o.end < spoken_to + 1.5, o
    words = [w for o in observations for w in o.payload["words"]]
    nine = [w for w in words if NINE.search(w["word"])]
    assert nine and spoken_from + 1.0 < nine[0]["start"] < spoken_to + 0.3  # the last word, last
    assert observations[0].payload["language"] == "en"


def test_silent_video_gives_nothing(bikes):
    tool = SpeechTool()
    source = perception_input(bikes, tool)
    assert source.frames is None and not source.has_audio
    assert tool.run(source) == []


@pytest.mark.parametrize("options, error", [
    ({"model": "large-v3"}, "must be one of"),
    ({"model": "tiny.en", "language": "de"}, "English only"),
    ({"compute_type": "float16"}, "compute_type"),
    ({"beam_size": 0}, "beam_size"),
    ({"min_confidence": 1.5}, "min_confidence"),
])
def test_bad_options(options, error):
    with pytest.raises(SpecError, match=error):
        SpeechTool(**options)
