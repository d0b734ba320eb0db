"""Errors of the evaluation harness, each a ``VidllmError`` of the fitting built-in kind.

Messages name the value received, what was expected and the next step; only the CLI turns them
into one-line messages and exit codes.
"""

from __future__ import annotations

from vidllm.errors import VidllmError


class EvalError(VidllmError):
    """Base class of every deliberate failure in ``vidllm.eval``."""


class BenchmarkDataError(EvalError, ValueError):
    """A benchmark folder or annotation file cannot be read as the benchmark publishes it."""


class MissingVideosError(EvalError, FileNotFoundError):
    """Videos named by the annotations are not on disk (the message lists them)."""

    def __init__(self, missing: list[str], total: int):
        self.missing = list(missing)
        self.total = total
        shown = "\n  ".join(self.missing[:20])
        more = f"\n  ... and {len(self.missing) - 20} more" if len(self.missing) > 20 else ""
        super().__init__(
            f"{len(self.missing)} of {total} samples have no video on disk:\n  {shown}{more}\n"
            "Download the videos into the benchmark folder, or pass --skip-missing to evaluate the rest."
        )


class RunMismatchError(EvalError, ValueError):
    """An output folder already holds a run with a different configuration."""


class ModelBackendUnavailableError(EvalError, NotImplementedError):
    """The model URI names a backend that this install does not provide."""


class PredictionFormatError(EvalError, ValueError):
    """A predictions file is not in any format ``vidllm score`` knows."""


class JudgeRequiredError(EvalError, ValueError):
    """A score can only be computed with a judge model and none was given."""
