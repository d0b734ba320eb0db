"""lmms-eval's formats both ways: a vidllm run read by a reader written only to lmms-eval's
published keys (``*_results.json``: results{task: {"<metric>,none", "<metric>_stderr,none"}},
configs, versions; ``*_samples_<task>.jsonl``), and an lmms-eval samples file, built here in the
format lmms-eval writes, rescored by ``vidllm score``."""

from __future__ import annotations

import glob
import json
import math
import os

import numpy as np
import pytest
from click.testing import CliRunner

from vidllm.cli import main
from vidllm.cli.eval import score_command
from vidllm.eval import EvalConfig, evaluate, grade
from vidllm.eval.benchmarks import BENCHMARKS
from vidllm.eval.lmms_eval import hash_string, mean_stderr, stderrs
from vidllm.eval.result_files import read_predictions
from vidllm.eval.types import EvalSample, Prediction


def lmms_reader(run_dir: str) -> dict:
    """What lmms-eval's tooling does with a run folder: the newest *_results.json and each task's
    *_samples_<task>.jsonl, read by their published keys only."""
    results_file = sorted(glob.glob(os.path.join(run_dir, "*_results.json")))[-1]
    content = json.load(open(results_file))
    out = {"configs": content["configs"], "versions": content["versions"], "tasks": {}}
    for task, values in content["results"].items():
        metrics = {}
        for key, value in values.items():
            if key == "alias" or "," not in key:
                continue
            metric, filt = key.split(",")
            if filt == "none" and not metric.endswith("_stderr"):
                metrics[metric] = (value, values[f"{metric}_stderr,none"])
        samples = glob.glob(os.path.join(run_dir, f"*_samples_{task}.jsonl"))
        rows = [json.loads(line) for line in open(samples[0])] if samples else []
        out["tasks"][task] = {"metrics": metrics, "samples": rows}
    return out


def test_a_run_is_read_by_an_lmms_eval_reader(mlvu_dir, tmp_path):
    result = evaluate(EvalConfig(model="hash:", benchmark="mlvu", data_dir=mlvu_dir, out_dir=tmp_path, progress=False,
                                 thumbnails=0, sampling={"nframes": 2}))
    read = lmms_reader(str(tmp_path))
    tasks = result.results["scores"]["official"]["tasks"]
    assert set(read["tasks"]) == {"mlvu_count", "mlvu_needle", "mlvu"}
    for task, values in tasks.items():
        entry = read["tasks"][f"mlvu_{task}"]
        acc, se = entry["metrics"]["acc"]
        assert acc == values["acc"]
        per_sample = [row["acc"] for row in entry["samples"]]
        assert len(per_sample) == values["n"] == 10 and np.mean(per_sample) == pytest.approx(acc)
        assert se == pytest.approx(np.std(per_sample, ddof=1) / math.sqrt(len(per_sample)))   # lmms-eval's mean_stderr
        row = entry["samples"][0]
        assert row["doc_id"] == 0 and row["doc_hash"] == hash_string(json.dumps(row["doc"], indent=2, ensure_ascii=False))
        assert row["filtered_resps"] == [row["resps"][0][0]] and isinstance(row["target"], str) and row["input"]
        assert read["versions"][f"mlvu_{task}"] == 1 and read["configs"][f"mlvu_{task}"]["output_type"] == "generate_until"
    # the benchmark as a group: M-Avg (a mean of task means) gets a bootstrap standard error
    m_avg, se = read["tasks"]["mlvu"]["metrics"]["M-Avg"]
    assert m_avg == result.results["scores"]["official"]["overall"]["M-Avg"] and 0 < se < 0.3
    # the robust reading is the filter "robust" beside the official "none"
    content = json.loads((tmp_path / "lmms_eval_results.json").read_text())
    assert content["results"]["mlvu_count"]["acc,robust"] == result.results["scores"]["robust"]["tasks"]["count"]["acc"]
    # vidllm's own lmms-eval samples file rescored gives the run's numbers
    again = read_predictions(tmp_path / "lmms_eval_samples_mlvu_count.jsonl")
    graded = grade(*again[:1], again[1].samples, again[2])
    assert graded.scores["official"]["tasks"]["count"] == tasks["count"]


def test_standard_errors_mean_and_bootstrap():
    assert mean_stderr([1.0]) == "N/A" and mean_stderr([0.0, 1.0]) == pytest.approx(0.5)
    bench = BENCHMARKS.get("mlvu")()
    samples = [EvalSample(doc_id=f"{t}/{i}", benchmark="mlvu", task=t, video="v.mp4", video_path="", question="?",
                          options=("a", "b"), target="A", kind="choice", prompt="?") for t in ("count", "order") for i in range(40)]
    rng = np.random.default_rng(0)
    preds = {s.doc_id: Prediction(text=str(rng.choice(["A", "B"]))) for s in samples}
    graded = grade(bench, samples, preds)
    official = graded.graded["official"]
    overall = graded.scores["official"]["overall"]
    first = stderrs(bench, samples, official, "official", overall, None)
    assert first == stderrs(bench, samples, official, "official", overall, None)   # seeded
    values = [g.metrics["acc"] for g in official.values()]
    assert first["micro"] == pytest.approx(np.std(values, ddof=1) / math.sqrt(80))
    # M-Avg of two equal-size tasks equals the micro mean, so its bootstrap error is near the analytic one
    assert first["M-Avg"] == pytest.approx(first["micro"], rel=0.15)


def lmms_mvbench_rows(entries, replies):
    """Rows as lmms-eval's evaluator and EvaluationTracker write them for an MVBench task
    (doc = the dataset's entry, target = doc_to_target "answer", metric mvbench_accuracy)."""
    rows = []
    for i, (doc, text) in enumerate(zip(entries, replies)):
        letters = "ABCDE"
        gt = next((letters[j] for j, c in enumerate(doc["candidates"]) if c == doc["answer"]), None)
        prompt = "Question:" + doc["question"] + "\nOption:\n" + "".join(f"({letters[j]}) {c}\n" for j, c in enumerate(doc["candidates"]))
        rows.append({
            "doc_id": i, "doc": doc, "target": doc["answer"], "resps": [[text]], "filtered_resps": [text],
            "doc_hash": hash_string(json.dumps(doc, indent=2)), "prompt_hash": hash_string(prompt),
            "target_hash": hash_string(doc["answer"]), "mvbench_accuracy": {"pred_answer": text, "gt_answer": gt, "score": 0},
            "input": prompt,
        })
    return rows


ENTRIES = [
    {"video": "a.mp4", "question": "What happens?", "candidates": ["sits", "stands", "runs"], "answer": "stands"},
    {"video": "b.mp4", "question": "Which one?", "candidates": ["x", "y", "z"], "answer": "x"},
    {"video": "c.mp4", "question": "Then?", "candidates": ["p", "q"], "answer": "q"},
    {"video": "d.mp4", "question": "Who?", "candidates": ["he", "she", "they"], "answer": "they"},
]
# official (MVBench check_ans on "(" + reply): "(B) stands" right; "(A) x" -> "(a)" right; "After..." -> "(after" wrong;
# "C" -> "(c" is a substring of "(c)" right  => 3/4. Robust: B right, A right, "I pick A" wrong (q is B), C right => 3/4,
# but the third reply reads A robustly where the official reading read nothing.
REPLIES = ["(B) stands", "(A) x", "After watching, I pick A because of the scene at 0:42.", "C"]


def test_an_lmms_eval_samples_file_is_rescored(tmp_path):
    path = tmp_path / "2025-01-01T00-00-00.000000_samples_mvbench_action_antonym.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in lmms_mvbench_rows(ENTRIES, REPLIES)))
    out = CliRunner().invoke(score_command, ["--predictions", str(path), "--json"])
    assert out.exit_code == 0, out.output
    results = json.loads(out.output)
    assert results["benchmark"]["name"] == "mvbench"
    assert results["scores"]["official"]["tasks"]["action_antonym"] == {"acc": 0.75, "n": 4}
    assert results["scores"]["robust"]["tasks"]["action_antonym"] == {"acc": 0.75, "n": 4}
    b, load, preds = read_predictions(path)
    graded = grade(b, load.samples, preds)
    assert graded.graded["robust"]["action_antonym/2"].value == "A"
    assert graded.graded["official"]["action_antonym/2"].value == "(after"


def test_rows_without_doc_are_matched_to_the_data_folder(mvbench_dir, tmp_path):
    """lmms-eval versions whose EvaluationTracker pops "doc": the sample comes from --data by doc_id."""
    entries = json.loads((mvbench_dir / "json" / "action_antonym.json").read_text())
    rows = lmms_mvbench_rows(entries, ["(B) stands", "(A) x", "p"])  # x is listed twice: A is right too
    for row in rows:
        row.pop("doc")
    path = tmp_path / "x_samples_mvbench_action_antonym.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    no_data = CliRunner().invoke(main, ["score", "--predictions", str(path)])
    assert no_data.exit_code == 2 and "--data" in no_data.output and "Traceback" not in no_data.output
    out = CliRunner().invoke(score_command, ["--predictions", str(path), "--data", str(mvbench_dir), "--json"])
    assert out.exit_code == 0, out.output
    tasks = json.loads(out.output)["scores"]["robust"]["tasks"]
    assert tasks["action_antonym"]["n"] == 2   # the third entry's answer is no option: left out of robust scores
    assert tasks["action_antonym"]["acc"] == 1.0
