"""``ground``: the time spans where something happens in a video (temporal grounding).

Two ways, by the model that answers:
- the embedded default (``timeline``) does not ask its small text model: each line of the
  stored perception timeline is scored against the query (all-MiniLM-L6-v2 cosine, plus the
  share of the query's words the line states, since an exact word such as "42" is the surest
  sign), the lines scoring within ``keep`` of the best become spans, and a span that mostly
  overlaps a better one is dropped (``decided_by="similarity"``);
- a frame-reading model is shown frames spread over the video with their true times and asked
  when the query happens; the ranges its reply names are read with ``vidllm.timeparse``
  (``decided_by="model"``). A reply that names no time gives no span (``"unparsed"``), never
  a guessed one.

>>> result = ground("sign.mp4", "the text EXIT 42 is shown")             # doctest: +SKIP
>>> [(s.start, s.end) for s in result.spans[:1]]                         # doctest: +SKIP
[(3.0, 5.0)]
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

from vidllm.errors import SpecError
from vidllm.models.pool import ModelPool
from vidllm.perceive.timeline import KIND_LABELS, Line
from vidllm.tasks.reason.common import (
    Call,
    Reasoner,
    embedded_timeline,
    relevance,
    span_text,
)
from vidllm.timeparse import find_point, find_spans


@dataclass(frozen=True)
class Span:
    """A moment the query happens, in seconds ([start, end)), with how well it matches."""

    start: float
    end: float
    score: float
    text: str = ""  # what was observed there (the timeline line), or the model's reply


@dataclass
class Grounding:
    query: str
    spans: list[Span]  # best first
    decided_by: str  # "similarity" (perception timeline), "model" (a reply's times), "unparsed"
    model: str
    calls: list[Call] = field(default_factory=list)
    timings: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    def render(self) -> str:
        if not self.spans:
            return f"no span found ({self.decided_by})"
        return "\n".join(f"{span_text(s.start, s.end)}  {s.score:.3f}  {s.text}" for s in self.spans)


def ground(video, query: str, *, model: str | None = None, model_options: dict | None = None,
           pool: ModelPool | None = None, nframes: int = 16, top: int = 5, keep: float = 0.8,
           seed: int = 0) -> Grounding:
    """Where in ``video`` ``query`` happens: up to ``top`` spans, best first."""
    from vidllm.tasks.ask import default_model, shared_pool
    from vidllm.video.probe import check_path

    began = time.perf_counter()
    check_path(video)
    if not query.strip():
        raise SpecError("ground needs a query: what to find in the video")
    if not 0.0 < keep <= 1.0:
        raise SpecError(f"keep is a share of the best score in (0, 1], got {keep}")
    uri = model or default_model()
    timeline = embedded_timeline(uri, model_options, video)
    if timeline is not None:
        result = Grounding(query, spans_by_similarity(timeline.lines(for_model=True), query, top, keep),
                           "similarity", uri)
    else:
        backend = (pool or shared_pool()).get(uri, **(model_options or {}))
        result = _ground_by_model(Reasoner(backend, video, nframes=nframes, seed=seed), query, top)
    result.model = uri
    result.timings["total"] = round(time.perf_counter() - began, 3)
    return result


def spans_by_similarity(lines: list[Line], query: str, top: int = 5, keep: float = 0.8) -> list[Span]:
    """Timeline lines scored against ``query``; those within ``keep`` of the best, best first,
    without spans that overlap a better one by more than half (IoU)."""
    if not lines:
        return []
    labelled = [f"{KIND_LABELS.get(line.kind, line.kind)}: {line.text}" for line in lines]
    scores = relevance(labelled, query)
    best = float(scores.max())
    order = sorted(range(len(lines)), key=lambda i: (-scores[i], lines[i].start))
    spans: list[Span] = []
    for i in order:
        if scores[i] < keep * best or len(spans) == top:
            break
        candidate = Span(round(lines[i].start, 3), round(lines[i].end, 3), round(float(scores[i]), 4), lines[i].render())
        if all(iou((candidate.start, candidate.end), (s.start, s.end)) <= 0.5 for s in spans):
            spans.append(candidate)
    return spans


def _ground_by_model(reasoner: Reasoner, query: str, top: int) -> Grounding:
    from vidllm.video.sample import probe

    duration = probe(reasoner.video).duration or 0.0
    call = reasoner.ask(f'When does this happen in the video: "{query}"? Reply with its start and end '
                        "times in seconds, like: from 2.0 to 4.5 seconds.")
    ranges = find_spans(call.reply)
    if not ranges and (point := find_point(call.reply)) is not None:
        half = duration / max(1, len(call.frame_times)) / 2  # a moment: the frame interval around it
        ranges = [(point - half, point + half)]
    spans = []
    for rank, (start, end) in enumerate(ranges[:top]):
        start, end = max(0.0, start), min(duration, end) if duration else end
        if end > start:
            spans.append(Span(round(start, 3), round(end, 3), round(1.0 / (rank + 1), 4), call.reply))
    return Grounding(query, spans, "model" if spans else "unparsed", "", [call])


def iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Intersection over union of two time spans (0 for empty ones).

    >>> iou((3, 5), (4, 6)), iou((0, 1), (2, 3)), iou((1, 1), (1, 1))
    (0.3333333333333333, 0.0, 0.0)
    """
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else 0.0
