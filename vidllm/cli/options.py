"""Options several commands share: sampling flags, ``-m/--model``, ``-o key value``, ``--json``.

Every command that reads frames takes the same sampling flags (``sampling_options``) and turns
them into a ``SamplingSpec`` with ``spec_from_flags``; a flag is never silently dropped.
"""

from __future__ import annotations

import json

import click

DEFAULT_MODEL = "timeline"

# flag name -> SamplingSpec field, in the order --help shows them
SAMPLING_FLAGS = {
    "nframes": click.option("--nframes", type=int, help="Frames spread uniformly over the range."),
    "fps": click.option("--fps", type=float, help="Frames per second (with --min-frames/--max-frames caps). Default: 1 fps, at most 32 frames."),
    "min_frames": click.option("--min-frames", type=int, help="Lower bound on the frame count for --fps."),
    "max_frames": click.option("--max-frames", type=int, help="Upper bound on the frame count."),
    "keyframes": click.option("--keyframes", is_flag=True, default=None, help="Every keyframe in the range."),
    "scene_threshold": click.option("--scenes", "scene_threshold", type=float, help="Scene changes above this mean difference (0-1)."),
    "start": click.option("--start", type=float, help="Range start, seconds (default 0)."),
    "end": click.option("--end", type=float, help="Range end (exclusive), seconds."),
    "mode": click.option("--mode", type=click.Choice(["exact", "fast"]), help="exact (default): nearest frame; fast: any frame within the tolerance, keyframes preferred."),
    "tolerance": click.option("--tolerance", type=float, help="fast mode: seconds a frame may be off its target (default: half the interval)."),
    "max_pixels": click.option("--max-pixels", type=int, help="Pixel budget per frame (aspect kept)."),
    "min_pixels": click.option("--min-pixels", type=int, help="Minimum pixels per frame."),
    "size_factor": click.option("--size-factor", type=int, help="Round sides to a multiple of this (28 for Qwen2.5-VL)."),
}


def sampling_options(f):
    """Add every sampling flag to a command; they arrive as keyword arguments named as the
    ``SamplingSpec`` fields, ``None`` when not given."""
    for option in reversed(SAMPLING_FLAGS.values()):
        f = option(f)
    return f


def pop_sampling(kwargs: dict) -> dict:
    """Take the sampling flags out of a command's keyword arguments: only those given."""
    return {name: v for name in SAMPLING_FLAGS if (v := kwargs.pop(name, None)) is not None}


def flag_name(field: str) -> str:
    return "--scenes" if field == "scene_threshold" else "--" + field.replace("_", "-")


def spec_from_flags(given: dict, defaults: dict | None = None):
    """The ``SamplingSpec`` for the flags ``given`` on top of ``defaults`` (a benchmark's own)."""
    from vidllm.video.spec import SamplingSpec

    return SamplingSpec.from_fields(defaults or {}, **given)


def model_option(f):
    return click.option("-m", "--model", envvar="VIDLLM_MODEL", default=DEFAULT_MODEL, show_default=True,
                        help="timeline (embedded default), hf:PATH, vllm:ID, openai:URL#MODEL, llamacpp:GGUF "
                             "(env VIDLLM_MODEL).")(f)


def backend_options(f):
    return click.option("-o", "--option", "model_options", type=(str, str), multiple=True, metavar="KEY VALUE",
                        help="A backend option: -o max_concurrency 8 (see `vidllm models --options`).")(f)


def options_from_pairs(pairs) -> dict:
    """``[("max_concurrency", "8"), ("extra_body", '{"top_k": 5}')]`` -> keyword options.

    Values that read as JSON (numbers, true/false/null, objects, lists) are decoded; anything
    else stays a string. The backend's pydantic options then check names, types and bounds.

    >>> options_from_pairs([("max_concurrency", "8"), ("dtype", "bfloat16")])
    {'max_concurrency': 8, 'dtype': 'bfloat16'}
    """
    options = {}
    for key, value in pairs:
        try:
            options[key] = json.loads(value)
        except (TypeError, ValueError):
            options[key] = value
    return options


def echo_json(obj) -> None:
    click.echo(json.dumps(obj, indent=2, default=str))
