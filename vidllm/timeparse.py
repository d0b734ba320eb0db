"""Reading times and time ranges out of free text (model replies): vidllm's robust reading.

Shared by the tasks (evidence named in a reply) and the evaluation harness (robust scoring);
each benchmark's *official* extractor lives in that benchmark's module.

``read_times`` finds every time expression (seconds with or without a unit, minutes, hours,
milliseconds, ``mm:ss``, ``hh:mm:ss.ff``, SRT's ``00:01:02,500``, SMPTE ``hh:mm:ss:ff`` and
frame numbers given an fps), pairs neighbours into ranges ("from 1:02 to 1:10", "between 3 and
7 seconds", "2.5–4", "[2.5, 4]", "start: 3 ... end: 7") and says why when it finds no range.
Separators are whole words between two times, so "towel" or "tomato" never split a number.

>>> find_spans("The event happens from 1:05 to 1:20.")
[(65.0, 80.0)]
>>> find_point("It starts at 0:42.")
42.0
>>> read_times("He picks up the towel at frame 120", fps=24.0).points
(5.0,)
>>> read_times("Around frame 120.").failure
'frames_without_fps'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

Span = tuple[float, float]

#: Why no time range was read (``TimeReading.failure``), most specific first.
FAILURES = {
    "empty": "the reply is empty",
    "frames_without_fps": "the reply names frame numbers but no frame rate was given",
    "bad_clock": "a clock time has minutes or seconds of 60 or more",
    "one_moment": "the reply names single moments, no range",
    "no_time": "the reply names no time",
}

_N = r"\d+(?:\.\d+)?"
_H = r"(?:h|hr|hrs|hours?)"
_M = r"(?:min|mins|minutes?)"
_S = r"(?:s|sec|secs|seconds?)"
_MS = r"(?:ms|msec|milliseconds?)"
_TOKEN = re.compile(
    rf"""
    (?<![\w.:])(?:
        (?P<frame>frames?\s*(?:\#|no\.?\s*|number\s*)?)(?P<fnum>\d+)                 # frame 120
      | (?P<smpte>\d{{1,2}}:\d{{2}}:\d{{2}}:\d{{1,3}})                                 # 00:00:05:12 (frames)
      | (?P<clock>\d{{1,2}}:\d{{2}}:\d{{2}}(?:[.,]\d+)?|\d{{1,3}}:\d{{2}}(?:\.\d+)?)    # 1:02, 01:02:03.25, 00:01:02,500
      | (?P<hms>(?:(?P<ch>{_N})\s*{_H}\s*)?(?:(?P<cm>{_N})\s*(?:{_M}|m)\s*)?(?P<cs>{_N})\s*{_S}
               |(?P<ch2>{_N})\s*{_H}\s*(?P<cm2>{_N})\s*(?:{_M}|m))                    # 1h 2m 3s, 1 min 30 s, 1h30min
      | (?P<num>{_N})(?:(?P<mshort>m)|\s*(?P<unit>{_MS}|{_M}|{_H}|{_S}|frames?)\b)?      # 12.5, 12.5 s, 2m, 2 min, 120 frames
    )(?![\w:])
    """,
    re.I | re.X,
)
_SEPARATOR = re.compile(
    r"\s*(?:-{1,2}>?|–|—|~|→|-to-|\bto\b|\buntil\b|\btill\b|\bthrough\b|\bthru\b|\bup to\b)\s*", re.I
)
_BETWEEN = re.compile(r"\bbetween\s*$", re.I)
_AND = re.compile(r"\s*\band\b\s*", re.I)
_OPEN, _CLOSE = re.compile(r"[\[(<{]\s*$"), re.compile(r"^\s*[\])>}]")
_COMMA = re.compile(r"\s*[,;]\s*")
_START_LABEL = re.compile(
    r"\b(?:start(?:s|ing|ed)?|begin(?:s|ning)?|began|onset)(?:\s+(?:time|timestamp|point))?"
    r"(?:\s+(?:is|was|at|of|around|about|approximately|from))*\s*[:=]?\s*(?:at\s+)?$",
    re.I,
)
_END_LABEL = re.compile(
    r"\b(?:end(?:s|ing|ed)?|finish(?:es|ing|ed)?|stops?|stopped|offset)(?:\s+(?:time|timestamp|point))?"
    r"(?:\s+(?:is|was|at|of|around|about|approximately|by))*\s*[:=]?\s*(?:at\s+)?$",
    re.I,
)
_SCALE = {"h": 3600.0, "min": 60.0, "s": 1.0, "ms": 0.001}


@dataclass(frozen=True)
class _Token:
    start: int
    end: int
    value: float | None      # seconds; None for frames without an fps
    unit: str | None         # "clock", "smpte", "h", "min", "s", "ms", "frame", or None for a bare number
    number: float            # the number as written (bare numbers and frames take a unit from their partner)
    bad: bool = False        # a clock such as 1:75


@dataclass(frozen=True)
class TimeReading:
    """What ``read_times`` found: ranges and single moments in seconds, in reading order.

    ``failure`` is None when a range was read, else a key of ``FAILURES``; ``reversed`` counts the
    ranges written end first (returned sorted).
    """

    spans: tuple[Span, ...]
    points: tuple[float, ...]
    failure: str | None
    reversed: int = 0

    @property
    def reason(self) -> str:
        return FAILURES.get(self.failure or "", "")


def to_seconds(token: str) -> float:
    """"1:05" -> 65.0, "01:02:03.5" -> 3723.5, "00:01:02,500" -> 62.5, "12.5" -> 12.5."""
    token = token.strip().replace(",", ".")
    if ":" not in token:
        return float(token)
    seconds = 0.0
    for part in token.split(":"):
        seconds = seconds * 60 + float(part)
    return seconds


def _unit_key(word: str | None) -> str | None:
    if not word:
        return None
    word = word.lower()
    if word.startswith("frame"):
        return "frame"
    if re.fullmatch(_MS, word):
        return "ms"
    if re.fullmatch(_M, word):
        return "min"
    if re.fullmatch(_H, word):
        return "h"
    return "s"


def _tokens(text: str, fps: float | None) -> list[_Token]:
    out = []
    for m in _TOKEN.finditer(text):
        g = m.groupdict()
        if g["fnum"] is not None:
            n = float(g["fnum"])
            out.append(_Token(m.start(), m.end(), n / fps if fps else None, "frame", n))
        elif g["smpte"]:
            *hms, frames = (int(x) for x in g["smpte"].split(":"))
            base = hms[0] * 3600 + hms[1] * 60 + hms[2]
            bad = hms[1] >= 60 or hms[2] >= 60
            out.append(_Token(m.start(), m.end(), base + frames / fps if fps else None, "smpte", base, bad))
        elif g["clock"]:
            parts = g["clock"].replace(",", ".").split(":")
            bad = any(float(p) >= 60 for p in parts[1:])
            out.append(_Token(m.start(), m.end(), to_seconds(g["clock"]), "clock", 0.0, bad))
        elif g["hms"]:
            h = float(g["ch"] or g["ch2"] or 0)
            mins = float(g["cm"] or g["cm2"] or 0)
            s = float(g["cs"] or 0)
            out.append(_Token(m.start(), m.end(), h * 3600 + mins * 60 + s, "s", s))
        else:
            n, unit = float(g["num"]), ("min" if g["mshort"] else _unit_key(g["unit"]))
            if unit == "frame":
                out.append(_Token(m.start(), m.end(), n / fps if fps else None, "frame", n))
            else:
                out.append(_Token(m.start(), m.end(), n * _SCALE[unit] if unit else n, unit, n))
    return out


def _is_range(text: str, a: _Token, b: _Token) -> bool:
    gap, before, after = text[a.end : b.start], text[max(0, a.start - 40) : a.start], text[b.end : b.end + 3]
    if _SEPARATOR.fullmatch(gap):
        # "2023-05-01", "1-2-3": a chain of dashes is a date or a list, not a range
        if gap.strip() in ("-", "--") and (re.match(r"\s*[-/]\s*\d", after) or re.search(r"\d\s*[-/]\s*$", before)):
            return False
        return True
    if _AND.fullmatch(gap) and _BETWEEN.search(before):
        return True
    if _COMMA.fullmatch(gap) and _OPEN.search(before) and _CLOSE.match(after):
        return True
    if len(gap) <= 80 and _START_LABEL.search(before) and _END_LABEL.search(gap):
        return True
    return False


def _pair_units(a: _Token, b: _Token, fps: float | None) -> tuple[float | None, float | None]:
    """A bare number takes its partner's unit: "3 to 7 minutes", "frames 120 to 240"."""

    def value(t: _Token, other: _Token) -> float | None:
        if t.unit is not None or other.unit in (None, "clock", "smpte", "s"):
            return t.value
        if other.unit == "frame":
            return t.number / fps if fps else None
        return t.number * _SCALE[other.unit]

    return value(a, b), value(b, a)


def read_times(text: str | None, *, fps: float | None = None) -> TimeReading:
    """Every time range and single moment in ``text``, in seconds, with a failure reason when
    no range was read. ``fps`` turns frame numbers into seconds.

    >>> read_times("between 3 and 7 seconds, then 12.5s–10s").spans
    ((3.0, 7.0), (10.0, 12.5))
    >>> r = read_times("It is at 42 s.")
    >>> r.spans, r.points, r.failure
    ((), (42.0,), 'one_moment')
    """
    if not text or not text.strip():
        return TimeReading((), (), "empty")
    fps = float(fps) if fps else None
    tokens = _tokens(text, fps)
    spans: list[Span] = []
    points: list[float] = []
    reversed_count, frames_unknown, bad = 0, False, False
    i = 0
    while i < len(tokens):
        a = tokens[i]
        b = tokens[i + 1] if i + 1 < len(tokens) else None
        if b is not None and _is_range(text, a, b):
            i += 2
            if a.bad or b.bad:
                bad = True
                continue
            x, y = _pair_units(a, b, fps)
            if x is None or y is None:
                frames_unknown = True
                continue
            reversed_count += y < x
            spans.append((min(x, y), max(x, y)))
            continue
        i += 1
        if a.bad:
            bad = True
        elif a.value is None:
            frames_unknown = True
        else:
            points.append(a.value)
    if spans:
        failure = None
    elif frames_unknown:
        failure = "frames_without_fps"
    elif bad:
        failure = "bad_clock"
    elif points:
        failure = "one_moment"
    else:
        failure = "no_time"
    return TimeReading(tuple(spans), tuple(points), failure, reversed_count)


def find_spans(text: str | None, *, fps: float | None = None) -> list[Span]:
    """Every time range in ``text`` in reading order, each as (start, end) with start <= end.

    Understands "12.5 - 20 seconds", "12.5s-20s", "from 0:12 to 1:05", "between 3 and 7",
    "[12.5, 20.0]", "start time: 3 s ... end time: 7 s" and the other forms of ``read_times``.
    """
    return list(read_times(text, fps=fps).spans)


def find_point(text: str | None, *, fps: float | None = None) -> float | None:
    """The first moment named in ``text`` ("at 1:05", "12.5 seconds"), in seconds; a time with a
    unit or a clock is preferred to a bare number ("3 people at 0:42" -> 42.0)."""
    if not text:
        return None
    tokens = [t for t in _tokens(text, float(fps) if fps else None) if t.value is not None and not t.bad]
    marked = [t for t in tokens if t.unit is not None]
    chosen = (marked or tokens)[:1]
    return chosen[0].value if chosen else None
