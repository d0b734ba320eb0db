"""Hierarchical summaries of a timeline: segments -> chapters -> the whole video.

"What is this video about?" about an hour of footage cannot be answered from a few relevant
lines, nor from all of them (thousands). As LLoVi and VideoTree do, a text model summarises
each segment from its lines, each chapter from its segments' summaries, and the video from its
chapters; every summary keeps its time span, so an answer built on one can still cite where.

Any text model writes them: the caller passes ``write(prompt) -> text``. Summaries are stored
as they are written (``SummaryStore``, a JSON file per video and writer in the cache folder),
so an interrupted hour resumes at its next segment and a second question reads them back.

>>> from vidllm.perceive.timeline import Line
>>> lines = [Line(5, 8, "ocr", '"OPEN"'), Line(70, 75, "speech", "hello")]
>>> tree = summarize(lines, 130.0, lambda prompt: f"{prompt.count(chr(10))} lines", segment_seconds=60)
>>> [(s.level, s.start, s.end) for s in tree]
[('segment', 0.0, 60.0), ('segment', 60.0, 120.0), ('segment', 120.0, 130.0), ('chapter', 0.0, 130.0), ('video', 0.0, 130.0)]
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from vidllm.perceive.timeline import Line, clock

SEGMENT_SECONDS = 60.0
CHAPTER_SEGMENTS = 5
MAX_LINES_PER_SEGMENT = 12  # the lines a segment summary is written from (spread over it)
PROMPTS = {
    "segment": "Here is what perception tools saw and heard in part of a video ({span}):\n{body}\n\n"
               "In one sentence, what happens in this part?",
    "chapter": "Here are summaries of consecutive parts of a video ({span}):\n{body}\n\n"
               "In one or two sentences, what happens in this chapter?",
    "video": "Here are summaries of the chapters of a video ({span}):\n{body}\n\n"
             "In two sentences, what is this video about?",
}
NOTHING = "(nothing was observed)"


@dataclass(frozen=True)
class Summary:
    level: str  # "segment", "chapter" or "video"
    start: float
    end: float
    text: str

    def render(self) -> str:
        return f"[{clock(self.start)}-{clock(self.end)}] {self.level}: {self.text}"


class SummaryStore:
    """Summaries written so far, keyed by (level, start, end), in one JSON file."""

    def __init__(self, path: Path | None):
        self.path = path
        self.done: dict[str, str] = {}
        if path is not None and path.exists():
            try:
                self.done = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):  # a file cut by a crash: write again from scratch
                self.done = {}

    @staticmethod
    def key(level: str, start: float, end: float) -> str:
        return f"{level}:{start:.3f}-{end:.3f}"

    def get(self, level: str, start: float, end: float) -> str | None:
        return self.done.get(self.key(level, start, end))

    def put(self, level: str, start: float, end: float, text: str) -> None:
        self.done[self.key(level, start, end)] = text
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            partial = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
            partial.write_text(json.dumps(self.done, indent=1, sort_keys=True), encoding="utf-8")
            partial.replace(self.path)  # atomic: a reader sees the old file or the new one


def store_path(cache_dir: Path, video_hash: str, writer: dict) -> Path:
    """Where the summaries of ``video_hash`` by ``writer`` (the model and its settings) live."""
    digest = hashlib.blake2b(json.dumps(writer, sort_keys=True, default=str).encode(), digest_size=8).hexdigest()
    return Path(cache_dir) / "summaries" / f"{video_hash}-{digest}.json"


def summarize(lines: Sequence[Line], duration: float, write: Callable[[str], str], *,
              segment_seconds: float = SEGMENT_SECONDS, chapter_segments: int = CHAPTER_SEGMENTS,
              store: SummaryStore | None = None, progress: Callable[[int, int], None] | None = None) -> list[Summary]:
    """Segment, chapter and video summaries of ``lines`` (a timeline's, for the model), in
    that order, each with its span; ``write`` turns a prompt into text."""
    store = store or SummaryStore(None)
    edges = [float(min(duration, i * segment_seconds)) for i in range(int(duration // segment_seconds) + 2)]
    spans = [(a, b) for a, b in zip(edges, edges[1:]) if b - a > 1e-3] or [(0.0, max(duration, 0.0))]
    total = len(spans) + -(-len(spans) // chapter_segments) + 1
    written = 0

    def summary(level: str, start: float, end: float, body: list[str]) -> Summary:
        nonlocal written
        text = store.get(level, start, end)
        if text is None:
            text = write(PROMPTS[level].format(span=f"{clock(start)}-{clock(end)}", body="\n".join(body))).strip() \
                if body else NOTHING
            store.put(level, start, end, text or NOTHING)
        written += 1
        if progress:
            progress(written, total)
        return Summary(level, start, end, text or NOTHING)

    segments = [summary("segment", a, b, _spread([line.render() for line in lines if line.start < b and line.end > a],
                                                  MAX_LINES_PER_SEGMENT)) for a, b in spans]
    chapters = []
    for i in range(0, len(segments), chapter_segments):
        group = segments[i:i + chapter_segments]
        chapters.append(summary("chapter", group[0].start, group[-1].end, [s.render() for s in group]))
    whole = summary("video", chapters[0].start, chapters[-1].end, [c.render() for c in chapters])
    return segments + chapters + [whole]


def _spread(items: list[str], k: int) -> list[str]:
    """At most ``k`` of ``items``, evenly spread (first and last kept)."""
    if len(items) <= k:
        return items
    step = (len(items) - 1) / (k - 1)
    return [items[round(i * step)] for i in range(k)]


def to_dicts(summaries: Sequence[Summary]) -> list[dict]:
    return [asdict(s) for s in summaries]
