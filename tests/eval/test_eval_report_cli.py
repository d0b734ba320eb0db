"""report.html renders in a real browser; the CLI commands, predictor and judge factories."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from vidllm.cli.eval import eval_command, score_command
from vidllm.errors import ModelNotFoundError, ModelURIError
from vidllm.eval.model_predictor import make_judge, make_predictor
from vidllm.models.pool import ModelPool


@pytest.fixture(scope="module")
def finished_run(mvbench_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    result = CliRunner().invoke(eval_command, ["--model", "first:", "--bench", "mvbench", "--data", str(mvbench_dir),
                                               "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    return out


def _chromium() -> str | None:
    return next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)


def test_report_renders_in_headless_chromium(finished_run, tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium) - cannot render report.html")
    report = finished_run / "report.html"
    dom = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", report.as_uri()],
        capture_output=True, text=True, timeout=90,
    ).stdout
    assert '<table id="tasks">' in dom and '<table id="overall">' in dom and '<table id="disagreements">' in dom
    assert '<svg id="task-plot"' in dom and dom.count("<rect") >= 4
    assert "data:image/jpeg;base64," in dom          # frame thumbnails of the first samples
    assert "baseline, not a model" in dom


def test_report_content(finished_run):
    html = (finished_run / "report.html").read_text()
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "") and "<script" not in html   # self-contained
    results = json.loads((finished_run / "results.json").read_text())
    assert results["benchmark"]["official_scorer"].startswith("OpenGVLab/Ask-Anything")
    assert set(results["benchmark"]["data_files"]) == {"json/action_antonym.json", "json/action_sequence.json"}
    assert results["data"]["quirks"] == {"answer_listed_twice": 1, "answer_not_in_candidates": 1}
    assert results["manifest"]["sampling"]["nframes"] == 16 and results["manifest"]["model"]["baseline"] is True
    # always answering A: official MVBench also counts the answer that is no option ("(" is in "(@)")
    lines = [json.loads(x) for x in (finished_run / "samples.jsonl").read_text().splitlines()]
    assert {"doc_id", "input", "target", "resps", "filtered_resps", "official_acc", "robust_acc"} <= set(lines[0])
    assert lines[0]["resps"] == [["A"]]


def test_make_predictor_and_judge():
    with ModelPool() as pool:
        assert make_predictor("oracle:", pool).baseline is True
        with pytest.raises(ModelNotFoundError, match="no such model folder"):
            make_predictor("hf:/nonexistent/model", pool)
        assert make_judge(None, pool) is None and make_judge("fixed:Correct", pool).ask("p", "") == "Correct"
        with pytest.raises(ModelURIError, match="expected openai:<base_url>#<model>"):
            make_judge("openai:gpt-4o", pool)
        assert len(pool) == 0   # nothing was loaded: baselines need no model, the bad URIs failed


def test_cli_errors_are_one_line(mvbench_dir, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "vidllm", "eval", "--model", "hf:/no/such/model", "--bench", "mvbench",
                           "--data", str(mvbench_dir), "--out", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0 and "no such model folder" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "vidllm", "eval", "--model", "oracle:", "--bench", "mvbenc",
                           "--data", str(mvbench_dir), "--out", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "did you mean mvbench" in proc.stderr


def test_cli_eval_oracle_charades(charades_dir, tmp_path):
    result = CliRunner().invoke(eval_command, ["--model", "oracle:", "--bench", "charades_sta", "--data", str(charades_dir),
                                               "--out", str(tmp_path), "--no-progress", "--json"])
    assert result.exit_code == 0, result.output
    scores = json.loads(result.output)["scores"]
    assert scores["official"]["overall"]["R@0.7"] == 1.0 and scores["robust"]["overall"]["mIoU"] == pytest.approx(1.0)


def test_cli_score_with_out(shared, tmp_path):
    result = CliRunner().invoke(score_command, ["--bench", "videomme", "--predictions",
                                                str(shared / "video_mme" / "output_test_template.json"), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "0.6667" in result.output and (tmp_path / "report.html").exists()


def test_cli_eval_with_a_judge_records_its_calls(shared, tmp_path, make_clip_at):
    """A VideoReasonBench folder in the published layout (questions/ + videos/), judged."""
    items = json.loads((shared / "videoreasonbench" / "card.json").read_text())
    keys = ["state1_op5_order_operation_start", "state1_op5_prediction_operation_start"]
    root = tmp_path / "video_reason_bench"
    (root / "questions").mkdir(parents=True)
    (root / "questions" / "card.json").write_text(json.dumps({k: items[k] for k in keys}))
    for k in keys:
        make_clip_at(root / items[k]["video"])
    out = tmp_path / "out"
    result = CliRunner().invoke(eval_command, ["--model", "oracle:", "--bench", "videoreasonbench", "--data", str(root),
                                               "--out", str(out), "--no-progress", "--judge", "fixed:Correct", "--json"])
    assert result.exit_code == 0, result.output
    results = json.loads(result.output)
    tasks = results["scores"]["official"]["tasks"]
    # the judge's "Correct" passes the judged item; asked to list moves it says "Correct" too: no moves
    assert tasks["order_operation"]["acc"] == 1.0 and tasks["prediction_operation"]["acc"] == 0.0
    assert results["judge"]["model"] == "fixed:Correct"
    calls = [json.loads(x) for x in (out / "judge_calls.jsonl").read_text().splitlines()]
    assert calls and all(c["model"] == "fixed:Correct" and c["prompt"] and c["reply"] == "Correct" for c in calls)
