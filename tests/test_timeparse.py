"""vidllm.timeparse on a table of time formats (each row a format seen in model replies, subtitles
or annotation files), with the failure reasons the metrics count apart."""

from __future__ import annotations

import pytest

from vidllm.eval.benchmarks.charades import charades_extract_time
from vidllm.timeparse import FAILURES, find_point, find_spans, read_times, to_seconds

# (reply, fps, expected spans) - one row per format
SPAN_FORMATS = [
    # seconds, with and without units
    ("12.5 - 20", None, [(12.5, 20.0)]),
    ("12.5 - 20 seconds", None, [(12.5, 20.0)]),
    ("12.5s-20s", None, [(12.5, 20.0)]),
    ("12.5s - 20s", None, [(12.5, 20.0)]),
    ("12.5 sec to 20 sec", None, [(12.5, 20.0)]),
    ("12.5 secs until 20 secs", None, [(12.5, 20.0)]),
    ("12.5 second - 20 second", None, [(12.5, 20.0)]),
    ("from 12.5 s to 20 s", None, [(12.5, 20.0)]),
    ("2.5 - 4", None, [(2.5, 4.0)]),
    ("2.5 to 4", None, [(2.5, 4.0)]),
    ("2.5–4", None, [(2.5, 4.0)]),
    ("2.5 — 4 seconds", None, [(2.5, 4.0)]),
    ("2.5 ~ 4 s", None, [(2.5, 4.0)]),
    ("2.5 → 4", None, [(2.5, 4.0)]),
    ("2.5 till 4", None, [(2.5, 4.0)]),
    ("2.5 through 4", None, [(2.5, 4.0)]),
    ("between 3 and 7 seconds", None, [(3.0, 7.0)]),
    ("Between 3s and 7s", None, [(3.0, 7.0)]),
    # brackets
    ("[12.5, 20.0]", None, [(12.5, 20.0)]),
    ("[12.5,20.0]", None, [(12.5, 20.0)]),
    ("(12.5, 20)", None, [(12.5, 20.0)]),
    ("<12.5s, 20s>", None, [(12.5, 20.0)]),
    ("{3; 7}", None, [(3.0, 7.0)]),
    # clocks
    ("from 1:02 to 1:10", None, [(62.0, 70.0)]),
    ("0:12-0:20", None, [(12.0, 20.0)]),
    ("from 0:12 to 1:05", None, [(12.0, 65.0)]),
    ("01:02:03 - 01:02:10", None, [(3723.0, 3730.0)]),
    ("00:00:03.25 to 00:00:07.75", None, [(3.25, 7.75)]),
    ("1:02.5 - 1:04.5", None, [(62.5, 64.5)]),
    ("100:00 - 100:30", None, [(6000.0, 6030.0)]),
    ("00:01:02,500 --> 00:01:05,000", None, [(62.5, 65.0)]),      # an SRT cue line
    ("from 1:02 to 70 seconds", None, [(62.0, 70.0)]),
    # other units
    ("3 to 7 minutes", None, [(180.0, 420.0)]),
    ("1.5 - 2 min", None, [(90.0, 120.0)]),
    ("1 min 30 s to 2 min", None, [(90.0, 120.0)]),
    ("1m30s to 2m", None, [(90.0, 120.0)]),
    ("1h 2m 3s - 1h 2m 10s", None, [(3723.0, 3730.0)]),
    ("0.5 h to 1 hour", None, [(1800.0, 3600.0)]),
    ("1500 ms - 3000 ms", None, [(1.5, 3.0)]),
    ("1500ms to 3s", None, [(1.5, 3.0)]),
    # frames, with a known fps
    ("frames 120-240", 24.0, [(5.0, 10.0)]),
    ("frame 120 to frame 240", 24.0, [(5.0, 10.0)]),
    ("from frame #48 to frame #96", 24.0, [(2.0, 4.0)]),
    ("120 frames - 240 frames", 30.0, [(4.0, 8.0)]),
    ("00:00:05:12 - 00:00:06:00", 24.0, [(5.5, 6.0)]),            # SMPTE timecode, last field frames
    # start / end labels
    ("Start time: 3s, end time: 7s", None, [(3.0, 7.0)]),
    ("start: 3, end: 7", None, [(3.0, 7.0)]),
    ("The event starts at 0.0 and ends at 6.9.", None, [(0.0, 6.9)]),
    ("It starts at 35.\nIt ends at 40.", None, [(35.0, 40.0)]),
    ("Beginning at 1:00 and finishing at 1:30", None, [(60.0, 90.0)]),
    ("start=4.5 end=9", None, [(4.5, 9.0)]),
    # reversed, several, noise around
    ("20 - 12 seconds", None, [(12.0, 20.0)]),
    ("from 1:10 to 1:02", None, [(62.0, 70.0)]),
    ("12s-20s and 30s-40s", None, [(12.0, 20.0), (30.0, 40.0)]),
    ("First 0 - 5 s: a man enters. Then 5.5 - 9 s: he sits. Finally 10 - 12 s.", None, [(0.0, 5.0), (5.5, 9.0), (10.0, 12.0)]),
    ("00:00:01,000 --> 00:00:02,000\nhello\n\n00:00:03,000 --> 00:00:04,500\nworld", None, [(1.0, 2.0), (3.0, 4.5)]),
    ("**Answer:** The event happens in 10.2 - 15.8 seconds of the video.", None, [(10.2, 15.8)]),
    ("He picks up the towel from 2 to 5 seconds.", None, [(2.0, 5.0)]),
    ("Tomatoes go into the pot today between 14 and 20 s.", None, [(14.0, 20.0)]),
    ("In the mp4 (v2, 3rd clip) it happens 4 - 6 s", None, [(4.0, 6.0)]),
    ("1. 0:00-0:05 a man enters\n2. 0:05-0:12 he sits", None, [(0.0, 5.0), (5.0, 12.0)]),
]


@pytest.mark.parametrize("reply, fps, spans", SPAN_FORMATS)
def test_span_formats(reply, fps, spans):
    reading = read_times(reply, fps=fps)
    assert [x for span in reading.spans for x in span] == pytest.approx([x for span in spans for x in span])
    assert reading.failure is None


def test_at_least_fifty_formats():
    assert len(SPAN_FORMATS) + len(POINT_FORMATS) >= 50


POINT_FORMATS = [
    ("12.5s", None, 12.5), ("12.5 seconds", None, 12.5), ("at 0:42", None, 42.0), ("at 00:01:02,500", None, 62.5),
    ("01:02:03.25", None, 3723.25), ("frame 120", 24.0, 5.0), ("2 min", None, 120.0), ("1h30min", None, 5400.0),
    ("1500 ms", None, 1.5), ("The highlight peaks at 13.0", None, 13.0), ("3 people are seen at 0:42", None, 42.0),
    ("around 12.5 s", None, 12.5), ("1m30s", None, 90.0),
]


@pytest.mark.parametrize("reply, fps, point", POINT_FORMATS)
def test_point_formats(reply, fps, point):
    assert find_point(reply, fps=fps) == pytest.approx(point)


@pytest.mark.parametrize("reply, fps, failure, points", [
    ("", None, "empty", ()),
    ("   ", None, "empty", ()),
    (None, None, "empty", ()),
    ("I cannot tell from the video.", None, "no_time", ()),
    ("It happens at 42 s.", None, "one_moment", (42.0,)),
    ("Around frame 120.", None, "frames_without_fps", ()),
    ("frames 120-240", None, "frames_without_fps", ()),
    ("from 1:75 to 2:00", None, "bad_clock", ()),
    ("On 2023-05-01 nothing happened", None, "one_moment", (2023.0, 5.0, 1.0)),   # a date is no range
    ("Steps 1-2-3 are shown", None, "one_moment", (1.0, 2.0, 3.0)),
    ("He has 5 and 6 apples", None, "one_moment", (5.0, 6.0)),                       # "and" needs "between"
    ("It is the 3rd clip of v2.mp4", None, "no_time", ()),
])
def test_failures_are_named(reply, fps, failure, points):
    reading = read_times(reply, fps=fps)
    assert (reading.spans, reading.failure, reading.points) == ((), failure, points)
    assert reading.reason == FAILURES[failure]


def test_reversed_spans_are_sorted_and_counted():
    reading = read_times("20 - 12 s, then 30 - 40 s, then 1:10 to 1:02")
    assert reading.spans == ((12.0, 20.0), (30.0, 40.0), (62.0, 70.0)) and reading.reversed == 2


def test_to_inside_words_never_splits():
    """lmms-eval's Charades-STA reader replaces every "to" with "-" before reading ("towel" becomes
    "-wel", "3-to-5" becomes "3---5", which it then cannot read); this reader leaves the text as it
    is and takes "to" only as a whole word between two times."""
    assert charades_extract_time("The person starts 3-to-5 s") == []               # official: "3---5"
    assert find_spans("The person starts 3-to-5 s") == [(3.0, 5.0)]
    for reply in ("towel 3 5", "3 tomatoes and 5 potatoes", "photo 3, total 5", "Toronto 3 onto 5", "into 3 5"):
        assert find_spans(reply) == [], reply
    assert find_spans("He picks up the towel from 2 to 5 seconds") == [(2.0, 5.0)]
    assert find_spans("She puts the tomato into the pot from 1:02 to 1:10") == [(62.0, 70.0)]


def test_to_seconds():
    assert to_seconds("1:05") == 65.0 and to_seconds("01:02:03.5") == 3723.5
    assert to_seconds("00:01:02,500") == 62.5 and to_seconds("12.5") == 12.5
