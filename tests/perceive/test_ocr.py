"""``ocr``: text that is on screen only from 3 s to 5 s is found, with its span, and only there."""

from __future__ import annotations

import pytest
from conftest import SIGN_SHOWN, perception_input

from vidllm.perceive.tools.ocr import OcrTool, english_spacing


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


# -- English readings: words and numbers run together, O read as 0, counters -------------------


def _cards_clip(path, cards: list[str], seconds: float = 2.0, size=(640, 360)) -> str:
    """One sign after another, each ``seconds`` long (text drawn by ``media.render_sign``)."""
    import media

    from vidllm.video.synthetic import make_clip

    images = [media.render_sign(text, size) for text in cards]

    def draw(i, t, w, h):
        return images[min(int(t // seconds), len(images) - 1)].copy()

    return make_clip(path, nframes=int(len(cards) * seconds * 10), fps=10, size=size, draw=draw, draw_index=False)


@pytest.fixture(scope="module")
def run_together_clip(media_dir):
    # measured: at this size PP-OCRv4 reads both signs with the space lost ("ROOM305", "MP3PLAYER")
    return _cards_clip(media_dir / "run_together.mp4", ["ROOM 305", "MP3 PLAYER"])


def test_words_and_numbers_run_together_are_parted(run_together_clip):
    tool = OcrTool()
    texts = [o.payload["text"] for o in tool.run(perception_input(run_together_clip, tool))]
    assert texts == ["ROOM 305", "MP3 PLAYER"]


def test_english_repair_can_be_turned_off(run_together_clip):
    tool = OcrTool(english=False)
    texts = [o.payload["text"] for o in tool.run(perception_input(run_together_clip, tool))]
    assert len(texts) == 2 and [t.replace(" ", "") for t in texts] == ["ROOM305", "MP3PLAYER"]
    assert OcrTool().manifest()["settings"]["english"] is True
    assert OcrTool(english=False).manifest() != OcrTool().manifest()  # stored apart


@pytest.mark.parametrize("read, meant", [
    ("ROOM305", "ROOM 305"), ("OPEN24HOURS", "OPEN 24 HOURS"), ("SALE 50%OFF", "SALE 50% OFF"),
    ("SALE50% OFF", "SALE 50% OFF"), ("R00M 305", "ROOM 305"), ("PLATF0RM9", "PLATFORM 9"),
    ("SALE 50% 0FF", "SALE 50% OFF"), ("Room305", "Room 305"), ("t0day", "today"),
    # left alone: codes, units, ordinals, times, numbers
    ("MP3", "MP3"), ("GATE B7", "GATE B7"), ("10AM", "10AM"), ("2nd", "2nd"), ("A4 PAPER", "A4 PAPER"),
    ("H2O", "H2O"), ("12:05", "12:05"), ("1080", "1080"), ("3.5km", "3.5km"), ("EXIT 42", "EXIT 42"),
    ("Welcome to the city", "Welcome to the city"), ("24/7", "24/7"), ("2024-01-05", "2024-01-05"),
])
def test_english_spacing(read, meant):
    assert english_spacing(read) == meant


@pytest.fixture(scope="module")
def counter_clip(media_dir):
    return _cards_clip(media_dir / "counter.mp4", ["", "COUNT 1", "COUNT 2", "COUNT 3", ""], seconds=1.5)


def test_a_counter_is_three_lines_not_one_misread(counter_clip):
    """"COUNT 1" and "COUNT 2" look alike (similarity 0.86) but differ in their number: each
    value is its own line, timed to when it was shown."""
    tool = OcrTool()
    observations = tool.run(perception_input(counter_clip, tool))
    assert [o.payload["text"] for o in observations] == ["COUNT 1", "COUNT 2", "COUNT 3"]
    for k, o in enumerate(observations, start=1):
        assert o.start == pytest.approx(1.5 * k, abs=0.3) and o.end == pytest.approx(1.5 * (k + 1), abs=0.3)


def test_numbers_that_change_end_a_line_but_a_misread_digit_does_not():
    import numpy as np

    tool = OcrTool()
    box = [0.3, 0.4, 0.6, 0.5]
    per_frame = [[("COUNT 9", 0.95, box), ("12:05", 0.9, box)], [("COUNT 10", 0.95, box), ("12:06", 0.9, box)],
                 [("COUNT 1O", 0.6, box), ("12:06", 0.9, box)]]
    times = np.array([0.5, 1.5, 2.5])
    observations = tool._tracks(per_frame, times, times - 0.5, times + 0.5, 640, 360)
    assert sorted((o.payload["text"], o.start, o.end) for o in observations) == [
        ("12:05", 0.0, 1.0), ("12:06", 1.0, 3.0), ("COUNT 10", 1.0, 3.0), ("COUNT 9", 0.0, 1.0)]
