"""Adding a benchmark is one module plus one registry line: a toy benchmark defined here (its
loader, official reading, result-file reader and oracle answer) goes through loading, the
``oracle:`` baseline, grading, ``evaluate`` and ``vidllm score`` like the published ones."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from vidllm.cli.eval import score_command
from vidllm.eval import BENCHMARKS, EvalConfig, evaluate, load_benchmark
from vidllm.eval.benchmarks.base import Benchmark, ScoredPairs, reply
from vidllm.eval.grading import grade
from vidllm.eval.predictors import make_baseline
from vidllm.eval.types import EvalSample, Parsed

# ------------------------------------------------------------------ the benchmark module


class ToyCount(Benchmark):
    """Toy Count: "How many discs?" about a clip. Layout: ``toy.json`` ([{id, video, question,
    answer, split}]) and ``clips/<video>``. Its official scorer reads only "Answer: <n>" at the
    very start of a reply; its own tool writes a CSV of id, answer, reply."""

    name = "toy"
    title = "Toy Count"
    source = "example/toy-count scorer.py"
    tasks = ("easy", "hard")
    sampling = {"nframes": 4}
    video_dirs = ("clips",)

    def annotation_files(self) -> list[Path]:
        return [p for p in (self.root / "toy.json",) if p.exists()]

    def read(self, files: list[Path], quirks: Counter) -> Iterator[EvalSample]:
        for entry in json.loads(files[0].read_text()):
            self.items += 1
            if entry["answer"] < 0:
                quirks["negative_answer"] += 1
                continue
            yield self._sample(entry)

    def _sample(self, entry: dict) -> EvalSample:
        return EvalSample(doc_id=str(entry["id"]), benchmark=self.name, task=entry["split"], video=entry["video"],
                          video_path="", question=entry["question"], target=int(entry["answer"]), kind="count",
                          prompt=f"{entry['question']} Reply as 'Answer: <number>'.")

    def official_parse(self, sample: EvalSample, text: str) -> Parsed:
        m = re.match(r"Answer: (\d+)", text or "")
        return Parsed(int(m.group(1)) if m else None)

    def read_results(self, path: Path, quirks: Counter, *, data=None, answers=None) -> ScoredPairs:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        return [(self._sample({**row, "video": "", "question": "", "split": "easy"}), reply(row["reply"])) for row in rows]

    def oracle_answer(self, sample: EvalSample) -> tuple[str, tuple[str, ...]]:
        return f"Answer: {sample.target}", ()


# ------------------------------------------------------------------ the tests


@pytest.fixture
def toy(monkeypatch):
    # the registry is process-wide: work on a copy so other tests see only the published benchmarks
    monkeypatch.setattr(BENCHMARKS, "_entries", dict(BENCHMARKS._entries))
    BENCHMARKS.register("toy", ToyCount)   # the one line that adds a benchmark
    return ToyCount


@pytest.fixture
def toy_dir(tmp_path, make_clip_at):
    root = tmp_path / "toy"
    entries = [{"id": i, "video": f"c{i}.mp4", "question": "How many discs?", "answer": i % 3 if i != 4 else -1,
                "split": "easy" if i < 3 else "hard"} for i in range(6)]
    root.mkdir()
    (root / "toy.json").write_text(json.dumps(entries))
    for e in entries:
        make_clip_at(root / "clips" / e["video"])
    return root


def test_load_oracle_grade(toy, toy_dir):
    report = load_benchmark("toy", toy_dir).load()
    assert report.items == 6 and len(report.samples) == 5 and report.quirks == {"negative_answer": 1}
    assert all(s.video_path and s.sampling == {"nframes": 4} for s in report.samples)
    oracle = make_baseline("oracle:")
    predictions = {s.doc_id: oracle(s) for s in report.samples}
    assert predictions["2"].text == "Answer: 2" and predictions["2"].baseline
    result = grade(BENCHMARKS.get("toy")(), report.samples, predictions)
    assert result.scores["official"]["overall"]["score"] == 1.0 and result.scores["robust"]["overall"]["score"] == 1.0
    first = make_baseline("first:")        # "0": right for the zeros robustly, never officially
    result = grade(BENCHMARKS.get("toy")(), report.samples, {s.doc_id: first(s) for s in report.samples})
    assert result.scores["official"]["overall"]["score"] == 0.0 and result.scores["robust"]["overall"]["score"] == 0.4


def test_evaluate_then_score_its_result_file(toy, toy_dir, tmp_path):
    result = evaluate(EvalConfig(model="oracle:", benchmark="toy", data_dir=toy_dir, out_dir=tmp_path / "run",
                                 progress=False, thumbnails=1))
    assert result.results["benchmark"]["title"] == "Toy Count" and result.results["scores"]["official"]["overall"]["score"] == 1.0
    assert result.results["manifest"]["sampling"] == {"nframes": 4} and result.paths["report"].exists()
    assert "data:image/jpeg;base64," in result.paths["report"].read_text()   # the thumbnails of the first sample

    predictions = tmp_path / "toy_results.csv"
    with open(predictions, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "answer", "reply"])
        w.writerows([(1, 1, "Answer: 1"), (2, 2, "2"), (3, 0, "Answer: 3")])
    out = CliRunner().invoke(score_command, ["--bench", "toy", "--predictions", str(predictions), "--json"])
    assert out.exit_code == 0, out.output
    scores = json.loads(out.output)["scores"]
    assert scores["official"]["overall"]["score"] == pytest.approx(1 / 3)   # "2" lacks "Answer: "
    assert scores["robust"]["overall"]["score"] == pytest.approx(2 / 3)
    # and vidllm's own samples.jsonl of the run re-scores to the run's numbers
    again = CliRunner().invoke(score_command, ["--predictions", str(result.paths["samples"]), "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)["scores"] == result.results["scores"]


def test_the_toy_is_gone_after_its_tests():
    assert "toy" not in BENCHMARKS
