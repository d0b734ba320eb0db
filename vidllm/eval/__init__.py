"""Evaluation: benchmarks (loaders, official readings and scorers), the resumable runner, one
grading path (official and robust) and reports.

>>> from vidllm.eval import BENCHMARKS, EvalConfig
>>> "mvbench" in BENCHMARKS
True

The Python API: ``evaluate(EvalConfig(model=..., benchmark=..., data_dir=...)) -> EvalResult``
(what ``vidllm eval`` runs) and ``score(predictions_file, benchmark) -> EvalResult`` (what
``vidllm score`` runs), both in ``pipeline``.

The pieces, in the order data flows through them:

* ``benchmarks`` - the ``BENCHMARKS`` registry; one module per benchmark owns all that is
  specific to it: loader (into ``EvalSample``s, ``types``), official reading of replies, official
  aggregation, judge prompts, the result files its own tools write, its oracle answer;
* ``runner`` - ``run(samples, predict, out_dir)`` with the predictor interface a model adapter
  implements, and the write-ahead ``store``; ``model_predictor`` - any model backend as a
  predictor or a judge; ``predictors`` - the baseline predictors (``BASELINES``);
* ``grading`` - the one scoring path, with ``parsers`` (the one robust reading), ``metrics`` and
  ``judge`` (the generic judge); ``report`` - results.json, samples.jsonl, report.html;
  ``result_files`` - reading predictions files for ``vidllm score``.
"""

from vidllm.eval.benchmarks import BENCHMARKS, Benchmark, load_benchmark
from vidllm.eval.grading import GradeContext, Graded, GradeResult, grade
from vidllm.eval.judge import Judge
from vidllm.eval.pipeline import EvalConfig, EvalResult, evaluate, score
from vidllm.eval.predictors import BASELINES
from vidllm.eval.runner import frames_for, run, sample_seed, spec_for
from vidllm.eval.types import Checkpoint, EvalSample, LoadReport, Parsed, Prediction

__all__ = [
    "BENCHMARKS", "BASELINES", "Benchmark", "load_benchmark", "EvalConfig", "EvalResult", "evaluate", "score",
    "GradeContext", "GradeResult", "Graded", "grade", "Judge", "frames_for", "run", "sample_seed", "spec_for",
    "Checkpoint", "EvalSample", "LoadReport", "Parsed", "Prediction",
]
