"""Time-span metrics: IoU, recall and F1 at IoU thresholds, mIoU, E.T. Bench's EVS, VHD and
dense-captioning detection, each with its edge cases decided once (reversed spans are sorted, a
zero-length span overlaps nothing but an identical point, spans past the video are cut when its
duration is known) and with unreadable replies counted apart, never scored as a silent IoU 0.

E.T. Bench's scorer (``evaluation/compute_metrics.py`` of the hub dataset) computes IoU with
``nncore.ops.temporal_iou`` in float32 without sorting; ``official_iou`` reproduces that, because
it moves thresholds: an IoU of exactly 0.7 is a miss for TVG (compared as a Python float) and a
hit for TAL (compared inside float32 tensors).

>>> iou((0, 10), (5, 15))
0.3333333333333333
>>> iou((10, 0), (0, 10)), iou((5, 5), (5, 5)), iou((5, 5), (0, 10))
(1.0, 1.0, 0.0)
>>> summary = span_summary([1.0, 0.5, None], thresholds=(0.5, 0.7))
>>> summary["failed"], summary["R@0.5"], summary["mIoU"], summary["mIoU (read)"]
(1, 0.6666666666666666, 0.5, 0.75)
>>> f1_at_iou([(0, 10), (20, 30)], [(0, 9)], thresholds=(0.5,))
[0.6666666666666666]
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

Span = tuple[float, float]
THRESHOLDS = (0.1, 0.3, 0.5, 0.7)          # E.T. Bench: TVG, EPM, TAL, TEM, GVQ, DVC, SLC
GROUNDING_THRESHOLDS = (0.3, 0.5, 0.7)     # R@1 of moment retrieval (Charades-STA, ActivityNet Captions)
EVS_BINS = 1000                            # E.T. Bench EVS: a 1000-second timeline of 1-second bins


def mean(values: Iterable[float]) -> float:
    values = list(values)
    return sum(values) / len(values) if values else 0.0


def as_span(value, duration: float | None = None) -> Span | None:
    """(start, end) as sorted floats, cut to [0, duration] when the duration is known; None for a
    missing or non-finite value. A span wholly past the video becomes the point (duration, duration)."""
    if value is None or len(value) != 2:
        return None
    a, b = float(value[0]), float(value[1])
    if not (math.isfinite(a) and math.isfinite(b)):
        return None
    a, b = min(a, b), max(a, b)
    if duration is not None:
        a, b = min(max(a, 0.0), duration), min(max(b, 0.0), duration)
    return a, b


def iou(a, b, *, duration: float | None = None) -> float:
    """Temporal IoU of two spans (sorted first; cut to the video when ``duration`` is given).

    Zero-length spans: two identical points give 1, a point and anything else 0. A missing span
    gives 0; callers that must tell "unreadable" apart keep None themselves (``span_summary``).
    """
    a, b = as_span(a, duration), as_span(b, duration)
    if a is None or b is None:
        return 0.0
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = (a[1] - a[0]) + (b[1] - b[0]) - inter
    if union <= 0:
        return 1.0 if a == b else 0.0
    return inter / union


def official_iou_matrix(gt: Sequence[Sequence[float]], pred: Sequence[Sequence[float]]) -> np.ndarray:
    """``nncore.ops.temporal_iou(gt, pred)`` as E.T. Bench calls it: float32, spans taken as
    written (no sorting), 0/0 -> nan."""
    g = np.asarray(gt, dtype=np.float32).reshape(-1, 2)
    p = np.asarray(pred, dtype=np.float32).reshape(-1, 2)
    inter = np.clip(np.minimum(g[:, None, 1], p[None, :, 1]) - np.maximum(g[:, None, 0], p[None, :, 0]), 0, None)
    union = (g[:, 1] - g[:, 0])[:, None] + (p[:, 1] - p[:, 0])[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return (inter / union).astype(np.float32)


def official_iou(gt, pred) -> float:
    """One pair's ``official_iou_matrix`` value as the Python float ``.item()`` gives."""
    return float(official_iou_matrix([gt], [pred])[0, 0])


def span_summary(ious: Sequence[float | None], thresholds: Sequence[float] = GROUNDING_THRESHOLDS,
                 prefix: str = "R") -> dict:
    """Grounding scores over samples, one IoU each, None where the reply could not be read.

    n counts every sample and failed the unreadable ones. mIoU and R@t (share of samples with
    IoU >= t; R@1 when one span is read per sample) count a failure as a miss over all n, as the
    published scorers do; "mIoU (read)" is the mean over the readable replies only.
    """
    n = len(ious)
    read = [x for x in ious if x is not None]
    out = {"n": n, "failed": n - len(read), "mIoU": sum(read) / n if n else 0.0,
           "mIoU (read)": mean(read)}
    for t in thresholds:
        out[f"{prefix}@{t}"] = sum(1 for x in read if x >= t) / n if n else 0.0
    return out


def f1_at_iou(gt: Sequence[Span], pred: Sequence[Span], thresholds: Sequence[float] = THRESHOLDS, *,
              official: bool = False) -> list[float]:
    """F1 between ground-truth and predicted segments at each IoU threshold (E.T. Bench TAL):
    recall = share of GT segments some prediction reaches, precision = share of predictions that
    reach some GT segment; 0 when no pair reaches the threshold. ``official`` compares in float32
    on unsorted spans, as the scorer's tensors do."""
    if not gt or not pred:
        return [0.0 for _ in thresholds]
    if official:
        m = official_iou_matrix(gt, pred)
        best_row, best_col = np.max(m, axis=1), np.max(m, axis=0)   # nan propagates, as torch.amax does
    else:
        m = np.array([[iou(g, p) for p in pred] for g in gt], dtype=np.float64)
        best_row, best_col = m.max(axis=1), m.max(axis=0)
    out = []
    for t in thresholds:
        thr = m.dtype.type(t)
        if m.max() < thr:
            out.append(0.0)
            continue
        rec, prc = float(np.mean(best_row >= thr)), float(np.mean(best_col >= thr))
        out.append(f1(prc, rec))   # 0 where a nan IoU left nothing matched (the official script divides by zero)
    return out


def evs_f1(gt: Sequence[Span], pred: Sequence[Span], bins: int | None = EVS_BINS) -> float:
    """E.T. Bench EVS: F1 of the 1-second bins the prediction and the ground truth cover.

    A span covers bins round(start) .. round(end)-1 (Python's round: 2.5 -> 2); negative starts
    are cut to 0 and spans are sorted (the official script reads no signs and sorts its spans, so
    neither changes its scores); the official timeline has 1000 bins, so anything past 1000 s is
    ignored (``bins=None`` makes the timeline as long as the spans need).
    """
    spans = [as_span(s) for s in (*gt, *pred)]
    if bins is None:
        bins = max([EVS_BINS, *(round(s[1]) for s in spans if s is not None)])
    gt_map, pred_map = np.zeros(bins, dtype=bool), np.zeros(bins, dtype=bool)
    for spans_, target in ((gt, gt_map), (pred, pred_map)):
        for span in spans_:
            span = as_span(span)
            if span is not None:
                target[max(0, round(span[0])) : max(0, round(span[1]))] = True
    tp = int(np.sum(gt_map & pred_map))
    if tp == 0:
        return 0.0
    rec, prc = tp / int(np.sum(gt_map)), tp / int(np.sum(pred_map))
    return 2 * prc * rec / (prc + rec)


def vhd_hit(point: float | None, highlights) -> bool:
    """E.T. Bench VHD's peak rule: the one predicted moment counts when it lies inside (ends
    included) any highlight span of any annotator. ``highlights`` is a list of spans or one list
    of spans per annotator."""
    if point is None or not highlights:
        return False
    groups = highlights if isinstance(highlights[0][0], (list, tuple)) else [highlights]
    return any(s <= point <= e for group in groups for s, e in group)


def dvc_iou(a: Span, b: Span) -> float:
    """The IoU of E.T. Bench's DVCEval: union = min(hull, sum of lengths), + 1e-8 below."""
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = min(max(a[1], b[1]) - min(a[0], b[0]), (a[1] - a[0]) + (b[1] - b[0]))
    return inter / (union + 1e-8)


def dvc_detection(pred: Sequence[Span], gt: Sequence[Span], tiou: float) -> tuple[float, float]:
    """(precision, recall) of predicted segments against GT at ``tiou`` (strictly above, as DVCEval)."""
    if not gt:
        return 0.0, 0.0
    gt_hit, pred_hit = set(), set()
    for i, p in enumerate(pred):
        for j, g in enumerate(gt):
            if dvc_iou(p, g) > tiou:
                gt_hit.add(j)
                pred_hit.add(i)
    return (len(pred_hit) / len(pred) if pred else 0.0), len(gt_hit) / len(gt)


def dvc_caption_pairs(pred: Sequence[tuple[Span, str]], gt: Sequence[Span], refs: Sequence[str], tiou: float,
                      unmatched) -> list[tuple[str, str]]:
    """(predicted caption, reference) pairs at ``tiou`` as DVCEval builds them for METEOR, CIDEr,
    SentSim ...: one pair per GT segment with IoU >= tiou (not strictly above, unlike detection);
    a prediction matching none is paired with ``unmatched()`` (the official scorer's random string)."""
    pairs = []
    for span, caption in pred:
        matched = [refs[j] for j, g in enumerate(gt) if dvc_iou(span, g) >= tiou]
        pairs.extend((caption, ref) for ref in (matched or [unmatched()]))
    return pairs


def f1(precision: float, recall: float) -> float:
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
