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
# The line every multiple-choice prompt ends with (``Request.ask`` writes it).
CHOICE_INSTRUCTION = "Answer with the option's letter."
# "A. text", "A) text", "(A) text", "A: text" at the start of a line or after a space
_OPTION = re.compile(r"(?:^|\s)\(?([A-J])[\.\):]\s+")


def normalise_options(options: list[str]) -> list[tuple[str, str]]:
    """``["A. left", "B. right"]`` or ``["left", "right"]`` -> ``[("A", "left"), ("B", "right")]``."""
    if len(options) > len(LETTERS):
        raise SpecError(f"at most {len(LETTERS)} options (A-{LETTERS[-1]}), got {len(options)}")
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


_THINK = re.compile(r"<think>.*?</think>|◁think▷.*?◁/think▷", re.S | re.I)
_ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.S | re.I)
_FINAL = re.compile(r"final\s+answer\s*(?:is)?\s*[:：]?", re.I)



def question_and_options(question: str, options: list[str] | None = None) -> tuple[str, list[tuple[str, str]]]:
    """The question and its (letter, text) options, whether given apart or written inside it.

    >>> question_and_options("Which way? A. left B. right")
    ('Which way?', [('A', 'left'), ('B', 'right')])
    >>> question_and_options("Which way?", ["up", "down"])
    ('Which way?', [('A', 'up'), ('B', 'down')])
    """
    if options:
        return question, normalise_options(list(options))
    return split_options(question)

def parse_choice(reply: str, letters: list[str], texts: list[str] | None = None) -> str | None:
    """The letter a reply chooses among ``letters`` (with option ``texts``), or None: the same
    robust reading the evaluation harness uses (``read_letter``)."""
    options = tuple(texts) if texts else tuple("" for _ in letters)
    positional = read_letter(reply, options)
    if positional is None:
        return None
    index = ord(positional) - ord("A")
    return letters[index] if 0 <= index < len(letters) else None


def clean_reply(text: str) -> str:
    """The part of a reply that states the answer: no think blocks, the <answer> content or the
    text after the last "Final Answer", no markdown emphasis."""
    text = text or ""
    text = _THINK.sub(" ", text)
    for closer in ("</think>", "◁/think▷"):
        if closer in text:
            text = text.rsplit(closer, 1)[1]
    tag = _ANSWER_TAG.findall(text)
    if tag:
        text = tag[-1]
    finals = list(_FINAL.finditer(text))
    if finals and text[finals[-1].end() :].strip():
        text = text[finals[-1].end() :]
    text = re.sub(r"[*_`#]+", "", text)
    return text.strip()


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def read_letter(text: str, options: tuple[str, ...]) -> str | None:
    """The option letter a reply chooses, or None when it does not choose exactly one.

    >>> read_letter("The answer is (C).", ("x", "y", "z"))
    'C'
    >>> read_letter("A man walks in.", ("x", "y")) is None   # "A" here is an article
    True
    """
    letters = [chr(ord("A") + i) for i in range(len(options))] or list("ABCD")
    t = clean_reply(text)
    if not t:
        return None
    bare = t.strip(" \t\n.:;,!()[]{}'\"")
    if len(bare) == 1 and bare.upper() in letters and (bare.isupper() or len(t) <= 3):
        return bare.upper()
    m = re.match(r"^\s*(?:option\s*)?[(\[]?([A-Z])(?:[)\]]|[.:,](?=\s|$)|\s*$|\s+(?=[(\-–—])|\s+(?=(?:is|was|would|should|seems|looks)\b))", t)
    listed = m and re.match(r"[)\]]?[ \t]*(?:,|or\b|and\b)?[ \t]*[(\[][A-Z][)\]]", t[m.end(1) :])  # "(A)(B)(C)" lists options
    if m and m.group(1) in letters and not listed:
        return m.group(1)
    phrases = re.findall(
        r"(?:answer|option|choice)\s*(?:is|would be|should be|[:=])?\s*(?:option\s*)?[(\[]?([A-Za-z])[)\]]?(?![A-Za-z])",
        t,
        re.I,
    )
    phrases = [p.upper() for p in phrases if p.upper() in letters]
    if phrases:
        return phrases[-1]
    chosen = {m.group(1) for m in _CHOSEN.finditer(t) if m.group(1) in letters and not _negated(t, m.start())}
    if len(chosen) == 1:
        return chosen.pop()
    paren = {p for p in re.findall(r"\(([A-Z])\)", t) if p in letters}
    if len(paren) == 1:
        return paren.pop()
    by_text = _letter_by_option_text(t, options, letters)
    if by_text:
        return by_text
    standalone = set()
    for m in re.finditer(r"(?<![A-Za-z'])([A-Z])(?![A-Za-z'])", t):
        letter = m.group(1)
        if letter not in letters:
            continue
        if letter in ("A", "I") and re.match(rf"\s+(?!(?:or|and|nor|{_AFTER_LETTER})\b)[a-z]", t[m.end() :]):
            continue  # an article or a pronoun, not an option
        if _negated(t, m.start()):
            continue  # "not A": ruled out, not chosen
        standalone.add(letter)
    return standalone.pop() if len(standalone) == 1 else None


# Words that follow a chosen letter but never an article: "I pick A because ...".
_AFTER_LETTER = r"because|since|as|given|due|based|here|now|then|instead|over|too"
# A letter named as the object of a verb of choosing: "I pick A", "I'd go with (C)", "My pick: B".
# Upper-case only, so "I pick a card" stays an article; "A or B" is no choice.
_CHOSEN = re.compile(
    r"\b(?:pick(?:s|ed|ing)?|choos(?:e|es|ing)|chose|select(?:s|ed|ing)?|opt(?:s|ed|ing)?\s+for|"
    r"go(?:es|ing)?\s+with|went\s+with|settle[ds]?\s+on|(?:i'?d|i\s+would|i)\s+say)"
    r"\s*[:=]?\s*(?:option\s*|answer\s*|choice\s*)?[(\[]?((?-i:[A-Z]))[)\]]?(?![A-Za-z'])(?!\s+(?:or|and|nor)\b)",
    re.I,
)


def _negated(t: str, at: int) -> bool:
    """Whether the words just before position ``at`` deny what follows ("not A", "wouldn't pick B")."""
    return bool(re.search(r"(?:\bnot|n't|\bnever|\bno)\b(?:\s+\w+)?\s*[(\[]?$", t[:at], re.I))


def _letter_by_option_text(t: str, options: tuple[str, ...], letters: list[str]) -> str | None:
    if not options:
        return None
    reply = _norm(t)
    texts = [_norm(re.sub(r"^[A-Z][.)]\s*", "", o)) for o in options]
    exact = [letters[i] for i, o in enumerate(texts) if o and reply == o]
    if len(exact) == 1:
        return exact[0]
    inside = [(len(o), letters[i]) for i, o in enumerate(texts) if o and re.search(rf"\b{re.escape(o)}\b", reply)]
    if not inside:
        return None
    inside.sort(reverse=True)
    longest = inside[0][0]
    winners = [letter for n, letter in inside if n == longest]
    return winners[0] if len(winners) == 1 else None


