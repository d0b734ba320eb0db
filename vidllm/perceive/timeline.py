"""The timeline: every observation of a video, merged, and rendered as text under a budget.

Rendering for a question keeps the lines most relevant to it (sentence-embedding similarity)
and spreads the rest of the budget over the whole video, so the model sees both what the
question is about and what happens around it. Lines come out in time order.

    [00:03.0-00:05.0] on-screen text: "EXIT 42"
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from vidllm.perceive.base import Observation

# Words a model reads for each kind of observation.
KIND_LABELS = {
    "tags": "objects",
    "ocr": "on-screen text",
    "speech": "speech",
    "shot": "shot",
    "motion": "motion",
    "colour": "colours",
    "track": "movement",
}


def clock(seconds: float) -> str:
    minutes, secs = divmod(max(0.0, seconds), 60)
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours}:{minutes:02d}:{secs:04.1f}" if hours else f"{minutes:02d}:{secs:04.1f}"


@dataclass(frozen=True)
class Line:
    start: float
    end: float
    kind: str
    text: str
    score: float = 1.0

    def statement(self) -> str:
        """What the line says, without its times: what relevance is computed on (the same
        statement at another time costs no second embedding, which an hour of footage needs)."""
        return f"{KIND_LABELS.get(self.kind, self.kind)}: {self.text}"

    def render(self) -> str:
        return f"[{clock(self.start)}-{clock(self.end)}] {self.statement()}"


# Tags below this probability are guesses: shown to people (with their score), not to a model.
MIN_TAG_SCORE = 0.15


def prompt_text(o: Observation) -> str | None:
    """What a language model reads for an observation, or None to leave it out.

    Small models are easily misled by numbers that are not about the video's content (a
    classifier's "9%", a shot's "1 of 3"), so those are dropped here; ``describe`` keeps them.
    """
    if o.kind == "tags":
        if "labels" not in o.payload:  # a caller's own tag line (a stream's): shown as it is
            return o.text
        labels = o.payload.get("labels") or []
        scores = o.payload.get("scores") or []
        kept = [label for label, score in zip(labels, scores) if score >= MIN_TAG_SCORE]
        return ", ".join(kept) or None
    if o.kind == "shot":
        return None if o.payload.get("index", 0) == 0 else "a new shot begins"
    return o.text


TERM_BONUS = 0.5
_FILLER = frozenset("a an the of to is it its in on at and or by with from".split())


NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}


def words(text: str) -> set[str]:
    """The words of ``text`` that carry meaning, lower case, numbers as digits ("nine" -> "9").

    >>> sorted(words("The meeting starts at NINE")), sorted(words("starts at 9"))
    (['9', 'meeting', 'starts'], ['9', 'starts'])
    """
    return {NUMBER_WORDS.get(w, w) for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _FILLER}


def states_a_term(text: str, terms) -> bool:
    """Whether ``text`` holds every word of some term (case and punctuation aside).

    >>> states_a_term('"BUTTON" on a sign', ["button"]), states_a_term("red car", ["blue car"])
    (True, False)
    """
    said = words(text)
    return any(w and w <= said for w in map(words, terms))


def estimate_tokens(text: str) -> int:
    """About 4 characters a token for English with timestamps; the budget is approximate by
    design, the reasoner still checks the prompt against its context."""
    return max(1, len(text) // 4 + 1)


@dataclass
class Timeline:
    video_hash: str
    duration: float
    observations: list[Observation]
    manifest: dict = field(default_factory=dict)

    def lines(self, for_model: bool = False) -> list[Line]:
        """One line per observation span, neighbours with the same kind and text merged.
        ``for_model`` gives the text a language model reads (see ``prompt_text``)."""
        merged: list[Line] = []
        last_by_key: dict[tuple[str, str], int] = {}
        for o in sorted(self.observations, key=lambda o: (o.start, o.kind)):
            text = prompt_text(o) if for_model else o.text
            if not text or not text.strip():
                continue
            o = Observation(o.start, o.end, o.kind, text, o.score)
            key = (o.kind, o.text)
            i = last_by_key.get(key)
            if i is not None and o.start <= merged[i].end + 1e-6 and o.kind != "shot":  # cuts stay apart
                prev = merged[i]
                merged[i] = Line(prev.start, max(prev.end, o.end), o.kind, o.text, max(prev.score, o.score))
                continue
            last_by_key[key] = len(merged)
            merged.append(Line(o.start, o.end, o.kind, o.text, o.score))
        return sorted(merged, key=lambda line: (line.start, line.kind))

    def within(self, start: float, end: float | None) -> "Timeline":
        """Only what was observed in [start, end): a streaming question must not see the future."""
        end = float("inf") if end is None else end
        kept = [o for o in self.observations if o.start < end and o.end > start]
        return Timeline(self.video_hash, min(self.duration, end), kept, self.manifest)

    def describe(self) -> str:
        return "\n".join(line.render() for line in self.lines())

    def select(self, question: str | None, budget_tokens: int, embedder=None, *,
               relevance_share: float = 0.75, terms: list[str] = ()) -> list[tuple[Line, float]]:
        """Lines to show for ``question`` within ``budget_tokens``, with their relevance.

        ``relevance_share`` of the budget goes to the most relevant lines; the rest covers the
        video evenly (the most relevant line of each uncovered stretch of time first). A line
        that says every word of one of ``terms`` (an answer option) gains ``TERM_BONUS``:
        sentence similarity ranks a card reading "BUTTON" below footage of switches, while the
        exact word is what settles the question.
        """
        lines = self.lines(for_model=True)
        if not lines:
            return []
        if question and embedder is not None:
            # an embedder that keeps vectors across processes (the text embedder) does so for
            # the lines, which every question about this video reads again
            embed = getattr(embedder, "embed_kept", embedder.embed)
            vectors = embed([line.statement() for line in lines])
            relevance = vectors @ embedder.embed([question])[0]
        else:
            relevance = np.zeros(len(lines), dtype=np.float32)
        if terms:
            relevance = relevance + TERM_BONUS * np.array([states_a_term(line.text, terms) for line in lines])
        costs = [estimate_tokens(line.render()) + 1 for line in lines]
        if sum(costs) <= budget_tokens:
            return list(zip(lines, relevance.tolist()))
        chosen: set[int] = set()
        spent = 0
        for i in np.argsort(-relevance, kind="stable"):
            if spent + costs[i] > budget_tokens * relevance_share:
                break
            chosen.add(int(i))
            spent += costs[i]
        buckets = max(1, min(len(lines), (budget_tokens - spent) // max(1, int(np.mean(costs)))))
        edges = np.linspace(0, max(self.duration, lines[-1].end), buckets + 1)
        for lo, hi in zip(edges[:-1], edges[1:]):
            inside = [i for i, line in enumerate(lines) if lo <= line.start < hi and i not in chosen]
            if not inside or any(lo <= lines[i].start < hi for i in chosen):
                continue
            best = max(inside, key=lambda i: relevance[i])
            if spent + costs[best] <= budget_tokens:
                chosen.add(best)
                spent += costs[best]
        return [(lines[i], float(relevance[i])) for i in sorted(chosen, key=lambda i: (lines[i].start, lines[i].kind))]

    def render(self, question: str | None = None, budget_tokens: int = 200, embedder=None) -> str:
        return "\n".join(line.render() for line, _ in self.select(question, budget_tokens, embedder))
