"""The one scoring path: (benchmark, samples, predictions) -> per-sample grades and scores, both
``official`` and ``robust``, and the samples where the two readings disagree.

``vidllm eval`` and ``vidllm score`` both end here, so a predictions file from another tool and a
vidllm run are scored by the same code.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vidllm.eval.judge import Judge
from vidllm.eval.types import EvalSample, Prediction

log = logging.getLogger(__name__)

MODES = ("official", "robust")


@dataclass(frozen=True)
class Graded:
    """One sample scored in one mode: the reading, its metric values, and whether it counts."""

    doc_id: str
    task: str
    mode: str
    value: Any
    metrics: Mapping[str, float]
    counted: bool = True
    note: str = ""
    judge_calls: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {
            "value": jsonable(self.value), "metrics": dict(self.metrics), "counted": self.counted,
            "note": self.note, "judge_calls": list(self.judge_calls),
        }


@dataclass
class GradeContext:
    """What scoring may need besides the replies: a judge model and a sentence similarity."""

    judge: Judge | None = None
    similarity: Callable[[str, str], float] | None = None

    def get_similarity(self) -> Callable[[str, str], float]:
        if self.similarity is None:
            self.similarity = embedding_similarity()
        return self.similarity


@dataclass
class GradeResult:
    """Every sample graded in both modes, the aggregate scores, and where the two readings differ."""

    samples: list[EvalSample]
    predictions: dict[str, Prediction]
    graded: dict[str, dict[str, Graded]]   # mode -> doc_id -> Graded
    scores: dict[str, dict]                # mode -> aggregate
    disagreements: list[str]

    def primary(self, mode: str) -> float | None:
        return self.scores[mode]["overall"].get("score")


def grade(bench, samples: Sequence[EvalSample], predictions: Mapping[str, Prediction], ctx: GradeContext | None = None) -> GradeResult:
    """Score every sample that has a prediction, in both modes, and aggregate as ``bench`` defines."""
    ctx = ctx or GradeContext()
    done = [s for s in samples if s.doc_id in predictions]
    graded: dict[str, dict[str, Graded]] = {}
    for mode in MODES:
        graded[mode] = {s.doc_id: bench.grade(s, predictions[s.doc_id], mode, ctx) for s in done}
    scores = {mode: bench.aggregate(done, graded[mode], mode) for mode in MODES}
    disagreements = [s.doc_id for s in done if _differs(graded["official"][s.doc_id], graded["robust"][s.doc_id])]
    return GradeResult(list(done), dict(predictions), graded, scores, disagreements)


def _differs(a: Graded, b: Graded) -> bool:
    if a.counted != b.counted:
        return True
    for key in set(a.metrics) & set(b.metrics):
        x, y = a.metrics[key], b.metrics[key]
        if isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y):
            continue
        if abs(float(x) - float(y)) > 1e-9:
            return True
    return False


def jsonable(value: Any) -> Any:
    """Tuples to lists, sets to sorted lists, floats kept: what goes into results files."""
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, set):
        return sorted(jsonable(v) for v in value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def embedding_similarity() -> Callable[[str, str], float]:
    """Cosine similarity of two texts' sentence embeddings (vidllm's one text embedder,
    all-MiniLM-L6-v2): the dot score of normalised embeddings that E.T. Bench's scorer computes.

    The embedder is loaded here, on first need; it memoises the texts it has embedded.
    """
    from vidllm.perceive.text_embed import default_embedder

    embedder = default_embedder()

    def similarity(a: str, b: str) -> float:
        first, second = embedder.embed([a, b])
        return float(first @ second)

    return similarity
