"""VideoReasonBench move simulation, and judge-based scoring with the judge's prompt and model
recorded."""

from __future__ import annotations

import pytest

from vidllm.eval.benchmarks import BENCHMARKS, load_benchmark
from vidllm.eval.benchmarks import videoreasonbench_sim as simulate
from vidllm.eval.benchmarks.mlvu import mlvu_scores_official, mlvu_scores_robust
from vidllm.eval.benchmarks.vau_official import vau_scores_official, vau_scores_robust
from vidllm.eval.grading import GradeContext, grade
from vidllm.eval.judge import Judge
from vidllm.eval.types import EvalSample, Prediction


@pytest.fixture(scope="module")
def vrb(shared):
    bench = load_benchmark("videoreasonbench", shared / "videoreasonbench")
    return bench, bench.load(require_videos=False).samples


def test_every_prediction_operation_item_is_solvable(vrb):
    """The oracle's moves, replayed under the official rules, reach every one of the 240 targets."""
    ops = [s for s in vrb[1] if s.kind == "operation"]
    assert len(ops) == 240
    for s in ops:
        item = {**s.extra, "question": s.question}
        answer = simulate.solve(s.extra["kind"], item)
        assert simulate.check(s.extra["kind"], item, simulate.extract_moves(s.extra["kind"], answer)), s.doc_id


def _item(vrb, kind):
    s = next(s for s in vrb[1] if s.kind == "operation" and s.extra["kind"] == kind)
    return s, {**s.extra, "question": s.question}


def test_simulation_rules(vrb):
    _, item = _item(vrb, "hrd")
    moves = simulate.extract_moves("hrd", simulate.solve("hrd", item))
    # a slide off the board is skipped, not a failure
    assert simulate.check("hrd", item, ["jump", *moves])
    assert not simulate.check("hrd", item, [])                       # an empty list always fails
    _, item = _item(vrb, "file_sys")
    answer = simulate.solve("file_sys", item)
    spaced = answer.replace(",", ", ")
    # "{a.txt, b.txt}" split on "," alone names " b.txt": official fails, robust strips spaces
    assert simulate.check("file_sys", item, simulate.extract_moves("file_sys", answer))
    if "," in answer:
        assert not simulate.check("file_sys", item, simulate.extract_moves("file_sys", spaced), strict=True)
        assert simulate.check("file_sys", item, simulate.extract_moves("file_sys", spaced), strict=False)
    _, item = _item(vrb, "card")
    state = item["states"]["pile0"][simulate.source_index(item["visible_time"])]
    top = state[-1]
    assert not simulate.check("card", item, [f"remove {top} from pile0"])   # only the bottom card comes off
    assert simulate.cup_reaches([[1, 0], [0, 0]], [("a1", "z9"), ("a1", "b2")], [[0, 0], [0, 1]])  # unreadable swap: nothing


def test_vrb_without_judge_official_needs_one(vrb):
    bench, samples = vrb
    oracle = {s.doc_id: Prediction(text=f"Final Answer: {s.target}") for s in samples if s.kind == "text"}
    result = grade(bench, samples, oracle)
    assert result.scores["official"]["overall"]["n"] == 0                     # judged items need a judge
    assert result.scores["official"]["overall"]["not_scored"] == 1200
    assert result.scores["robust"]["overall"]["score"] == 1.0                 # deterministic item match


def test_vrb_with_judge_records_prompt_and_model(vrb):
    bench, samples = vrb
    text = [s for s in samples if s.kind == "text"][:5]
    calls = []
    judge = Judge(lambda prompt, system: calls.append(prompt) or "Correct.", "test-judge")
    preds = {s.doc_id: Prediction(text=f"reasoning...\nFinal Answer: {s.target}") for s in text}
    result = grade(bench, text, preds, GradeContext(judge=judge))
    assert result.scores["official"]["overall"]["score"] == 0.0   # "Correct." is not exactly "Correct"
    assert result.scores["robust"]["overall"]["score"] == 1.0
    # the official reading sends ": <answer>" (the colon stays in), the robust one "<answer>": two prompts each
    assert len(calls) == 10 and len(judge.calls) == 10
    call = next(iter(judge.calls.values()))
    assert call.model == "test-judge" and "Ground-Truth Answer:" in call.prompt and call.reply == "Correct."
    g = result.graded["official"][text[0].doc_id]
    assert g.judge_calls and g.judge_calls[0] in judge.calls


def test_vrb_operation_moves_listed_by_judge(vrb):
    bench, samples = vrb
    s = next(x for x in samples if x.kind == "operation" and x.extra["kind"] == "hrd")
    moves = simulate.extract_moves("hrd", simulate.solve("hrd", {**s.extra, "question": s.question}))
    judge = Judge(lambda prompt, system: repr(moves), "mover")
    g = bench.grade(s, Prediction(text="Final Answer: whatever the judge lists"), "official", GradeContext(judge=judge))
    assert g.metrics["acc"] == 1.0 and "Extracted Movements" in next(iter(judge.calls.values())).prompt


@pytest.mark.parametrize("reply, official, robust", [
    ("... {'score_accuracy': 4, 'score_relevance': 5, 'total_score': 9}", [4.0, 5.0], [4.0, 5.0]),
    # the first mention wins officially, the final JSON robustly
    ("For score_accuracy: 2, at first sight. {'score_accuracy': 4, 'score_relevance': 5, 'total_score': 9}", [2.0, 5.0], [4.0, 5.0]),
    ('{"score_accuracy":4,"score_relevance":5}', "crash", [4.0, 5.0]),       # no space after ":": the script stops
])
def test_mlvu_judge_score_reading(reply, official, robust):
    keys = ("score_accuracy", "score_relevance")
    if official == "crash":
        with pytest.raises(ValueError):
            mlvu_scores_official(reply, keys)
    else:
        assert mlvu_scores_official(reply, keys) == official
    assert mlvu_scores_robust(reply, keys) == robust


def test_mlvu_open_ended_with_judge(shared):
    bench = load_benchmark("mlvu", shared / "mlvu")
    samples = bench.load(require_videos=False, tasks=["sub_scene", "summary"], limit=3).samples
    judge = Judge(lambda p, s: '{"score_accuracy":4,"score_relevance":5,"score_completeness":3,"score_reliability":2}', "j")
    result = grade(bench, samples, {s.doc_id: Prediction(text="a description") for s in samples}, GradeContext(judge=judge))
    official, robust = result.scores["official"]["tasks"], result.scores["robust"]["tasks"]
    assert official["sub_scene"]["total"] == 0.0 and robust["sub_scene"]["total"] == 9.0
    assert robust["summary"]["total"] == 5.0 and result.scores["robust"]["overall"]["G-Avg"] == 7.0
    assert "Scoring Points:" in next(c for c in judge.calls.values() if "ACCURACY" in c.system).prompt


def test_vau_reasoning_judge_reads_only_fenced_json():
    fenced = '```json\n{"classification_score": 8, "total_score": 40}\n```'
    assert vau_scores_official(fenced)["total_score"] == 40 and vau_scores_official(fenced)["fluency_score"] == 0
    bare = 'Here: {"classification_score": 8, "total_score": 40}'
    assert vau_scores_official(bare) is None and vau_scores_robust(bare) == {"classification_score": 8.0, "total_score": 40.0}
    sample = EvalSample(doc_id="r", benchmark="vau", task="reasoning", video="v.mp4", video_path="", question="q",
                        target="gt description", kind="text", prompt="q", followups=("why?",),
                        extra={"reasoning": "gt analysis", "split": "msad"})
    bench = BENCHMARKS.get("vau")()
    judge = Judge(lambda p, s: bare, "deepseek-chat")
    pred = Prediction(text="desc", turns=("analysis",))
    assert not bench.grade(sample, pred, "official", GradeContext(judge=judge)).counted
    assert bench.grade(sample, pred, "robust", GradeContext(judge=judge)).metrics["total_score"] == 40.0
    assert not bench.grade(sample, Prediction(text="desc"), "robust", GradeContext(judge=judge)).counted  # no analysis
