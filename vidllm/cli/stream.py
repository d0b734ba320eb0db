"""``vidllm stream``: watch a live source, answer ``--ask`` questions, speak up on ``--watch`` ones."""

from __future__ import annotations

import json
import sys

import click

from vidllm.cli.options import backend_options, model_option, options_from_pairs
from vidllm.errors import EXIT_INTERRUPTED


@click.command()
@click.argument("source")
@click.option("--ask", "asks", multiple=True, help="A question answered once the stream has started (repeat for more).")
@click.option("--ask-at", type=click.FloatRange(min=0), help="Stream time (s) at which the --ask questions are asked "
              "(default: once the stream has started; at the end if it stops sooner).")
@click.option("--watch", "watches", multiple=True,
              help='A question watched for: "tell me when the text \\"EXIT\\" appears", "count the jumps" (repeat).')
@model_option
@backend_options
@click.option("--fps", type=click.FloatRange(min=0, min_open=True), default=2.0, show_default=True,
              help="Frames a second the session perceives.")
@click.option("--realtime", is_flag=True, help="A file: replay it at real speed (otherwise as fast as it decodes).")
@click.option("--follow", is_flag=True, help="A file still being written (MPEG-TS, Matroska, FLV): read as it grows.")
@click.option("--tools", default="tags,ocr", show_default=True, help="Per-frame perception tools (tags, ocr; empty for none).")
@click.option("--no-model", is_flag=True, help="Answer only with the deterministic checks (text, counting, presence).")
@click.option("--open-timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="Seconds to wait for a source to start.")
@click.option("--read-timeout", type=click.FloatRange(min=0.1), default=5.0, show_default=True,
              help="Seconds without data before a live source counts as stalled.")
@click.option("--reconnect-for", type=click.FloatRange(min=0), default=30.0, show_default=True,
              help="Seconds a stalled or dropped live source is reconnected for before the stream ends.")
@click.option("--max-pixels", type=click.IntRange(min=1), default=640 * 360, show_default=True, help="Pixels per frame.")
@click.option("--json", "as_json", is_flag=True, help="Events and the summary as JSON lines.")
def stream(source, asks, ask_at, watches, model, model_options, fps, realtime, follow, tools, no_model, open_timeout,
           read_timeout, reconnect_for, max_pixels, as_json):
    """Watch SOURCE (a file, a growing file, rtsp:// rtmp:// http(s):// udp:// tcp:// srt:// URLs,
    device:/dev/video0) and print events with their stream times; Ctrl-C stops with a summary."""
    from vidllm.tasks.stream import StreamSession, run
    from vidllm.video.live import LiveSource

    def show(event) -> None:
        click.echo(json.dumps(event.to_dict()) if as_json else event.render())
        sys.stdout.flush()

    tool_names = tuple(t.strip() for t in tools.split(",") if t.strip())
    session = StreamSession(None if no_model else model, model_options=options_from_pairs(model_options), tools=tool_names)
    live = LiveSource(source, fps=fps, max_pixels=max_pixels, realtime=realtime, follow=follow,
                      open_timeout=open_timeout, read_timeout=read_timeout, reconnect_for=reconnect_for)
    try:
        summary = run(live, session, asks=asks, watches=watches, on_event=show, ask_at=ask_at)
    finally:
        session.close()
    result = summary.to_dict()
    if as_json:
        click.echo(json.dumps({"summary": result}))
    else:
        s, src = result["session"], result["source"]
        click.echo(f"stream {'interrupted' if summary.interrupted else 'ended'}: {s['frames']} frames perceived "
                   f"(up to {s['now'] or 0:.1f} s), {result['events']} events, {src['dropped']} frames dropped, "
                   f"{src['reconnects']} reconnects, max lag {result['max_lag']:.2f} s", err=True)
    if summary.interrupted:
        sys.exit(EXIT_INTERRUPTED)
