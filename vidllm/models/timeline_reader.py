"""Answers read off the timeline's lines, with the times they rest on: how the embedded default
answers an open question without letting a 135M model put words in the video's mouth.

The lines come with their relevance to the question (``Timeline.select``). The reading is:
- "when ...?": the start of the line most about it ("At 00:03.0: on-screen text: "EXIT 42"");
- "how long ...": that line's duration (or the video's); "how many ...": the distinct lines of
  the kind asked about (numbers, on-screen text, speech; shots by their cuts);
- what comes after or before something: the neighbour in time of the line that states it;
- the highest, lowest, first or last of something ("the highest number the counter reaches",
  "the first thing said"): that line among the lines of the kind asked about;
- "describe" or "what happens": the main lines of each telling kind, in time order;
- anything else: the most relevant line (and a second one as relevant), each with its times;
- nothing relevant enough: "The video does not say", with the closest line for reference.
Every time in a reading is a line's, and every other number is a line's or a count or
duration of the lines cited, so nothing is invented.

>>> from vidllm.perceive.timeline import Line
>>> lines = [(Line(1.0, 2.5, "ocr", '"3"'), 0.2), (Line(2.5, 4.0, "ocr", '"9"'), 0.2),
...          (Line(4.0, 5.5, "ocr", '"5"'), 0.2), (Line(0.0, 6.0, "colour", "mostly white"), 0.3)]
>>> read_answer("What is the highest number the counter reaches?", lines).answer
'on-screen text: "9" (00:02.5-00:04.0), the highest number shown'
>>> read_answer("Which number appears first?", lines).answer
'on-screen text: "3" (00:01.0-00:02.5), the first shown'
>>> read_answer("Who wins the election?", lines).rule
'not in evidence'
>>> read_answer("Which number comes after 9?", lines).answer
'on-screen text: "5" (00:04.0-00:05.5), after on-screen text: "9" (00:02.5-00:04.0)'
>>> read_answer("How many numbers are shown?", lines).answer.split(":")[0]
'3 different'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from vidllm.perceive.timeline import NUMBER_WORDS, Line, clock, states_a_term, words
from vidllm.timeparse import find_point

# below this sentence similarity (all-MiniLM-L6-v2) no line is about the question: questions
# with an answer on screen or in speech score 0.5-0.9 against it, unrelated ones 0.1-0.3
MIN_RELEVANCE = 0.35
SECOND_LINE_SHARE = 0.9  # a second line is cited when it is nearly as relevant as the first

# a question about when something happens (or what time something says)
WHEN_QUESTION = re.compile(
    r"^\s*(?:when\b|at what (?:time|moment|point)\b|what time\b|at which (?:time|moment)\b)", re.I)
# which extreme a question asks for; the first pattern that matches wins
_EXTREMES = (
    ("highest", re.compile(r"\b(?:highest|largest|biggest|greatest|maximum|max|peak)\b", re.I)),
    ("lowest", re.compile(r"\b(?:lowest|smallest|minimum|min|fewest)\b", re.I)),
    ("first", re.compile(r"\b(?:first|earliest|initial|initially|opening|at the (?:start|beginning)"
                         r"|(?:starts?|begins?) (?:at|with|on|from))\b", re.I)),
    # (a live stream's "now" is its latest line)
    ("last", re.compile(r"\b(?:last|final|finally|latest|closing|at the end|in the end|ends? (?:at|with|on|up)"
                        r"|now|currently|at the moment|at present)\b", re.I)),
)
# "what comes after X" / "what is shown before X": the neighbour in time of the line stating X
_SEQUENCE = re.compile(r"\b(?P<side>after|before|following|follows|preceding|precedes)\s+(?:the\s+)?(?P<anchor>[^?.!]+)",
                       re.I)
_HOW_LONG = re.compile(r"^\s*(?:for\s+)?how long\b", re.I)
_WHOLE_VIDEO = re.compile(r"\b(?:video|clip|footage|recording|film)\b", re.I)
_HOW_MANY = re.compile(r"^\s*how many\b", re.I)
# a request for an overview rather than a fact: answered by the main lines in time order
_OVERVIEW = re.compile(r"\b(?:describe|summari[sz]e|summary|overview|what happens|what is happening|what's happening"
                       r"|what goes on|what is (?:the|this) (?:video|clip) about|what is shown)\b", re.I)
# the kinds an overview draws on, most telling first (colours and shot cuts say little alone)
OVERVIEW_KINDS = ("speech", "ocr", "track", "tags", "motion")
OVERVIEW_LINES = 5
# the kind of line a question names: what its answer is read from
_KIND_WORDS = (
    ("number", re.compile(r"\b(?:numbers?|counters?|counts?|values?|scores?|digits?|figures?|totals?)\b", re.I)),
    ("speech", re.compile(r"\b(?:say|says|said|speaker|spoken|speak|speaks|words? heard|talk|talks|mentioned)\b",
                          re.I)),
    ("ocr", re.compile(r"\b(?:texts?|written|signs?|screen|captions?|titles?|labels?|reads?|panel|board)\b", re.I)),
    ("shot", re.compile(r"\b(?:shots?|cuts?|scenes?)\b", re.I)),
)
_NUMBER = re.compile(r"\d+(?:\.\d+)?|[a-z]+", re.I)


@dataclass(frozen=True)
class Reading:
    """An answer read off the lines, the rule that read it, and the lines it cites."""

    answer: str
    # "when", "how long", "how many", "overview", "highest", "lowest", "first", "last", "after",
    # "before", "most relevant", "not in evidence"
    rule: str
    lines: tuple[tuple[Line, float], ...]

    def to_dict(self) -> dict:
        return {"rule": self.rule, "answer": self.answer,
                "lines": [{"start": line.start, "end": line.end, "kind": line.kind, "text": line.text,
                           "statement": line.statement(), "relevance": round(float(score), 4)}
                          for line, score in self.lines]}


def moment_answer(start: float, statement: str) -> str:
    """How a "when" question is answered: the moment a line begins, and what it says."""
    return f"At {clock(start)}: {statement}"


def span(line: Line) -> str:
    return f"{clock(line.start)}-{clock(line.end)}"


def number_in(text: str) -> float | None:
    """The first number ``text`` states, in digits or as a word ("nine" -> 9)."""
    for token in _NUMBER.findall(text):
        if token[0].isdigit():
            return float(token)
        if token.lower() in NUMBER_WORDS:
            return float(NUMBER_WORDS[token.lower()])
    return None


def extreme_asked(question: str) -> str | None:
    """"highest", "lowest", "first" or "last" when the question asks for one, else None."""
    return next((name for name, pattern in _EXTREMES if pattern.search(question)), None)


def kind_asked(question: str) -> str | None:
    """The kind of line a question names: "number", "speech", "ocr" (on-screen text) or "shot"."""
    return next((name for name, pattern in _KIND_WORDS if pattern.search(question)), None)


def of_kind(pairs: list[tuple[Line, float]], kind: str | None) -> list[tuple[Line, float]]:
    """The lines of ``kind`` ("number": on-screen text or speech that states a number)."""
    if kind == "number":
        return [(line, score) for line, score in pairs
                if line.kind in ("ocr", "speech") and number_in(line.text) is not None]
    return [(line, score) for line, score in pairs if line.kind == kind]


def read_answer(question: str, selected: list[tuple[Line, float]], min_relevance: float = MIN_RELEVANCE,
                duration: float | None = None, every: list[Line] | None = None) -> Reading:
    """The answer to ``question`` the ``selected`` lines (each with its relevance) give.

    A question that names a kind of line ("what is written", "what does the speaker say",
    "which number") is answered from the lines of that kind when there are any, however
    loosely sentence similarity ties them to its words (a sign reading "EXIT 42" scores only
    0.28 against "What number is written on the sign?"); any other question needs a line at
    least ``min_relevance`` similar to it. ``duration`` (the video's length) answers "how long
    is the video". ``every`` is all the timeline's lines, of which ``selected`` are those shown
    under the token budget: counts, extremes and neighbours are taken over all of them."""
    if not selected:
        return Reading("The video does not say: the tools found nothing in it.", "not in evidence", ())
    ranked = sorted(selected, key=lambda pair: -pair[1])
    if WHEN_QUESTION.search(question):
        return Reading(moment_answer(ranked[0][0].start, ranked[0][0].statement()), "when", (ranked[0],))
    kind = kind_asked(question)
    shown = {line for line, _ in ranked}
    everything = ranked + [(line, 0.0) for line in every or () if line not in shown]
    named = of_kind(everything, kind)
    if _HOW_LONG.search(question):
        if duration is not None and _WHOLE_VIDEO.search(question) and not named:
            return Reading(f"The video is {clock(duration)} long.", "how long", ())
        line, score = (named or ranked)[0]
        return Reading(f"{line.end - line.start:.1f} s: {line.statement()} ({span(line)})", "how long",
                       ((line, score),))
    if _HOW_MANY.search(question) and kind == "shot":
        # each cut is a line ("a new shot begins"); the first shot has none
        cuts = sorted((pair for pair in everything if pair[0].kind == "shot"), key=lambda p: p[0].start)
        listed = ", ".join(clock(line.start) for line, _ in cuts)
        shots = f"{len(cuts) + 1} shot{'s' if cuts else ''}"
        return Reading(shots + (f": cuts at {listed}" if cuts else ": no cut"), "how many", tuple(cuts))
    if _HOW_MANY.search(question) and named:
        distinct = list({line.statement(): (line, score) for line, score in sorted(named, key=lambda p: p[0].start)}.values())
        listed = "; ".join(f"{line.statement()} ({span(line)})" for line, _ in distinct)
        return Reading(f"{len(distinct)} different: {listed}", "how many", tuple(distinct))
    if _OVERVIEW.search(question) and not named:
        return _read_overview(everything)
    sequence = _SEQUENCE.search(question)
    if sequence is not None:
        reading = _read_neighbour(sequence["side"].lower(), sequence["anchor"], named or everything)
        if reading is not None:
            return reading
    extreme = extreme_asked(question)
    if extreme is not None:
        reading = _read_extreme(kind, extreme, everything)
        if reading is not None:
            return reading
    pool = sorted(named, key=lambda pair: -pair[1]) or ranked
    top, relevance = pool[0]
    if not named and relevance < min_relevance:
        return Reading(f"The video does not say; the closest evidence is {top.statement()} ({span(top)}).",
                       "not in evidence", (pool[0],))
    cited = [pool[0]]
    for line, score in pool[1:2]:
        if score >= SECOND_LINE_SHARE * relevance and line.statement() != top.statement():
            cited.append((line, score))
    answer = "; ".join(f"{line.statement()} ({span(line)})" for line, _ in cited)
    return Reading(answer, "most relevant", tuple(cited))


def _read_extreme(kind: str | None, extreme: str, ranked: list[tuple[Line, float]]) -> Reading | None:
    """The line holding the extreme a question asks for, among the lines of the ``kind`` it
    names (numbers, speech, on-screen text), else among the lines about its subject."""
    if kind is not None or extreme in ("highest", "lowest"):
        pool = of_kind(ranked, kind or "number")
    else:  # the lines about the question's subject: as relevant as the best, nearly
        best = ranked[0][1]
        pool = [(line, score) for line, score in ranked if score >= max(MIN_RELEVANCE, 0.8 * best)]
    if not pool:
        return None
    if extreme in ("highest", "lowest"):
        numbered = [(line, score) for line, score in pool if number_in(line.text) is not None]
        if not numbered:
            return None
        pick = (max if extreme == "highest" else min)(numbered, key=lambda pair: number_in(pair[0].text))
        words = "the highest number shown" if extreme == "highest" else "the lowest number shown"
    else:
        pick = (min if extreme == "first" else max)(pool, key=lambda pair: (pair[0].start, pair[0].end))
        words = "the first shown" if extreme == "first" else "the last shown"
        if pick[0].kind == "speech":
            words = words.replace("shown", "said")
    line = pick[0]
    return Reading(f"{line.statement()} ({span(line)}), {words}", extreme, (pick,))


def _read_overview(pairs: list[tuple[Line, float]]) -> Reading:
    """The main lines in time order: the surest of each telling kind first (its tool's score,
    then its length: "what happens" is about no line more than another), then the next, up to
    ``OVERVIEW_LINES``, one statement once."""
    picked: dict[str, tuple[Line, float]] = {}
    by_kind = {kind: sorted((p for p in pairs if p[0].kind == kind), key=lambda p: (-p[0].score, p[0].start - p[0].end))
               for kind in OVERVIEW_KINDS}
    while len(picked) < OVERVIEW_LINES and any(by_kind.values()):
        for kind in OVERVIEW_KINDS:
            while by_kind[kind]:
                pair = by_kind[kind].pop(0)
                if pair[0].statement() not in picked:
                    picked[pair[0].statement()] = pair
                    break
            if len(picked) == OVERVIEW_LINES:
                break
    if not picked:
        return Reading("The video does not say: the tools found nothing in it to describe.", "not in evidence", ())
    ordered = sorted(picked.values(), key=lambda p: (p[0].start, p[0].kind))
    return Reading("; ".join(f"{line.statement()} ({span(line)})" for line, _ in ordered), "overview", tuple(ordered))


def _read_neighbour(side: str, anchor: str, pool: list[tuple[Line, float]]) -> Reading | None:
    """The line just after (or before) the first line that states ``anchor``, among ``pool``."""
    stating = sorted((pair for pair in pool if states_a_term(pair[0].text, [anchor])), key=lambda p: p[0].start)
    if not stating:
        return None
    mark = stating[0][0]
    later = side in ("after", "following", "follows")
    others = [pair for pair in pool if pair[0].statement() != mark.statement()
              and (pair[0].start > mark.start if later else pair[0].start < mark.start)]
    if not others:
        return None
    pick = (min if later else max)(others, key=lambda p: p[0].start)
    line = pick[0]
    where = "after" if later else "before"
    return Reading(f"{line.statement()} ({span(line)}), {where} {mark.statement()} ({span(mark)})",
                   where, (pick, stating[0]))


# -- multiple choice: which option the lines settle -------------------------------------------------
# The lines here are dicts, as an answer's manifest lists them (start, end, kind, text, rendered,
# relevance), so a caller can weigh any model's response the same way.


def statement(line: dict) -> str:
    """A line without its times ("objects: bicycle"): what similarity is computed on."""
    return line.get("statement") or line["rendered"].split("] ", 1)[-1]


def choose_by_evidence(options: list[tuple[str, str]], lines: list[dict],
                       reading: dict | None = None) -> tuple[str | None, str | None, dict[str, float]]:
    """The option the ``lines`` settle, how ("evidence" or "similarity"), and each option's
    support; (None, None, support) when they settle none and a model's preference must decide.

    In order: the option the line a rule picked states ("the highest number", "what comes
    after X", a count: ``reading``); else the one option that the most relevant lines state (of
    several, the one a far more relevant line states); else the one some shown line states when
    no other option is stated anywhere (a needle's card that a neighbouring topic outranks);
    else the option far closer in meaning to the most relevant lines than any other."""
    reading = reading or {}
    support = option_support(options, lines)
    if reading.get("rule") in PICKING_RULES and reading.get("lines"):
        support = option_support(options, reading["lines"][:1], top=1)
    elif reading.get("rule") == "how many":  # the count of distinct lines is the answer
        count = len(reading["lines"])
        support = {letter: float(number_in(text) == count) for letter, text in options}
    stated = [letter for letter, share in support.items() if share == 1.0]
    if not stated and lines:
        anywhere = option_support(options, lines, top=len(lines))
        stated = [letter for letter, share in anywhere.items() if share == 1.0]
    if len(stated) > 1:
        stated = clearly_most_relevant(stated, options, lines)
    if len(stated) == 1:
        return stated[0], "evidence", support
    if not stated and lines:
        closest = closest_option(options, lines)
        if closest is not None:
            return closest, "similarity", support
    return None, None, support


def option_support(options: list[tuple[str, str]], lines: list[dict], top: int = 3) -> dict[str, float]:
    """How plainly the ``top`` lines most relevant to the question state each option: the
    largest share of the option's words found in one line's statement (the text before any
    parenthesis, where tools repeat details: "moves left (from the right to the left)" states
    left, not right).

    An option that names a moment ("at 3 seconds", "at 0:42") is stated by the most relevant
    line when that line begins then (within half a second): "when does X appear" is answered by
    the start of the line about X.

    >>> lines = [{"text": "a blue object moves down (from the top to the bottom)", "relevance": 0.6},
    ...          {"text": "mostly white", "relevance": 0.1}]
    >>> option_support([("A", "left"), ("B", "up"), ("C", "down"), ("D", "bottom")], lines)
    {'A': 0.0, 'B': 0.0, 'C': 1.0, 'D': 0.0}
    >>> sign = [{"text": '"EXIT 42"', "start": 3.0, "relevance": 0.7}, {"text": "still", "start": 1.0, "relevance": 0.2}]
    >>> option_support([("A", "at 1 second"), ("B", "at 3 seconds"), ("C", "at 0:04")], sign)
    {'A': 0.0, 'B': 1.0, 'C': 0.0}
    """
    relevant = sorted(lines, key=lambda line: -line.get("relevance", 0.0))[:top]
    statements = [words(line["text"].split("(", 1)[0]) for line in relevant]
    support = {}
    for letter, text in options:
        moment = find_point(text) if _TIME_UNIT.search(text) else None
        if moment is not None:
            support[letter] = float(bool(relevant) and abs(relevant[0].get("start", -1e9) - moment) <= 0.5)
            continue
        wanted = words(text)
        shares = [len(wanted & said) / len(wanted) for said in statements] if wanted else []
        support[letter] = round(max(shares, default=0.0), 3)
    return support


# the readings that pick one line by a rule (not by similarity): the option it states is the answer
PICKING_RULES = ("highest", "lowest", "first", "last", "after", "before")
# an option naming a moment: a unit of time or a clock ("3 seconds", "2 s", "1 minute", "0:42")
_TIME_UNIT = re.compile(r"\b\d+(?:\.\d+)?\s*(?:s|sec|secs|seconds?|min|minutes?)\b|\b\d+:\d{2}\b", re.I)


SIMILARITY_MARGIN = 0.15  # sentence similarity by which one option must beat every other


def clearly_most_relevant(stated: list[str], options: list[tuple[str, str]], lines: list[dict],
                          margin: float = SIMILARITY_MARGIN) -> list[str]:
    """Of the ``stated`` options, the one whose most relevant stating line is more relevant
    than any line stating another by ``margin`` ("camera pans right" over "camera tilts up"
    for "Which way does the camera pan?"), as a one-item list; else ``stated`` unchanged."""
    best = {}
    for letter, text in options:
        if letter in stated:
            support = [line.get("relevance", 0.0) for line in lines
                       if option_support([(letter, text)], [line], top=1)[letter] == 1.0]
            best[letter] = max(support, default=float("-inf"))
    ranked = sorted(best, key=lambda letter: -best[letter])
    if len(ranked) > 1 and best[ranked[0]] - best[ranked[1]] >= margin:
        return ranked[:1]
    return stated


def closest_option(options: list[tuple[str, str]], lines: list[dict], top: int = 3,
                   margin: float = SIMILARITY_MARGIN) -> str | None:
    """The option far closer in meaning than any other to the ``top`` lines most relevant to
    the question ("a bicycle" to "objects: mountain bike", which shares no word with it), or
    None when none stands out by ``margin``: where no line states an option in words, the
    evidence still points at one, and a small model's likelihood should not overrule it."""
    if len(options) < 2 or not lines:
        return None
    from vidllm.perceive.text_embed import default_embedder

    embedder = default_embedder()
    relevant = sorted(lines, key=lambda line: -line.get("relevance", 0.0))[:top]
    shown = embedder.embed([statement(line) for line in relevant])
    closeness = (embedder.embed([text for _, text in options]) @ shown.T).max(axis=1)
    order = np.argsort(-closeness)
    if closeness[order[0]] - closeness[order[1]] < margin:
        return None
    return options[int(order[0])][0]
