"""Golden tests of the time-span metrics (vidllm.eval.temporal), and E.T. Bench / Charades-STA
scored through them.

tests/fixtures/temporal/etbench_replies.json holds E.T. Bench samples in the published format
(idx, task, source, video, tgt, p, o, g) with a reply "a" each, written to hit the scorer's edge
cases; etbench_official_metrics.json is what E.T. Bench's own compute_metrics.py (its eval
functions run unchanged on torch, sentence-transformers all-MiniLM-L6-v2 and pycocoevalcap 1.2,
Python's random seeded with 0) printed for them, rounded to 5 decimals as it rounds.
"""

from __future__ import annotations

import json
import math
import random
import shutil
from collections import Counter
from pathlib import Path

import pytest

from vidllm.eval import temporal as T
from vidllm.eval.benchmarks.charades import CharadesSTA
from vidllm.eval.benchmarks.etbench import ETBench
from vidllm.eval.grading import GradeContext, grade
from vidllm.eval.types import EvalSample, Prediction

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "temporal"


# ------------------------------------------------------------------------------ golden metrics

@pytest.mark.parametrize("a, b, duration, expected", [
    ((0, 10), (0, 10), None, 1.0),
    ((0, 10), (5, 15), None, 5 / 15),
    ((0, 10), (10, 20), None, 0.0),                 # touching: no overlap
    ((0, 10), (20, 30), None, 0.0),
    ((10, 0), (0, 10), None, 1.0),                  # reversed: sorted first
    ((15, 5), (0, 10), None, 5 / 15),
    ((5, 5), (5, 5), None, 1.0),                    # identical points
    ((5, 5), (0, 10), None, 0.0),                   # a point has no length to share
    ((0, 0), (0, 0), None, 1.0),
    ((-5, 5), (0, 5), None, 0.5),                   # out of range, kept as written
    ((-5, 5), (0, 5), 10.0, 1.0),                   # ... or cut to the video
    ((0, 500), (100, 110), None, 10 / 500),
    ((0, 500), (100, 110), 120.0, 10 / 120),
    ((130, 140), (110, 120), 120.0, 0.0),           # wholly past the end
    (None, (0, 10), None, 0.0),
    ((float("nan"), 3), (0, 10), None, 0.0),
])
def test_iou(a, b, duration, expected):
    assert T.iou(a, b, duration=duration) == pytest.approx(expected)
    assert T.iou(b, a, duration=duration) == pytest.approx(expected)


def test_official_iou_is_float32_and_unsorted():
    """E.T. Bench's nncore call: 7/10 in float32 is just under 0.7 as a Python float (a TVG miss)
    but equal to 0.7 inside float32 tensors (a TAL hit)."""
    value = T.official_iou((0, 10), (0, 7))
    assert value < 0.7 and value == pytest.approx(0.7)
    assert T.f1_at_iou([(0, 10)], [(0, 7)], (0.7,), official=True) == [1.0]
    assert T.f1_at_iou([(0, 10)], [(0, 7)], (0.7,)) == [1.0]
    assert T.official_iou((0, 10), (7, 3)) == 0.0 and T.iou((0, 10), (7, 3)) == pytest.approx(0.4)   # not sorted
    assert math.isnan(T.official_iou((0, 10), (10, 0)))                  # lengths cancel: 0/0
    assert math.isnan(T.official_iou((5, 5), (5, 5)))                    # 0/0


def test_span_summary_counts_failures_apart():
    summary = T.span_summary([1.0, 0.6, 0.2, None, None], thresholds=(0.3, 0.5, 0.7))
    assert summary == {"n": 5, "failed": 2, "mIoU": pytest.approx(1.8 / 5), "mIoU (read)": pytest.approx(0.6),
                       "R@0.3": 2 / 5, "R@0.5": 2 / 5, "R@0.7": 1 / 5}
    assert T.span_summary([])["n"] == 0 and T.span_summary([None])["R@0.5"] == 0.0
    assert T.span_summary([0.5], thresholds=(0.5,))["R@0.5"] == 1.0     # >=, as every published scorer


@pytest.mark.parametrize("gt, pred, expected", [
    ([(0, 10), (20, 30)], [(0, 10), (20, 30)], [1.0, 1.0, 1.0, 1.0]),
    ([(0, 10), (20, 30)], [(0, 9)], [2 / 3, 2 / 3, 2 / 3, 2 / 3]),                 # P 1, R 1/2
    ([(0, 10), (20, 30)], [(0, 10), (20, 30), (50, 60)], [0.8, 0.8, 0.8, 0.8]),     # P 2/3, R 1
    ([(0, 10)], [(0, 4)], [1.0, 1.0, 0.0, 0.0]),                                    # IoU 0.4
    ([(0, 10)], [(10, 0)], [1.0, 1.0, 1.0, 1.0]),                                   # reversed
    ([(0, 10)], [(5, 5)], [0.0, 0.0, 0.0, 0.0]),                                    # zero length
    ([(0, 10)], [], [0.0, 0.0, 0.0, 0.0]),
    ([], [(0, 10)], [0.0, 0.0, 0.0, 0.0]),
])
def test_f1_at_iou(gt, pred, expected):
    assert T.f1_at_iou(gt, pred) == pytest.approx(expected)
    assert T.mean(T.f1_at_iou(gt, pred)) == pytest.approx(sum(expected) / 4)        # E.T. Bench's F1: the mean


@pytest.mark.parametrize("gt, pred, bins, expected", [
    ([(0, 10)], [(0, 10)], 1000, 1.0),
    ([(0, 10)], [(5, 15)], 1000, 0.5),
    ([(0, 10)], [(2.5, 12.5)], 1000, 2 * (8 / 10) * (8 / 10) / (1.6)),                # round(2.5) = 2, round(12.5) = 12
    ([(0, 10)], [(3.5, 10)], 1000, 2 * 1.0 * 0.6 / 1.6),                             # round(3.5) = 4
    ([(0, 10)], [(20, 30)], 1000, 0.0),
    ([(0, 10)], [(5, 5)], 1000, 0.0),                                                # zero length covers no bin
    ([(0, 10)], [(10, 0)], 1000, 1.0),                                               # reversed
    ([(0, 10)], [(-5, 10)], 1000, 1.0),                                              # negative start cut to 0
    ([(990, 1010)], [(995, 1200)], 1000, 2 * 1.0 * 0.5 / 1.5),                       # past 1000 s: cut off
    ([(990, 1010)], [(995, 1200)], None, 2 * (15 / 205) * (15 / 20) / (15 / 205 + 15 / 20)),
])
def test_evs_f1(gt, pred, bins, expected):
    assert T.evs_f1(gt, pred, bins) == pytest.approx(expected)


def test_vhd_peak_rule():
    annotators = [[[12, 14], [40, 42]], [[1, 2]]]
    assert T.vhd_hit(41, annotators) and T.vhd_hit(1, annotators) and T.vhd_hit(14.0, [[12, 14]])   # ends included
    assert not T.vhd_hit(30, annotators) and not T.vhd_hit(None, annotators) and not T.vhd_hit(3, [])
    assert not T.vhd_hit(-13, [[12, 14]])


def test_dvc_detection_is_strict_and_pairing_is_not():
    """DVCEval counts a detection above the threshold, but pairs captions at or above it."""
    gt, refs = [(0, 10), (20, 30)], ["a man cuts", "he fries"]
    assert T.dvc_iou((0, 10), (0, 10)) == pytest.approx(1.0)
    assert T.dvc_iou((0, 10), (5, 25)) == pytest.approx(5 / 25)        # union = min(hull 25, lengths 30)
    p, r = T.dvc_detection([(0, 10), (40, 50)], gt, 0.5)
    assert (p, r) == (0.5, 0.5)
    assert T.dvc_detection([(0, 5)], [(0, 10)], 0.5) == (0.0, 0.0)     # IoU just under 0.5 (the + 1e-8)
    draws = iter(["zzz"])
    pairs = T.dvc_caption_pairs([((0, 10), "cutting"), ((40, 50), "nothing")], gt, refs, 0.5, lambda: next(draws))
    assert pairs == [("cutting", "a man cuts"), ("nothing", "zzz")]


# ------------------------------------------------------------------------------ E.T. Bench

def test_etbench_reads_a_lone_caption_time_as_forty_seconds():
    """compute_metrics.py's extract_time_part: a caption with one number t gets [t-20, t+20]
    ([t, t+40] when t <= 20)."""
    from vidllm.eval.benchmarks.etbench_official import etbench_dvc_format

    assert etbench_dvc_format("At 30 seconds, a woman starts dancing.") == ([[10.0, 50.0]], ["a woman starts dancing."])
    assert etbench_dvc_format("At 12 seconds, a woman starts dancing.") == ([[12.0, 52.0]], ["a woman starts dancing."])


def _etbench(tasks):
    entries = [e for e in json.loads((FIXTURES / "etbench_replies.json").read_text(encoding="utf-8")) if e["task"] in tasks]
    bench = ETBench()
    samples = list(bench.samples_from(entries, Counter()))
    predictions = {s.doc_id: Prediction(text=e["a"]) for s, e in zip(samples, entries)}
    return bench, samples, predictions


def _embedder_or_skip():
    from vidllm.errors import MissingDependencyError
    from vidllm.eval.grading import embedding_similarity

    try:
        return embedding_similarity()
    except MissingDependencyError as exc:
        pytest.skip(f"the text embedder is not installed: {exc}")


def _compare(mine: dict, reference: dict, keys=None, sentsim_tol=1e-5) -> list[str]:
    """Differences between vidllm's per-source scores and the official script's."""
    diffs = []
    for task, sources in reference.items():
        for source, ref in sources.items():
            got = mine[f"{task}/{source}"]
            for key, value in ref.items():
                if key.startswith("Bleu") or (keys is not None and key not in keys):
                    continue
                name = {"Total": "n", "Failed": "failed"}.get(key, key)
                if task in ("tvg", "epm") and key.startswith("F1@"):   # the script names TVG recall "F1@t"
                    name = "R@" + key[3:]
                tol = sentsim_tol if key == "SentSim" else 1e-5       # the script rounds to 5 decimals
                if got.get(name) is None or abs(got[name] - value) > tol:
                    diffs.append(f"{task}/{source} {key}: official {value}, vidllm {got.get(name)}")
    return diffs


def test_etbench_equals_official_scorer():
    """Every non-captioning task and source: accuracy with the MiniLM fallback, TVG/EPM recall and
    mIoU (float32 IoU), TAL F1, EVS F1 (failures left out), VHD, TEM/GVQ recall, failure counts."""
    similarity = _embedder_or_skip()
    tasks = ("rar", "eca", "rvq", "tvg", "epm", "tal", "evs", "vhd", "tem", "gvq")
    bench, samples, predictions = _etbench(tasks)
    result = grade(bench, samples, predictions, GradeContext(similarity=similarity))
    reference = {t: v for t, v in json.loads((FIXTURES / "etbench_official_metrics.json").read_text()).items() if t in tasks}
    assert _compare(result.scores["official"]["sources"], reference) == []
    tasks_out = result.scores["official"]["tasks"]
    assert tasks_out["tvg"]["failed"] == 1 and tasks_out["evs"]["failed"] == 1 and tasks_out["gvq"]["failed"] == 2
    # the robust reading reads what the official one misses ("From 1:05 to 1:20", "At 0:06"), and
    # its failures stay failures (counted, a miss), not IoU values
    robust = result.scores["robust"]["sources"]
    assert robust["tvg/qvhighlights"]["R@0.5"] > result.scores["official"]["sources"]["tvg/qvhighlights"]["R@0.5"]
    assert robust["vhd/youtube_highlights"]["F1"] == 1.0 and robust["tvg/qvhighlights"]["failed"] == 1


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("java") is None, reason="METEOR and the PTB tokenizer need Java")
def test_etbench_captions_equal_official_scorer():
    """DVC and SLC: detection F1 at 0.1-0.7 (with the lone-timestamp reading t-20 .. t+20), and
    SentSim, METEOR, ROUGE-L and CIDEr through pycocoevalcap per video, equal to the official
    script's. The "hirest" source pairs unmatched captions with random strings (unseeded in the
    official script), so only its detection scores are compared."""
    pytest.importorskip("pycocoevalcap")
    similarity = _embedder_or_skip()
    bench, samples, predictions = _etbench(("dvc", "slc"))
    result = grade(bench, samples, predictions, GradeContext(similarity=similarity))
    bench._scorer.close()
    reference = json.loads((FIXTURES / "etbench_official_metrics.json").read_text())
    mine = result.scores["official"]["sources"]
    exact = {"dvc": {"youcook2": reference["dvc"]["youcook2"]}, "slc": reference["slc"]}
    assert _compare(mine, exact, sentsim_tol=2e-4) == []        # numpy MiniLM vs torch: cosine within 1e-4
    detection = {"Total", "Failed", "F1", "F1@0.1", "F1@0.3", "F1@0.5", "F1@0.7"}
    assert _compare(mine, {"dvc": {"hirest": reference["dvc"]["hirest"]}}, keys=detection) == []
    assert "notes" not in result.scores["official"]


def test_etbench_captions_without_language_scores_say_so():
    bench, samples, predictions = _etbench(("slc",))
    bench.caption_language_metrics = False
    result = grade(bench, samples, predictions, GradeContext(similarity=lambda a, b: 1.0 if a == b else 0.5))
    out = result.scores["official"]["sources"]["slc/how_to_step"]
    assert out["F1"] == 1.0 and out["SentSim"] == 0.5 and "METEOR" not in out
    assert any("language scores not asked for" in n for n in result.scores["official"]["notes"])


# ------------------------------------------------------------------------------ Charades-STA

def _charades(target, doc_id):
    return EvalSample(doc_id=doc_id, benchmark="charades_sta", task="test", video="v.mp4", video_path="", question="q",
                      target=target, kind="span", prompt="q")


def test_charades_reports_r1_and_miou_with_failures_apart():
    bench = CharadesSTA()
    replies = {
        "a": ((0.0, 6.9), "The event happens in 0.0 - 6.9 seconds."),      # IoU 1
        "b": ((10.0, 20.0), "The event happens in 12 - 20 seconds."),      # IoU 0.8
        "c": ((10.0, 20.0), "It happens from 0:14 to 0:30."),              # official: "14 - 0"; robust IoU 6/20
        "d": ((0.0, 10.0), "I cannot tell."),                              # unreadable in both readings
        "e": ((0.0, 10.0), "It starts at frame 40."),                      # robust: frames without an fps
    }
    samples = [_charades(t, d) for d, (t, _) in replies.items()]
    result = grade(bench, samples, {d: Prediction(text=r) for d, (_, r) in replies.items()})
    robust, official = result.scores["robust"]["overall"], result.scores["official"]["overall"]
    assert robust["n"] == 5 and robust["failed"] == 2
    assert robust["R@0.3"] == 3 / 5 and robust["R@0.5"] == 2 / 5 and robust["R@0.7"] == 2 / 5
    assert robust["mIoU"] == pytest.approx((1 + 0.8 + 0.3) / 5) and robust["mIoU (read)"] == pytest.approx(2.1 / 3)
    assert official["failed"] == 2 and official["R@0.5"] == 2 / 5 and official["score"] == official["R@0.5"]
    graded = result.graded["robust"]
    assert "iou" not in graded["d"].metrics and graded["d"].note == "the reply names no time"
    assert graded["e"].note == "the reply names frame numbers but no frame rate was given"


def test_random_string_pairs_are_reproducible():
    """The official scorer pairs an unmatched caption with an unseeded random string; vidllm seeds
    it by sample and threshold, so a rerun gives the same SentSim."""
    bench, samples, predictions = _etbench(("dvc",))
    bench.caption_language_metrics = False
    similarity = lambda a, b: random.Random(a + "|" + b).random()   # noqa: E731  (deterministic, text-dependent)
    first = grade(bench, samples, predictions, GradeContext(similarity=similarity)).scores["official"]["sources"]
    again = grade(bench, samples, predictions, GradeContext(similarity=similarity)).scores["official"]["sources"]
    assert first["dvc/hirest"]["SentSim"] == again["dvc/hirest"]["SentSim"]
