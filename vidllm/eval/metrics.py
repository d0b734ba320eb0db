"""Metrics: accuracy (micro and macro), temporal IoU and recall at IoU thresholds, OVO-Bench's
three-mode average and rank correlation. (The E.T. Bench and Charades-STA span metrics, with
their official rules, are in ``temporal.py``.)

Each function is plain arithmetic on plain values, so the benchmark modules can combine them the
way each benchmark's official code does.

>>> iou((0, 10), (5, 15))
0.3333333333333333
>>> accuracy_table([("a", 1.0), ("a", 0.0), ("b", 1.0)])["macro"]
0.75
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence

Span = tuple[float, float]
THRESHOLDS = (0.1, 0.3, 0.5, 0.7)


def mean(values: Iterable[float]) -> float:
    values = list(values)
    return sum(values) / len(values) if values else 0.0


def accuracy_table(rows: Iterable[tuple[str, float]]) -> dict:
    """Per-task accuracy from (task, 0/1) rows: {"tasks": {task: {"acc", "n"}}, "micro", "macro", "n"}.

    micro = all correct / all counted; macro = mean of the task accuracies.
    """
    by_task: dict[str, list[float]] = defaultdict(list)
    for task, value in rows:
        by_task[task].append(float(value))
    tasks = {t: {"acc": mean(v), "n": len(v)} for t, v in sorted(by_task.items())}
    every = [x for v in by_task.values() for x in v]
    return {
        "tasks": tasks,
        "micro": mean(every),
        "macro": mean(t["acc"] for t in tasks.values()),
        "n": len(every),
    }


def iou(a: Sequence[float] | None, b: Sequence[float] | None) -> float:
    """Temporal IoU of two [start, end] ranges; 0 for a missing or empty union."""
    if a is None or b is None:
        return 0.0
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else 0.0


def recall_at(ious: Sequence[float], thresholds: Sequence[float] = THRESHOLDS, total: int | None = None) -> dict:
    """Share of samples whose IoU reaches each threshold (>=); ``total`` overrides the denominator."""
    n = total if total is not None else len(ious)
    return {f"R@{t}": (sum(1 for x in ious if x >= t) / n if n else 0.0) for t in thresholds}


def three_mode_average(task_scores: dict[str, float], modes: dict[str, Sequence[str]]) -> dict:
    """OVO-Bench: each mode is the mean of its tasks' scores, the total the mean of the modes
    (modes with no task scored are left out)."""
    out = {}
    for mode, tasks in modes.items():
        present = [task_scores[t] for t in tasks if t in task_scores]
        if present:
            out[mode] = mean(present)
    out["overall"] = mean(out.values())
    return out


def _ranks(values: Sequence[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def pearson(x: Sequence[float], y: Sequence[float]) -> float:
    n = len(x)
    if n < 2:
        return float("nan")
    mx, my = mean(x), mean(y)
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    return sxy / math.sqrt(sxx * syy) if sxx > 0 and syy > 0 else float("nan")


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation (ties get their average rank); nan when undefined."""
    return pearson(_ranks(x), _ranks(y))
