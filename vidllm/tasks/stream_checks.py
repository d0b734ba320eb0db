"""The deterministic checks of a stream session: which questions they decide, and how.

A small text model is unreliable at reading exact text, counting and noticing a thing appear,
so ``classify`` sends such questions to a check instead of the model:

- ``text-match``: a quoted phrase to watch for on screen ('tell me when "EXIT 42" appears'),
  matched against OCR readings by ``says`` (numbers must be equal, one misread letter allowed);
- ``text-read``: the text visible now, N seconds or minutes ago, or at the start;
- ``counter``: repetitions of a motion (``RepetitionCounter``: departures from a resting
  picture and returns to it, on grey thumbnails);
- ``presence``: a thing the question names, seen among the frame tags (ImageNet labels);
- ``model``: everything else.
"""

from __future__ import annotations

import re

import numpy as np

CHECKS = ("text-match", "text-read", "counter", "presence", "model")
TEXT_MATCH = 0.8  # how alike an OCR reading and a watched phrase must be (difflib ratio)
_TEXT_WORDS = r"text|word|words|sign|written|write|writes|say|says|caption|title|screen|board|read"


def classify(question: str) -> tuple[str, str]:
    """(check, target) for a question: which deterministic check decides it, else ``model``.

    >>> classify('Tell me when the text "EXIT 42" appears')
    ('text-match', 'EXIT 42')
    >>> classify("Count the jumps and tell me each time")
    ('counter', '')
    >>> classify("What was written on the board two minutes ago?")
    ('text-read', '120')
    >>> classify("Is the man cooking?")
    ('model', '')
    """
    q = question.strip()
    lower = q.lower()
    quoted = re.search(r"[\"“'‘]([^\"”'’]{1,80})[\"”'’]", q)
    if quoted and re.search(rf"\b({_TEXT_WORDS}|appear|appears|shows?|displayed)\b", lower):
        return "text-match", quoted.group(1).strip()
    if re.search(r"\bcount\b|\bhow many times\b", lower):
        return "counter", ""
    if re.search(rf"\bwhat\b.*\b({_TEXT_WORDS})\b", lower):
        return "text-read", _time_reference(lower)
    found = re.search(r"\b(?:when|whether|if)\s+(?:a|an|the|some)?\s*([a-z][a-z -]{1,30}?)\s+"
                      r"(?:appears|enters|shows up|is visible|comes in)", lower)
    if found:
        return "presence", found.group(1).strip()
    return "model", ""


_NUMBER_WORDS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine ten".split())}


def _time_reference(lower: str) -> str:
    """Seconds before now the question asks about ("2 minutes ago" -> "120"), "start", or "" (now)."""
    ago = re.search(r"\b(\d+(?:\.\d+)?|" + "|".join(_NUMBER_WORDS) + r")\s*(seconds?|secs?|minutes?|mins?)\s+ago", lower)
    if ago:
        amount = float(_NUMBER_WORDS.get(ago.group(1), ago.group(1) if ago.group(1)[0].isdigit() else 0))
        return f"{amount * (60 if ago.group(2).startswith('min') else 1):g}"
    if re.search(r"\b(at|in) the (start|beginning)\b|\bfirst\b", lower):
        return "start"
    return ""


class RepetitionCounter:
    """Counts repetitions of a motion as departures from a resting picture and returns to it.

    The resting picture is the first frame (and again after a scene change: a picture that
    stays away for ``max_away`` seconds becomes the new rest). A frame is *away* when more than
    ``away`` of its thumbnail pixels differ from the rest by 20 grey levels, *back* under
    ``back``; each return completes one repetition, timed at the frame that returned.
    """

    def __init__(self, away: float = 0.01, back: float = 0.004, max_away: float = 8.0):
        self.away, self.back, self.max_away = away, back, max_away
        self.rest: np.ndarray | None = None
        self.away_since: float | None = None
        self.completed: list[float] = []  # times repetitions completed (bounded below)

    def update(self, thumb: np.ndarray, t: float) -> bool:
        """Feed one grey thumbnail; True when it completed a repetition."""
        if self.rest is None or self.rest.shape != thumb.shape:
            self.rest = thumb
            return False
        changed = changed_share(thumb, self.rest)
        if self.away_since is None:
            if changed > self.away:
                self.away_since = t
            return False
        if changed < self.back:
            self.away_since = None
            self.completed.append(t)
            del self.completed[:-4096]
            return True
        if t - self.away_since > self.max_away:  # not a motion: the scene changed
            self.rest, self.away_since = thumb, None
        return False

    def count_until(self, t: float) -> tuple[int, float | None]:
        done = [c for c in self.completed if c <= t]
        return len(done), (done[-1] if done else None)


def says(phrase: str, reading: str) -> bool:
    """Whether an OCR ``reading`` says ``phrase``: contains it, or is a near reading of it
    (one misread letter) with the same numbers ("CODE 1" is not "CODE 7").

    >>> says("EXIT 42", "EXIT 4Z"), says("EXIT 42", "exit 42 ->"), says("CODE 1", "CODE 7")
    (False, True, False)
    >>> says("OPEN LATE", "OPEN LATF")
    True
    """
    import difflib

    a, b = " ".join(phrase.lower().split()), " ".join(reading.lower().split())
    if a in b:
        return True
    if re.findall(r"\d+", a) != re.findall(r"\d+", b):
        return False
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio() >= TEXT_MATCH


def changed_share(a: np.ndarray, b: np.ndarray) -> float:
    """The share of thumbnail pixels that differ by more than 20 grey levels."""
    return float((np.abs(a - b) > 20).mean()) if a.shape == b.shape else 1.0
