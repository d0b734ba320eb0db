"""``ocr``: text that is on screen only from 3 s to 5 s is found, with its span, and only there."""

from __future__ import annotations

import pytest
from conftest import SIGN_SHOWN, perception_input

from vidllm.perceive.tools.ocr import OcrTool


@pytest.fixture(scope="module")
def sign_result(sign_clip):
    tool = OcrTool()
    tool.check_available()
    return tool, tool.run(perception_input(sign_clip, tool))


def test_exit_42_with_its_span_and_nothing_elsewhere(sign_result):
    _, observations = sign_result
    with_42 = [o for o in observations if "42" in o.text]
    assert with_42, observations
    for o in with_42:
        assert o.start < SIGN_SHOWN[1] and o.end > SIGN_SHOWN[0]
        assert "EXIT" in o.payload["text"].upper()
    for o in observations:  # nothing reported away from the sign
        assert o.start >= SIGN_SHOWN[0] - 0.5 and o.end <= SIGN_SHOWN[1] + 0.5, o
    assert len(with_42) == 1  # one line, one observation: de-duplicated across frames


def test_box_is_where_the_text_was_drawn(sign_result):
    _, observations = sign_result
    x0, y0, x1, y1 = observations[0].payload["box"]
    assert 0.2 <= x0 < x1 <= 0.8 and 0.3 <= y0 < y1 <= 0.7


def test_unchanged_frames_are_not_read_again(sign_result):
    tool, _ = sign_result
    # 16 frames sampled; the blank panel and the sign each need one read, plus the edges
    assert tool.reads <= 5


def test_bisection_times_the_change_to_the_sampling(sign_clip):
    """Reading one frame in four, the appearance is still timed to half a sampling step."""
    tool = OcrTool(min_interval=2.0)
    observations = [o for o in tool.run(perception_input(sign_clip, tool)) if "42" in o.text]
    assert len(observations) == 1
    assert observations[0].start == pytest.approx(SIGN_SHOWN[0], abs=0.26)
    assert observations[0].end == pytest.approx(SIGN_SHOWN[1], abs=0.26)


def test_no_text_no_observations(disc_clip):
    tool = OcrTool()
    assert tool.run(perception_input(disc_clip, tool)) == []


def test_near_same_readings_are_one_line():
    """Readings that differ by a misread character continue the same line; a different line
    on the same frames is reported on its own."""
    import numpy as np

    tool = OcrTool()
    box = [0.3, 0.4, 0.6, 0.5]
    per_frame = [[("EXIT 42", 0.95, box)], [("EXIT 4Z", 0.7, box), ("GATE B", 0.9, box)],
                 [("EXIT 42", 0.96, box), ("GATE B", 0.9, box)], []]
    times = np.array([0.5, 1.5, 2.5, 3.5])
    observations = tool._tracks(per_frame, times, times - 0.5, times + 0.5, 640, 360)
    assert [(o.payload["text"], o.start, o.end) for o in observations] == [("EXIT 42", 0.0, 3.0), ("GATE B", 1.0, 3.0)]
    assert observations[0].payload["variants"] == ["EXIT 42", "EXIT 4Z"]
