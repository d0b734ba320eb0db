"""Value types of the evaluation harness: a benchmark item, a model's answer, a parsed answer.

``EvalSample`` is what a loader produces and what a predictor receives: one question to put to a
model about one video (or one moment of it), with the prompt exactly as the benchmark's official
code builds it and the ground truth the scorers compare against.

>>> s = EvalSample(doc_id="q1", benchmark="mvbench", task="action_count", video="a.mp4",
...                video_path="/data/a.mp4", question="How many?", options=("1", "2"),
...                target="B", kind="choice", prompt="Question: How many?")
>>> s.letters
('A', 'B')
>>> Prediction(text="(B) 2").to_dict()["text"]
'(B) 2'
"""

from __future__ import annotations

import math
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vidllm.errors import BenchmarkDataError

#: What kind of answer a sample expects; parsers and metrics dispatch on it.
KINDS = (
    "choice",      # one option letter (target: "A", "B", ...)
    "span",        # one time range in seconds (target: (start, end))
    "spans",       # several time ranges (target: ((s, e), ...))
    "point",       # one moment in seconds (target: spans it should fall in)
    "count",       # a whole number
    "yesno",       # "Yes" or "No"
    "text",        # free text judged against a reference (target: reference text)
    "rating",      # a score on a scale (target: the human mean score)
    "operation",   # a sequence of moves, checked by simulation (target: None)
    "captions",    # time ranges with a caption each (dense captioning)
    "choice_span", # an option letter and the time range that supports it
)


@dataclass(frozen=True)
class Checkpoint:
    """One moment of a streaming (forward) item: ask at ``realtime`` seconds, expect ``target``."""

    realtime: float
    target: Any
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EvalSample:
    """One question about one video, as a benchmark defines it.

    ``video`` is the path the annotation gives (relative to the benchmark folder or its video
    folder); ``video_path`` is where the loader found it ("" when the file is missing).
    ``prompt`` (with ``system`` and ``answer_prefix``, the text that starts the assistant's turn)
    is built as the official code builds it; ``followups`` are further user turns in the same
    conversation, answered in ``Prediction.turns``. ``time_range`` is the half-open part of the
    video the model may see (a clip bound, or [0, realtime) for streaming items).
    """

    doc_id: str
    benchmark: str
    task: str
    video: str
    video_path: str
    question: str
    target: Any
    kind: str
    prompt: str
    options: tuple[str, ...] = ()
    system: str = ""
    answer_prefix: str = ""
    followups: tuple[str, ...] = ()
    time_range: tuple[float, float] | None = None
    realtime: float | None = None
    checkpoints: tuple[Checkpoint, ...] = ()
    sampling: Mapping[str, Any] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.doc_id:
            raise BenchmarkDataError(f"{self.benchmark}: a sample needs a doc_id")
        if self.kind not in KINDS:
            raise BenchmarkDataError(f"{self.benchmark}/{self.doc_id}: kind {self.kind!r} is not one of {', '.join(KINDS)}")
        object.__setattr__(self, "options", tuple(self.options))
        object.__setattr__(self, "followups", tuple(self.followups))
        object.__setattr__(self, "extra", types.MappingProxyType(dict(self.extra)))
        object.__setattr__(self, "sampling", types.MappingProxyType(dict(self.sampling)))
        if self.time_range is not None:
            start, end = (float(t) for t in self.time_range)
            if not (math.isfinite(start) and math.isfinite(end)) or end <= start or start < 0:
                raise BenchmarkDataError(
                    f"{self.benchmark}/{self.doc_id}: time_range must be [start, end) with 0 <= start < end, got {self.time_range}"
                )
            object.__setattr__(self, "time_range", (start, end))

    def __hash__(self) -> int:
        return hash((self.benchmark, self.doc_id))

    @property
    def letters(self) -> tuple[str, ...]:
        """The option letters, "A" onwards."""
        return tuple(chr(ord("A") + i) for i in range(len(self.options)))

    def to_doc(self) -> dict:
        """A JSON-ready dict from which ``from_doc`` rebuilds the sample (used in samples.jsonl)."""
        doc = {name: getattr(self, name) for name in self.__dataclass_fields__}
        doc["options"] = list(self.options)
        doc["followups"] = list(self.followups)
        doc["extra"] = dict(self.extra)
        doc["sampling"] = dict(self.sampling)
        doc["checkpoints"] = [
            {"realtime": c.realtime, "target": c.target, "extra": dict(c.extra)} for c in self.checkpoints
        ]
        return doc

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> EvalSample:
        doc = dict(doc)
        doc["checkpoints"] = tuple(Checkpoint(**c) for c in doc.get("checkpoints", ()))
        target = doc.get("target")
        kind = doc.get("kind")
        if kind == "span" and isinstance(target, list):
            doc["target"] = tuple(target)
        elif kind in ("spans", "point") and isinstance(target, list):
            doc["target"] = tuple(tuple(t) if isinstance(t, list) else t for t in target)
        for key in ("options", "followups"):
            doc[key] = tuple(tuple(o) if isinstance(o, list) else o for o in doc.get(key, ()))
        if doc.get("time_range") is not None:
            doc["time_range"] = tuple(doc["time_range"])
        return cls(**doc)


@dataclass(frozen=True)
class Prediction:
    """A model's answer to one ``EvalSample``.

    ``text`` answers ``prompt``; ``turns`` answer ``followups`` in order. ``frame_timestamps``
    are the true times (seconds) of the frames the model saw; ``model`` names what answered
    (``baseline=True`` marks a non-model baseline such as ``oracle:``). ``usage`` holds token
    counts and ``seconds`` the wall time; neither enters the scores.
    """

    text: str
    turns: tuple[str, ...] = ()
    model: str = ""
    baseline: bool = False
    frame_timestamps: tuple[float, ...] = ()
    usage: Mapping[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise TypeError(f"Prediction.text must be a str, got {type(self.text).__name__}")
        object.__setattr__(self, "turns", tuple(self.turns))
        object.__setattr__(self, "usage", types.MappingProxyType(dict(self.usage)))
        object.__setattr__(self, "frame_timestamps", tuple(float(t) for t in self.frame_timestamps))

    def to_dict(self) -> dict:
        out = {name: getattr(self, name) for name in self.__dataclass_fields__}
        out["usage"] = dict(self.usage)
        out["turns"] = list(self.turns)
        out["frame_timestamps"] = list(self.frame_timestamps)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Prediction:
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Parsed:
    """What a parser read from a reply.

    ``value`` is the reading (a letter, a span, a count, ...; None when nothing was found).
    ``answered`` is False when the scorer would not count the sample at all (Video-MME's
    official scorer leaves replies it cannot read out of the denominator). ``correct`` is set when
    the official rule decides correctness itself (MVBench's substring test); otherwise the metric
    compares ``value`` with the target. ``note`` explains a surprising reading.
    """

    value: Any
    answered: bool = True
    correct: bool | None = None
    note: str = ""


@dataclass
class LoadReport:
    """What a loader found: the samples, the annotation files read and the data quirks counted."""

    benchmark: str
    root: str
    samples: list[EvalSample]
    files: list[str]
    items: int
    quirks: dict[str, int]
    missing: list[str]
    skipped_missing: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict:
        return {
            "benchmark": self.benchmark,
            "root": self.root,
            "files": list(self.files),
            "items": self.items,
            "samples": len(self.samples),
            "counts": dict(self.counts),
            "quirks": dict(sorted(self.quirks.items())),
            "missing_videos": len(self.missing),
            "skipped_missing": self.skipped_missing,
        }
