"""Two evaluation runs side by side: per-task differences with bootstrap confidence intervals,
the samples whose grade changed, a printed table and a PNG plot.

A run is an output folder of ``vidllm eval`` (or ``vidllm score --out``): its ``samples.jsonl``
holds each sample's per-sample metric in both readings. The difference of a task is B minus A of
the mean per-sample metric (accuracy, IoU, ...) over the samples both runs graded; its interval
is a paired bootstrap (samples resampled with replacement, the same draw for both runs; numpy,
seeded, percentiles), so two runs of the same model give a zero difference with a zero-width
interval, and the interval narrows as the task grows.

>>> paired_bootstrap([1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0])
(-1.0, -1.0, -1.0)
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from vidllm.errors import PredictionFormatError

BOOTSTRAP_ITERS = 2000
SEED = 0
LEVEL = 0.95


@dataclass(frozen=True)
class TaskDiff:
    """One task: mean per-sample ``metric`` in A and B over the ``n`` samples both graded, B - A,
    and the bootstrap interval of B - A."""

    task: str
    metric: str
    n: int
    a: float
    b: float
    diff: float
    low: float
    high: float

    @property
    def significant(self) -> bool:
        """The interval excludes 0."""
        return self.low > 0 or self.high < 0


@dataclass(frozen=True)
class Changed:
    """A sample graded differently by the two runs (its metric in A and in B, the replies)."""

    doc_id: str
    task: str
    a: float
    b: float
    reply_a: str
    reply_b: str


@dataclass
class Comparison:
    run_a: Path
    run_b: Path
    benchmark: str
    mode: str
    tasks: list[TaskDiff]
    overall: TaskDiff
    changed: list[Changed] = field(default_factory=list)
    only_in_a: int = 0
    only_in_b: int = 0

    def to_dict(self) -> dict:
        from dataclasses import asdict

        return {
            "run_a": str(self.run_a), "run_b": str(self.run_b), "benchmark": self.benchmark, "mode": self.mode,
            "confidence": LEVEL, "bootstrap": {"iterations": BOOTSTRAP_ITERS, "seed": SEED},
            "tasks": [asdict(t) for t in self.tasks], "overall": asdict(self.overall),
            "changed": [asdict(c) for c in self.changed], "only_in_a": self.only_in_a, "only_in_b": self.only_in_b,
        }


def paired_bootstrap(a: Sequence[float], b: Sequence[float], iters: int = BOOTSTRAP_ITERS, seed: int = SEED,
                     level: float = LEVEL) -> tuple[float, float, float]:
    """(mean(b) - mean(a), low, high): the percentile interval of the difference of means over
    paired resamples."""
    import numpy as np

    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(x) == 0:
        return math.nan, math.nan, math.nan
    diff = float(y.mean() - x.mean())
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(x), size=(iters, len(x)))
    draws = y[picks].mean(axis=1) - x[picks].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return diff, float(low), float(high)


def read_run(run: str | Path) -> tuple[dict, list[dict]]:
    """(results.json, samples.jsonl rows) of a run folder."""
    folder = Path(run)
    results, samples = folder / "results.json", folder / "samples.jsonl"
    if not results.is_file() or not samples.is_file():
        raise PredictionFormatError(f"{folder} is not an evaluation run: expected results.json and samples.jsonl in it")
    rows = [json.loads(line) for line in samples.read_text(encoding="utf-8").splitlines() if line.strip()]
    return json.loads(results.read_text(encoding="utf-8")), rows


def sample_metric(rows: Sequence[dict], mode: str, primary: str | None) -> str | None:
    """The per-sample metric that stands for a sample: the run's primary metric when samples carry
    it, else the one they all carry (``iou`` for span tasks whose primary is mIoU)."""
    keys = [set(r[mode]["metrics"]) for r in rows if r[mode]["counted"] and r[mode]["metrics"]]
    if not keys:
        return None
    common = set.intersection(*keys)
    if primary in common:
        return primary
    for key in ("acc", "iou", "score"):
        if key in common:
            return key
    return sorted(common)[0] if common else None


def compare(run_a: str | Path, run_b: str | Path, *, mode: str = "official") -> Comparison:
    """Compare two runs of one benchmark (``mode``: the official or the robust reading)."""
    if mode not in ("official", "robust"):
        raise PredictionFormatError(f"mode must be official or robust, got {mode!r}")
    results_a, rows_a = read_run(run_a)
    results_b, rows_b = read_run(run_b)
    bench_a, bench_b = results_a["benchmark"]["name"], results_b["benchmark"]["name"]
    if bench_a != bench_b:
        raise PredictionFormatError(f"the runs are of different benchmarks: {bench_a} and {bench_b}")
    by_id_a = {r["doc_id"]: r for r in rows_a}
    by_id_b = {r["doc_id"]: r for r in rows_b}
    shared = [d for d in by_id_a if d in by_id_b]
    primary = results_a["scores"][mode].get("primary")
    tasks, changed = [], []
    all_a, all_b = [], []
    for task in dict.fromkeys(by_id_a[d]["task"] for d in shared):
        ids = [d for d in shared if by_id_a[d]["task"] == task]
        metric = sample_metric([by_id_a[d] for d in ids] + [by_id_b[d] for d in ids], mode, primary)
        if metric is None:
            continue
        # a sample counts where both runs count it (the readings may leave some out)
        pairs = [(by_id_a[d], by_id_b[d]) for d in ids if by_id_a[d][mode]["counted"] and by_id_b[d][mode]["counted"]
                 and metric in by_id_a[d][mode]["metrics"] and metric in by_id_b[d][mode]["metrics"]]
        a = [float(x[mode]["metrics"][metric]) for x, _ in pairs]
        b = [float(y[mode]["metrics"][metric]) for _, y in pairs]
        diff, low, high = paired_bootstrap(a, b)
        tasks.append(TaskDiff(task, metric, len(a), _mean(a), _mean(b), diff, low, high))
        all_a += a
        all_b += b
        for (x, y), va, vb in zip(pairs, a, b):
            if abs(va - vb) > 1e-12:
                changed.append(Changed(x["doc_id"], task, va, vb, _reply(x), _reply(y)))
    diff, low, high = paired_bootstrap(all_a, all_b)
    metric = tasks[0].metric if tasks and len({t.metric for t in tasks}) == 1 else "mean"
    overall = TaskDiff("(all samples)", metric, len(all_a), _mean(all_a), _mean(all_b), diff, low, high)
    return Comparison(Path(run_a), Path(run_b), bench_a, mode, tasks, overall, changed,
                      only_in_a=len(set(by_id_a) - set(by_id_b)), only_in_b=len(set(by_id_b) - set(by_id_a)))


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def _reply(row: dict) -> str:
    resps = row.get("resps") or [[""]]
    return str(resps[0][0] if resps and resps[0] else "")


def table(c: Comparison, changed_limit: int = 20) -> str:
    """The comparison as text: one line a task, then the samples that changed."""
    lines = [f"{c.benchmark} ({c.mode} reading): A = {c.run_a}, B = {c.run_b}",
             f"  {'task':<24}{'metric':>8}{'n':>6}{'A':>9}{'B':>9}{'B - A':>9}   {int(LEVEL * 100)}% interval"]
    for t in [*c.tasks, c.overall]:
        mark = " *" if t.significant else ""
        lines.append(f"  {t.task:<24}{t.metric:>8}{t.n:>6}{t.a:>9.4f}{t.b:>9.4f}{t.diff:>+9.4f}   [{t.low:+.4f}, {t.high:+.4f}]{mark}")
    lines.append("  * the interval excludes 0")
    if c.only_in_a or c.only_in_b:
        lines.append(f"  samples only in A: {c.only_in_a}, only in B: {c.only_in_b} (left out)")
    better = sum(1 for x in c.changed if x.b > x.a)
    lines.append(f"  {len(c.changed)} samples changed ({better} better in B, {len(c.changed) - better} worse)")
    for x in c.changed[:changed_limit]:
        lines.append(f"    {x.doc_id} [{x.task}] {x.a:g} -> {x.b:g}: {_short(x.reply_a)!r} -> {_short(x.reply_b)!r}")
    if len(c.changed) > changed_limit:
        lines.append(f"    ... and {len(c.changed) - changed_limit} more (--json lists them all)")
    return "\n".join(lines)


def _short(text: str, n: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def plot(c: Comparison, path: str | Path) -> Path | None:
    """A PNG of B - A per task with its interval (matplotlib; None when it is not installed)."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only, no display
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    rows = [*c.tasks, c.overall]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.6 * len(rows) + 2), 3.6))
    xs = range(len(rows))
    diffs = [t.diff for t in rows]
    errors = [[t.diff - t.low for t in rows], [t.high - t.diff for t in rows]]
    colours = ["#2563eb" if t.diff >= 0 else "#dc2626" for t in rows]
    ax.bar(xs, diffs, color=colours, yerr=errors, capsize=4)
    ax.axhline(0, color="#444", linewidth=0.8)
    ax.set_xticks(list(xs), [t.task for t in rows], rotation=45, ha="right", fontsize=8)
    ax.set_ylabel(f"B - A ({rows[0].metric if rows else ''})")
    ax.set_title(f"{c.benchmark}: B - A, {int(LEVEL * 100)}% bootstrap intervals", fontsize=9)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png", dpi=100)
    plt.close(fig)
    return out


__all__ = ["Changed", "Comparison", "TaskDiff", "compare", "paired_bootstrap", "plot", "table"]
