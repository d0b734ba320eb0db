"""Evaluation: benchmark loaders, answer parsing (official and robust), metrics, the resumable
runner and reports.

>>> from vidllm.eval import BENCHMARKS
>>> "mvbench" in BENCHMARKS
True

The pieces, in the order data flows through them:

* ``benchmarks`` - ``BENCHMARKS`` registry; each loader reads a benchmark folder as published
  into ``EvalSample``s (``types``), counting data quirks and missing videos;
* ``runner`` - ``run(samples, predict, out_dir)`` with the predictor interface a model adapter
  implements, and the write-ahead ``store``; ``predictors`` - baseline predictors;
* ``parsers`` / ``timeparse`` - official and robust readings of replies; ``metrics``,
  ``simulate`` (VideoReasonBench moves) and ``judge`` (LLM-judged scores);
* ``grading`` - the one scoring path; ``report`` - results.json, samples.jsonl, report.html;
  ``score`` - predictions files in the benchmarks' own formats; ``cli`` - ``vidllm eval|score``.
"""

from vidllm.eval.benchmarks import BENCHMARKS, Benchmark, load_benchmark
from vidllm.eval.grading import GradeContext, Graded, GradeResult, grade
from vidllm.eval.judge import Judge
from vidllm.eval.runner import frames_for, run, sample_seed, spec_for
from vidllm.eval.types import Checkpoint, EvalSample, LoadReport, Parsed, Prediction

__all__ = [
    "BENCHMARKS", "Benchmark", "load_benchmark", "GradeContext", "GradeResult", "Graded", "grade", "Judge",
    "frames_for", "run", "sample_seed", "spec_for", "Checkpoint", "EvalSample", "LoadReport", "Parsed", "Prediction",
]
