"""``vidllm ground | captions | vot | agent``: reasoning over a video, step by step."""

from __future__ import annotations

import click

from vidllm.cli.ask import _EatAll, _tool_names
from vidllm.cli.options import (
    backend_options,
    echo_json,
    model_option,
    options_from_pairs,
)


def _common(f):
    """The options every reasoning command takes: the model, its options, the embedded default's
    tools and threads, progress, --json."""
    for option in reversed([
        model_option,
        backend_options,
        click.option("--tools", help="timeline model: perception tools, comma-separated (default: all)."),
        click.option("--threads", type=int, help="timeline model: CPU threads for the embedded LLM."),
        click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: when a terminal)."),
    ]):
        f = option(f)
    return f


def _settings(model_options, tools, threads, progress) -> dict:
    settings = options_from_pairs(model_options)
    for name, value in (("tools", _tool_names(tools)), ("threads", threads), ("progress", progress)):
        if value is not None:
            settings[name] = value
    return settings


_OPTIONS = click.option("--options", cls=_EatAll, type=click.UNPROCESSED, default=None,
                        help='Answer options: --options "A. left" "B. right" (or write them in the question).')
_JSON = click.option("--json", "as_json", is_flag=True, help="Print every step as JSON.")


@click.command()
@click.argument("video")
@click.argument("query")
@_common
@click.option("--top", type=click.IntRange(1), default=5, show_default=True, help="Most spans to return.")
@click.option("--nframes", type=click.IntRange(1), default=16, show_default=True,
              help="Frames a frame-reading model is shown.")
@_JSON
def ground(video, query, model, model_options, tools, threads, progress, top, nframes, as_json):
    """When QUERY happens in VIDEO: time spans (start, end, score), best first."""
    from vidllm.models.pool import ModelPool
    from vidllm.tasks.reason.ground import ground as run

    with ModelPool() as pool:
        result = run(video, query, model=model, model_options=_settings(model_options, tools, threads, progress),
                     pool=pool, top=top, nframes=nframes)
    echo_json(result.to_dict()) if as_json else click.echo(result.render())


@click.command()
@click.argument("video")
@_common
@click.option("--format", "fmt", type=click.Choice(["text", "json", "vtt", "srt"]), default="text", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, writable=True), help="Write the captions to this file.")
@click.option("--segment-seconds", type=click.FloatRange(0.1), default=2.0, show_default=True,
              help="Frame-reading models: length of the segments captioned one by one.")
def captions(video, model, model_options, tools, threads, progress, fmt, out, segment_seconds):
    """Dense captions of VIDEO: its events in time order, as text, JSON, WebVTT or SRT."""
    from pathlib import Path

    from vidllm.models.pool import ModelPool
    from vidllm.tasks.reason.captions import captions as run

    with ModelPool() as pool:
        result = run(video, model=model, model_options=_settings(model_options, tools, threads, progress), pool=pool,
                     segment_seconds=segment_seconds)
    text = result.render(fmt)
    if out:
        Path(out).write_text(text if text.endswith("\n") else text + "\n")
        click.echo(f"{len(result.events)} events written to {out}", err=True)
    else:
        click.echo(text)


@click.command()
@click.argument("video")
@click.argument("question")
@_OPTIONS
@_common
@click.option("--nframes", type=click.IntRange(1), default=8, show_default=True,
              help="Frames a frame-reading model is shown in each step.")
@_JSON
def vot(video, question, options, model, model_options, tools, threads, progress, nframes, as_json):
    """Video-of-Thought: targets, tracks, actions, ranked options, verification."""
    from vidllm.models.pool import ModelPool
    from vidllm.tasks.reason.vot import vot as run

    with ModelPool() as pool:
        result = run(video, question, options=list(options) if options else None, model=model,
                     model_options=_settings(model_options, tools, threads, progress), pool=pool, nframes=nframes)
    echo_json(result.to_dict()) if as_json else click.echo(result.render())


@click.command()
@click.argument("video")
@click.argument("question")
@_OPTIONS
@_common
@click.option("--rounds", "max_rounds", type=click.IntRange(1, 10), default=3, show_default=True,
              help="Most rounds of answering (and retrieving while unsure).")
@click.option("--initial", type=click.IntRange(1), default=5, show_default=True, help="Segments shown first.")
@click.option("--per-round", type=click.IntRange(1), default=3, show_default=True,
              help="Segments retrieved after each unsure answer.")
@click.option("--segment-seconds", type=click.FloatRange(0.1), default=0.5, show_default=True,
              help="Length of the segments the video is cut into (at most 64 segments).")
@_JSON
def agent(video, question, options, model, model_options, tools, threads, progress, max_rounds, initial, per_round,
          segment_seconds, as_json):
    """VideoAgent: answer, rate confidence 1-3, retrieve more of VIDEO while unsure."""
    from vidllm.models.pool import ModelPool
    from vidllm.tasks.reason.agent import agent as run

    with ModelPool() as pool:
        result = run(video, question, options=list(options) if options else None, model=model,
                     model_options=_settings(model_options, tools, threads, progress), pool=pool,
                     initial=initial, per_round=per_round, max_rounds=max_rounds, segment_seconds=segment_seconds)
    echo_json(result.to_dict()) if as_json else click.echo(result.render())
