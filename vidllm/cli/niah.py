"""``vidllm niah``: a needle-in-a-haystack grid (V-NIAH) over any video, with any model."""

from __future__ import annotations

import click

from vidllm.cli.options import (
    backend_options,
    echo_json,
    model_option,
    options_from_pairs,
)


def _numbers(text: str, kind):
    try:
        return tuple(kind(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter(f"expected comma-separated numbers, got {text!r}") from None


@click.command()
@click.argument("haystack")
@click.option("--lengths", default="300,600,1200,1800", show_default=True,
              help="Haystack lengths in frames at 1 fps (= seconds), comma-separated.")
@click.option("--depths", default="0,0.2,0.4,0.6,0.8,1", show_default=True,
              help="Where the needle goes (0 = first frame, 1 = after the last), comma-separated.")
@click.option("--needles", type=click.IntRange(1, 20), default=2, show_default=True, help="Needles per cell.")
@click.option("--format", "answer_format", type=click.Choice(["choice", "word"]), default="choice",
              show_default=True, help="Four options, or a one-word answer.")
@click.option("--seed", type=int, default=0, show_default=True, help="Chooses the needles' words and options.")
@click.option("--out", type=click.Path(file_okay=False), default="niah", show_default=True,
              help="Folder for cells.jsonl (resumable), results.json, heatmap.png and report.html.")
@model_option
@backend_options
@click.option("--json", "as_json", is_flag=True, help="Print results.json instead of the table.")
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: when a terminal).")
def niah(haystack, lengths, depths, needles, answer_format, seed, out, model, model_options, as_json, progress):
    """Insert a text card as one frame into HAYSTACK (sampled at 1 fps) at each depth of each
    length, ask what it says, and score every cell (LongVA's V-NIAH)."""
    from vidllm.eval.niah import NiahConfig, print_table, run
    from vidllm.video.probe import check_path

    check_path(haystack)
    config = NiahConfig(haystack, lengths=_numbers(lengths, int), depths=_numbers(depths, float),
                        needles_per_cell=needles, answer_format=answer_format, seed=seed, model=model,
                        model_options=options_from_pairs(model_options))
    results = run(config, out, progress=progress)
    if as_json:
        echo_json(results)
        return
    print_table(results)
    click.echo(f"heat-map: {out}/heatmap.png   report: {out}/report.html", err=True)
