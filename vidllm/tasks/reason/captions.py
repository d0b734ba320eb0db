"""``captions``: dense captions, the events of a video in time order, as JSON, WebVTT or SRT.

- The embedded default writes them from the perception timeline without its small text
  model: each thing that happens (a moving object's track, on-screen text, speech) is an event
  with the span it was observed in; a shot in which nothing of the kind happens gets one scene
  event from what is seen in it (objects, colours) (``decided_by="perception"``).
- A frame-reading model captions the video segment by segment (frames spread over each
  segment), consecutive segments with the same caption merged (``decided_by="model"``).

Subtitle files are written by ``pysubs2``.

>>> result = captions("two_discs.mp4")                                     # doctest: +SKIP
>>> [(e.start, e.end, e.text) for e in result.events][:1]                  # doctest: +SKIP
[(0.0, 3.0, 'A red object moves right (from the top left to the top right).')]
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

from vidllm.errors import SpecError
from vidllm.models.pool import ModelPool
from vidllm.perceive.timeline import Line, Timeline
from vidllm.tasks.reason.common import Call, Reasoner, embedded_timeline, span_text

FORMATS = ("text", "json", "vtt", "srt")
# Observations that are events in themselves; the others (objects, colours, motion level)
# describe a scene.
EVENT_KINDS = ("track", "ocr", "speech")


@dataclass(frozen=True)
class Event:
    start: float
    end: float
    text: str
    kind: str = ""  # the observation kind it comes from ("track", "ocr", "speech", "scene") or "model"


@dataclass
class Captions:
    events: list[Event]  # in time order
    decided_by: str  # "perception" or "model"
    model: str
    duration: float
    calls: list[Call] = field(default_factory=list)
    timings: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    def render(self, fmt: str = "text") -> str:
        if fmt not in FORMATS:
            raise SpecError(f"caption format {fmt!r} is not one of {', '.join(FORMATS)}")
        if fmt == "text":
            return "\n".join(f"{span_text(e.start, e.end)}  {e.text}" for e in self.events)
        if fmt == "json":
            import json

            return json.dumps(self.to_dict(), indent=2)
        import pysubs2

        subs = pysubs2.SSAFile()
        for e in self.events:
            subs.append(pysubs2.SSAEvent(start=round(e.start * 1000), end=round(e.end * 1000), text=e.text))
        return subs.to_string(fmt)


def captions(video, *, model: str | None = None, model_options: dict | None = None, pool: ModelPool | None = None,
             segment_seconds: float = 2.0, max_segments: int = 12, nframes: int = 4, seed: int = 0) -> Captions:
    """The events of ``video`` in time order."""
    from vidllm.tasks.ask import default_model, shared_pool
    from vidllm.video.probe import check_path

    began = time.perf_counter()
    check_path(video)
    if segment_seconds <= 0 or max_segments < 1:
        raise SpecError(f"need segment_seconds > 0 and max_segments >= 1, got {segment_seconds}, {max_segments}")
    uri = model or default_model()
    timeline = embedded_timeline(uri, model_options, video)
    if timeline is not None:
        result = Captions(events_from_timeline(timeline), "perception", uri, float(timeline.duration))
    else:
        backend = (pool or shared_pool()).get(uri, **(model_options or {}))
        reasoner = Reasoner(backend, video, nframes=nframes, seed=seed, max_new_tokens=48)
        result = _captions_by_model(reasoner, segment_seconds, max_segments)
    result.model = uri
    result.timings["total"] = round(time.perf_counter() - began, 3)
    return result


def events_from_timeline(timeline: Timeline) -> list[Event]:
    """Each event-like line an event; each shot without one, a scene event."""
    lines = timeline.lines(for_model=True)
    events = [Event(line.start, line.end, _sentence(line), line.kind) for line in lines if line.kind in EVENT_KINDS]
    shots = [(o.start, o.end) for o in timeline.observations if o.kind == "shot"] or [(0.0, timeline.duration)]
    for start, end in shots:
        if any(e.start < end and e.end > start for e in events):
            continue
        inside = [line for line in lines if line.start < end and line.end > start and line.kind in ("tags", "colour")]
        if inside:
            seen = "; ".join(dict.fromkeys(line.text for line in inside))
            events.append(Event(start, end, f"Scene: {seen}.", "scene"))
    return sorted(events, key=lambda e: (e.start, e.end, e.text))


def _sentence(line: Line) -> str:
    if line.kind == "ocr":
        return f"Text on screen: {line.text}."
    if line.kind == "speech":
        return f'Someone says: "{line.text.strip()}"'
    text = line.text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _captions_by_model(reasoner: Reasoner, segment_seconds: float, max_segments: int) -> Captions:
    from vidllm.video.sample import probe

    duration = float(probe(reasoner.video).duration or 0.0)
    count = max(1, min(max_segments, math.ceil(duration / segment_seconds)))
    edges = [duration * k / count for k in range(count + 1)]
    events: list[Event] = []
    calls = []
    for start, end in zip(edges[:-1], edges[1:]):
        call = reasoner.ask("Describe in one sentence what happens in these frames.", start=start, end=end)
        calls.append(call)
        text = " ".join(call.reply.split()) or "(no caption)"
        if events and events[-1].text == text:  # the same thing goes on
            events[-1] = Event(events[-1].start, round(end, 3), text, "model")
        else:
            events.append(Event(round(start, 3), round(end, 3), text, "model"))
    return Captions(events, "model", "", duration, calls)
