"""The Python API of the evaluation: ``evaluate(EvalConfig) -> EvalResult`` and ``score(...)``.

``evaluate`` is what ``vidllm eval`` runs: load the benchmark folder, answer every sample not
yet answered in the output folder (resumable), grade officially and robustly, and write
results.json, samples.jsonl, report.html (and judge_calls.jsonl). ``score`` is what ``vidllm
score`` runs on a predictions file written by another tool. Both load their models through a
``ModelPool`` they own and close when done, also when a step fails.

>>> config = EvalConfig(model="first:", benchmark="mvbench", data_dir=".", tasks=("action_count,action_antonym",))
>>> config.tasks, str(config.out)
(('action_count', 'action_antonym'), 'out/eval/mvbench')
>>> EvalConfig(model="first:", benchmark="mvbench", data_dir=".", sampling={"frames": 8})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
vidllm.errors.OptionError: unknown sampling field(s) frames ...
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vidllm.errors import OptionError, VidllmError
from vidllm.eval.benchmarks import BENCHMARKS
from vidllm.eval.grading import GradeContext, GradeResult, grade
from vidllm.eval.model_predictor import make_judge, make_predictor
from vidllm.eval.report import build_results, write_outputs
from vidllm.eval.result_files import read_predictions
from vidllm.eval.runner import frames_for, merge_sampling, predictor_info, run
from vidllm.eval.store import RunLock, RunStore
from vidllm.eval.types import EvalSample, LoadReport

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvalConfig:
    """One evaluation run, checked on construction (``OptionError``/``RegistryError`` name the
    bad value).

    ``model`` is a baseline (``oracle:``, ``first:``, ...) or a backend URI, loaded with
    ``model_options``; ``tasks`` may hold comma-separated names; ``limit`` keeps the first N
    samples of each task; ``sampling`` overrides the benchmark's frame sampling (``SamplingSpec``
    fields); ``out_dir`` defaults to ``out/eval/<benchmark>``; ``judge`` grades the judged tasks;
    ``thumbnails`` samples are shown with frames in report.html; ``ray`` spreads the samples over
    a Ray cluster ("local", "auto" or "ray://HOST:PORT"; ``vidllm.eval.ray_runner``).
    """

    model: str
    benchmark: str
    data_dir: str | Path
    model_options: Mapping[str, Any] = field(default_factory=dict)
    tasks: Sequence[str] = ()
    limit: int | None = None
    workers: int = 1
    out_dir: str | Path | None = None
    skip_missing: bool = False
    sampling: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0
    judge: str | None = None
    thumbnails: int = 4
    progress: bool = True
    ray: str | None = None

    def __post_init__(self) -> None:
        if not self.model or not isinstance(self.model, str):
            raise OptionError("EvalConfig.model: give a model URI or a baseline such as oracle:")
        BENCHMARKS.get(self.benchmark)  # an unknown name fails here, with "did you mean"
        for name, low in (("limit", 1), ("workers", 1), ("thumbnails", 0)):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < low):
                raise OptionError(f"EvalConfig.{name} must be a whole number >= {low}, got {value!r}")
        if isinstance(self.tasks, str):
            raise OptionError(f"EvalConfig.tasks must be a list of task names, got the string {self.tasks!r}")
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 (frozen)
        set_("tasks", tuple(t.strip() for item in self.tasks for t in item.split(",") if t.strip()))
        set_("data_dir", Path(self.data_dir))
        set_("out_dir", Path(self.out_dir) if self.out_dir is not None else None)
        set_("model_options", dict(self.model_options))
        given = {k: v for k, v in dict(self.sampling).items() if v is not None}
        merge_sampling({}, given)  # unknown fields and bad values fail here, before any work
        set_("sampling", given)

    @property
    def out(self) -> Path:
        """Where the run is written: ``out_dir``, else ``out/eval/<benchmark>``."""
        return self.out_dir if self.out_dir is not None else Path("out") / "eval" / self.benchmark


@dataclass
class EvalResult:
    """What an evaluation (or a scoring) produced: ``results`` is what results.json holds;
    ``paths`` the files written (results, samples, report, judge_calls; empty when nothing was
    written); ``graded`` every sample graded in both modes; ``load`` what the loader found."""

    results: dict
    paths: dict[str, Path]
    graded: GradeResult
    load: LoadReport


def evaluate(config: EvalConfig) -> EvalResult:
    """Run ``config``: load, predict (resuming what ``config.out`` already holds), grade, write.

    >>> evaluate(EvalConfig(model="oracle:", benchmark="mvbench", data_dir="/nonexistent"))
    Traceback (most recent call last):
    ...
    vidllm.errors.BenchmarkDataError: mvbench: benchmark folder /nonexistent does not exist
    """
    from vidllm.models.pool import ModelPool

    bench = BENCHMARKS.get(config.benchmark)(config.data_dir)
    sampling = merge_sampling(bench.sampling, config.sampling)
    load = bench.load(tasks=list(config.tasks) or None, limit=config.limit, skip_missing=config.skip_missing,
                      sampling=config.sampling)
    out = config.out
    with RunLock(out):  # one writer per output folder; a second run is refused, naming this one
        with ModelPool() as pool:
            model, predictions = _predict(config, bench, load, sampling, pool)
            judge = make_judge(config.judge, pool)
            with RunStore(out) as store:
                if judge is not None:
                    judge.seed(store.judge_calls())  # a re-run asks the judge nothing it already answered
                graded = grade(bench, load.samples, predictions, GradeContext(judge=judge))
                if judge is not None:
                    store.put_judge_calls(judge.calls.values())
        manifest = {
            "model": model, "benchmark": bench.name, "tasks": list(config.tasks) or list(bench.tasks), "limit": config.limit,
            "sampling": sampling, "resolution": {"max_pixels": sampling.get("max_pixels")},
            "prompts": "each sample's system, prompt and answer prefix are in samples.jsonl (doc)",
            "seed": config.seed,
            "judge": None if judge is None else {"uri": config.judge, "model": judge.model, "baseline": judge.baseline},
            "versions": versions(),
        }
        paths = write_outputs(out, bench, load, graded, manifest, judge=judge, frames=thumbnails(load.samples, config.thumbnails))
    results = json.loads(paths["results"].read_text(encoding="utf-8"))
    return EvalResult(results, paths, graded, load)


def _predict(config: EvalConfig, bench, load: LoadReport, sampling: dict, pool) -> tuple[dict, dict]:
    """(the model as the manifest records it, the predictions): in this process, or on Ray tasks
    (``config.ray``) writing to the same store. Either can resume the other's run."""

    def fingerprint(model: dict) -> dict:  # what fixes the answers: a restart with anything else changed is refused
        return {"benchmark": bench.name, "model": model, "sampling": sampling, "seed": config.seed, "judge": config.judge}

    description = f"{bench.name} {config.model}"
    if config.ray is None:
        predict = make_predictor(config.model, pool, sampling=config.sampling, model_options=config.model_options)
        model = {"uri": config.model, **predictor_info(predict)}
        return model, run(load.samples, predict, config.out, workers=config.workers, fingerprint=fingerprint(model),
                          progress=config.progress, description=description)
    from vidllm.eval import ray_runner

    started = ray_runner.connect(config.ray)
    try:
        spec = ray_runner.PredictorSpec(config.model, config.model_options, config.sampling)
        model = {"uri": config.model, **ray_runner.remote_predictor_info(spec)}
        return model, ray_runner.run_on_ray(load.samples, spec, config.out, fingerprint=fingerprint(model),
                                            progress=config.progress, description=description)
    finally:
        if started:
            import ray

            ray.shutdown()


def score(predictions: str | Path, benchmark: str | None = None, *, data: str | Path | None = None,
          answers: str | Path | None = None, out_dir: str | Path | None = None, judge: str | None = None) -> EvalResult:
    """Score a predictions file: a benchmark's own result format (``benchmark`` names it) or
    vidllm's samples.jsonl. ``data``/``answers`` carry ground truth the format lacks; with
    ``out_dir`` results.json, samples.jsonl and report.html are written there too."""
    from vidllm.models.pool import ModelPool

    path = Path(predictions)
    bench, load, replies = read_predictions(path, benchmark, data=data, answers=answers)
    with ModelPool() as pool:
        grader = make_judge(judge, pool)
        graded = grade(bench, load.samples, replies, GradeContext(judge=grader))
    digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
    manifest = {"predictions_file": {"path": path.name, "sha256": digest}, "benchmark": bench.name,
                "judge": None if grader is None else {"uri": judge}, "versions": versions()}
    paths: dict = {}
    if out_dir:
        with RunLock(out_dir):
            paths = write_outputs(out_dir, bench, load, graded, manifest, judge=grader)
    return EvalResult(build_results(bench, load, graded, manifest, grader), paths, graded, load)


def versions() -> dict[str, str]:
    """The versions that can change a result: Python, vidllm, PyAV, NumPy."""
    from importlib import metadata

    out = {"python": platform.python_version()}
    for package in ("vidllm", "av", "numpy"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return out


def thumbnails(samples: Sequence[EvalSample], count: int) -> dict:
    """Four small frames of each of the first ``count`` samples that have a video file, for the
    report (a sample whose frames cannot be read is passed over: never fail a run for them)."""
    frames = {}
    for sample in samples:
        if len(frames) >= count:
            break
        if not sample.video_path or sample.extra.get("frames_dir"):  # a folder of frames, not a video
            continue
        try:
            frames[sample.doc_id] = frames_for(sample, nframes=4, max_pixels=160 * 120)
        except (VidllmError, OSError) as exc:
            log.warning("no thumbnails for %s: %s", sample.doc_id, exc)
    return frames


__all__ = ["EvalConfig", "EvalResult", "evaluate", "score"]
