"""Loaders: every shared annotation file loads completely, with the counts of its README and its
data quirks counted; the fixture folders in the published formats load too."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter

import pytest

from vidllm.errors import BenchmarkDataError, MissingVideosError, RegistryError
from vidllm.eval.benchmarks import BENCHMARKS, load_benchmark


def test_registry_knows_every_benchmark_and_suggests():
    assert set(BENCHMARKS.names()) == {
        "mvbench", "mlvu", "videomme", "videomme_sub", "videoreasonbench", "etbench", "ovobench", "vau", "videobench",
        "charades_sta"}
    with pytest.raises(RegistryError, match="did you mean mlvu"):
        BENCHMARKS.get("mlvuu")


def test_mlvu_all_files(shared):
    report = load_benchmark("mlvu", shared / "mlvu").load(require_videos=False)
    tasks = Counter(s.task for s in report.samples)
    choice = sum(n for t, n in tasks.items() if t not in ("sub_scene", "summary"))
    assert choice == 2175                      # README: 7 multiple-choice files, 2,175 items
    assert (tasks["sub_scene"], tasks["summary"]) == (201, 217)
    assert report.items == 2175 + 201 + 217 and len(report.files) == 9
    assert report.quirks["answer_not_in_candidates"] == 2
    assert report.quirks["answer_listed_twice"] == 6
    assert all(s.kind == "choice" and s.target in "ABCD" for s in report.samples if s.kind == "choice" and not s.extra["invalid"])
    assert all(s.extra["scoring_points"] for s in report.samples if s.task == "sub_scene")


def test_ovobench_all_entries(shared):
    report = load_benchmark("ovobench", shared / "ovo_bench").load(require_videos=False)
    assert report.items == 1640
    entries = json.loads((shared / "ovo_bench" / "ovo_bench_new.json").read_text())
    checkpoints = sum(len(e["test_info"]) for e in entries if "test_info" in e)
    assert len(report.samples) == 1640 - 82 - 42 - 48 + checkpoints
    rec = next(s for s in report.samples if s.task == "REC")
    assert rec.kind == "count" and rec.time_range[0] == 0 and rec.checkpoints


def test_videoreasonbench_all_files(shared):
    report = load_benchmark("videoreasonbench", shared / "videoreasonbench").load(require_videos=False)
    assert report.items == 6 * 240 and len(report.samples) == 1440
    per_kind = Counter(s.extra["kind"] for s in report.samples)
    assert set(per_kind.values()) == {240}
    assert Counter(s.extra["level"] for s in report.samples) == {"recall": 480, "infer": 480, "predict": 480}
    assert sum(1 for s in report.samples if s.kind == "operation" and s.target is None) == 240


def test_vau_all_rows_and_quirks(shared):
    report = load_benchmark("vau", shared / "vau_bench").load(require_videos=False)
    rows = {f: len(list(csv.DictReader(io.StringIO((shared / "vau_bench" / f).read_text(encoding="utf-8")))))
            for f in ("test_msad.csv", "test_ucf_crime.csv", "test_ecva.csv", "val.csv")}
    assert report.items == sum(rows.values()) == 240 + 290 + 438 + 734
    assert report.quirks["row_without_question"] == 39        # UCF-Crime rows of -1
    assert report.quirks["correct_option_as_full_text"] == 8  # MSAD "D. Green trash bin ..."
    assert report.quirks["times_-1"] > 0 and report.quirks["anomaly_with_0_0_times"] > 0
    tasks = Counter(s.task for s in report.samples)
    assert tasks["qa"] == tasks["tag"] == tasks["cls"] == report.items and tasks["reasoning"] == report.items - 39
    assert report.quirks["anomaly_class_unknown"] == 39       # the same rows' class is "-1"
    full_text = next(s for s in report.samples if s.task == "qa" and s.extra["correct_option_raw"].startswith("D. Green"))
    assert full_text.target == "D" and not full_text.extra["invalid"]


def test_videobench_prompts_and_human_scores(shared):
    report = load_benchmark("videobench", shared / "video_bench").load(require_videos=False)
    assert report.counts == {"prompts": 419, "models": 7}
    assert report.items == 2271 and len(report.samples) == 2271 * 7
    assert all(len(s.extra["human_scores"]) == 4 for s in report.samples)
    assert report.quirks["human_score_out_of_scale"] == 77   # zeros: missing ratings


def test_videomme_template_is_not_json_but_loads(shared):
    path = shared / "video_mme" / "output_test_template.json"
    with pytest.raises(json.JSONDecodeError):
        json.loads(path.read_text())
    report = load_benchmark("videomme", shared / "video_mme").load(require_videos=False)
    assert report.items == 9 and len({s.extra["video_id"] for s in report.samples}) == 3
    assert report.quirks["json_trailing_commas"] == 10
    assert report.quirks["template_keys_unknown_to_official_scorer"] == 3


def test_missing_videos_listed_or_skipped(mlvu_dir, tmp_path):
    import shutil

    root = tmp_path / "MLVU"
    shutil.copytree(mlvu_dir, root)
    (root / "video" / "4_count" / "count_3.mp4").unlink()
    with pytest.raises(MissingVideosError) as err:
        load_benchmark("mlvu", root).load()
    assert err.value.missing == ["count_3.mp4"] and "--skip-missing" in str(err.value)
    report = load_benchmark("mlvu", root).load(skip_missing=True)
    assert report.skipped_missing == 1 and len(report.samples) == 19 and report.missing == ["count_3.mp4"]


def test_tasks_limit_and_unknown_task(mlvu_dir):
    bench = load_benchmark("mlvu", mlvu_dir)
    report = bench.load(tasks=["count"], limit=3)
    assert [s.doc_id for s in report.samples] == ["4_count/0", "4_count/1", "4_count/2"]
    with pytest.raises(BenchmarkDataError, match="did you mean 'count'"):
        bench.load(tasks=["cont"])


def test_mvbench_fixture(mvbench_dir):
    report = load_benchmark("mvbench", mvbench_dir).load()
    assert report.items == 4 and not report.missing
    by_id = {s.doc_id: s for s in report.samples}
    assert by_id["action_sequence/0"].time_range == (0.4, 1.6)
    assert by_id["action_antonym/1"].extra["official_gt"] == "(C) x"   # last copy of a twice-listed answer
    assert by_id["action_antonym/2"].extra["official_gt"] == "(@) r"   # an answer that is no option
    assert report.quirks == {"answer_listed_twice": 1, "answer_not_in_candidates": 1}
    assert by_id["action_antonym/0"].answer_prefix == "Best option:(" and "Only give the best option." in by_id["action_antonym/0"].prompt


def test_etbench_fixture(etbench_dir):
    report = load_benchmark("etbench", etbench_dir).load(require_videos=False)
    assert report.items == 10 and len(report.missing) == 9
    kinds = {s.task: s.kind for s in report.samples}
    assert kinds["tvg"] == "span" and kinds["rar"] == "choice" and kinds["gvq"] == "choice_span" and kinds["vhd"] == "point"


def test_charades_fixture(charades_dir):
    report = load_benchmark("charades_sta", charades_dir).load()
    assert [s.target for s in report.samples] == [(0.0, 6.9), (1.0, 4.2)]
    assert report.quirks == {"end_before_start": 1}
