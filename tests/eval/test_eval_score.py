"""``vidllm score``: predictions files in the benchmarks' own result formats give the official
metric (worked out by hand from the official scripts), and vidllm's samples.jsonl re-scores to
the same numbers as the run that wrote it."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner

from vidllm.cli.eval import eval_command, score_command
from vidllm.errors import PredictionFormatError
from vidllm.eval.grading import grade
from vidllm.eval.result_files import read_predictions


def scores(path, bench=None, **kw):
    b, load, preds = read_predictions(path, bench, **kw)
    return grade(b, load.samples, preds).scores


def test_videomme_template_as_published(shared):
    s = scores(shared / "video_mme" / "output_test_template.json", "videomme")
    # responses: C. Berries. / D. / D. 3 / Answer: C. Jade. / D / D. 13 / B / C. / D. United States.
    # official: "Answer: C" reads "A" -> 6 of 9; robust 7 of 9
    assert s["official"]["overall"]["acc"] == pytest.approx(6 / 9)
    assert s["robust"]["overall"]["acc"] == pytest.approx(7 / 9)


def test_ovobench_results_json(tmp_path):
    result = {
        "backward": [
            {"id": 1, "video": "v", "task": "EPM", "question": "q", "response": "B", "ground_truth": "B"},
            {"id": 2, "video": "v", "task": "EPM", "question": "q", "response": "Based on the video: B", "ground_truth": "A"},
            {"id": 3, "video": "v", "task": "HLD", "question": "q", "response": None, "ground_truth": "D"},
        ],
        "realtime": [{"id": 4, "video": "v", "task": "OCR", "question": "q", "response": "A", "ground_truth": "A"}],
        "forward": [
            {"id": 5, "video": "v", "task": "REC", "activity": "jump", "test_info": [
                {"realtime": 3, "count": 2, "response": "2"}, {"realtime": 6, "count": 3, "response": "3 times"}]},
            {"id": 6, "video": "v", "task": "SSR", "test_info": [
                {"realtime": 3, "type": 0, "step": "s", "response": "N"}, {"realtime": 5, "type": 1, "step": "s", "response": "Yes"},
                {"realtime": 7, "type": 1, "step": "s", "response": "No"}]},
            {"id": 7, "video": "v", "task": "CRR", "question": "q", "test_info": [{"realtime": 4, "type": 0, "response": "Not yet"}]},
        ],
    }
    path = tmp_path / "Model_EPM_offline.json"
    path.write_text(json.dumps(result))
    s = scores(path, "ovobench")
    # official: backward (EPM 1/2, HLD 0) = .25; realtime 1; forward (REC 1, SSR 2/3, CRR 1) = .8889
    assert s["official"]["overall"]["backward_avg"] == 0.25 and s["official"]["overall"]["realtime_avg"] == 1.0
    assert s["official"]["overall"]["score"] == pytest.approx((0.25 + 1 + (1 + 2 / 3 + 1) / 3) / 3)
    assert s["robust"]["tasks"]["CRR"]["acc"] == 0.0     # "Not yet" is no answer
    assert scores(tmp_path, "ovobench")["official"] == s["official"]   # a folder of result files, as score.py reads


def test_mlvu_choice_bench_output(tmp_path):
    question = "Question: How many?\nOptions:\n(A) one\n(B) two\n(C) three\n(D) four"
    rows = [
        {"pred": "B) two", "gt": "(B) two", "question": question, "question_type": "count", "video": "v.mp4"},
        {"pred": "B.", "gt": "(B) two", "question": question, "question_type": "count", "video": "v.mp4"},
        {"pred": "A", "gt": "(A) one", "question": question, "question_type": "plotQA", "video": "v.mp4"},
    ]
    path = tmp_path / "test_all_choice.json"
    path.write_text(json.dumps({"acc_dict": {}, "res_list": rows}))
    s = scores(path, "mlvu")
    assert s["official"]["tasks"]["count"]["acc"] == 0.5 and s["official"]["overall"]["M-Avg"] == 0.75
    assert s["robust"]["overall"]["M-Avg"] == 1.0


def test_mlvu_test_server_format_needs_an_answer_key(shared, tmp_path):
    path = shared / "mlvu" / "test_res_prediction_format.json"
    assert len(json.loads(path.read_text())) == 502
    with pytest.raises(PredictionFormatError, match="--answers"):
        read_predictions(path, "mlvu")
    key = tmp_path / "key.json"
    key.write_text(json.dumps({row["question_id"]: "D" for row in json.loads(path.read_text())}))
    s = scores(path, "mlvu", answers=key)
    assert 0 < s["official"]["overall"]["micro"] < 1


def test_etbench_samples_with_answers(tmp_path, etbench_entries):
    entries = [dict(e, a="The event happens in 10 - 20 seconds.") if e["idx"] == 0 else dict(e, a="") for e in etbench_entries]
    path = tmp_path / "etbench_pred.json"
    path.write_text(json.dumps(entries))
    b, load, preds = read_predictions(path, "etbench")
    from vidllm.eval.grading import GradeContext

    s = grade(b, load.samples, preds, GradeContext(similarity=lambda a, c: 0.0)).scores
    assert s["official"]["tasks"]["tvg"]["mIoU"] == 0.5 and s["official"]["tasks"]["rar"]["Acc"] == 0.0


def test_vau_csv_plus_ground_truth(shared, tmp_path):
    gt_path = shared / "vau_bench" / "test_msad.csv"
    gt = list(csv.DictReader(io.StringIO(gt_path.read_text(encoding="utf-8"))))
    qa = tmp_path / "output_msad_no_think.csv"
    with open(qa, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["Video Name", "QA answer"])
        for row in gt[:20]:
            w.writerow([row["Video Name"], row["Correct Option"][:1]])
    s = scores(qa, "vau", data=gt_path)
    letters = sum(1 for row in gt[:20] if row["Correct Option"] in "ABCD")
    assert s["official"]["tasks"]["qa"]["acc"] == pytest.approx(letters / len(gt))   # all 240 rows count
    assert s["robust"]["tasks"]["qa"]["acc"] == pytest.approx(20 / len(gt))
    tag = tmp_path / "output_tag.csv"
    anomalous = [r for r in gt if float(r["End Time"]) > float(r["Start Time"])][:5]
    with open(tag, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["Video Name", "Temporal Grounding"])
        for row in anomalous:
            w.writerow([row["Video Name"], f"<glue>[{row['Start Time']}, {row['End Time']}]</glue>"])
        w.writerow([anomalous[0]["Video Name"], "<glue>[0, 1]</glue>"])   # a duplicate row: the first one counts
    s = scores(tag, "vau", data=gt_path)
    assert s["official"]["tasks"]["tag"] == {"mIoU": 1.0, "n": 5, "R@0.3": 1.0, "R@0.5": 1.0, "R@0.7": 1.0}


def test_charades_lmms_eval_format(tmp_path):
    path = tmp_path / "charades.json"
    path.write_text(json.dumps({"AO8RW>>>a person opens a door>>>[0.0, 6.9]": "The event happens in 0 - 6.9 seconds.",
                                "Y6R7T>>>a person sits>>>[2.0, 4.0]": "No idea."}))
    s = scores(path, "charades_sta")
    assert s["official"]["overall"]["R@0.5"] == 0.5 and s["official"]["overall"]["mIoU"] == pytest.approx(0.5)


def test_samples_jsonl_rescores_like_the_run(mvbench_dir, tmp_path):
    out = tmp_path / "run"
    runner = CliRunner()
    done = runner.invoke(eval_command, ["--model", "hash:", "--bench", "mvbench", "--data", str(mvbench_dir),
                                        "--out", str(out), "--no-progress", "--thumbnails", "0"])
    assert done.exit_code == 0, done.output
    run_scores = json.loads((out / "results.json").read_text())["scores"]
    again = runner.invoke(score_command, ["--predictions", str(out / "samples.jsonl"), "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)["scores"] == run_scores
