"""vidllm's one ``robust`` reading of a reply, and the generic readers it is made of.

Each benchmark's ``official`` reading (quirks included) lives in that benchmark's module
(``vidllm.eval.benchmarks.<name>``). The robust reading is the same for every benchmark: it
reads the reply the way a careful person would. It drops think blocks, prefers an explicit final
answer, and understands letters ("(B)", "B.", "Answer: B", "Best answer: D"), option text, times
in seconds or mm:ss, ranges, counts, yes/no and ratings.

>>> from vidllm.eval.types import EvalSample
>>> s = EvalSample(doc_id="d", benchmark="demo", task="t", video="v.mp4", video_path="", question="?",
...                options=("w", "x", "y", "z"), target="D", kind="choice", prompt="?")
>>> robust(s, "Best answer: D").value
'D'
>>> read_count("They did it three times"), read_yes_no("Not sure")
(3, None)
"""

from __future__ import annotations

import re

from vidllm.choices import clean_reply, read_letter  # noqa: F401  (the one letter reader, re-exported)
from vidllm.eval.types import EvalSample, Parsed
from vidllm.timeparse import find_point, find_spans

#: The keywords TimeChat's time extractor looks for in a sentence; the scorers of E.T. Bench and
#: of Charades-STA (lmms-eval) copy it, so both official readings share it.
TIMECHAT_KEYWORDS = ("starts", "ends", "happens in", "start time", "end time", "start", "end", "happen")

_NUMBER_WORDS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
}


def read_yes_no(text: str) -> str | None:
    t = clean_reply(text).lower()
    m = re.search(r"\b(yes|no)\b|^\s*([yn])\s*[.!]?\s*$", t)
    if not m:
        return None
    word = m.group(1) or m.group(2)
    if word == "no" and re.match(r"\s+(?:idea|way to tell|information)", t[m.end() :]):
        return None
    return "Yes" if word.startswith("y") else "No"


def read_count(text: str) -> int | None:
    t = clean_reply(text).lower()
    m = re.search(r"(?<![\w.])(\d+)(?![\w.]|\.\d)", t)
    words = re.search(r"\b(" + "|".join(_NUMBER_WORDS) + r")\b", t)
    if m and (not words or m.start() < words.start()):
        return int(m.group(1))
    return _NUMBER_WORDS[words.group(1)] if words else None


def read_rating(text: str, scale: tuple[int, int] = (1, 5)) -> float | None:
    """A score on ``scale``: "4/5", "Score: 4", "video: 4, because ...", "I'd give it a 3"."""
    t = clean_reply(text)
    low, high = scale
    for pattern in (
        r"(\d+(?:\.\d+)?)\s*/\s*\d+",
        r"(?:score|rating|rate|video)\w*\s*(?:is|of|:|=)?\s*(\d+(?:\.\d+)?)",
        r"(?<![\w.:])(\d+(?:\.\d+)?)(?![\w.:])",
    ):
        for m in re.finditer(pattern, t, re.I):
            value = float(m.group(1))
            if low <= value <= high:
                return value
    return None


def read_captions(text: str) -> tuple[tuple[tuple[float, float], str], ...] | None:
    """Dense captions: one (span, caption) per line or sentence that names a time range."""
    out = []
    for line in re.split(r"\n+|(?<=\.)\s+(?=\d)", clean_reply(text)):
        spans = find_spans(line)
        if not spans:
            continue
        caption = re.sub(r"[\[(]?\s*\d[\d:.\s]*\w*\s*(?:-|–|to|,)\s*\d[\d:.]*\s*(?:s\b|sec\w*)?\s*[\])]?[:,]?", " ", line)
        caption = " ".join(caption.replace("seconds", " ").split()).strip(" ,.:-")
        out.append((spans[0], caption))
    return tuple(out) or None


def robust(sample: EvalSample, text: str) -> Parsed:
    """vidllm's one robust parser: reads ``text`` as ``sample.kind`` asks."""
    kind = sample.kind
    if kind == "choice":
        letter = read_letter(text, sample.options)
        return Parsed(letter, note="" if letter else "no single option chosen")
    if kind == "yesno":
        return Parsed(read_yes_no(text))
    if kind == "count":
        return Parsed(read_count(text))
    if kind in ("span", "spans"):
        cleaned = clean_reply(text)
        spans = find_spans(cleaned) or find_spans(text or "")
        spans = [s for s in spans if s[1] >= 0 and s[0] >= 0]
        if kind == "span":
            return Parsed(spans[0] if spans else None)
        return Parsed(tuple(spans) if spans else None)
    if kind == "point":
        return Parsed(find_point(clean_reply(text)))
    if kind == "rating":
        scale = tuple(sample.extra.get("scale", (1, 5)))
        return Parsed(read_rating(text, scale))
    if kind == "choice_span":
        spans = find_spans(clean_reply(text)) or find_spans(text or "")
        return Parsed((read_letter(text, sample.options), spans[0] if spans else None))
    if kind == "captions":
        return Parsed(read_captions(text))
    return Parsed(clean_reply(text) or None)


__all__ = [
    "Parsed", "TIMECHAT_KEYWORDS", "clean_reply", "read_letter", "read_yes_no", "read_count", "read_rating",
    "read_captions", "robust",
]
