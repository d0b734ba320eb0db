"""``vidllm serve``: a model behind an OpenAI-compatible API, with a web page at ``/``."""

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
@click.option("--api-key", envvar="VIDLLM_API_KEY", help="Key every /v1 request must carry (env VIDLLM_API_KEY).")
@click.option("--allowed-local-media-path", type=click.Path(exists=True, file_okay=False),
              help="A folder requests may name files in (paths and symlinks resolved; nothing outside).")
@click.option("--allow-local-files", is_flag=True,
              help="Any file this process can read (the same as --allowed-local-media-path /).")
@click.option("--allow-remote-media", is_flag=True,
              help="Fetch http(s) media URLs (never from loopback, link-local or private addresses).")
@click.option("--max-fps", type=float, default=8.0, show_default=True, help="Highest rate a request may ask for.")
@click.option("--max-source-pixels", type=int, default=4096 * 4096, show_default=True,
              help="Largest video or image (width x height) accepted.")
@click.option("--max-body-mb", type=float, default=200.0, show_default=True, help="Largest request body.")
@click.option("--max-upload-mb", type=float, default=500.0, show_default=True, help="Largest media file.")
@click.option("--request-timeout", type=float, default=600.0, show_default=True,
              help="Seconds a completion may take (then 504).")
@click.option("--max-queue", type=int, default=64, show_default=True,
              help="Requests waiting for the model beyond those running (then 429).")
@click.option("--cors-origin", "cors_origins", multiple=True, help="Origin allowed from browsers (default: any).")
@sampling_options
def serve(model, model_options, host, port, name, api_key, allowed_local_media_path, allow_local_files,
          allow_remote_media, max_fps, max_source_pixels, max_body_mb, max_upload_mb, request_timeout, max_queue,
          cors_origins, **flags):
    """Serve a model over an OpenAI-compatible API with video input (/v1/chat/completions,
    streaming included) and a page to ask it questions at http://HOST:PORT/.

    The sampling flags set the default for videos whose request names no sampling;
    --max-frames and --max-pixels are also the most a request may ask for."""
    from vidllm.errors import MissingDependencyError, OptionError
    from vidllm.serve.config import MB, ServeConfig

    try:
        from vidllm.serve.server import serve as run_server
    except ImportError as exc:
        raise MissingDependencyError(f"vidllm serve needs {exc.name}: pip install 'vidllm[serve]'") from None

    sampling = pop_sampling(flags)
    limits = {k: sampling[k] for k in ("max_frames", "max_pixels") if k in sampling}
    try:
        config = ServeConfig(
            model=model, name=name, model_options=options_from_pairs(model_options), sampling=sampling,
            api_key=api_key, allowed_local_media_path=allowed_local_media_path or ("/" if allow_local_files else None),
            allow_remote_media=allow_remote_media, max_fps=max_fps, max_source_pixels=max_source_pixels,
            max_body_bytes=int(max_body_mb * MB), max_upload_bytes=int(max_upload_mb * MB),
            request_timeout=request_timeout, max_queue=max_queue, cors_origins=tuple(cors_origins) or ("*",),
            **limits)
    except ValueError as exc:  # pydantic's ValidationError: one line per wrong value
        problems = "; ".join(": ".join(filter(None, (".".join(map(str, e["loc"])),
                                                      e["msg"].removeprefix("Value error, "))))
                             for e in exc.errors())
        raise OptionError(f"vidllm serve: {problems}") from None

    def ready(url: str) -> None:
        click.echo(f"serving {model} as {config.served_name!r} at {url} (page: {url[:-3]}/)", err=True)

    run_server(config, host=host, port=port, ready=ready)
