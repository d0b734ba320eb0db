"""Read a predictions file written by another tool into (benchmark, samples, predictions), for
``vidllm score``.

Three kinds of file are read: a benchmark's own result format, by that benchmark's
``read_results`` (``vidllm.eval.benchmarks.<name>`` documents which format), vidllm's own
``samples.jsonl``, for any benchmark, and lmms-eval's ``*_samples_<task>.jsonl``
(``vidllm.eval.lmms_eval``), so an lmms-eval run is rescored with both readings. Either way the result goes through
``vidllm.eval.grading.grade``, the same path as ``vidllm eval``: official and robust scores side
by side.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from vidllm.errors import PredictionFormatError
from vidllm.eval.benchmarks import BENCHMARKS, Benchmark
from vidllm.eval.lmms_eval import is_lmms_samples, read_lmms_samples
from vidllm.eval.types import EvalSample, LoadReport, Prediction


def read_predictions(path: str | Path, bench_name: str | None = None, *, data: str | Path | None = None,
                     answers: str | Path | None = None) -> tuple[Benchmark, LoadReport, dict[str, Prediction]]:
    """(benchmark scorer, the samples as a LoadReport, predictions by doc_id) of a predictions file.

    ``data`` and ``answers`` carry ground truth that a format lacks (see the benchmark's module).
    """
    path = Path(path)
    if not path.exists():
        raise PredictionFormatError(f"predictions file {path} does not exist")
    if path.suffix == ".jsonl":
        if is_lmms_samples(path):
            return read_lmms_samples(path, bench_name, data=Path(data) if data is not None else None)
        return _vidllm_samples(path, bench_name)
    if bench_name is None:
        raise PredictionFormatError(f"{path}: say which benchmark it is for (--bench NAME); known: {', '.join(BENCHMARKS.names())}")
    bench = BENCHMARKS.get(bench_name)()
    quirks: Counter = Counter()
    pairs = bench.read_results(path, quirks, data=Path(data) if data is not None else None,
                               answers=Path(answers) if answers is not None else None)
    samples = [s for s, _ in pairs]
    return bench, _report(bench, path, samples, dict(quirks)), {s.doc_id: p for s, p in pairs}


def _report(bench: Benchmark, path: Path, samples: list[EvalSample], quirks: dict) -> LoadReport:
    return LoadReport(benchmark=bench.name, root=str(path.parent), samples=samples, files=[], items=len(samples),
                      quirks=quirks, missing=[])


def _vidllm_samples(path: Path, bench_name: str | None):
    samples, preds = [], {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            sample = EvalSample.from_doc(row["doc"])
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise PredictionFormatError(f"{path}:{n}: not a vidllm samples.jsonl line ({exc})") from None
        samples.append(sample)
        resps = row.get("resps") or [[""]]
        preds[sample.doc_id] = Prediction(text=resps[0][0] or "", turns=tuple(resps[0][1:]), model=row.get("model", ""))
    names = {s.benchmark for s in samples}
    if len(names) != 1 or (bench_name and bench_name not in names):
        raise PredictionFormatError(f"{path}: samples of {sorted(names)}, expected one benchmark{f' ({bench_name})' if bench_name else ''}")
    bench = BENCHMARKS.get(names.pop())()
    return bench, _report(bench, path, samples, {}), preds


__all__ = ["read_predictions"]
