"""What the reasoning tasks share: one backend seen as a reasoner, and the record of each call.

A ``Reasoner`` puts any backend behind two questions the tasks ask:
- ``timeline()``: the video's perception timeline (time-stamped observations). The embedded
  default reads its own stored timeline; a frame-reading model gets the cheap pixel-only
  ``visual`` tool's (shots, motion, colours, moving-region tracks), so every backend has the
  same deterministic evidence to check a model's words against;
- ``ask(prompt)``: one recorded model call. The embedded default's text LLM reads the prompt
  (it cannot see frames: the prompt carries the observations); a frame-reading model (``hf:``,
  ``vllm:``, ``openai:``) gets frames sampled here, with their true times written into the
  prompt, so a time it names can be read back with ``vidllm.timeparse``.

Every call is greedy (temperature 0) with a fixed seed, so the same video and question give
the same record; a ``Call`` keeps its prompt, reply, frame times, tokens and seconds.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from vidllm.models.base import Backend
from vidllm.models.request import Generation, Request, Text, Turn, Video
from vidllm.perceive.timeline import Line, Timeline, clock
from vidllm.video.frames import Frames
from vidllm.video.spec import SamplingSpec

TEXT_SYSTEM = ("You reason about a video you cannot see. Perception tools describe it in time-stamped "
               "lines (objects, on-screen text, speech, movement). Use only those lines. Be brief.")
FRAMES_SYSTEM = "You watch a video given as frames with their times. Be brief."
# Tools a frame-reading model's evidence comes from: pixels only, no model files, seconds to run.
EVIDENCE_TOOLS = ("visual",)


@dataclass
class Call:
    """One model call as it happened."""

    prompt: str
    reply: str
    seconds: float
    frame_times: list[float] = field(default_factory=list)  # true times of the frames shown ([] for text)
    usage: dict = field(default_factory=dict)


@dataclass
class Step:
    """One step of a reasoning task: its calls, what it hands the next step, and what decided it.

    ``decided_by`` names the part that settled the step's result ("perception", "model",
    "evidence", "similarity", ...), so a reader sees where a small model was overruled.
    """

    name: str
    output: str
    decided_by: str
    calls: list[Call] = field(default_factory=list)
    evidence: list[dict] = field(default_factory=list)  # {"start", "end", "text"}
    data: dict = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def evidence_of(line: Line, score: float | None = None) -> dict:
    d = {"start": round(line.start, 3), "end": round(line.end, 3), "kind": line.kind, "text": line.text}
    if score is not None:
        d["score"] = round(float(score), 4)
    return d


def embedded_timeline(uri: str, model_options: dict | None, video: str) -> Timeline | None:
    """The embedded default's stored timeline (perceived where missing) without loading its
    text model, for tasks that do not ask it (ground, captions); None for any other model."""
    from vidllm.models.registry import backend_class, parse_uri
    from vidllm.models.timeline import TimelineBackend
    from vidllm.perceive.analyze import analyze, make_tools

    cls = backend_class(parse_uri(uri)[0])
    if not issubclass(cls, TimelineBackend):
        return None
    options = cls.parse_options(dict(model_options or {}))  # the same refusals as loading it
    return analyze(str(video), make_tools(options.tools, options.tool_options), progress=options.progress)


class Reasoner:
    """A backend, a video and the generation settings every call of one task shares."""

    def __init__(self, backend: Backend, video: str, *, nframes: int = 8, max_new_tokens: int = 64,
                 seed: int = 0, progress: bool | None = False):
        from vidllm.models.timeline import TimelineBackend

        self.backend = backend
        self.video = str(video)
        self.nframes = nframes
        self.generation = Generation(max_new_tokens=max_new_tokens, temperature=0.0, seed=seed)
        self.progress = progress
        self.reads_frames = not isinstance(backend, TimelineBackend)
        self._timeline: Timeline | None = None
        self._frames: dict[tuple, Frames] = {}

    @property
    def system(self) -> str:
        return FRAMES_SYSTEM if self.reads_frames else TEXT_SYSTEM

    def timeline(self) -> Timeline:
        """The video's perception timeline (stored; perceived now where missing)."""
        if self._timeline is None:
            if self.reads_frames:
                from vidllm.perceive.analyze import analyze, make_tools

                self._timeline = analyze(self.video, make_tools(EVIDENCE_TOOLS), progress=self.progress)
            else:
                self._timeline = self.backend.timeline(self.video)
        return self._timeline

    @property
    def duration(self) -> float:
        return float(self.timeline().duration)

    def frames(self, start: float = 0.0, end: float | None = None, nframes: int | None = None) -> Frames:
        """Frames spread uniformly over [start, end), sampled once per range."""
        from vidllm.video.sample import sample_frames

        key = (round(start, 3), None if end is None else round(end, 3), nframes or self.nframes)
        if key not in self._frames:
            self._frames[key] = sample_frames(self.video, SamplingSpec(nframes=key[2], start=start, end=end))
        return self._frames[key]

    def ask(self, prompt: str, *, start: float = 0.0, end: float | None = None, nframes: int | None = None,
            frames: Frames | None = None, max_new_tokens: int | None = None) -> Call:
        """One model call. A frame-reading model sees ``frames`` (else ``nframes`` spread over
        [start, end)), their true times written before ``prompt``; a text model reads ``prompt``."""
        generation = self.generation
        if max_new_tokens is not None:
            generation = Generation(max_new_tokens=max_new_tokens, temperature=0.0, seed=generation.seed)
        system = Turn("system", (Text(self.system),))
        times: list[float] = []
        if self.reads_frames:
            shown = frames if frames is not None else self.frames(start, end, nframes)
            times = [round(float(t), 3) for t in shown.timestamps]
            prompt = f"The frames are at {', '.join(f'{t:.2f}s' for t in times)}.\n{prompt}"
            request = Request((system, Turn("user", (Video(None, frames=shown), Text(prompt)))), generation)
            model = self.backend
        else:
            request = Request((system, Turn("user", (Text(prompt),))), generation)
            model = self.backend.llm  # the embedded default's text model
        began = time.perf_counter()
        [response] = model.generate([request])
        if self.reads_frames:  # the frames the model got (a budget may keep fewer than were offered)
            times = [round(float(t), 3) for t in response.manifest["videos"][0].get("timestamps") or times]
        return Call(prompt=prompt, reply=response.text.strip(), seconds=round(time.perf_counter() - began, 3),
                    frame_times=times, usage=response.usage.to_dict())


# -- reading replies ------------------------------------------------------------------------------

_FILLER = frozenset("a an the of to is it its in on at and or by with from does do did what which who whom "
                    "whose when where why how this that these those there video clip".split())


def content_words(text: str) -> list[str]:
    """The words of ``text`` that carry meaning (no articles, question words or "video").

    >>> content_words("Which direction does the blue object move in the video?")
    ['direction', 'blue', 'object', 'move']
    """
    return [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _FILLER]


def reply_lines(reply: str, limit: int = 6, max_words: int = 8) -> list[str]:
    """Short items listed in a reply (one per line, or separated by commas), bullets and
    numbering removed, repeats dropped.

    >>> reply_lines("1. the red ball\\n- a blue box, the table\\nThese are all the things one must watch to answer it.")
    ['the red ball', 'a blue box', 'the table']
    """
    items: list[str] = []
    for raw in re.split(r"[\n;]|,\s", reply):
        item = re.sub(r"^\s*(?:[-*•]|\d+[.)]|[A-Za-z][.)](?=\s))\s*", "", raw).strip(" .:\"'")
        if not item or len(item.split()) > max_words or item.lower() in (i.lower() for i in items):
            continue
        items.append(item)
    return items[:limit]


def read_score(reply: str, low: int = 1, high: int = 10) -> int | None:
    """The score a reply gives: a number written as "N/10" or after "score", else the first
    whole number in [low, high] that is not a list's numbering ("1. The ..."), or None.

    >>> read_score("Score: 8/10"), read_score("1. The object moves. I give it 7"), read_score("1. Yes")
    (8, 7, None)
    """
    marked = re.search(rf"(?<![\d.])(\d{{1,2}})\s*/\s*{high}\b|score\D{{0,12}}?(\d{{1,2}})(?![\d.]\d)", reply, re.I)
    if marked and low <= int(marked.group(1) or marked.group(2)) <= high:
        return int(marked.group(1) or marked.group(2))
    unlisted = re.sub(r"(?m)^\s*\d{1,2}[.)]\s", " ", reply)
    for m in re.finditer(r"(?<![\d.])(\d{1,2})(?![\d.]\d)", unlisted):
        value = int(m.group(1))
        if low <= value <= high:
            return value
    return None


def render_lines(lines: list[Line]) -> str:
    return "\n".join(line.render() for line in lines) or "(the perception tools found nothing)"


def similarities(texts: list[str], query: str) -> np.ndarray:
    """Cosine similarity of each text to ``query`` (all-MiniLM-L6-v2)."""
    from vidllm.perceive.text_embed import default_embedder

    if not texts:
        return np.zeros(0, np.float32)
    embedder = default_embedder()
    return embedder.embed(texts) @ embedder.embed([query])[0]


def relevance(texts: list[str], query: str) -> np.ndarray:
    """How much each text is about ``query``: cosine similarity plus the share of the query's
    words the text states (MiniLM barely tells "red object" from "blue object"; the word does)."""
    words = set(content_words(query))
    stated = [len(words & set(content_words(t))) / max(1, len(words)) for t in texts]
    return similarities(texts, query) + np.asarray(stated, dtype=np.float32)


def span_text(start: float, end: float) -> str:
    return f"{clock(start)}-{clock(end)}"
