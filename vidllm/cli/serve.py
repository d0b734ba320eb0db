"""``vidllm serve``: a model behind an OpenAI-compatible API."""

from __future__ import annotations

import click

from vidllm.cli.options import (
    backend_options,
    model_option,
    options_from_pairs,
    pop_sampling,
    sampling_options,
)


@click.command()
@model_option
@backend_options
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8000, show_default=True)
@click.option("--name", help="The model name clients use (default: the URI).")
@click.option("--allow-local-files", is_flag=True, help="Let requests name video files on this machine.")
@sampling_options
def serve(model, model_options, host, port, name, allow_local_files, **flags):
    """Serve a model over an OpenAI-compatible API with video input (/v1/chat/completions).

    The sampling flags set the default for videos whose request names no sampling."""
    from vidllm.serve.server import serve as run_server

    sampling = pop_sampling(flags)

    def ready(server):
        click.echo(f"serving {model} as {name or model!r} at http://{host}:{server.server_address[1]}/v1", err=True)

    run_server(model, host=host, port=port, name=name, model_options=options_from_pairs(model_options),
               allow_local_files=allow_local_files, sampling=sampling, ready=ready)
