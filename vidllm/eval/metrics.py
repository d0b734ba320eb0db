"""Metrics: accuracy (micro and macro), temporal IoU, recall and F1 at IoU thresholds, the E.T.
Bench task metrics, OVO-Bench's three-mode average and rank correlation.

Each function is plain arithmetic on plain values, so the benchmark modules can combine them the
way each benchmark's official code does.

>>> iou((0, 10), (5, 15))
0.3333333333333333
>>> tal_f1([(0, 10), (20, 30)], [(0, 9)], thresholds=(0.5,))
[0.6666666666666666]
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


def iou_matrix(gt: Sequence[Span], pred: Sequence[Span]) -> list[list[float]]:
    return [[iou(g, p) for p in pred] for g in gt]


def recall_at(ious: Sequence[float], thresholds: Sequence[float] = THRESHOLDS, total: int | None = None) -> dict:
    """Share of samples whose IoU reaches each threshold (>=); ``total`` overrides the denominator."""
    n = total if total is not None else len(ious)
    return {f"R@{t}": (sum(1 for x in ious if x >= t) / n if n else 0.0) for t in thresholds}


def tal_f1(gt: Sequence[Span], pred: Sequence[Span], thresholds: Sequence[float] = THRESHOLDS) -> list[float]:
    """F1 at each IoU threshold between ground-truth and predicted segments (E.T. Bench TAL):
    recall = share of GT segments matched by some prediction, precision = share of predictions
    matching some GT segment; 0 when no pair reaches the threshold."""
    if not gt or not pred:
        return [0.0 for _ in thresholds]
    m = iou_matrix(gt, pred)
    best = max(max(row) for row in m)
    out = []
    for t in thresholds:
        if best < t:
            out.append(0.0)
            continue
        rec = sum(1 for row in m if max(row) >= t) / len(gt)
        prc = sum(1 for j in range(len(pred)) if max(m[i][j] for i in range(len(gt))) >= t) / len(pred)
        out.append(2 * prc * rec / (prc + rec))
    return out


def evs_f1(gt: Sequence[Span], pred: Sequence[Span], bins: int = 1000) -> float:
    """E.T. Bench EVS: F1 of whole-second coverage on a 1000 s timeline (Python ``round``, so
    2.5 rounds to 2; anything past 1000 s is cut off)."""
    gt_map = [0] * bins
    pred_map = [0] * bins
    for s, e in gt:
        for i in range(max(0, round(s)), max(0, min(bins, round(e)))):
            gt_map[i] = 1
    for s, e in pred:
        for i in range(max(0, round(s)), max(0, min(bins, round(e)))):
            pred_map[i] = 2
    combined = [g + p for g, p in zip(gt_map, pred_map)]
    tp, fp, fn = combined.count(3), combined.count(2), combined.count(1)
    if tp == 0:
        return 0.0
    rec, prc = tp / (tp + fn), tp / (tp + fp)
    return 2 * prc * rec / (prc + rec)


def point_in_spans(point: float | None, spans) -> bool:
    """E.T. Bench VHD: the predicted moment lies inside any annotator's highlight span (closed)."""
    if point is None:
        return False
    groups = spans if spans and isinstance(spans[0][0], (list, tuple)) else [spans]
    return any(s <= point <= e for group in groups for s, e in group)


def dvc_iou(a: Span, b: Span) -> float:
    """The dense-captioning IoU of E.T. Bench's DVCEval (union = min(hull, sum of lengths))."""
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = min(max(a[1], b[1]) - min(a[0], b[0]), (a[1] - a[0]) + (b[1] - b[0]))
    return inter / (union + 1e-8)


def dvc_detection(pred: Sequence[Span], gt: Sequence[Span], tiou: float) -> tuple[float, float]:
    """(precision, recall) of predicted segments against GT at ``tiou`` (strict >, as DVCEval)."""
    if not gt:
        return 0.0, 0.0
    gt_hit, pred_hit = set(), set()
    for i, p in enumerate(pred):
        for j, g in enumerate(gt):
            if dvc_iou(p, g) > tiou:
                gt_hit.add(j)
                pred_hit.add(i)
    precision = len(pred_hit) / len(pred) if pred else 0.0
    return precision, len(gt_hit) / len(gt)


def f1(precision: float, recall: float) -> float:
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


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
