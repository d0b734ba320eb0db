"""The Python API (``evaluate(EvalConfig) -> EvalResult``, ``score``), what ``vidllm eval`` passes
to it (every sampling flag, backend options), the baseline registry, and the rule that shared
modules hold nothing specific to one benchmark."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from vidllm.cli.eval import eval_command
from vidllm.errors import (
    ModelBackendUnavailableError,
    ModelURIError,
    OptionError,
    RegistryError,
    SpecError,
)
from vidllm.eval import BASELINES, BENCHMARKS, EvalConfig, EvalResult, evaluate, score
from vidllm.eval.model_predictor import make_predictor
from vidllm.eval.predictors import make_baseline
from vidllm.models.pool import ModelPool


def test_config_is_checked_on_construction():
    with pytest.raises(RegistryError, match="did you mean mvbench"):
        EvalConfig(model="first:", benchmark="mvbenc", data_dir=".")
    with pytest.raises(OptionError, match="workers must be a whole number >= 1"):
        EvalConfig(model="first:", benchmark="mvbench", data_dir=".", workers=0)
    with pytest.raises(OptionError, match="unknown sampling field"):
        EvalConfig(model="first:", benchmark="mvbench", data_dir=".", sampling={"frames": 4})
    with pytest.raises(SpecError, match="choose one sampling strategy"):
        EvalConfig(model="first:", benchmark="mvbench", data_dir=".", sampling={"nframes": 4, "fps": 2.0})
    with pytest.raises(OptionError, match="a list of task names"):
        EvalConfig(model="first:", benchmark="mvbench", data_dir=".", tasks="action_count")
    config = EvalConfig(model="first:", benchmark="mvbench", data_dir=".", tasks=["a,b", "c"], sampling={"fps": None, "nframes": 8})
    assert config.tasks == ("a", "b", "c") and config.sampling == {"nframes": 8} and config.out == Path("out/eval/mvbench")


def test_evaluate_returns_results_paths_and_grades(mvbench_dir, tmp_path):
    config = EvalConfig(model="first:", benchmark="mvbench", data_dir=mvbench_dir, out_dir=tmp_path, tasks=("action_antonym",),
                        sampling={"nframes": 2}, progress=False, thumbnails=0)
    result = evaluate(config)
    assert isinstance(result, EvalResult)
    assert result.results == json.loads((tmp_path / "results.json").read_text())
    assert set(result.paths) == {"results", "samples", "report", "lmms_results", "lmms_samples:action_antonym"} and all(p.parent == tmp_path for p in result.paths.values())
    assert [s.doc_id for s in result.graded.samples] == ["action_antonym/0", "action_antonym/1", "action_antonym/2"]
    # the answer that is no option: the official scorer counts it (wrong), the robust score leaves it out
    official, robust = (result.graded.graded[m]["action_antonym/2"] for m in ("official", "robust"))
    assert (official.counted, official.metrics, robust.counted) == (True, {"acc": 0.0}, False)
    assert result.results["manifest"]["sampling"] == {"nframes": 2, "max_pixels": 224 * 224}
    assert result.load.quirks == {"answer_listed_twice": 1, "answer_not_in_candidates": 1}


def test_evaluate_closes_its_models_also_on_error(mvbench_dir, tmp_path, monkeypatch):
    closed = []
    monkeypatch.setattr(ModelPool, "close", lambda self: closed.append(self))
    with pytest.raises(ModelURIError):   # the judge fails after the predictions are in
        evaluate(EvalConfig(model="first:", benchmark="mvbench", data_dir=mvbench_dir, out_dir=tmp_path,
                            judge="openai:gpt-4o", progress=False))
    assert len(closed) == 1
    assert (tmp_path / "predictions.sqlite").exists() and not (tmp_path / "results.json").exists()


def test_score_api_writes_only_when_asked(mvbench_dir, tmp_path):
    run = evaluate(EvalConfig(model="hash:", benchmark="mvbench", data_dir=mvbench_dir, out_dir=tmp_path / "run", progress=False,
                              thumbnails=0))
    again = score(run.paths["samples"])
    assert again.paths == {} and again.results["scores"] == run.results["scores"]
    written = score(run.paths["samples"], "mvbench", out_dir=tmp_path / "rescored")
    assert written.paths["results"].exists() and written.results["manifest"]["predictions_file"]["path"] == "samples.jsonl"


@pytest.mark.parametrize("flags, expected", [
    (["--nframes", "3"], {"nframes": 3}),
    (["--fps", "2", "--min-frames", "2", "--max-frames", "6"], {"fps": 2.0, "min_frames": 2, "max_frames": 6}),
    (["--keyframes"], {"keyframes": True}),
    (["--scenes", "0.3"], {"scene_threshold": 0.3}),
    (["--start", "0.5", "--end", "1.5"], {"nframes": 16, "start": 0.5, "end": 1.5}),
    (["--mode", "fast", "--tolerance", "0.25"], {"nframes": 16, "mode": "fast", "tolerance": 0.25}),
    (["--max-pixels", "4096", "--min-pixels", "1024", "--size-factor", "16"],
     {"nframes": 16, "max_pixels": 4096, "min_pixels": 1024, "size_factor": 16}),
])
def test_vidllm_eval_takes_every_sampling_flag(mvbench_dir, tmp_path, flags, expected):
    result = CliRunner().invoke(eval_command, ["--model", "first:", "--bench", "mvbench", "--data", str(mvbench_dir),
                                               "--out", str(tmp_path), "--no-progress", "--thumbnails", "0", "--json", *flags])
    assert result.exit_code == 0, result.output
    sampling = json.loads(result.output)["manifest"]["sampling"]
    assert sampling == {"max_pixels": 224 * 224, **expected}   # a strategy flag replaces the benchmark's 16 frames
    lines = [json.loads(x) for x in (tmp_path / "samples.jsonl").read_text().splitlines()]
    assert all(line["doc"]["sampling"] == sampling for line in lines)   # what each sample's frames are taken with


def test_backend_options_reach_the_model_and_baselines_refuse_them(mvbench_dir, tmp_path):
    with ModelPool() as pool:
        predictor = make_predictor("openai:http://127.0.0.1:9/v1#m", pool, model_options={"max_concurrency": 3})
        assert predictor.max_workers == 3 and predictor.manifest["options"]["max_concurrency"] == 3
        assert len(pool) == 1
    result = CliRunner().invoke(eval_command, ["--model", "first:", "-o", "max_concurrency", "3", "--bench", "mvbench",
                                               "--data", str(mvbench_dir), "--out", str(tmp_path)])
    assert result.exit_code != 0 and isinstance(result.exception, OptionError) and "takes no backend options" in str(result.exception)


def test_baseline_registry():
    assert BASELINES.names() == ["echo", "first", "fixed", "hash", "oracle", "sleep"]
    assert make_baseline("sleep:0.5:first").delay == 0.5 and make_baseline("sleep:0.5:first").manifest == {
        "kind": "baseline", "delay_seconds": 0.5}
    with pytest.raises(ModelBackendUnavailableError, match="baselines are: echo:, first:"):
        make_baseline("hf:x")
    with pytest.raises(ModelBackendUnavailableError, match="wants seconds"):
        make_baseline("sleep:soon")


def test_shared_modules_hold_nothing_specific_to_one_benchmark():
    """Benchmark-specific code lives in ``vidllm/eval/benchmarks/<name>.py``: the shared modules
    of the harness name no benchmark (a docstring example may)."""
    import ast

    import vidllm.eval

    names = set(BENCHMARKS.names())
    found = []
    for path in sorted(Path(vidllm.eval.__file__).parent.glob("*.py")):
        tree = ast.parse(path.read_text())
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) and node.body
                      and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                words = set(re.findall(r"[a-z_]+", node.value))
                if words & names:
                    found.append(f"{path.name}:{node.lineno}: {node.value[:60]!r}")
    assert not found, "benchmark names in shared modules:\n" + "\n".join(found)
