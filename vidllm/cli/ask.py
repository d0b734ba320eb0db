"""``vidllm ask`` and ``vidllm describe``: a question about a video, and its description."""

from __future__ import annotations

import click

from vidllm.cli.options import (
    backend_options,
    echo_json,
    model_option,
    options_from_pairs,
    pop_sampling,
    sampling_options,
)


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


def _tool_names(tools: str | None) -> tuple[str, ...] | None:
    return tuple(t.strip() for t in tools.split(",") if t.strip()) if tools else None


@click.command()
@click.argument("video")
@click.argument("question")
@click.option("--options", cls=_EatAll, type=click.UNPROCESSED, default=None,
              help='Answer options: --options "A. left" "B. right" (or write them in the question).')
@model_option
@backend_options
@click.option("--tools", help="timeline model: perception tools, comma-separated (default: all).")
@click.option("--threads", type=int, help="timeline model: CPU threads for the embedded LLM.")
@sampling_options
@click.option("--max-new-tokens", type=click.IntRange(1), default=256, show_default=True,
              help="Longest answer (the timeline model caps it with -o max_answer_tokens).")
@click.option("--strategy", default="uniform", show_default=True,
              help="Which frames a frame-reading model sees within its budget: uniform (evenly spread), "
                   "memory (distinct stretches of the whole video; a picture shown once survives), "
                   "retrieve (where the perception timeline answers the question). The timeline model "
                   "always shows the lines most relevant to the question plus coverage; hierarchical "
                   "adds its chapter summaries.")
@click.option("--image-text-model", metavar="URI",
              help="A CLIP/SigLIP model (hf:<id or folder>, open_clip:<arch>/<pretrained>) that --strategy "
                   "retrieve compares frames with the question through (default: the perception timeline).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object with evidence, timings and manifest.")
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: when a terminal).")
def ask(video, question, options, model, model_options, tools, threads, max_new_tokens, strategy, image_text_model,
        as_json, progress, **flags):
    """Ask VIDEO a QUESTION; prints the answer and the moments that support it."""
    from vidllm.models.pool import ModelPool
    from vidllm.tasks.ask import ask as run_ask

    settings = options_from_pairs(model_options)
    for name, value in (("tools", _tool_names(tools)), ("threads", threads), ("progress", progress)):
        if value is not None:
            settings[name] = value
    sampling = pop_sampling(flags)
    with ModelPool() as pool:
        answer = run_ask(video, question, options=list(options) if options else None, model=model,
                         model_options=settings, sampling=sampling, pool=pool, max_new_tokens=max_new_tokens,
                         strategy=strategy, image_text=image_text_model)
    if as_json:
        echo_json(answer.to_dict())
    else:
        click.echo(answer.render())


@click.command()
@click.argument("video")
@click.option("--tools", help="Perception tools, comma-separated (default: all).")
@click.option("--json", "as_json", is_flag=True, help="Print observations and the manifest as JSON.")
@click.option("--progress/--no-progress", default=None)
@sampling_options
def describe(video, tools, as_json, progress, **flags):
    """Print the time-stamped description the perception tools write for VIDEO (--start/--end
    limit it to a range; the tools choose their own frames)."""
    from vidllm.models.registry import check_sampling
    from vidllm.perceive.analyze import DEFAULT_TOOLS, analyze, make_tools
    from vidllm.video.probe import check_path

    sampling = pop_sampling(flags)
    check_sampling("timeline", sampling)
    check_path(video)
    timeline = analyze(video, make_tools(_tool_names(tools) or DEFAULT_TOOLS), progress=progress)
    if "start" in sampling or "end" in sampling:
        timeline = timeline.within(sampling.get("start", 0.0), sampling.get("end"))
    if as_json:
        echo_json({
            "video": video,
            "duration": timeline.duration,
            "lines": [{"start": l.start, "end": l.end, "kind": l.kind, "text": l.text} for l in timeline.lines()],
            "manifest": timeline.manifest,
        })
    else:
        click.echo(timeline.describe() or "(the perception tools found nothing)")


@click.command()
@click.argument("video")
@model_option
@backend_options
@click.option("--json", "as_json", is_flag=True, help="Print the summaries as JSON, with their spans.")
@click.option("--progress/--no-progress", default=None, help="Progress on stderr (default: when a terminal).")
def summarize(video, model, model_options, as_json, progress):
    """Summaries of VIDEO by the timeline model's text LLM: each minute, each chapter of five
    minutes, and the whole video, with their time spans (written once, then stored)."""
    from tqdm.auto import tqdm

    from vidllm.errors import OptionError
    from vidllm.memory.summaries import to_dicts
    from vidllm.models.pool import ModelPool
    from vidllm.video.probe import check_path

    check_path(video)
    if model.split(":", 1)[0] != "timeline":
        raise OptionError("summaries are written from the perception timeline: use the timeline model "
                          "(choose its text LLM with -o llm URI)")
    settings = options_from_pairs(model_options)
    if progress is not None:
        settings["progress"] = progress
    with ModelPool() as pool:
        backend = pool.get(model, **settings)
        timeline = backend.timeline(video)
        bar = tqdm(desc="summarising", unit="summary", disable=None if progress is None else not progress,
                   leave=False)

        def advance(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        tree = backend.summaries(timeline, progress=advance)
        bar.close()
    if as_json:
        echo_json({"video": video, "duration": timeline.duration, "summaries": to_dicts(tree)})
        return
    for level in ("video", "chapter", "segment"):
        for s in tree:
            if s.level == level:
                click.echo(s.render())
