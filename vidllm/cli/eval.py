"""``vidllm eval`` and ``vidllm score``: click commands, added to the ``vidllm`` group by
``vidllm/cli/__init__.py``. They only read flags, call ``vidllm.eval.evaluate`` / ``score`` and
print; the work (and every error, typed) is in ``vidllm.eval``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from vidllm.cli.options import (
    backend_options,
    options_from_pairs,
    pop_sampling,
    sampling_options,
)


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


class _BenchOption(click.Option):
    """``--bench`` lists the benchmarks in ``vidllm eval --help`` only: importing the registry
    for every command would slow ``vidllm --help`` down."""

    def get_help_record(self, ctx):
        from vidllm.eval.benchmarks import BENCHMARKS

        self.help = f"Benchmark: {', '.join(BENCHMARKS.names())}."
        return super().get_help_record(ctx)


@click.command("eval")
@click.option("-m", "--model", "model_uri", envvar="VIDLLM_MODEL", required=True, help="Model URI (env VIDLLM_MODEL); baselines: oracle:, first:, hash:, echo:, fixed:TEXT, sleep:S.")
@backend_options
@click.option("--bench", "bench_name", required=True, cls=_BenchOption)
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
@click.option("--online", is_flag=True, help="OVO-Bench: replay each video as a stream, ask at each realtime, report response delays (-m checks: for the deterministic checks alone).")
@click.option("--ray", "ray_address", is_flag=False, flag_value="local", default=None, metavar="[ADDRESS]",
              help="Spread the samples over Ray tasks: a local cluster, or ADDRESS (auto, ray://HEAD:10001).")
@click.option("--json", "as_json", is_flag=True, help="Print results.json instead of a table.")
def eval_command(model_uri, model_options, bench_name, data_dir, tasks, limit, workers, out_dir, skip_missing, seed, judge_uri,
                 thumbnails, no_progress, ray_address, as_json, **sampling_flags):
    """Evaluate a model on a benchmark; resumable (re-run the same command to continue).

    The sampling flags override the benchmark's own frame sampling."""
    from vidllm.eval.pipeline import EvalConfig, evaluate

    if sampling_flags.pop("online", False):  # the same run, each video replayed as a stream
        from vidllm.eval.online import evaluate_online as evaluate
    sampling = pop_sampling(sampling_flags)
    config = EvalConfig(
        model=model_uri, model_options=options_from_pairs(model_options), benchmark=bench_name, data_dir=data_dir,
        tasks=tasks, limit=limit, workers=workers, out_dir=out_dir, skip_missing=skip_missing,
        sampling=sampling, seed=seed, judge=judge_uri, thumbnails=thumbnails, progress=not no_progress, ray=ray_address,
    )
    try:
        result = evaluate(config)
    except KeyboardInterrupt:  # every answer received is already committed to the run's store
        from vidllm.errors import EXIT_INTERRUPTED
        from vidllm.eval.store import FILENAME, RunStore

        kept = 0
        if (config.out / FILENAME).exists():
            with RunStore(config.out) as store:
                kept = len(store.done())
        click.echo(f"vidllm: interrupted; {kept} answers kept in {config.out}/ (run the same command to resume)", err=True)
        sys.exit(EXIT_INTERRUPTED)
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


@click.command("compare")
@click.argument("run_a", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("run_b", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--robust", is_flag=True, help="Compare the robust readings (default: the official ones).")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the PNG plot (default: compare.png in RUN_B).")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON instead of a table.")
def compare_command(run_a, run_b, robust, plot_path, as_json):
    """Per-task differences B - A of two evaluation runs, with 95% bootstrap intervals, and the samples that changed."""
    from vidllm.eval.compare import compare, plot, table

    result = compare(run_a, run_b, mode="robust" if robust else "official")
    written = plot(result, plot_path or Path(run_b) / "compare.png")
    if as_json:
        click.echo(json.dumps({**result.to_dict(), "plot": str(written) if written else None}, indent=2))
        return
    click.echo(table(result))
    click.echo(f"  plot: {written}" if written else "  no plot: pip install matplotlib", err=written is None)
