"""Multiple-choice questions: reading options, and reading the chosen letter from a reply.

>>> split_options("Which way? A. left B. right")
('Which way?', [('A', 'left'), ('B', 'right')])
>>> parse_choice("The answer is (B) right.", ["A", "B", "C"])
'B'
>>> parse_choice("It moves to the right", ["A", "B"], ["left", "right"])
'B'
"""

from __future__ import annotations

import re

from vidllm.errors import SpecError

LETTERS = "ABCDEFGHIJ"
# "A. text", "A) text", "(A) text", "A: text" at the start of a line or after a space
_OPTION = re.compile(r"(?:^|\s)\(?([A-J])[\.\):]\s+")


def normalise_options(options: list[str]) -> list[tuple[str, str]]:
    """``["A. left", "B. right"]`` or ``["left", "right"]`` -> ``[("A", "left"), ("B", "right")]``."""
    pairs = []
    for i, option in enumerate(options):
        m = re.match(r"\s*\(?([A-J])[\.\):]\s*(.*)", option, re.S)
        if m:
            pairs.append((m.group(1), m.group(2).strip()))
        else:
            pairs.append((LETTERS[i], option.strip()))
    letters = [p[0] for p in pairs]
    if len(set(letters)) != len(letters):
        raise SpecError(f"options repeat a letter: {', '.join(letters)}")
    return pairs


def split_options(question: str) -> tuple[str, list[tuple[str, str]]]:
    """Options written inside the question ("... A. left B. right"): the question without them,
    and the options. No options found: the question unchanged and an empty list."""
    matches = list(_OPTION.finditer(question))
    letters = [m.group(1) for m in matches]
    # only a run A, B, C... counts, so a stray "I." in a sentence is not an option
    if len(matches) < 2 or letters != list(LETTERS[: len(letters)]):
        return question, []
    options = []
    for m, nxt in zip(matches, matches[1:] + [None]):
        text = question[m.end() : nxt.start() if nxt else len(question)].strip()
        options.append((m.group(1), text))
    return question[: matches[0].start()].strip(), options


_THINK = re.compile(r"<think>.*?</think>", re.S | re.I)


def parse_choice(reply: str, letters: list[str], texts: list[str] | None = None) -> str | None:
    """The letter a reply chooses, or None. Reads "B", "(B)", "B.", "Answer: B", "the answer
    is B"; failing those, an option's text when exactly one option's text is in the reply."""
    text = _THINK.sub(" ", reply).strip()
    allowed = "".join(letters)
    patterns = [
        rf"^\(?([{allowed}])(?:[\.\):,\s]|$)",
        rf"(?:answer|option|choice)\s*(?:is|:)?\s*\(?([{allowed}])(?:[\.\):,\s]|$)",
        rf"\(([{allowed}])\)",
    ]
    for pattern in patterns:
        m = re.search(pattern, text, re.I if pattern is not patterns[0] else 0)
        if m:
            return m.group(1).upper()
    if texts:
        low = text.lower()
        hits = [letter for letter, t in zip(letters, texts) if t and re.search(rf"\b{re.escape(t.lower())}\b", low)]
        if len(hits) == 1:
            return hits[0]
    return None
