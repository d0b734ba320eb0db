"""``vidllm eval`` and ``vidllm score``: click commands, added to the ``vidllm`` group by
``vidllm/cli/__init__.py``. They only read flags, call ``vidllm.eval.evaluate`` / ``score`` and
print; the work (and every error, typed) is in ``vidllm.eval``.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from vidllm.cli.options import (
    backend_options,
    options_from_pairs,
    pop_sampling,
    sampling_options,
)
from vidllm.eval.benchmarks import BENCHMARKS


def summary(results: dict) -> str:
    """The overall scores of results.json as a small table, official beside robust."""
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
@backend_options
@click.option("--bench", "bench_name", required=True, help=f"Benchmark: {', '.join(BENCHMARKS.names())}.")
@click.option("--data", "data_dir", required=True, type=click.Path(file_okay=False, path_type=Path), help="The benchmark folder, laid out as the benchmark publishes it.")
@click.option("--tasks", multiple=True, help="Only these tasks (repeat, or comma-separated).")
@click.option("--limit", type=int, help="The first N samples of each task.")
@click.option("--workers", type=int, default=1, show_default=True, help="Predictor threads (capped by what the model answers at once).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), help="Output folder (default: out/eval/<bench>).")
@click.option("--skip-missing", is_flag=True, help="Evaluate the samples whose videos exist; list the others.")
@sampling_options
@click.option("--seed", type=int, default=0, show_default=True, help="Run seed (recorded; adapters derive per-sample seeds from it).")
@click.option("--judge", "judge_uri", help="Judge model URI for judged tasks.")
@click.option("--thumbnails", type=int, default=4, show_default=True, help="Samples shown with frames in report.html.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print results.json instead of a table.")
def eval_command(model_uri, model_options, bench_name, data_dir, tasks, limit, workers, out_dir, skip_missing, seed, judge_uri,
                 thumbnails, no_progress, as_json, **sampling_flags):
    """Evaluate a model on a benchmark; resumable (re-run the same command to continue).

    The sampling flags override the benchmark's own frame sampling."""
    from vidllm.eval.pipeline import EvalConfig, evaluate

    sampling = pop_sampling(sampling_flags)
    config = EvalConfig(
        model=model_uri, model_options=options_from_pairs(model_options), benchmark=bench_name, data_dir=data_dir,
        tasks=tasks, limit=limit, workers=workers, out_dir=out_dir, skip_missing=skip_missing,
        sampling=sampling, seed=seed, judge=judge_uri, thumbnails=thumbnails, progress=not no_progress,
    )
    result = evaluate(config)
    if result.load.skipped_missing:
        click.echo(f"skipped {result.load.skipped_missing} samples: {len(result.load.missing)} videos missing", err=True)
    click.echo(json.dumps(result.results, indent=2) if as_json else summary(result.results) + f"\n  written to {config.out}/")


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
    from vidllm.eval.pipeline import score

    result = score(predictions_path, bench_name, data=data_path, answers=answers, out_dir=out_dir, judge=judge_uri)
    click.echo(json.dumps(result.results, indent=2) if as_json else summary(result.results))
