"""What a user sees when something is wrong: one line and a documented exit code, never a
traceback (0 ok, 1 unexpected, 2 bad input or usage)."""

from __future__ import annotations

import os
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

import vidllm
from vidllm.cli import main
from vidllm.errors import EXIT_UNEXPECTED, EXIT_USAGE, ModelURIError


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "vidllm", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


def one_line(result) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("args, words", [
    (["-o", "colour", "red"], ["unknown option 'colour'", "budget_tokens", "llm_options", "tools"]),
    (["-o", "budget_tokens", "many"], ["budget_tokens='many'", "integer"]),
    (["-o", "budget_tokens", "5"], ["budget_tokens=5", "greater than or equal to 20"]),
    (["--tools", "tags,sonar"], ["sonar"]),
    (["--max-frames", "4"], ["cannot honour", "--max-frames", "perception tools choose their own frames", "--start"]),
    (["--keyframes", "--mode", "fast"], ["--keyframes", "--mode"]),
])
def test_the_embedded_default_refuses_what_it_cannot_do_in_one_line(args, words, clip_cfr):
    result = run("ask", clip_cfr, "What moves?", *args)
    assert result.returncode == EXIT_USAGE
    line = one_line(result)
    for word in words:
        assert word in line, line


def test_describe_and_serve_take_the_same_sampling_flags(clip_cfr):
    for args in (["describe", clip_cfr, "--nframes", "3"], ["serve", "--fps", "2", "--port", "0"]):
        result = run(*args)
        assert result.returncode == EXIT_USAGE
        assert "--nframes" in one_line(result) or "--fps" in one_line(result)


def test_a_bad_sampling_value_is_one_line(clip_cfr, tmp_path):
    result = run("sample", clip_cfr, "--fps", "2", "--nframes", "3")
    assert result.returncode == EXIT_USAGE and "choose one sampling strategy" in one_line(result)
    result = run("sample", clip_cfr, "--start", "4", "--end", "2")
    assert result.returncode == EXIT_USAGE and "must be after start" in one_line(result)


def test_an_unexpected_failure_is_one_line_and_exit_1_with_the_traceback_under_v():
    @click.command("explode")
    def explode():
        {}["missing key"]

    main.add_command(explode)
    try:
        quiet = CliRunner().invoke(main, ["explode"])
        loud = CliRunner().invoke(main, ["-v", "explode"])
    finally:
        main.commands.pop("explode")
    assert quiet.exit_code == EXIT_UNEXPECTED
    assert "unexpected KeyError" in quiet.output and "run with -v" in quiet.output
    assert isinstance(loud.exception, KeyError)  # -v lets the traceback through


def test_the_python_api_and_the_cli_read_vidllm_model_at_call_time(clip_cfr, monkeypatch):
    monkeypatch.setenv("VIDLLM_MODEL", "gemini:pro")
    with pytest.raises(ModelURIError, match="gemini:pro"):
        vidllm.ask(clip_cfr, "What moves?")
    result = run("ask", clip_cfr, "What moves?", env={"VIDLLM_MODEL": "gemini:flash"})
    assert result.returncode == EXIT_USAGE and "gemini:flash" in one_line(result)
