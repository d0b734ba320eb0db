"""``agent``: VideoAgent's loop, looking again only where the answer is unsure.

The video is cut into equal segments (about ``segment_seconds`` each). Each segment's text is
what the perception timeline observed in it; a frame-reading model also gets one frame per
segment, at its true time. The loop:

1. a few segments spread evenly over the video are shown (``initial``);
2. the model answers and rates its confidence 1-3 (3: sure). For multiple choice, an option
   the shown observations state plainly is the answer whatever a small model replied, at
   confidence 3 (``decided_by="evidence"``); a reply with no option letter gives the option
   closest to what was shown (``"similarity"``); an unreadable confidence counts as 1;
3. while the confidence is below 3 and rounds are left (at most ``max_rounds``), the model
   names what is missing, and the ``per_round`` segments whose text is most similar to that
   (all-MiniLM-L6-v2; ``vidllm.memory.retrieve``) are added; then back to 2.

No call waits for a person, no answer is random, and every call is greedy with a fixed
seed: the same video and question give the same rounds (the perception timeline is stored).
The result reports the segments and frames each round used.

>>> result = agent("sign.mp4", "What number is on the sign?", options=["A. 24", "B. 42"])  # doctest: +SKIP
>>> result.answer, result.confidence, len(result.rounds), result.segments_used, result.decided_by  # doctest: +SKIP
('B', 3, 1, 5, 'evidence')
"""

from __future__ import annotations

import dataclasses
import math
import re
import time
from dataclasses import dataclass, field

import numpy as np

from vidllm.choices import parse_choice, question_and_options
from vidllm.errors import SpecError
from vidllm.models.pool import ModelPool
from vidllm.perceive.timeline import Line, clock
from vidllm.tasks.answer import OptionsAsText
from vidllm.tasks.reason.common import (
    Call,
    Reasoner,
    content_words,
    relevance,
    similarities,
)

MAX_SEGMENTS = 64
# Description shown to a text model: about 500 tokens, so prompt and reply fit SmolLM2's 2048.
DESCRIPTION_CHARS = 2000


@dataclass(frozen=True)
class Segment:
    index: int
    start: float
    end: float
    text: str  # the timeline lines observed in it, rendered
    frame_time: float | None = None  # frame-reading models: the true time of its frame


@dataclass
class Round:
    number: int
    segments: list[int]  # every segment shown in this round, in time order
    added: list[int]  # the segments this round added (retrieved for ``query``)
    answer: str
    confidence: int
    confidence_read: bool  # False: the reply gave none, counted as 1
    # "model", "evidence" (an option the observations state), "model+evidence" (an open answer
    # the observations confirm), "similarity" (no letter: the closest option), "none"
    decided_by: str
    call: Call
    query: str | None = None  # what the previous round said was missing
    query_call: Call | None = None
    retrieval_scores: list[float] = field(default_factory=list)


@dataclass
class AgentResult(OptionsAsText):
    question: str
    options: list[tuple[str, str]]
    answer: str
    answer_text: str
    confidence: int
    decided_by: str
    stopped: str  # "confident", "max rounds", "nothing left to retrieve"
    model: str
    rounds: list[Round]
    segments: list[Segment]  # all the video's segments
    segments_used: int
    frames_used: int  # frames a frame-reading model was shown (0 for the embedded default: it reads text)
    frame_times: list[float]
    timings: dict = field(default_factory=dict)

    def render(self) -> str:
        head = f"{self.answer}. {self.answer_text}" if self.options else self.answer
        lines = [head, f"(confidence {self.confidence}/3 after {len(self.rounds)} round(s), {self.stopped}; "
                       f"{self.segments_used} of {len(self.segments)} segments, {self.frames_used} frames; "
                       f"decided by {self.decided_by})"]
        for r in self.rounds:
            spans = ", ".join(f"{clock(self.segments[i].start)}-{clock(self.segments[i].end)}" for i in r.added)
            lines.append(f"round {r.number}: answer {r.answer!r}, confidence {r.confidence}"
                         + (f"; looked for {r.query!r}" if r.query else "") + (f"; added {spans}" if spans else ""))
        return "\n".join(lines)


def agent(video, question: str, *, options: list[str] | None = None, model: str | None = None,
          model_options: dict | None = None, pool: ModelPool | None = None, initial: int = 5, per_round: int = 3,
          max_rounds: int = 3, segment_seconds: float = 0.5, seed: int = 0) -> AgentResult:
    """Answer ``question`` about ``video``, retrieving more segments while unsure (see above)."""
    from vidllm.tasks.ask import default_model, shared_pool
    from vidllm.video.probe import check_path

    began = time.perf_counter()
    check_path(video)
    for name, value, low in (("initial", initial, 1), ("per_round", per_round, 1), ("max_rounds", max_rounds, 1)):
        if not isinstance(value, int) or value < low:
            raise SpecError(f"{name} must be a whole number >= {low}, got {value!r}")
    if segment_seconds <= 0:
        raise SpecError(f"segment_seconds must be > 0, got {segment_seconds}")
    question, pairs = question_and_options(question, options)
    uri = model or default_model()
    backend = (pool or shared_pool()).get(uri, **(model_options or {}))
    r = Reasoner(backend, video, seed=seed, max_new_tokens=24)
    segments = _segments(r, segment_seconds, initial)
    frames = r.frames(0.0, None, nframes=len(segments)) if r.reads_frames else None
    if frames is not None:
        segments = [dataclasses.replace(s, frame_time=round(float(t), 3)) for s, t in zip(segments, frames.timestamps)]

    shown = sorted({int(round(x)) for x in np.linspace(0, len(segments) - 1, min(initial, len(segments)))})
    added, query, query_call, scores = list(shown), None, None, []
    rounds: list[Round] = []
    stopped = "max rounds"
    for number in range(1, max_rounds + 1):
        rounds.append(_answer_round(r, number, question, pairs, segments, shown, added, frames))
        rounds[-1].query, rounds[-1].query_call, rounds[-1].retrieval_scores = query, query_call, scores
        if rounds[-1].confidence >= 3:
            stopped = "confident"
            break
        if number == max_rounds:
            break
        left = [i for i in range(len(segments)) if i not in shown]
        if not left:
            stopped = "nothing left to retrieve"
            break
        query_call = r.ask(_seen(r, segments, shown, question) + f"\nQuestion: {question}\nThe answer is not certain yet. "
                           "In a few words, what must still be looked for in the video?",
                           frames=_subset(frames, shown), max_new_tokens=24)
        query = " ".join(query_call.reply.split()) or question
        added, scores = _retrieve(segments, left, f"{question} {query}", per_round)
        shown = sorted(shown + added)

    last = rounds[-1]
    used = sorted(shown)
    return AgentResult(
        question, pairs, last.answer, dict(pairs).get(last.answer, "") if pairs else last.answer, last.confidence,
        last.decided_by, stopped, uri, rounds, segments, len(used), len(used) if frames is not None else 0,
        [segments[i].frame_time for i in used] if frames is not None else [],
        {"total": round(time.perf_counter() - began, 3)})


def _segments(r: Reasoner, segment_seconds: float, initial: int) -> list[Segment]:
    timeline = r.timeline()
    duration = float(timeline.duration)
    count = max(min(initial, MAX_SEGMENTS), min(MAX_SEGMENTS, math.ceil(duration / segment_seconds)))
    lines = timeline.lines(for_model=True)
    out = []
    for k in range(count):
        start, end = duration * k / count, duration * (k + 1) / count
        inside = [line.render() for line in lines if line.start < end and line.end > start]
        out.append(Segment(k, round(start, 3), round(end, 3), "\n".join(inside)))
    return out


def _subset(frames, indices: list[int]):
    if frames is None:
        return None
    keep = np.asarray(indices, dtype=np.int64)
    return dataclasses.replace(frames, data=frames.data[keep], timestamps=frames.timestamps[keep],
                               targets=frames.targets[keep])


def _seen(r: Reasoner, segments: list[Segment], shown: list[int], question: str) -> str:
    """What the model is shown, in words: the frame-reading model gets the frames themselves."""
    if r.reads_frames:
        return f"Frames from {len(shown)} moments of the video."
    lines = list(dict.fromkeys(line for i in shown for line in segments[i].text.splitlines() if line))
    if sum(len(line) + 1 for line in lines) > DESCRIPTION_CHARS:  # the most relevant lines that fit, in time order
        scores = relevance([line.split("] ", 1)[-1] for line in lines], question)
        kept, size = set(), 0
        for i in np.argsort(-scores, kind="stable"):
            if size + len(lines[i]) + 1 <= DESCRIPTION_CHARS:
                kept.add(int(i))
                size += len(lines[i]) + 1
        lines = [line for i, line in enumerate(lines) if i in kept]
    return "Video description, the parts looked at so far:\n" + ("\n".join(lines) or "(nothing observed there)")


def _answer_round(r: Reasoner, number: int, question: str, pairs, segments, shown, added, frames) -> Round:
    listed = "\n".join(f"{letter}. {text}" for letter, text in pairs)
    prompt = (_seen(r, segments, shown, question) + f"\nQuestion: {question}" + (f"\nOptions:\n{listed}" if pairs else "")
              + "\nReply in two lines:\nAnswer: " + ("<the option's letter>" if pairs else "<a short answer>")
              + "\nConfidence: <1, 2 or 3> (3 = sure, 1 = guessing)")
    call = r.ask(prompt, frames=_subset(frames, shown))
    m = re.search(r"confidence\W{0,4}([1-3])\b", call.reply, re.I)
    confidence, read = (int(m.group(1)), True) if m else (1, False)
    stated = re.split(r"confidence", call.reply, flags=re.I)[0]
    stated = re.sub(r"^\s*answer\s*[:=]?\s*", "", stated, flags=re.I).strip()
    decided_by = "model"
    if pairs:
        letters, texts = [p[0] for p in pairs], [p[1] for p in pairs]
        answer = parse_choice(stated, letters, texts) or parse_choice(call.reply, letters, texts)
        lines = [Line(segments[i].start, segments[i].end, "seen", text) for i in shown
                 for text in segments[i].text.splitlines() if text]
        plain = _stated_option(question, pairs, lines)
        if plain is not None:
            answer, confidence, decided_by = plain, 3, "evidence"
        elif answer is None and lines:
            closeness = similarities([f"{question} {text}" for text in texts], " ".join(line.text for line in lines))
            answer, decided_by = letters[int(np.argmax(closeness))], "similarity"
        elif answer is None:
            answer, decided_by = "", "none"
    else:
        answer = stated.splitlines()[0].strip() if stated.strip() else ""
        decided_by = "model" if answer else "none"
        if answer and _observed(question, answer, segments, shown):
            confidence, decided_by = 3, "model+evidence"
    return Round(number, list(shown), list(added), answer, confidence, read, decided_by, call)


def _stated_option(question: str, pairs, lines: list[Line]) -> str | None:
    """The one option the observations most relevant to the question state plainly, if any."""
    from vidllm.models.timeline_reader import option_support

    if not lines:
        return None
    texts = list(dict.fromkeys(line.text.split("] ", 1)[-1] for line in lines))
    scores = relevance(texts, question)
    top = float(scores.max())
    relevant = [{"text": t, "relevance": float(s)} for t, s in zip(texts, scores) if s >= 0.8 * top]
    support = option_support(list(pairs), relevant)
    stated = [letter for letter, share in support.items() if share == 1.0]
    return stated[0] if len(stated) == 1 else None


def _observed(question: str, answer: str, segments: list[Segment], shown: list[int]) -> bool:
    """Whether the words an open answer adds to the question ("42") are all in one observation
    shown: then perception confirms the answer, whatever confidence a small model gave."""
    new = set(content_words(answer)) - set(content_words(question))
    lines = {line for i in shown for line in segments[i].text.splitlines() if line}
    return bool(new) and any(new <= set(content_words(line.split("] ", 1)[-1])) for line in lines)


def _retrieve(segments: list[Segment], left: list[int], query: str, k: int) -> tuple[list[int], list[float]]:
    """The ``k`` segments among ``left`` whose text is closest to ``query``."""
    from vidllm.memory.retrieve import retrieve
    from vidllm.perceive.text_embed import default_embedder

    embedder = default_embedder()
    vectors = embedder.embed([segments[i].text or "(nothing observed)" for i in left])
    spans = [[segments[i].start, segments[i].end] for i in left]
    picked = retrieve(vectors, spans, embedder.embed([query])[0], k, coverage=0.0)
    return [left[int(j)] for j in picked.indices], [round(float(s), 4) for s in picked.scores]
