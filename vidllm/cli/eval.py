"""``vidllm eval`` and ``vidllm score``: click commands, added to the ``vidllm`` group by
``vidllm/cli.py``. ``python -m vidllm.eval.cli eval|score ...`` runs them on their own.

Only this module prints; everything below it logs and raises typed errors.
"""

from __future__ import annotations

import json
import logging
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from vidllm.errors import VidllmError
from vidllm.eval.benchmarks import BENCHMARKS
from vidllm.eval.types import EvalSample, Prediction

log = logging.getLogger(__name__)


def make_predictor(model_uri: str, bench, sampling_overrides: dict[str, Any]) -> Callable[[EvalSample], Prediction]:
    """The predictor for ``model_uri``: a baseline (``oracle:``, ``first:``, ``hash:``, ``echo:``,
    ``fixed:TEXT``, ``sleep:S[:BASE]``) or any model backend URI (``timeline``, ``hf:...``),
    through ``vidllm.eval.model_predictor.ModelPredictor``."""
    from vidllm.eval import predictors

    scheme = model_uri.partition(":")[0]
    if scheme in predictors.SCHEMES:
        return predictors.make_baseline(model_uri)
    from vidllm.eval.model_predictor import ModelPredictor

    return ModelPredictor(model_uri, sampling_overrides)


def make_judge(judge_uri: str | None):
    """The judge model for ``judge_uri``: ``fixed:REPLY`` (a baseline that always replies REPLY)
    or any model backend URI that reads text."""
    if not judge_uri:
        return None
    from vidllm.eval.judge import Judge

    scheme, _, rest = judge_uri.partition(":")
    if scheme == "fixed":
        return Judge(lambda prompt, system: rest, judge_uri, baseline=True)
    from vidllm.eval.model_predictor import model_judge

    return model_judge(judge_uri)


def _versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version()}
    for package in ("vidllm", "av", "numpy"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return out


def _sampling(nframes, fps, min_frames, max_frames, max_pixels) -> dict[str, Any]:
    given = {"nframes": nframes, "fps": fps, "min_frames": min_frames, "max_frames": max_frames, "max_pixels": max_pixels}
    given = {k: v for k, v in given.items() if v is not None}
    if "nframes" in given:
        given["fps"] = None
    if "fps" in given and given["fps"] is not None:
        given["nframes"] = None
    return given


def _thumbnails(samples, count: int) -> dict:
    from vidllm.eval.runner import frames_for

    frames = {}
    for sample in samples:
        if len(frames) >= count:
            break
        if not sample.video_path or sample.extra.get("frames_dir"):
            continue
        try:
            frames[sample.doc_id] = frames_for(sample, nframes=4, fps=None, max_frames=None, max_pixels=160 * 120)
        except (VidllmError, OSError) as exc:  # a thumbnail is a nicety: never fail the run for it
            log.warning("no thumbnails for %s: %s", sample.doc_id, exc)
    return frames


def _summary(results: dict) -> str:
    o, r = results["scores"]["official"]["overall"], results["scores"]["robust"]["overall"]
    lines = [f"{results['benchmark']['title']}: {results['samples']['scored']} samples scored"
             + (" (baseline predictor)" if results.get("baseline") else "")]
    lines.append(f"  {'':<14}{'official':>10}{'robust':>10}")
    for key in dict.fromkeys([*o, *r]):
        a, b = o.get(key), r.get(key)
        fmt = lambda v: f"{v:>10.4f}" if isinstance(v, float) else f"{v if v is not None else '-':>10}"  # noqa: E731
        lines.append(f"  {key:<14}{fmt(a)}{fmt(b)}")
    lines.append(f"  official and robust readings disagree on {results['disagreements']['count']} samples")
    return "\n".join(lines)


@click.command("eval")
@click.option("-m", "--model", "model_uri", envvar="VIDLLM_MODEL", required=True, help="Model URI (env VIDLLM_MODEL); baselines: oracle:, first:, hash:, echo:, fixed:TEXT, sleep:S.")
@click.option("--bench", "bench_name", required=True, help=f"Benchmark: {', '.join(BENCHMARKS.names())}.")
@click.option("--data", "data_dir", required=True, type=click.Path(file_okay=False, path_type=Path), help="The benchmark folder, laid out as the benchmark publishes it.")
@click.option("--tasks", multiple=True, help="Only these tasks (repeat, or comma-separated).")
@click.option("--limit", type=int, help="The first N samples of each task.")
@click.option("--workers", type=int, default=1, show_default=True, help="Predictor threads.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), help="Output folder (default: out/eval/<bench>).")
@click.option("--skip-missing", is_flag=True, help="Evaluate the samples whose videos exist; list the others.")
@click.option("--nframes", type=int, help="Override the benchmark's frame count.")
@click.option("--fps", type=float, help="Override: frames per second.")
@click.option("--min-frames", type=int)
@click.option("--max-frames", type=int)
@click.option("--max-pixels", type=int, help="Override: pixels per frame.")
@click.option("--seed", type=int, default=0, show_default=True, help="Run seed (recorded; adapters derive per-sample seeds from it).")
@click.option("--judge", "judge_uri", help="Judge model URI for judged tasks.")
@click.option("--thumbnails", type=int, default=4, show_default=True, help="Samples shown with frames in report.html.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print results.json instead of a table.")
def eval_command(model_uri, bench_name, data_dir, tasks, limit, workers, out_dir, skip_missing, nframes, fps, min_frames,
                 max_frames, max_pixels, seed, judge_uri, thumbnails, no_progress, as_json):
    """Evaluate a model on a benchmark; resumable (re-run the same command to continue)."""
    from vidllm.eval.grading import GradeContext, grade
    from vidllm.eval.report import write_outputs
    from vidllm.eval.runner import predictor_info, run
    from vidllm.eval.store import RunStore

    bench = BENCHMARKS.get(bench_name)(data_dir)
    overrides = _sampling(nframes, fps, min_frames, max_frames, max_pixels)
    task_list = [t for item in tasks for t in item.split(",") if t]
    load = bench.load(tasks=task_list or None, limit=limit, skip_missing=skip_missing, sampling=overrides)
    if load.skipped_missing:
        click.echo(f"skipping {load.skipped_missing} samples: {len(load.missing)} videos missing", err=True)
    predict = make_predictor(model_uri, bench, overrides)
    out = out_dir or Path("out") / "eval" / bench.name
    sampling = {**bench.sampling, **overrides}
    model = {"uri": model_uri, **predictor_info(predict)}
    fingerprint = {"benchmark": bench.name, "model": model, "sampling": sampling, "seed": seed, "judge": judge_uri}
    predictions = run(load.samples, predict, out, workers=workers, fingerprint=fingerprint, progress=not no_progress,
                      description=f"{bench.name} {model_uri}")
    judge = make_judge(judge_uri)
    with RunStore(out) as store:
        if judge is not None:
            judge.seed(store.judge_calls())
        graded = grade(bench, load.samples, predictions, GradeContext(judge=judge))
        if judge is not None:
            store.put_judge_calls(judge.calls.values())
    manifest = {
        "model": model, "benchmark": bench.name, "tasks": task_list or list(bench.tasks), "limit": limit,
        "sampling": sampling, "resolution": {"max_pixels": sampling.get("max_pixels")},
        "prompts": "each sample's system, prompt and answer prefix are in samples.jsonl (doc)",
        "seed": seed, "judge": None if judge is None else {"uri": judge_uri, "model": judge.model, "baseline": judge.baseline},
        "versions": _versions(),
    }
    paths = write_outputs(out, bench, load, graded, manifest, judge=judge, frames=_thumbnails(load.samples, thumbnails))
    results = json.loads(paths["results"].read_text(encoding="utf-8"))
    click.echo(json.dumps(results, indent=2) if as_json else _summary(results) + f"\n  written to {out}/")


@click.command("score")
@click.option("--bench", "bench_name", help="Benchmark the predictions are for (not needed for a samples.jsonl).")
@click.option("--predictions", "predictions_path", required=True, type=click.Path(exists=True, path_type=Path), help="Predictions file (or OVO-Bench results folder).")
@click.option("--data", "data_path", type=click.Path(exists=True, path_type=Path), help="Ground truth where the format lacks it (VAU: its CSV; OVO-Bench: folder for options).")
@click.option("--answers", type=click.Path(exists=True, path_type=Path), help="Answer key for MLVU's test-server format.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), help="Also write results.json, samples.jsonl and report.html here.")
@click.option("--judge", "judge_uri", help="Judge model URI for judged tasks.")
@click.option("--json", "as_json", is_flag=True, help="Print results.json instead of a table.")
def score_command(bench_name, predictions_path, data_path, answers, out_dir, judge_uri, as_json):
    """Score a predictions file in a benchmark's official result format (or vidllm's samples.jsonl)."""
    import hashlib

    from vidllm.eval.grading import GradeContext, grade
    from vidllm.eval.report import build_results, write_outputs
    from vidllm.eval.score import read_predictions

    bench, load, predictions = read_predictions(predictions_path, bench_name, data=data_path, answers=answers)
    judge = make_judge(judge_uri)
    graded = grade(bench, load.samples, predictions, GradeContext(judge=judge))
    digest = hashlib.sha256(predictions_path.read_bytes()).hexdigest() if predictions_path.is_file() else None
    manifest = {"predictions_file": {"path": predictions_path.name, "sha256": digest}, "benchmark": bench.name,
                "judge": None if judge is None else {"uri": judge_uri}, "versions": _versions()}
    if out_dir:
        write_outputs(out_dir, bench, load, graded, manifest, judge=judge)
    results = build_results(bench, load, graded, manifest, judge)
    click.echo(json.dumps(results, indent=2) if as_json else _summary(results))


def main() -> None:
    """``python -m vidllm.eval.cli eval|score ...``: the same commands as ``vidllm eval|score``."""
    from vidllm.cli import main as vidllm_main

    vidllm_main()


if __name__ == "__main__":
    main()
