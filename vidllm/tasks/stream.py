"""``StreamSession``: watch a live stream, answer about the past and the present, speak up when
the evidence arrives.

Frames come in with their true stream times (``feed``; ``run`` reads a ``vidllm.video.live``
source). Each frame is perceived at once, so an answer is never a chunk late: a grey thumbnail
of every frame (change, repeated motion); OCR on every frame whose picture changed (on-screen
text is what forward questions wait for); EfficientNet tags and embedding (the ``tags`` tool) on
changed frames at most once a second. What is seen becomes time-stamped lines (the session's
own timeline, bounded) and memory items (``vidllm.memory``: near-duplicate removal, then a
fixed-capacity merging memory holding one frame per item).

Questions arrive at any moment:

- ``ask(q)``: backward ("what was written at the start?") or real-time ("what is on screen
  now?"), answered at once from what has been seen so far;
- ``watch(q)``: forward / proactive ("tell me when the text EXIT 42 appears", "count the jumps
  and tell me each time"): re-checked as evidence arrives; an ``answer`` event carries the
  evidence time and the delay; silent otherwise; ``cancel(id)`` stops it.

Who decides is recorded in every event (``decided_by``): deterministic checks where a small
model would be unreliable (``text-match``: on-screen text read by OCR; ``text-read``: the text
visible at a time; ``counter``: repetitions of a motion, counted as returns to a resting
picture; ``presence``: an ImageNet label seen), else ``model``: the embedded default answers
over the session's own lines with its text LLM; any other backend (``hf:``, ``openai:``,
``vllm:``) is shown the frames held in memory plus the latest ones, with their true times.

No answer uses a frame later than the moment it is given: every answer checks the newest time it
used against the session's ``now`` and raises ``AssertionError`` otherwise.

>>> session = StreamSession(model=None, tools=("ocr",))  # deterministic checks only; OCR loads on the first frame
>>> qid = session.watch('tell me when the text "EXIT 42" appears')
>>> session.questions[qid].check, session.questions[qid].target
('text-match', 'EXIT 42')
"""

from __future__ import annotations

import itertools
import logging
import re
import time
from collections import deque
from dataclasses import asdict, dataclass, field

import numpy as np

from vidllm.errors import OptionError
from vidllm.memory import Deduplicator, MergeMemory, retrieve_items
from vidllm.perceive.base import PerceptionInput
from vidllm.perceive.timeline import Line, clock
from vidllm.perceive.tools.common import grey, thumbnails
from vidllm.tasks.stream_checks import (
    CHECKS,
    RepetitionCounter,
    changed_share,
    classify,
    says,
)
from vidllm.video.frames import Frames

log = logging.getLogger(__name__)

STREAM_TOOLS = ("tags", "ocr")  # per-frame tools; speech and the clip-level visual tool do not stream
MIN_TAG_SCORE = 0.15  # as the timeline shows tags to a model


@dataclass(frozen=True)
class StreamEvent:
    """What the session says. ``kind``: ``answer`` (to an ask, or a watch whose evidence
    arrived), ``cancelled``, ``ended`` (a watch still open when the stream ended).

    ``stream_time`` is the newest frame the answer could use (the session's ``now``);
    ``used_until`` the newest time it actually used (never after ``stream_time``);
    ``evidence_time`` when the evidence first appeared; ``delay`` = the stream clock when the
    event was emitted minus ``evidence_time`` (compute time included on a live source)."""

    kind: str
    question_id: str
    question: str
    mode: str
    stream_time: float
    answer: str = ""
    decided_by: str = ""
    evidence_time: float | None = None
    delay: float | None = None
    used_until: float | None = None
    evidence: tuple[dict, ...] = ()
    seconds: float = 0.0  # wall time spent answering

    def to_dict(self) -> dict:
        out = asdict(self)
        out["evidence"] = list(self.evidence)
        return out

    def render(self) -> str:
        """One readable line: ``[00:12.5] watch q2 (text-match, delay 0.4 s): "EXIT 42" appeared``."""
        delay = f", delay {self.delay:.2f} s" if self.delay is not None else ""
        detail = f" ({self.decided_by}{delay})" if self.decided_by else ""
        seen = f" (seen at {clock(self.evidence_time)})" if self.evidence_time is not None else ""
        return f"[{clock(self.stream_time)}] {self.mode} {self.question_id} {self.kind}{detail}: {self.answer}{seen}"


@dataclass
class Question:
    id: str
    text: str
    mode: str  # "ask" or "watch"
    asked_at: float
    check: str  # text-match | text-read | counter | presence | model (| none: no model to ask)
    target: str = ""  # the phrase, label or time reference the check reads
    prompt: str = ""  # what the model is asked, when it is not the question itself
    baseline: int = 0  # counter: repetitions before the question was asked
    answered: int = 0
    last_check: float = -1e9


@dataclass
class _Span:
    """One line of the session's timeline: ``kind``/``text`` seen from ``start`` to ``last``."""

    kind: str
    text: str
    start: float
    last: float

    def line(self) -> Line:
        return Line(self.start, self.last, self.kind, self.text)


class StreamSession:
    """One live stream and its questions (see the module docs).

    ``model``: a backend URI (default ``timeline``, the embedded default), or None for
    deterministic checks only. ``tools``: per-frame perception (``tags``, ``ocr``). ``clock``:
    a callable giving the stream time now (a live source's ``clock``), so delays include the
    time spent computing; without it, now is the newest frame.
    """

    def __init__(self, model: str | None = "timeline", *, model_options: dict | None = None, pool=None,
                 tools: tuple[str, ...] = STREAM_TOOLS, tool_options: dict | None = None,
                 memory_capacity: int = 64, recent_frames: int = 4, max_lines: int = 600,
                 recheck_interval: float = 1.0, ocr_change: float = 0.002, tags_change: float = 0.01,
                 tags_interval: float = 1.0, max_new_tokens: int = 64, clock=None):
        unknown = sorted(set(tools) - set(STREAM_TOOLS))
        if unknown:
            raise OptionError(f"stream tools must be among {', '.join(STREAM_TOOLS)}; got {', '.join(unknown)}")
        self.model_uri = model
        self._pool, self._own_pool = pool, pool is None
        self._model_options = dict(model_options or {})
        self._backend = None
        self._tool_names, self._tool_options = tuple(tools), dict(tool_options or {})
        self._tools: dict | None = None
        self.clock = clock
        self.max_new_tokens = max_new_tokens
        self.recheck_interval, self.max_lines = recheck_interval, max_lines
        self.ocr_change, self.tags_change = ocr_change, tags_change  # shares of thumbnail pixels changed
        self.tags_interval = tags_interval  # tags feed memory and presence, not the text checks: 1 a second is enough
        self._tags_time = float("-inf")
        self.questions: dict[str, Question] = {}
        self._ids = itertools.count(1)
        self.now = float("-inf")  # the newest frame time ingested
        self.frames_seen = 0
        self.counter = RepetitionCounter()
        self._spans: list[_Span] = []
        self._open: dict[tuple[str, str], _Span] = {}
        self._lines_changed = False
        self._ocr_thumb: np.ndarray | None = None
        self._ocr_texts: list[str] = []
        self._tags_thumb: np.ndarray | None = None
        self._tags: tuple[np.ndarray, int | None] = (np.zeros(0), None)
        self._dedup = Deduplicator(threshold=0.9)
        self.memory = MergeMemory(memory_capacity)
        self._undecided: dict[int, tuple[float, np.ndarray]] = {}  # frames dedup has not decided yet
        self._held: dict[int, tuple[float, np.ndarray]] = {}  # one frame per memory item
        self._recent: deque = deque(maxlen=max(1, recent_frames))  # (index, time, image) of the latest frames
        self._decided = 0
        self.timings = {"perception": 0.0, "answers": 0.0}

    # -- frames in ------------------------------------------------------------------------------

    def feed(self, frames: Frames) -> list[StreamEvent]:
        """Ingest frames (in time order); returns the events their evidence triggered."""
        events = []
        for image, t in zip(frames.data, frames.timestamps):
            t = float(t)
            if t <= self.now:
                continue  # a repeated time: the stream must move forward
            began = time.perf_counter()
            self._perceive(image, t)
            self.timings["perception"] += time.perf_counter() - began
            events += self._recheck()
        return events

    def _perceive(self, image: np.ndarray, t: float) -> None:
        index = self.frames_seen
        self.now, self.frames_seen = t, index + 1
        thumb = grey(thumbnails(image[None], 64))[0]
        self.counter.update(thumb, t)
        tools = self._load_tools()
        embedding = None
        if "tags" in tools:
            due = t - self._tags_time >= self.tags_interval - 1e-6
            if self._tags_thumb is None or (due and changed_share(thumb, self._tags_thumb) >= self.tags_change):
                # a still picture keeps its tags and embedding: classify only what changed
                probs, feats = tools["tags"].classify(image[None])
                self._tags_time = t
                top = int(np.argmax(probs[0]))
                self._tags = (feats[0], top if probs[0, top] >= MIN_TAG_SCORE else None)
                self._tags_thumb = thumb
            embedding, top = self._tags
            if top is not None:
                from vidllm.perceive.tools.imagenet import CLASSES

                self._see("tags", CLASSES[top], t)
        if "ocr" in tools:
            # a still picture is read once, not at every frame
            if self._ocr_thumb is None or changed_share(thumb, self._ocr_thumb) >= self.ocr_change:
                single = Frames(image[None], np.array([t]), np.array([t]), "stream", "", "live")
                found = tools["ocr"].run(PerceptionInput(single, "stream", t + 1e-3, False))
                self._ocr_texts = [o.payload.get("text", o.text) for o in found]
                self._ocr_thumb = thumb
            for text in self._ocr_texts:
                self._see("ocr", f'"{text}"', t)
        self._close_unseen(t)
        self._remember(index, t, image, embedding if embedding is not None else _thumb_vector(thumb))

    def _see(self, kind: str, text: str, t: float) -> None:
        span = self._open.get((kind, text))
        if span is None:
            span = _Span(kind, text, t, t)
            self._open[(kind, text)] = span
            self._spans.append(span)
            self._lines_changed = True
            if len(self._spans) > self.max_lines:  # bounded: the oldest closed tag line goes first
                closed = [s for s in self._spans if s not in self._open.values()]
                victim = next((s for s in closed if s.kind == "tags"), closed[0] if closed else self._spans[0])
                self._spans.remove(victim)
        span.last = t

    def _close_unseen(self, t: float) -> None:
        for key, span in list(self._open.items()):
            if span.last < t:
                del self._open[key]

    def _remember(self, index: int, t: float, image: np.ndarray, embedding: np.ndarray) -> None:
        """Dedup, then the merging memory; keep the image of each item's first frame only."""
        self._recent.append((index, t, image))
        self._undecided[index] = (t, image)
        for item in self._dedup.push(embedding[None], [t]):
            self.memory.add(item)
        all_kept = self._dedup.kept
        kept = set(all_kept[all_kept >= self._decided].tolist())
        decided = len(self._dedup.represented_by)
        for i in [i for i in self._undecided if i < decided]:
            frame = self._undecided.pop(i)
            if i in kept:
                self._held[i] = frame
        self._decided = decided
        wanted = {item.frame_indices[0] for item in self.memory.items if item.frame_indices}
        wanted.add(int(all_kept[-1]) if len(all_kept) else -1)  # the run still open
        for i in [i for i in self._held if i not in wanted]:
            del self._held[i]

    @property
    def held_frames(self) -> int:
        """Images held now: bounded by the memory's capacity, the dedup window and the recent frames."""
        return len(self._held) + len(self._undecided) + len(self._recent)

    def lines(self, until: float | None = None) -> list[Line]:
        """The session's timeline lines seen up to ``until`` (default: now), spans cut there."""
        until = self.now if until is None else until
        return [Line(s.start, min(s.last, until), s.kind, s.text) for s in self._spans if s.start <= until]

    # -- questions ------------------------------------------------------------------------------

    def ask(self, question: str, *, prompt: str | None = None, check: str | None = None) -> StreamEvent:
        """Answer ``question`` now, from what has been seen so far. ``prompt``: what a model is
        asked instead of the bare question (a benchmark's official prompt); ``check``: who
        decides (default: ``classify(question)``)."""
        q = self._question(question, "ask", prompt, check)
        event = self._answer(q)
        del self.questions[q.id]
        return event

    def watch(self, question: str, *, prompt: str | None = None, check: str | None = None) -> str:
        """Watch for ``question``'s evidence from now on; returns its id (for ``cancel``)."""
        return self._question(question, "watch", prompt, check).id

    def cancel(self, question_id: str) -> StreamEvent:
        q = self.questions.pop(question_id)
        return StreamEvent("cancelled", q.id, q.text, q.mode, self.now)

    def end(self) -> list[StreamEvent]:
        """The stream ended: every watch still open is closed (``ended``)."""
        events = [StreamEvent("ended", q.id, q.text, q.mode, self.now, answer=f"answered {q.answered} time(s)")
                  for q in self.questions.values()]
        self.questions.clear()
        return events

    def _question(self, text: str, mode: str, prompt: str | None = None, check: str | None = None) -> Question:
        if check is not None and check not in CHECKS:
            raise OptionError(f"unknown check {check!r}: choose one of {', '.join(CHECKS)}")
        check, target = (check, classify(text)[1] if check == classify(text)[0] else "") if check else classify(text)
        if check in ("text-match", "text-read") and "ocr" not in self._tool_names:
            check, target = "model", ""
        if check == "presence" and "tags" not in self._tool_names:
            check, target = "model", ""
        if check == "model" and self.model_uri is None:
            check = "none"
        q = Question(f"q{next(self._ids)}", text, mode, self.now, check, target, prompt or "")
        if check == "counter" and mode == "watch":
            q.baseline = self.counter.count_until(self.now)[0]
        self.questions[q.id] = q
        return q

    def _recheck(self) -> list[StreamEvent]:
        events = []
        for q in list(self.questions.values()):
            if q.mode != "watch":
                continue
            if q.check == "model":  # costly: only when something new was seen, at most once per interval
                if not self._lines_changed or self.now - q.last_check < self.recheck_interval:
                    continue
            q.last_check = self.now
            event = self._answer(q)
            if event is not None:
                events.append(event)
        self._lines_changed = False
        return events

    def _answer(self, q: Question) -> StreamEvent | None:
        began = time.perf_counter()
        now = self.now
        result = getattr(self, "_check_" + q.check.replace("-", "_"))(q, now)
        if result is None:  # a watch with no news stays silent
            return None
        answer, evidence_time, used_until, evidence = result
        if used_until is not None and used_until > now + 1e-9:
            raise AssertionError(f"future leak: {q.id} answered at {now:.3f} s used a frame of {used_until:.3f} s")
        q.answered += 1
        emitted = self.clock() if self.clock is not None else None
        emitted = now if emitted is None else max(now, emitted)
        seconds = time.perf_counter() - began
        self.timings["answers"] += seconds
        # a delay is how late a watch spoke; an ask's evidence is simply older than the question
        delay = None if evidence_time is None or q.mode != "watch" else round(emitted - evidence_time, 3)
        return StreamEvent("answer", q.id, q.text, q.mode, now, answer, q.check, evidence_time, delay,
                           used_until, tuple(evidence), round(seconds, 3))

    # -- the checks: (answer, evidence time, newest time used, evidence) or None ---------------

    def _check_text_match(self, q: Question, now: float):
        for span in self._spans:
            if span.kind == "ocr" and span.start <= now and says(q.target, span.text.strip('"')):
                if q.mode == "watch" and (q.answered or span.last < q.asked_at):
                    continue  # answered already, or gone before the question was asked
                return (f"{span.text} on screen", span.start, span.start, [_line_dict(span, now)])
        if q.mode == "ask":
            return (f'"{q.target}" has not appeared', None, None, [])
        return None

    def _check_text_read(self, q: Question, now: float):
        if q.target == "start":
            first = min((s.start for s in self._spans if s.kind == "ocr"), default=None)
            at = first if first is not None else 0.0
        else:
            at = now - float(q.target or 0)
        shown = [s for s in self._spans if s.kind == "ocr" and s.start <= at + 0.25 and s.last >= at - 0.25 and s.start <= now]
        if not shown:
            return (f"no text on screen at {clock(max(at, 0.0))}", None, min(max(at, 0.0), now), [])
        return (", ".join(s.text for s in shown), min(s.start for s in shown),
                max(min(s.last, now) for s in shown), [_line_dict(s, now) for s in shown])

    def _check_counter(self, q: Question, now: float):
        count, last = self.counter.count_until(now)
        count -= q.baseline
        if q.mode == "watch":
            if count <= q.answered:
                return None
            return (str(count), last, last, [{"start": last, "end": last, "text": f"repetition {count} completed"}])
        return (str(count), last, now, [])

    def _check_presence(self, q: Question, now: float):
        words = set(q.target.split())
        for span in self._spans:
            if span.kind == "tags" and span.start <= now and words & set(re.findall(r"[a-z]+", span.text.lower())):
                if q.mode == "watch" and (q.answered or span.last < q.asked_at):
                    continue
                return (f"{q.target} seen ({span.text})", span.start, span.start, [_line_dict(span, now)])
        return (f"no {q.target} seen", None, None, []) if q.mode == "ask" else None

    def _check_none(self, q: Question, now: float):
        if q.mode == "watch":
            return None
        return "(no model: only text, counting and presence questions are answered)", None, None, []

    def _check_model(self, q: Question, now: float):
        if not self.frames_seen:
            return ("nothing seen yet", None, None, []) if q.mode == "ask" else None
        backend = self._load_backend()
        prompt = q.prompt or (q.text if q.mode == "ask" else
                              f"{q.text}\nHas this happened yet? Answer Yes or No first, then say briefly what you saw.")
        if getattr(backend, "scheme", "") == "timeline":
            reply, used, lines = self._ask_timeline(backend, prompt, q.text, now, write=q.mode == "watch")
            evidence = [{"start": line.start, "end": line.end, "text": line.render()} for line in lines]
            evidence_time = lines[-1].start if lines else None
        else:
            reply, used, frames = self._ask_frames(backend, prompt, now)
            evidence = [{"start": float(t), "end": float(t), "text": "frame shown"} for t in frames.timestamps]
            evidence_time = float(frames.timestamps[-1]) if len(frames) else None
        if q.mode == "watch" and (q.answered or not reply.strip().lower().startswith("yes")):
            return None
        return reply.strip(), evidence_time, used, evidence

    # -- backends -------------------------------------------------------------------------------

    def _load_backend(self):
        if self._backend is None:
            from vidllm.models.pool import ModelPool

            if self._pool is None:
                self._pool = ModelPool()
            self._backend = self._pool.get(self.model_uri, **self._model_options)
        return self._backend

    def _load_tools(self) -> dict:
        if self._tools is None:
            from vidllm.perceive.analyze import make_tools

            options = {k: v for k, v in self._tool_options.items() if k in self._tool_names}
            self._tools = {tool.name: tool for tool in make_tools(self._tool_names, options)} if self._tool_names else {}
        return self._tools

    def _ask_timeline(self, backend, prompt: str, question: str, now: float, write: bool = False):
        """The embedded default over the session's own lines up to ``now``, answered as it answers
        about a file (``TimelineBackend.answer_over``: the lines most relevant under its budget,
        an open answer read off them, options scored); ``write``: the text model writes the reply
        (a watch question's "Yes ..." or "No ...")."""
        from vidllm.models.request import Generation
        from vidllm.perceive.base import Observation
        from vidllm.perceive.timeline import Timeline

        seen = [Observation(line.start, line.end, line.kind, line.text) for line in self.lines(now)]
        output = backend.answer_over(Timeline("stream", max(now, 0.0), seen), prompt,
                                     Generation(max_new_tokens=self.max_new_tokens), answers="llm" if write else None)
        reading = output.manifest["reading"]
        shown = reading["lines"] if reading["answered"] else output.manifest["lines"]
        lines = sorted((Line(d["start"], d["end"], d["kind"], d["text"]) for d in shown), key=lambda line: line.start)
        used = max((line["end"] for line in output.manifest["lines"]), default=None)
        return output.text, used, lines

    def _ask_frames(self, backend, prompt: str, now: float, k: int = 8):
        """A frame-reading backend: memory frames spread over the stream, plus the latest ones."""
        from vidllm.models.request import Generation, Request, Text, Turn, Video

        frames = self.frames_until(now, k)
        text = f"This is a live stream; its latest frame is at {clock(max(now, 0.0))}. {prompt}"
        [response] = backend.generate([Request((Turn("user", (Video(None, frames=frames), Text(text))),),
                                               Generation(max_new_tokens=self.max_new_tokens))])
        return response.text, float(frames.timestamps.max()), frames

    def frames_until(self, now: float, k: int = 8) -> Frames:
        """Up to ``k`` frames with their true times, none after ``now``: memory items spread over
        the stream (retrieval with full coverage) and the most recent frames."""
        recent = [(t, img) for _, t, img in self._recent if t <= now]
        items = [item for item in self.memory.items if item.frame_indices and item.frame_indices[0] in self._held]
        picked = retrieve_items(items, items[-1].embedding, max(0, k - len(recent)), coverage=1.0) if items else []
        chosen = {t: img for t, img in (self._held[item.frame_indices[0]] for item in picked) if t <= now}
        chosen.update(dict(recent))
        times = sorted(chosen)[-k:]
        size = chosen[times[-1]].shape
        times = [t for t in times if chosen[t].shape == size]  # a reconnect may change the picture size
        stamps = np.array(times, dtype=np.float64)
        return Frames(np.stack([chosen[t] for t in times]), stamps, stamps, "stream", "", "live")

    def summary(self) -> dict:
        return {"frames": self.frames_seen, "now": self.now if self.frames_seen else None,
                "lines": len(self._spans), "memory_items": len(self.memory), "held_frames": self.held_frames,
                "repetitions": len(self.counter.completed), "open_questions": len(self.questions),
                "seconds": {k: round(v, 3) for k, v in self.timings.items()}}

    def close(self) -> None:
        if self._own_pool and self._pool is not None:
            self._pool.close()
            self._pool = None
            self._backend = None


def _line_dict(span: _Span, now: float) -> dict:
    line = Line(span.start, min(span.last, now), span.kind, span.text)
    return {"start": line.start, "end": line.end, "text": line.render()}


def _thumb_vector(thumb: np.ndarray) -> np.ndarray:
    """A frame embedding without a model: the centred thumbnail (a flat picture gets a fixed direction)."""
    v = thumb.astype(np.float32).ravel()
    v = v - v.mean()
    norm = float(np.linalg.norm(v))
    if norm < 1e-6:
        v = np.zeros_like(v)
        v[0] = 1.0
        return v
    return v / norm


@dataclass
class RunSummary:
    """What ``run`` did: the session's summary, the source's stats, lag and the events."""

    events: list[StreamEvent] = field(default_factory=list)
    session: dict = field(default_factory=dict)
    source: dict = field(default_factory=dict)
    max_lag: float = 0.0
    interrupted: bool = False

    def to_dict(self) -> dict:
        return {"session": self.session, "source": self.source, "max_lag": round(self.max_lag, 3),
                "events": len(self.events), "interrupted": self.interrupted}


def run(source, session: StreamSession, *, asks=(), watches=(), on_event=None, ask_at: float | None = None) -> RunSummary:
    """Feed ``source`` (a ``LiveSource``) into ``session``: ``asks`` are answered at stream time
    ``ask_at`` (default: the first frame; at the end if the stream stops sooner), ``watches``
    watched from the start; every event goes to ``on_event`` as it happens. Ctrl-C stops
    cleanly (the summary says ``interrupted``); the source is closed either way."""
    summary = RunSummary()
    emit = on_event or (lambda event: None)
    if session.clock is None and source.drops:  # live: delays include the time spent computing
        session.clock = source.clock

    def say(events):
        for event in events:
            summary.events.append(event)
            emit(event)

    for question in watches:
        session.watch(question)
    pending = list(asks)
    try:
        for frames in source:
            say(session.feed(frames))
            if source.drops:  # how far behind real time the session runs (a replay has no real time)
                summary.max_lag = max(summary.max_lag, (source.clock() or session.now) - session.now)
            if pending and session.now >= (ask_at if ask_at is not None else session.now):
                say([session.ask(question) for question in pending])
                pending = []
        say([session.ask(question) for question in pending])  # the stream ended before ask_at
        say(session.end())
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        source.close()
    summary.session, summary.source = session.summary(), source.stats.to_dict()
    return summary


__all__ = ["StreamEvent", "StreamSession", "RepetitionCounter", "RunSummary", "classify", "run"]
