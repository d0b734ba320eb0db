"""``Answer``: what every question returns, whichever model answered it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Evidence:
    """A moment that supports the answer: a time span (seconds) and what was seen there."""

    start: float
    end: float
    text: str
    score: float = 0.0


class OptionsAsText:
    """``to_dict`` for a result dataclass holding (letter, text) ``options``: they come out as
    "A. text", the way they were asked."""

    def to_dict(self) -> dict:
        d = asdict(self)
        d["options"] = [f"{letter}. {text}" for letter, text in self.options]
        return d


@dataclass
class Answer(OptionsAsText):
    question: str
    answer: str  # the letter for multiple choice, else the model's reply
    reply: str  # the model's raw reply
    options: list[tuple[str, str]] = field(default_factory=list)
    # multiple choice: "reply" (the model's letter), "likelihood" (the option the reasoner found
    # likeliest), "evidence" (the one option the evidence states), "similarity" (no letter: the
    # option closest to what the model read) or "none"
    choice_source: str | None = None
    option_support: dict = field(default_factory=dict)  # letter -> how plainly the evidence states it (0-1)
    option_scores: dict | None = None  # letter -> the reasoner's mean log-probability per token, where scored
    evidence: list[Evidence] = field(default_factory=list)
    # open questions over a timeline: numbers and times of the reply no line stated, and
    # whether the answer was replaced by what was read
    grounding: dict | None = None
    usage: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    manifest: dict = field(default_factory=dict)


    def render(self) -> str:
        lines = [self.answer if not self.options else f"{self.answer}. {dict(self.options).get(self.answer, '')}".rstrip(". ")]
        if self.options and self.choice_source in ("evidence", "similarity"):
            why = ("the evidence states this option" if self.choice_source == "evidence"
                   else "the option closest in meaning to the evidence")
            if not self.reply.strip().startswith(f"{self.answer}."):  # a model preferred another
                why += f"; the model replied {self.reply.strip()!r}"
            lines.append(f"({why})")
        if self.evidence:
            from vidllm.perceive.timeline import clock

            lines.append("evidence:")
            lines.extend(f"  {clock(e.start)}-{clock(e.end)}  {e.text}" for e in self.evidence)
        return "\n".join(lines)
