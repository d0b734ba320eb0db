"""The robust parser on a table of reply styles, the metrics on hand-computed cases, and the
E.T. Bench / OVO-Bench aggregations on hand-written answers."""

from __future__ import annotations

import math

import pytest

from vidllm.eval import metrics as M
from vidllm.eval.grading import GradeContext, grade
from vidllm.eval.parsers import read_count, read_letter, read_rating, read_yes_no
from vidllm.eval.types import EvalSample, Prediction
from vidllm.timeparse import find_point, find_spans

OPTIONS = ("a red car", "a blue bus", "a green bike", "a white van")


@pytest.mark.parametrize("reply, letter", [
    ("B", "B"), ("(B)", "B"), ("B.", "B"), ("B) a blue bus", "B"), ("b", "B"), ("**B**", "B"),
    ("Answer: B", "B"), ("The answer is (B).", "B"), ("Best answer: D", "D"), ("The correct option is C", "C"),
    ("<think>Maybe A? No.</think>\nB", "B"), ("I think it's a blue bus.", "B"), ("Final Answer: C", "C"),
    ("A man drives a blue bus", "B"), ("The answer is not A; the answer is C.", "C"), ("<answer>D</answer>", "D"),
    ("", None), ("I don't know", None), ("A or B", None), ("E", None),
])
def test_read_letter(reply, letter):
    assert read_letter(reply, OPTIONS) == letter


@pytest.mark.parametrize("reply, letter", [
    ("After watching, I pick A because of the scene at 0:42.", "A"),
    ("I'd go with C.", "C"), ("I choose (B) since the bus appears at 1:05.", "B"), ("Going with D here.", "D"),
    ("My pick: B", "B"), ("I'll select option C because the bike is green.", "C"), ("I would say B.", "B"),
    ("I'm choosing D because the van stops at 0:30.", "D"), ("Based on the frames at 0:12 and 0:42, I pick C.", "C"),
    ("A because the car is red.", "A"), ("A, because the car is red at 0:42.", "A"), ("I chose A as the answer.", "A"),
    ("After watching the clip twice, I'd choose option B over A.", "B"), ("I would not pick A; I pick C.", "C"),
    ("It is not A, it's B.", "B"),
    # no single choice: these must stay unanswered
    ("Not A.", None), ("I would not pick A.", None), ("I can't decide between A and B.", None),
    ("I would pick A or B.", None), ("I pick A and B.", None), ("I'd pick neither A nor B.", None),
    ("Hard to say; either A or C.", None), ("Pick a card.", None), ("I picked a frame at 0:42 but cannot tell.", None),
    ("I pick the scene at 0:42.", None), ("(A)(B)(C)", None), ("(A) or (B)", None),
])
def test_read_letter_chosen_by_a_verb(reply, letter):
    """A letter named as what the reply picks, with reasons and times after it (issue 14)."""
    assert read_letter(reply, OPTIONS) == letter


@pytest.mark.parametrize("reply, value", [
    ("Yes", "Yes"), ("no.", "No"), ("Y", "Yes"), ("Not sure", None), ("Yes, the step is being done", "Yes"), ("Nope", None),
])
def test_read_yes_no(reply, value):
    assert read_yes_no(reply) == value


@pytest.mark.parametrize("reply, value", [("3", 3), ("They did it 3 times in 10 seconds", 3), ("three", 3), ("none", None), ("2.5", None)])
def test_read_count(reply, value):
    assert read_count(reply) == value


@pytest.mark.parametrize("reply, spans", [
    ("12.5 - 20 seconds", [(12.5, 20.0)]),
    ("from 0:12 to 1:05", [(12.0, 65.0)]),
    ("[12.5, 20.0]", [(12.5, 20.0)]),
    ("between 3 and 7 seconds", [(3.0, 7.0)]),
    ("Start time: 3s, end time: 7s", [(3.0, 7.0)]),
    ("12s-20s and 30s-40s", [(12.0, 20.0), (30.0, 40.0)]),
    ("01:02:03 - 01:02:10", [(3723.0, 3730.0)]),
    ("On 2023-05-01 nothing happened", []),
    ("20 - 12 seconds", [(12.0, 20.0)]),
])
def test_find_spans(reply, spans):
    assert find_spans(reply) == spans


def test_find_point_and_rating():
    assert find_point("at 1:05 exactly") == 65.0 and find_point("around 12.5 s") == 12.5 and find_point("never") is None
    assert read_rating("I'd rate it 4/5") == 4.0 and read_rating("Score: 2") == 2.0 and read_rating("video: 7", (1, 5)) is None


def test_interval_metrics():
    assert M.iou((0, 10), (0, 10)) == 1.0 and M.iou((0, 10), (10, 20)) == 0.0 and M.iou(None, (0, 1)) == 0.0
    assert M.recall_at([0.2, 0.5, 0.8], (0.3, 0.5, 0.7)) == {"R@0.3": 2 / 3, "R@0.5": 2 / 3, "R@0.7": 1 / 3}


def test_accuracy_and_correlation():
    table = M.accuracy_table([("a", 1), ("a", 1), ("a", 0), ("b", 0)])
    assert table["micro"] == 0.5 and table["macro"] == pytest.approx((2 / 3 + 0) / 2)
    assert M.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert M.spearman([1, 2, 2, 3], [3, 2, 2, 1]) == pytest.approx(-1.0)
    assert math.isnan(M.spearman([1, 1], [2, 3]))


def test_ovobench_three_mode_average():
    modes = {"backward": ("EPM", "ASI"), "realtime": ("OCR",), "forward": ("REC", "SSR")}
    out = M.three_mode_average({"EPM": 1.0, "ASI": 0.5, "OCR": 0.25, "REC": 0.0, "SSR": 1.0}, modes)
    assert out == {"backward": 0.75, "realtime": 0.25, "forward": 0.5, "overall": 0.5}


def test_ovobench_aggregation_counts_checkpoints(shared):
    from vidllm.eval.benchmarks import load_benchmark
    from vidllm.eval.predictors import make_baseline

    bench = load_benchmark("ovobench", shared / "ovo_bench")
    samples = bench.load(require_videos=False).samples
    oracle = make_baseline("oracle:")
    result = grade(bench, samples, {s.doc_id: oracle(s) for s in samples})
    assert result.scores["official"]["overall"]["score"] == 1.0
    rec = result.scores["official"]["tasks"]["REC"]
    assert rec["n"] == sum(1 for s in samples if s.task == "REC")   # one per checkpoint, as the official scorer


def test_etbench_task_metrics(etbench_dir):
    """Hand-written answers; expected numbers worked out by hand from compute_metrics.py."""
    from vidllm.eval.benchmarks import load_benchmark

    bench = load_benchmark("etbench", etbench_dir)
    samples = bench.load(require_videos=False).samples
    replies = {
        "tvg/qvhighlights/0": "The event happens in 10 - 20 seconds.",      # IoU 1
        "tvg/qvhighlights/1": "It starts at 35.\nIt ends at 40.",          # see below
        "rar/perception_test/2": "(B) pouring",
        "rar/perception_test/3": "B",
        "tal/thumos14/4": "0 - 10, 20 - 25",
        "evs/summe/5": "0 - 10 seconds",
        "evs/summe/6": "no idea",                                           # failed: left out of EVS
        "vhd/qvhighlights/7": "13.0",
        "gvq/qa_ego4d/8": "(C) it happens in 5 - 9 seconds",
        "tem/perception_test/9": "20 - 25 seconds",
    }
    result = grade(bench, samples, {d: Prediction(text=t) for d, t in replies.items()}, GradeContext(similarity=lambda a, b: 0.0))
    tasks = result.scores["official"]["tasks"]
    # tvg: no "a - b" and no " to ": the first number of each keyword sentence (lines here),
    # paired: [35, 40] -> IoU 0.5 with [30, 40]; sample 0 IoU 1 -> mIoU 0.75
    assert tasks["tvg"]["mIoU"] == pytest.approx(0.75)
    assert tasks["tvg"]["F1"] == pytest.approx((1 + 1 + 1 + 0.5) / 4)    # R@.1,.3,.5 = 1, R@.7 = 0.5
    assert tasks["rar"]["Acc"] == 0.5
    # tal: gt [0,10],[20,30]; pred [0,10],[20,25]: ious 1 and 0.5 -> F1 1,1,1 then at .7: rec .5 prc .5
    assert tasks["tal"]["F1"] == pytest.approx((1 + 1 + 1 + 0.5) / 4)
    assert tasks["evs"]["F1"] == 1.0                                      # the failed sample is left out
    assert tasks["vhd"]["F1"] == 1.0 and tasks["gvq"]["Acc"] == 1.0 and tasks["gvq"]["mRec"] == 1.0
    assert tasks["tem"]["mRec"] == 1.0
    overall = result.scores["official"]["overall"]
    assert overall["Acc (ref)"] == 0.5 and overall["Rec (com)"] == 1.0
    assert overall["F1 (gnd)"] == pytest.approx((0.875 + 0.875 + 1.0 + 1.0) / 4)
    assert result.scores["robust"]["tasks"]["evs"]["F1"] == 0.5           # robust counts the failure as 0


def test_etbench_similarity_fallback_uses_minilm():
    """A free-text reply is matched to the closest option with all-MiniLM-L6-v2 (vidllm's one
    text embedder), as officially; the similarity is the cosine of the two embeddings."""
    from vidllm.errors import MissingDependencyError
    from vidllm.eval.benchmarks.etbench_official import etbench_choice_official
    from vidllm.eval.grading import embedding_similarity

    try:
        similarity = embedding_similarity()
    except MissingDependencyError as exc:
        pytest.skip(f"the text embedder is not installed: {exc}")
    index, how = etbench_choice_official("somebody pours water into a glass", ["cutting bread", "pouring water", "washing hands"],
                                         3, similarity)
    assert (index, how) == (1, "closest option by sentence similarity")
    assert similarity("pouring water", "pouring water") == pytest.approx(1.0, abs=1e-5)
    assert similarity("pouring water", "a red car") < similarity("pouring water", "somebody pours water")


def test_videobench_spearman_per_dimension(shared):
    from vidllm.eval.benchmarks import load_benchmark
    from vidllm.eval.predictors import make_baseline

    bench = load_benchmark("videobench", shared / "video_bench")
    samples = [s for s in bench.load(require_videos=False, tasks=["color"]).samples]
    oracle = make_baseline("oracle:")
    result = grade(bench, samples, {s.doc_id: oracle(s) for s in samples})
    rho = result.scores["official"]["tasks"]["color"]["spearman"]
    assert 0.8 < rho < 1.0     # rounded human means: rank agreement high but not perfect
    assert result.scores["official"]["overall"]["score"] == pytest.approx(rho)


def test_sample_round_trip():
    s = EvalSample(doc_id="x", benchmark="etbench", task="tal", video="v.mp4", video_path="", question="q",
                   target=((0.0, 1.0), (2.0, 3.0)), kind="spans", prompt="p", time_range=(0, 5), extra={"tgt": [[0, 1]]})
    import json

    assert EvalSample.from_doc(json.loads(json.dumps(s.to_doc()))) == s
