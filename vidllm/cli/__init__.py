"""The ``vidllm`` command. Only the command line (and the server) turns errors into exit codes.

Exit codes: 0 success; 1 an unexpected failure (one line, and ``-v`` shows the traceback);
2 bad input or usage (every ``VidllmError``, and click's usage errors); 130 interrupted.
Each subcommand lives in the module of its topic (``video``, ``ask``, ``eval``, ``serve``,
``models``); this module only gathers them, so ``vidllm --help`` imports nothing heavy.
"""

from __future__ import annotations

import logging
import sys

import click

from vidllm.errors import (
    EXIT_INTERRUPTED,
    EXIT_UNEXPECTED,
    SamplingRefusedError,
    VidllmError,
)


class _Group(click.Group):
    """Every ``VidllmError`` becomes one line on stderr and exit code 2; anything else one line
    and exit code 1 (the traceback with ``-v``); never a bare traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except SamplingRefusedError as exc:  # the flags as the user typed them
            from vidllm.cli.options import flag_name

            click.echo(f"vidllm: error: {exc.render(flag_name)}", err=True)
            sys.exit(exc.exit_code)
        except VidllmError as exc:
            click.echo(f"vidllm: error: {_one_line(exc)}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("vidllm: interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except BrokenPipeError:  # `vidllm ... | head`
            sys.stderr.close()
            sys.exit(0)
        except Exception as exc:
            from vidllm.db import disk_full_error

            if (full := disk_full_error(exc)) is not None:  # a full disk met outside vidllm's stores
                click.echo(f"vidllm: error: {full}", err=True)
                sys.exit(full.exit_code)
            if ctx.params.get("verbose"):
                raise
            click.echo(f"vidllm: error: unexpected {type(exc).__name__}: {_one_line(exc)} "
                       "(run with -v for the traceback)", err=True)
            sys.exit(EXIT_UNEXPECTED)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    # a message that lists things (missing videos) keeps its lines; anything else is folded
    return text if isinstance(exc, VidllmError) else " ".join(text.split())


@click.group(cls=_Group)
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug); tracebacks of unexpected errors.")
@click.version_option(package_name="vidllm")
def main(verbose: int) -> None:
    """Ask questions of videos with large language models."""
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def _add_commands() -> None:
    from vidllm.cli import ask, eval, models, niah, reason, serve, stream, video

    for command in (video.info, video.sample, video.cache, video.samples,
                    ask.ask, ask.describe, ask.summarize, niah.niah,
                    reason.ground, reason.captions, reason.vot, reason.agent, stream.stream,
                    eval.eval_command, eval.score_command, eval.compare_command, serve.serve, models.models):
        main.add_command(command)


_add_commands()

if __name__ == "__main__":
    main()
