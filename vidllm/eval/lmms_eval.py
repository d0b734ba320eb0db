"""lmms-eval's file formats, both ways: a vidllm run written as lmms-eval writes its runs, and an
lmms-eval samples file read back for ``vidllm score``.

lmms-eval's tools find a run by ``*_results.json`` and read
``results{task: {"<metric>,<filter>": x, "<metric>_stderr,<filter>": se}}``, ``configs`` and
``versions``; the per-sample logs are ``*_samples_<task>.jsonl`` with one row per document
(``doc_id``, ``doc``, ``target``, ``input``, ``resps``, ``filtered_resps``, ``doc_hash``,
``prompt_hash``, ``target_hash`` and each metric's per-sample value), as
``lmms_eval/evaluator.py`` and ``lmms_eval/loggers/evaluation_tracker.py`` write them.

vidllm writes them beside its own files as ``lmms_eval_results.json`` and
``lmms_eval_samples_<bench>_<task>.jsonl`` (no date in the names: a resumed run writes the same
bytes). The official reading is lmms-eval's ``none`` filter; vidllm's robust reading is the
filter ``robust``. Standard errors: a metric that is the mean of a per-sample value gets
lmms-eval's ``mean_stderr`` (sample standard deviation / sqrt(n)); any other aggregate a seeded
bootstrap of the benchmark's own aggregation over the task's samples.

>>> mean_stderr([1.0, 0.0, 1.0, 1.0])
0.25
>>> lmms_task_name("mvbench", "action_sequence")
'mvbench_action_sequence'
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from vidllm.errors import PredictionFormatError
from vidllm.eval.grading import MODES, Graded, GradeResult, jsonable
from vidllm.eval.types import EvalSample, LoadReport, Prediction

RESULTS_NAME = "lmms_eval_results.json"
SAMPLES_PREFIX = "lmms_eval_samples_"
#: lmms-eval's filter key of each vidllm reading
FILTERS = {"official": "none", "robust": "robust"}
BOOTSTRAP_ITERS = 200
BOOTSTRAP_SEED = 1234


def lmms_task_name(bench: str, task: str) -> str:
    """lmms-eval's name of a vidllm task: ``<bench>_<task>`` (characters a file name cannot hold
    become "_")."""
    return re.sub(r"[^\w.-]", "_", f"{bench}_{task}")


def hash_string(text: str) -> str:
    """sha256 hex of a text, as lmms-eval's ``hash_string``."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------- standard errors


def mean_stderr(values: Sequence[float]) -> float | str:
    """Standard error of a mean: sample standard deviation (n - 1) / sqrt(n); "N/A" below 2 values."""
    n = len(values)
    if n < 2:
        return "N/A"
    mu = sum(values) / n
    return math.sqrt(sum((v - mu) ** 2 for v in values) / (n - 1) / n)


def _per_sample(rows: Sequence[Graded], key: str, value: float) -> list[float] | None:
    """The per-sample values whose mean ``value`` is, if ``value`` is such a mean."""
    counted = [g for g in rows if g.counted]
    if not counted:
        return None
    keys = {key} if all(key in g.metrics for g in counted) else set.intersection(*(set(g.metrics) for g in counted))
    for k in sorted(keys):
        values = [float(g.metrics[k]) for g in counted]
        if abs(sum(values) / len(values) - value) <= 1e-9:
            return values
    return None


def stderrs(bench, samples: Sequence[EvalSample], graded: Mapping[str, Graded], mode: str,
            values: Mapping[str, Any], task: str | None) -> dict[str, float | str]:
    """The standard error of each numeric metric in ``values`` (a task's aggregate, or the
    overall one when ``task`` is None)."""
    rows = [g for g in graded.values() if task is None or g.task == task]
    out: dict[str, float | str] = {}
    boot_keys = []
    for key, value in values.items():
        if key == "n" or not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        per_sample = _per_sample(rows, key, float(value))
        if per_sample is not None:
            out[key] = mean_stderr(per_sample)
        else:
            boot_keys.append(key)
    if boot_keys:
        out.update(_bootstrap(bench, samples, rows, mode, boot_keys, task))
    return out


def _renamed(value, doc_id: str):
    """A shallow copy of a frozen sample or grade under another doc_id (a resample may draw one
    sample several times); no re-validation, which would cost more than the aggregation."""
    out = object.__new__(type(value))
    out.__dict__.update(value.__dict__)
    out.__dict__["doc_id"] = doc_id
    return out


def _bootstrap(bench, samples, rows: Sequence[Graded], mode: str, keys: list[str], task: str | None) -> dict:
    """Bootstrap standard errors: resample the samples with replacement (seeded), aggregate each
    resample with the benchmark's own ``aggregate``, and take the standard deviation."""
    import numpy as np

    if len(rows) < 2:
        return dict.fromkeys(keys, "N/A")
    by_id = {s.doc_id: s for s in samples}
    rows = [g for g in rows if g.doc_id in by_id]
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    draws: dict[str, list[float]] = {k: [] for k in keys}
    # copies[i][k]: the k-th draw of row i within one resample, made once and reused
    copies: list[list[tuple]] = [[] for _ in rows]
    for _ in range(BOOTSTRAP_ITERS):
        sample_list, graded = [], {}
        used = [0] * len(rows)
        for i in rng.integers(0, len(rows), len(rows)).tolist():
            k = used[i]
            used[i] += 1
            if k == len(copies[i]):
                g = rows[i]
                doc_id = f"{g.doc_id}#{k}"
                copies[i].append((_renamed(by_id[g.doc_id], doc_id), _renamed(g, doc_id)))
            sample, grade_ = copies[i][k]
            sample_list.append(sample)
            graded[grade_.doc_id] = grade_
        try:
            agg = bench.aggregate(sample_list, graded, mode)
        except (ZeroDivisionError, KeyError, ValueError, TypeError):
            return dict.fromkeys(keys, "N/A")
        values = agg["overall"] if task is None else agg["tasks"].get(task, {})
        for k in keys:
            v = values.get(k)
            if isinstance(v, (int, float)) and not (isinstance(v, float) and math.isnan(v)):
                draws[k].append(float(v))
    return {k: (float(np.std(v, ddof=1)) if len(v) >= 2 else "N/A") for k, v in draws.items()}


# ---------------------------------------------------------------------- writing


def build_lmms_results(bench, graded: GradeResult, manifest: Mapping[str, Any]) -> dict:
    """The content of ``lmms_eval_results.json``: every task, and the benchmark as a group of them."""
    results: dict[str, dict] = {}
    name = bench.name
    tasks = list(dict.fromkeys([*graded.scores["official"]["tasks"], *graded.scores["robust"]["tasks"]]))
    entries = [(lmms_task_name(name, t), t) for t in tasks] + [(name, None)]
    for lmms_name, task in entries:
        entry: dict[str, Any] = {"alias": lmms_name if task is None else f" - {lmms_name}"}
        for mode in MODES:
            scores = graded.scores[mode]
            values = scores["overall"] if task is None else scores["tasks"].get(task, {})
            errors = stderrs(bench, graded.samples, graded.graded[mode], mode, values, task)
            filt = FILTERS[mode]
            for key, value in values.items():
                if key in errors:
                    entry[f"{key},{filt}"] = value
                    entry[f"{key}_stderr,{filt}"] = errors[key]
        results[lmms_name] = entry
    subtasks = [lmms_task_name(name, t) for t in tasks]
    model = manifest.get("model")
    model_name = model.get("uri", model.get("name")) if isinstance(model, Mapping) else str(model or manifest.get("predictions_file", ""))
    configs = {
        lmms_task_name(name, t): {
            "task": lmms_task_name(name, t), "tag": [name], "dataset_path": bench.title, "output_type": "generate_until",
            "metric_list": [{"metric": k, "aggregation": "mean" if k in ("acc", "iou") else name, "higher_is_better": True}
                            for k in graded.scores["official"]["tasks"].get(t, {}) if k != "n"],
            "metadata": {"version": bench_version(bench), "official_scorer": bench.source, "vidllm_task": t},
        }
        for t in tasks
    }
    n_samples = Counter(g.task for g in graded.graded["official"].values())
    return jsonable({
        "results": results,
        "groups": {name: results[name]},
        "group_subtasks": {name: subtasks},
        "configs": configs,
        "versions": {**{s: bench_version(bench) for s in subtasks}, name: bench_version(bench)},
        "n-shot": {s: 0 for s in subtasks},
        "higher_is_better": {s: {k.split(",")[0]: True for k in results[s] if "," in k and "_stderr" not in k} for s in subtasks},
        "n-samples": {lmms_task_name(name, t): {"original": n_samples[t], "effective": n_samples[t]} for t in tasks},
        "config": {"model": "vidllm", "model_args": model_name, "batch_size": 1, "limit": manifest.get("limit")},
        "task_hashes": task_hashes(graded, name),
        "model_name": model_name,
        "vidllm": {"filters": FILTERS, "manifest": dict(manifest)},
    })


def bench_version(bench) -> int:
    """The version lmms-eval records for a task: the benchmark's ``version`` (1 unless it says)."""
    return int(getattr(bench, "version", 1))


def sample_rows(graded: GradeResult, task: str) -> list[dict]:
    """The rows of one task's lmms-eval samples file, in sample order."""
    rows = []
    samples = [s for s in graded.samples if s.task == task]
    for index, sample in enumerate(samples):
        pred = graded.predictions[sample.doc_id]
        official, robust = graded.graded["official"][sample.doc_id], graded.graded["robust"][sample.doc_id]
        doc = jsonable(sample.to_doc())
        target = "" if sample.target is None else str(jsonable(sample.target))
        row = {
            "doc_id": index,
            "doc": doc,
            "target": target,
            "input": sample.prompt,
            "resps": [[pred.text, *pred.turns]],
            "filtered_resps": [pred.text],
            "doc_hash": hash_string(json.dumps(doc, indent=2, ensure_ascii=False)),
            "prompt_hash": hash_string(sample.prompt),
            "target_hash": hash_string(target),
            **{k: v for k, v in official.metrics.items()},
            "vidllm": {"doc_id": sample.doc_id, "official": official.to_dict(), "robust": robust.to_dict()},
        }
        rows.append(jsonable(row))
    return rows


def task_hashes(graded: GradeResult, bench_name: str) -> dict[str, str]:
    """lmms-eval's task hash: the hash of the concatenated "sample_<i>" + doc_hash."""
    out = {}
    for task in dict.fromkeys(s.task for s in graded.samples):
        rows = sample_rows(graded, task)
        out[lmms_task_name(bench_name, task)] = hash_string("".join(f"sample_{i}{r['doc_hash']}" for i, r in enumerate(rows)))
    return out


def write_lmms_outputs(out: Path, bench, graded: GradeResult, manifest: Mapping[str, Any], write) -> dict[str, Path]:
    """Write the results file and one samples file per task into ``out`` with ``write(path, text)``."""
    paths = {"lmms_results": out / RESULTS_NAME}
    write(paths["lmms_results"], json.dumps(build_lmms_results(bench, graded, manifest), indent=2, ensure_ascii=False) + "\n")
    for task in dict.fromkeys(s.task for s in graded.samples):
        path = out / f"{SAMPLES_PREFIX}{lmms_task_name(bench.name, task)}.jsonl"
        write(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in sample_rows(graded, task)))
        paths[f"lmms_samples:{task}"] = path
    return paths


# ---------------------------------------------------------------------- reading


def is_lmms_samples(path: Path) -> bool:
    """Whether ``path`` is an lmms-eval samples file (by name, or by rows without vidllm's doc)."""
    if "_samples_" in path.name:
        return True
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                return False
            doc = row.get("doc") if isinstance(row, dict) else None
            return isinstance(row, dict) and "filtered_resps" in row and not (isinstance(doc, dict) and "benchmark" in doc)
    return False


def task_of_file(path: Path) -> str:
    """The lmms-eval task name in ``<anything>_samples_<task>.jsonl``."""
    m = re.search(r"_samples_(.+)\.jsonl$", path.name)
    if not m:
        raise PredictionFormatError(f"{path}: an lmms-eval samples file is named <date>_samples_<task>.jsonl")
    return m.group(1)


def reply_of(row: Mapping[str, Any]) -> str:
    """The model's reply in a samples row: ``filtered_resps`` (lmms-eval drops ``resps`` when equal)."""
    for key in ("filtered_resps", "resps"):
        value = row.get(key)
        while isinstance(value, list) and value:
            value = value[0]
        if isinstance(value, str):
            return value
    return ""


def read_lmms_samples(path: Path, bench_name: str | None, *, data: Path | None = None):
    """(benchmark, LoadReport, predictions) of an lmms-eval samples file, for ``vidllm score``.

    Rows written by vidllm carry its own doc and are read as they were; rows written by lmms-eval
    carry the dataset's row (``doc``), which the benchmark turns into a sample
    (``Benchmark.sample_from_lmms``); rows without ``doc`` (lmms-eval versions that drop it) are
    matched by ``doc_id`` to the ``data`` folder's samples of the task.
    """
    from vidllm.eval.benchmarks import BENCHMARKS

    lmms_task = task_of_file(path)
    if bench_name is None:
        bench_name = next((n for n in BENCHMARKS.names() if lmms_task == n or lmms_task.startswith(n + "_")), None)
        if bench_name is None:
            raise PredictionFormatError(f"{path}: say which benchmark task {lmms_task!r} belongs to (--bench NAME)")
    bench = BENCHMARKS.get(bench_name)(data) if data is not None else BENCHMARKS.get(bench_name)()
    quirks: Counter = Counter()
    from_data: list[EvalSample] | None = None
    samples, preds = [], {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            doc_id = row["doc_id"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise PredictionFormatError(f"{path}:{n}: not an lmms-eval samples row ({exc})") from None
        doc = row.get("doc")
        if isinstance(doc, dict) and "benchmark" in doc and "kind" in doc:
            sample = EvalSample.from_doc(doc)
        elif isinstance(doc, dict):
            sample = bench.sample_from_lmms(lmms_task, int(doc_id), doc, quirks)
        else:
            if data is None:
                raise PredictionFormatError(f"{path}:{n}: the row has no doc; give the benchmark folder (--data DIR)")
            if from_data is None:
                task = bench.task_from_lmms(lmms_task)
                from_data = list(bench.load(tasks=[task] if task else None, require_videos=False).samples)
            if not 0 <= int(doc_id) < len(from_data):
                raise PredictionFormatError(f"{path}:{n}: doc_id {doc_id} is not a sample of {lmms_task} in {data}")
            sample = from_data[int(doc_id)]
        samples.append(sample)
        preds[sample.doc_id] = Prediction(text=reply_of(row))
    if not samples:
        raise PredictionFormatError(f"{path}: no samples")
    report = LoadReport(benchmark=bench.name, root=str(path.parent), samples=samples, files=[], items=len(samples),
                        quirks=dict(quirks), missing=[])
    return bench, report, preds


def read_lmms_results(path: Path) -> dict[str, dict[str, float]]:
    """{task: {metric: value}} of an lmms-eval results file, official reading (filter ``none``)."""
    content = json.loads(Path(path).read_text(encoding="utf-8"))
    out: dict[str, dict[str, float]] = {}
    for task, values in content.get("results", {}).items():
        out[task] = {k.split(",")[0]: v for k, v in values.items() if k.endswith(",none")}
    return out


__all__ = [
    "RESULTS_NAME", "build_lmms_results", "is_lmms_samples", "mean_stderr", "read_lmms_results", "read_lmms_samples",
    "sample_rows", "stderrs", "write_lmms_outputs",
]
