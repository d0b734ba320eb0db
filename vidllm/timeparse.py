"""Reading times and time ranges out of free text (model replies): vidllm's robust reading.

Shared by the tasks (evidence named in a reply) and the evaluation harness (robust scoring);
each benchmark's *official* extractor lives in that benchmark's module.

>>> find_spans("The event happens from 1:05 to 1:20.")
[(65.0, 80.0)]
>>> find_point("It starts at 0:42.")
42.0
"""

from __future__ import annotations

import re

_CLOCK = r"\d{1,2}:\d{2}(?::\d{2})?(?:\.\d+)?"
_NUM = r"\d+(?:\.\d+)?"
_TIME = rf"(?:{_CLOCK}|{_NUM})"
_UNIT = r"\s*(?:s\b|sec\b|secs\b|seconds?\b)?"
_RANGE_PATTERNS = (
    # [12.5, 20] or (0:12, 1:05)
    re.compile(rf"[\[(]\s*({_TIME}){_UNIT}\s*,\s*({_TIME}){_UNIT}\s*[\])]"),
    # from 12 to 20 / between 12 and 20 / 12 - 20 / 12s–20s / 12 to 20
    re.compile(rf"(?:from|between)?\s*({_TIME}){_UNIT}\s*(?:-|–|—|to|until|till|and)\s*({_TIME}){_UNIT}", re.I),
)
_START_END = re.compile(
    rf"start(?:s|ing)?(?:\s+time)?(?:\s+(?:is|at|of))?\s*[:=]?\s*({_TIME}).{{0,80}}?end(?:s|ing)?(?:\s+time)?(?:\s+(?:is|at|of))?\s*[:=]?\s*({_TIME})",
    re.I | re.S,
)


def to_seconds(token: str) -> float:
    """"1:05" -> 65.0, "01:02:03.5" -> 3723.5, "12.5" -> 12.5."""
    token = token.strip()
    if ":" not in token:
        return float(token)
    seconds = 0.0
    for part in token.split(":"):
        seconds = seconds * 60 + float(part)
    return seconds


def find_spans(text: str) -> list[tuple[float, float]]:
    """Every time range in ``text`` in reading order, each as (start, end) with start <= end.

    Understands "12.5 - 20 seconds", "12.5s-20s", "from 0:12 to 1:05", "between 3 and 7",
    "[12.5, 20.0]" and "start time: 3 s ... end time: 7 s".
    """
    found: list[tuple[int, float, float]] = []
    taken: list[tuple[int, int]] = []
    for pattern in (*_RANGE_PATTERNS, _START_END):
        for m in pattern.finditer(text):
            if any(m.start() < e and s < m.end() for s, e in taken):
                continue
            if pattern is not _START_END and _looks_like_date_or_list(text, m):
                continue
            a, b = to_seconds(m.group(1)), to_seconds(m.group(2))
            found.append((m.start(), min(a, b), max(a, b)))
            taken.append((m.start(), m.end()))
    return [(a, b) for _, a, b in sorted(found)]


def _looks_like_date_or_list(text: str, m: re.Match) -> bool:
    """Skip "2023-05-01", "1-2-3" chains and "5 and 6 people"-style number lists without units."""
    after = text[m.end() : m.end() + 2]
    if after[:1] in ("-", "/") and after[1:2].isdigit():
        return True
    if re.search(r"\band\b", m.group(0), re.I) and not re.search(r"between|second|\bs\b|:", m.group(0), re.I):
        return True
    return False


def find_point(text: str) -> float | None:
    """The first moment named in ``text`` ("at 1:05", "12.5 seconds"), in seconds."""
    m = re.search(rf"(?<![\w.])({_CLOCK}|{_NUM})(?![\w:])", text)
    return to_seconds(m.group(1)) if m else None


# --------------------------------------------------------------------------------------------
# official: E.T. Bench (PolyU-ChenLab/ETBench, evaluation/compute_metrics.py on the HF dataset)
