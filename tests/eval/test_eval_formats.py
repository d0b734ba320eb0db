"""Result files in the benchmarks' own formats, scored by ``vidllm score``: MVBench's notebook
file (checked against the notebook's own accuracy computation, re-implemented here from its
published cells), VideoReasonBench's eval_api.py file, VAU-Bench's classification CSV; and
Video-MME with subtitles (the official subtitle prompt from .srt files)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner

from vidllm.cli import main
from vidllm.eval.benchmarks import load_benchmark
from vidllm.eval.grading import grade
from vidllm.eval.result_files import read_predictions


def scores(path, bench=None, **kw):
    b, load, preds = read_predictions(path, bench, **kw)
    return grade(b, load.samples, preds).scores


# ------------------------------------------------------------------ MVBench (video_chat2/mvbench.ipynb)


def notebook_check_ans(pred: str, gt: str) -> bool:
    """The notebook's check_ans cell, re-implemented from its published logic."""
    pred_option = pred.lower().split(" ")[0]
    gt_option = gt.lower().split(" ")[0]
    return pred_option.replace(".", "") in gt_option or gt_option in pred_option


def notebook_final_res(acc_dict: dict) -> dict:
    """The notebook's last cell: per task correct / total * 100, and "Avg" over all."""
    out, correct, total = {}, 0, 0
    for task, (c, t, *_) in acc_dict.items():
        out[task] = c / t * 100
        correct += c
        total += t
    out["Avg"] = correct / total * 100
    return out


def mvbench_result_file(tmp_path, task_answers):
    """The notebook's loop: acc_dict[task] = [correct, total] and res_list [{pred, gt}] with pred
    = "(" + the reply's first line (return_prompt), written as it writes it."""
    acc_dict, res_list = {}, []
    for task, items in task_answers.items():
        acc_dict[task] = [0, 0]
        for reply_text, gt in items:
            pred = "(" + reply_text.strip().split("\n")[0]
            res_list.append({"pred": pred, "gt": gt})
            acc_dict[task][1] += 1
            if notebook_check_ans(pred, gt):
                acc_dict[task][0] += 1
    path = tmp_path / "test.json"
    path.write_text(json.dumps({"acc_dict": acc_dict, "res_list": res_list}))
    return path, acc_dict


def test_mvbench_notebook_file_gives_the_notebooks_numbers(tmp_path):
    path, acc_dict = mvbench_result_file(tmp_path, {
        "Action Antonym": [
            ("B) stands", "(B) stands"), ("", "(C) x"),                      # an empty reply: "(" is in every "(x)"
            ("A) sits.\nBecause...", "(B) stands"), ("(A)(B)(C)", "(A) p"),
        ],
        "Fine-grained Action": [
            ("After watching, I pick A because of the scene at 0:42.", "(A) run"),   # "(after": wrong officially
            ("C", "(C) jump"), ("D) fly", "(@) swim"),
        ],
    })
    expected = notebook_final_res(acc_dict)
    s = scores(path, "mvbench")
    official = s["official"]
    assert official["tasks"]["action_antonym"]["acc"] * 100 == pytest.approx(expected["Action Antonym"])
    assert official["tasks"]["fine_grained_action"]["acc"] * 100 == pytest.approx(expected["Fine-grained Action"])
    assert official["overall"]["score"] * 100 == pytest.approx(expected["Avg"])
    assert expected["Avg"] == pytest.approx(4 / 7 * 100)
    # robust: the reasoned reply reads A; an empty reply and a list of all options are no answer;
    # the answer that was no option ("(@)") leaves the robust score
    robust = s["robust"]
    assert robust["tasks"]["fine_grained_action"] == {"acc": 1.0, "n": 2}
    assert robust["tasks"]["action_antonym"] == {"acc": 0.25, "n": 4}
    # the notebook's variant with a third column ([correct, total, acc]) reads the same
    content = json.loads(path.read_text())
    content["acc_dict"] = {k: [c, t, c / t * 100] for k, (c, t) in content["acc_dict"].items()}
    path.write_text(json.dumps(content))
    assert scores(path, "mvbench")["official"] == official


def test_mvbench_notebook_file_with_the_data_folder(mvbench_dir, tmp_path):
    """With --data the entries get their questions and options: the robust reading reads option text."""
    path, _ = mvbench_result_file(tmp_path, {
        "Action Antonym": [("It stands up", "(B) stands"), ("A) x", "(C) x"), ("p", "(@) r")],
        "Action Sequence": [("b", "(B) b")],
    })
    out = CliRunner().invoke(main, ["score", "--bench", "mvbench", "--predictions", str(path), "--data", str(mvbench_dir), "--json"])
    assert out.exit_code == 0, out.output
    results = json.loads(out.output)
    assert results["scores"]["robust"]["tasks"]["action_antonym"] == {"acc": 1.0, "n": 2}   # "x" is listed twice: A is right
    assert results["data"]["quirks"] == {"answer_listed_twice": 1, "answer_not_in_candidates": 1}
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"acc_dict": {"Action Antonym": [0, 3]}, "res_list": []}))
    bad = CliRunner().invoke(main, ["score", "--bench", "mvbench", "--predictions", str(wrong)])
    assert bad.exit_code == 2 and "res_list holds 0" in bad.output


# ------------------------------------------------------------------ VideoReasonBench (eval_api.py)


def test_videoreasonbench_prediction_file(shared, tmp_path):
    questions = json.loads((shared / "videoreasonbench" / "card.json").read_text())
    keys = [k for k in questions if questions[k]["dim"] in ("order_operation", "order_state")][:2]
    op_key = next(k for k in questions if questions[k]["dim"] == "prediction_operation")
    results = {}
    for key, rating in zip(keys, (True, False)):
        item = dict(questions[key], demo="card")
        for k in ("states", "moves", "coords", "commands"):   # eval_api.py pops these before saving
            item.pop(k, None)
        item["prediction"] = f"Reasoning...\n\nFinal Answer: {item['answer']}"
        item["token_count"] = {"total_token_count": 100}
        item["rating"] = rating   # the judge's verdict, kept by the file
        results[f"card_{key}"] = item
    op = dict(questions[op_key], demo="card", prediction="Final Answer: add 6 of Hearts to pile0", rating=False)
    op.pop("states")
    results[f"card_{op_key}"] = op
    path = tmp_path / "predictions" / "gemini.json"
    path.parent.mkdir()
    path.write_text(json.dumps(results, indent=4))
    s = scores(path, "videoreasonbench")
    assert s["official"]["overall"]["acc"] == pytest.approx(1 / 3)        # the file's ratings: one True of three
    assert s["robust"]["overall"]["n"] == 2                                # the move list needs the states (--data)
    assert s["robust"]["overall"]["acc"] == 1.0                            # both final answers equal the references
    s = scores(path, "videoreasonbench", data=shared / "videoreasonbench")
    assert s["robust"]["overall"]["n"] == 3


# ------------------------------------------------------------------ VAU-Bench classification (evaluation_cls.py)


def test_vau_classification_csv(shared, tmp_path):
    gt_path = shared / "vau_bench" / "test_msad.csv"
    gt = list(csv.DictReader(io.StringIO(gt_path.read_text(encoding="utf-8"))))
    rows = gt[:6]
    replies = [
        f"<answer> {rows[0]['Anomaly Class'].replace('_', ' ')} </answer>",          # right, spaces for "_"
        f"<think>Not Normal, maybe Fire.</think><answer>{rows[1]['Anomaly Class']}</answer>",  # right inside <answer>
        "Normal",
        "It could be Fire or Explosion.",                                          # official: the first; robust: none
        "I cannot tell.",
    ]
    path = tmp_path / "output_msad_no_think.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["Video Name", "CLS answer"])
        for row, text in zip(rows, replies):
            w.writerow([row["Video Name"], text])
    s = scores(path, "vau", data=gt_path)

    def first_class(text):   # evaluation_cls.py: inside <answer> if any, the first class named
        from vidllm.eval.benchmarks.vau_official import VAU_CLASSES
        inner = text.split("<answer>")[1].split("</answer>")[0] if "<answer>" in text else text
        found = sorted((inner.lower().replace(" ", "_").find(c.lower().replace(" ", "_")), c) for c in VAU_CLASSES
                       if c.lower().replace(" ", "_") in inner.lower().replace(" ", "_"))
        return found[0][1] if found else None

    right = binary = 0
    for row, text in zip(rows, replies):
        pred = first_class(text)
        if pred is not None:
            right += pred.lower() == row["Anomaly Class"].lower()
            binary += (pred.lower() == "normal") if row["Anomaly Class"] == "Normal" else (pred.lower() != "normal")
    assert s["official"]["tasks"]["cls"]["acc"] == pytest.approx(right / len(gt))      # every ground-truth row counts
    assert s["official"]["tasks"]["cls"]["binary_acc"] == pytest.approx(binary / len(gt))
    assert right >= 2 and s["official"]["tasks"]["cls"]["n"] == len(gt)


def test_vau_classification_loads_from_the_csvs(shared):
    report = load_benchmark("vau", shared / "vau_bench").load(require_videos=False, tasks=["cls"])
    assert len(report.samples) == 240 + 290 + 438 + 734
    sample = report.samples[0]
    assert sample.prompt.startswith('Answer the question: "What type of anomaly appears in the video?')
    assert "'Water_incident']" in sample.prompt and sample.prompt.endswith("</answer> ")


# ------------------------------------------------------------------ Video-MME with subtitles


SRT = """1
00:00:01,000 --> 00:00:03,500
<font color="#ffffff">Hi guys, I'm going to show you</font>

2
00:00:04,000 --> 00:00:06,000
how to perfectly prepare a

3
00:00:06,500 --> 00:00:08,000
cake.
"""


def videomme_folder(root, make_clip_at):
    template = [{
        "video_id": "001", "videoID": "abc", "duration": "short", "domain": "Knowledge", "sub_category": "Humanity & History",
        "questions": [
            {"question_id": "001-1", "task_type": "Counting Problem", "question": "What is prepared?",
             "options": ["A. Cake.", "B. Soup.", "C. Tea.", "D. Bread."], "answer": "A"},
        ],
    }, {
        "video_id": "002", "videoID": "def", "duration": "short", "domain": "Knowledge", "sub_category": "Humanity & History",
        "questions": [
            {"question_id": "002-1", "task_type": "Counting Problem", "question": "How many?",
             "options": ["A. 1.", "B. 2.", "C. 3.", "D. 4."], "answer": "B"},
        ],
    }]
    root.mkdir()
    (root / "videomme.json").write_text(json.dumps(template))
    (root / "subtitle").mkdir()
    (root / "subtitle" / "abc.srt").write_text(SRT)
    for name in ("abc", "def"):
        make_clip_at(root / "data" / f"{name}.mp4")
    return root


def test_videomme_with_subtitles(tmp_path, make_clip_at):
    root = videomme_folder(tmp_path / "Video-MME", make_clip_at)
    report = load_benchmark("videomme_sub", root).load()
    first, second = report.samples
    assert first.prompt == (
        "This video's subtitles are listed below:\n"
        "Hi guys, I'm going to show you\nhow to perfectly prepare a\ncake.\n"
        "Select the best answer to the following multiple-choice question based on the video. Respond with only the letter "
        "(A, B, C, or D) of the correct option.\nWhat is prepared?\nA. Cake.\nB. Soup.\nC. Tea.\nD. Bread.\nThe best answer is:"
    )
    assert second.prompt.startswith("This video's subtitles are listed below:\n\nSelect the best answer")
    assert report.quirks["no_subtitle_file"] == 1
    plain = load_benchmark("videomme", root).load()
    assert plain.samples[0].prompt.startswith("Select the best answer")   # the subtitle-free setting
    out = CliRunner().invoke(main, ["eval", "-m", "oracle:", "--bench", "videomme_sub", "--data", str(root), "--out",
                                    str(tmp_path / "run"), "--no-progress", "--thumbnails", "0", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["scores"]["official"]["overall"]["acc"] == 1.0
