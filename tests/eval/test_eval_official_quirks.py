"""Hand-written replies that show each official scorer's quirks, and the robust reading of the
same strings. Each row: reply, official verdict, robust verdict (1 = right, 0 = wrong,
None = the sample is left out of that score)."""

from __future__ import annotations

import pytest

from vidllm.eval.benchmarks import BENCHMARKS
from vidllm.eval.grading import GradeContext
from vidllm.eval.types import EvalSample, Prediction


def verdicts(bench_name: str, sample: EvalSample, reply: str | None, ctx: GradeContext | None = None):
    bench = BENCHMARKS.get(bench_name)()
    out = []
    for mode in ("official", "robust"):
        g = bench.grade(sample, Prediction(text=reply) if reply is not None else Prediction(text=""), mode, ctx or GradeContext())
        key = "acc" if "acc" in g.metrics else "iou" if "iou" in g.metrics else next(iter(g.metrics), None)
        out.append(g.metrics[key] if g.counted and key else None)
    return tuple(out)


def choice(bench: str, options, target: str, **extra) -> EvalSample:
    return EvalSample(doc_id="t", benchmark=bench, task=extra.pop("task", "t"), video="v.mp4", video_path="", question="q",
                      options=tuple(options), target=target, kind="choice", prompt="q", extra=extra)


MVB = choice("mvbench", ["sits", "stands", "runs"], "B", official_gt="(B) stands", answer_text="stands")


@pytest.mark.parametrize("reply, official, robust", [
    ("", 1, 0),                    # "(" is a substring of "(b)": an empty reply is right
    ("(A)(B)(C)(D)", 1, 0),        # "(b)" is a substring of the reply: listing every option is right
    ("B) stands", 1, 1),           # the intended form after "Best option:("
    ("Answer: (B)", 0, 1),         # the first word "(answer:" matches nothing
    ("stands", 0, 1),              # option text
    ("A", 0, 0),
    ("B\n(A) is also possible", 1, 1),  # only the first line is read
])
def test_mvbench_check_ans(reply, official, robust):
    assert verdicts("mvbench", MVB, reply) == (official, robust)


MLVU = choice("mlvu", ["one", "two", "three", "four"], "B", official_gt="(B) two", answer_text="two")


@pytest.mark.parametrize("reply, official, robust", [
    ("B) two", 1, 1),
    ("(B)", 1, 1),
    ("B.", 0, 1),                  # no ")" : the whole reply must be "B"
    ("The answer is B", 0, 1),
    ("A (not B)", 1, 0),           # the character before the first ")" is "B"
    (")", 0, 0),                   # reads ""
    ("two", 0, 1),
])
def test_mlvu_check_ans(reply, official, robust):
    assert verdicts("mlvu", MLVU, reply) == (official, robust)


def test_mlvu_answer_listed_twice_and_missing():
    twice = choice("mlvu", ["x", "y", "x"], "C", official_gt="(C) x", answer_text="x")
    assert verdicts("mlvu", twice, "A") == (0, 1)       # the official ground truth is the last copy
    missing = choice("mlvu", ["p", "q"], None, official_gt="(@) r", answer_text="r", invalid=True)
    assert verdicts("mlvu", missing, "A") == (0, None)  # unscorable: robust leaves it out


VMME = choice("videomme", ["A. w", "B. x", "C. y", "D. z"], "D")


@pytest.mark.parametrize("reply, target, official, robust", [
    ("Best answer: D", "D", 0, 1),     # "Best answer:" "Best option:" fused: prefix kept, "B" of "Best" read
    ("Answer: C", "C", 0, 1),          # "A" of "Answer"
    ("Correct option: D", "D", 0, 1),  # "C" of "Correct"
    ("The best answer is D", "D", 1, 1),
    ("D. z", "D", 1, 1),
    ("I really cannot tell which one it is from these few frames, sorry about that", "D", None, 0),  # not "answered"
])
def test_videomme_extract_characters_regex(reply, target, official, robust):
    sample = choice("videomme", VMME.options, target)
    assert verdicts("videomme", sample, reply) == (official, robust)


def ovo(kind: str, target, task: str) -> EvalSample:
    return EvalSample(doc_id="t", benchmark="ovobench", task=task, video="v.mp4", video_path="", question="q",
                      options=("a cat", "a dog", "a bird", "a fish") if kind == "choice" else (), target=target, kind=kind, prompt="q")


@pytest.mark.parametrize("kind, target, task, reply, official, robust", [
    ("choice", "B", "EPM", "Based on the video, the answer is A.", 1, 0),   # "B" of "Based"
    ("choice", "B", "EPM", "B", 1, 1),
    ("count", 3, "REC", "3 times in 10 seconds", 0, 1),                      # digits joined: "310"
    ("count", 3, "REC", "3", 1, 1),
    ("yesno", "No", "SSR", "Not sure", 1, 0),                                # "No" of "Not"
    ("yesno", "Yes", "CRR", "Y", 1, 1),                                      # exactly "Y" counts
    ("yesno", "Yes", "CRR", "No, yes is wrong", 1, 0),                       # "Yes" nowhere but... "yes" lower-case
])
def test_ovobench_substring_checks(kind, target, task, reply, official, robust):
    if reply == "No, yes is wrong":
        official = 0  # "Yes" (capital) does not occur: the substring test is case-sensitive
    assert verdicts("ovobench", ovo(kind, target, task), reply) == (official, robust)


def test_ovobench_none_response_is_wrong():
    from vidllm.eval.benchmarks.ovobench import ovo_official

    assert ovo_official(ovo("choice", "A", "EPM"), None).correct is False


VAU_OPTIONS = ("robbery", "fire", "fighting", "nothing")


@pytest.mark.parametrize("reply, raw, target, official, robust", [
    ("C is the anomaly, a robbery gone wrong", "C", "C", 0, 1),   # last standalone a-d, any case: "a"
    ("<answer>C</answer>", "C", "C", 1, 1),
    ("<think>A or C?</think> C", "C", "C", 1, 1),
    ("D", "D. nothing", "D", 0, 1),                                # full-text correct option never matches
    ("A", "-1", None, 0, None),                                    # a row of -1: official counts it wrong
])
def test_vau_qa(reply, raw, target, official, robust):
    sample = choice("vau", VAU_OPTIONS, target, task="qa", correct_option_raw=raw, invalid=target is None)
    assert verdicts("vau", sample, reply) == (official, robust)


def tag(start: float, end: float) -> EvalSample:
    normal, unknown = start == end == 0, start < 0
    return EvalSample(doc_id="t", benchmark="vau", task="tag", video="v.mp4", video_path="", question="q",
                      target=None if normal or unknown else (start, end), kind="span", prompt="q",
                      extra={"official_gt": (start, end), "normal": normal, "invalid": normal or unknown, "split": "msad"})


@pytest.mark.parametrize("reply, gt, official, robust", [
    ("<glue>[5.0, 12.0]</glue>", (5.0, 12.0), 1.0, 1.0),
    ("The anomaly is from 5.0 to 12.0 seconds.", (5.0, 12.0), 0.0, 1.0),   # no <glue> or [...]: (0, 0)
    ("<glue>[1:05, 80]</glue>", (65.0, 80.0), 0.0, 1.0),                   # clock and seconds mixed: the script stops
    ("<glue>[3.0, 3.0]</glue>", (2.0, 4.0), 0.0, 0.0),                     # start == end: IoU 0
    ("<glue>[0.0, 10.0]</glue>", (-1.0, -1.0), 0.0, None),                # -1/-1 rows: official IoU 0, robust leaves out
    ("<glue>[0.0, 10.0]</glue>", (0.0, 0.0), None, None),                 # normal videos are skipped
])
def test_vau_temporal(reply, gt, official, robust):
    assert verdicts("vau", tag(*gt), reply) == (official, robust)


def test_vau_temporal_scorer_reads_columns_its_csvs_lack(shared):
    from vidllm.eval.benchmarks.vau import CSV_TAG_COLUMNS, OFFICIAL_TAG_COLUMNS

    for name in ("test_msad.csv", "test_ucf_crime.csv", "test_ecva.csv", "val.csv"):
        header = (shared / "vau_bench" / name).read_text(encoding="utf-8").splitlines()[0].split(",")
        assert not set(OFFICIAL_TAG_COLUMNS) & set(header) and set(CSV_TAG_COLUMNS) <= set(header)


def et(task: str, **fields) -> EvalSample:
    from collections import Counter

    from vidllm.eval.benchmarks.etbench import ETBench

    entry = {"idx": 0, "task": task, "source": "s", "video": "v.mp4", "duration": 60.0, "q": "q", **fields}
    return next(ETBench().samples_from([entry], Counter()))


@pytest.mark.parametrize("sample, reply, official, robust", [
    (et("rar", p=1, o=["cutting", "pouring", "stirring", "washing"]), "a person is pouring water", 0, 1),  # "a " reads option A
    (et("rar", p=1, o=["cutting", "pouring", "stirring", "washing"]), "Best option: (B) pouring", 1, 1),
    (et("tvg", tgt=[10.0, 20.0]), "It happens from 0:10 to 0:20.", 0.0, 1.0),   # "10 to 0" read as seconds
    (et("tvg", tgt=[10.0, 20.0]), "The event happens in 10 - 20 seconds.", 1.0, 1.0),
])
def test_etbench_readings(sample, reply, official, robust):
    assert verdicts("etbench", sample, reply) == (official, robust)


def test_etbench_vhd_first_number():
    sample = et("vhd", tgt=[[40.0, 42.0]])
    bench = BENCHMARKS.get("etbench")()
    official = bench.grade(sample, Prediction(text="At 0:41 the highlight peaks."), "official", GradeContext())
    robust = bench.grade(sample, Prediction(text="At 0:41 the highlight peaks."), "robust", GradeContext())
    assert (official.value, official.metrics["hit"]) == (0.0, 0.0) and (robust.value, robust.metrics["hit"]) == (41.0, 1.0)


CH = EvalSample(doc_id="t", benchmark="charades_sta", task="test", video="v.mp4", video_path="", question="q",
                target=(0.0, 6.9), kind="span", prompt="q")


@pytest.mark.parametrize("reply, official, robust", [
    ("The event happens in 0.0 - 6.9 seconds.", 1.0, 1.0),
    ("The moment is 0.0 - 6.9 seconds.", 0.0, 1.0),          # no keyword in the sentence: replaced by [end+10, end+20]
    ("It happens between 0 and 6.9 seconds.", 0.0, 1.0),
    ("The event starts at 0.0 and ends at 6.9.", 0.0, 1.0),  # one sentence: one number read, no pair
    ("The event starts at 0.0.\nIt ends at 6.9.", 1.0, 1.0),   # one number per keyword sentence, paired
])
def test_charades_extract_time(reply, official, robust):
    assert verdicts("charades_sta", CH, reply) == pytest.approx((official, robust))


def test_charades_to_becomes_dash():
    from vidllm.eval.benchmarks.charades import charades_extract_time

    # "friends" holds the keyword "ends"; "moment" holds none
    assert charades_extract_time("His friends wave: 3 - 5") == [[3.0, 5.0]]
    assert charades_extract_time("The moment: 3 - 5") == []
    assert charades_extract_time("It happens from 2 to 5 seconds") == [[2.0, 5.0]]  # "to" -> "-"


def test_videobench_first_number_after_a_colon():
    sample = EvalSample(doc_id="t", benchmark="videobench", task="color", video="v.mp4", video_path="", question="q",
                        target=3.0, kind="rating", prompt="q", extra={"scale": [1, 5], "model": "m"})
    bench = BENCHMARKS.get("videobench")()
    reply = "Analysis: 3 frames are blurry. video: 5, because the colours are right"
    assert bench.grade(sample, Prediction(text=reply), "official", GradeContext()).value == 3.0
    assert bench.grade(sample, Prediction(text=reply), "robust", GradeContext()).value == 5.0
    assert not bench.grade(sample, Prediction(text="five"), "official", GradeContext()).counted   # "Error": left out


def test_videoreasonbench_final_answer_is_case_sensitive(shared):
    from vidllm.eval.benchmarks import load_benchmark

    report = load_benchmark("videoreasonbench", shared / "videoreasonbench").load(require_videos=False)
    hrd = next(s for s in report.samples if s.kind == "operation" and s.extra["kind"] == "hrd")
    from vidllm.eval.benchmarks.videoreasonbench_sim import solve

    moves = solve("hrd", {**hrd.extra, "question": hrd.question})
    assert verdicts("videoreasonbench", hrd, f"Final Answer: {moves}") == (1.0, 1.0)
    assert verdicts("videoreasonbench", hrd, f"final answer: {moves}") == (0.0, 1.0)   # "Final Answer" only
