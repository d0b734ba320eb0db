"""Every error vidllm raises on purpose.

Each kind of failure has its own class, subclassing the fitting built-in exception so that
callers who do not know vidllm can still catch it. Messages name the value received, what was
allowed and, where there is one, the next step. Only the CLI turns them into one-line messages
and exit codes (see ``vidllm.cli``).
"""

from __future__ import annotations


class VidllmError(Exception):
    """Base class: an expected failure with a message fit to show a user as it is."""

    exit_code = 2


class VideoError(VidllmError):
    """A video cannot be used; the message names the file and the problem."""

    def __init__(self, path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class VideoNotFoundError(VideoError, FileNotFoundError):
    pass


class NotAVideoError(VideoError, ValueError):
    """The file exists but holds no decodable video stream."""


class VideoTooLargeError(VideoError, ValueError):
    pass


class DecodeTimeoutError(VideoError, TimeoutError):
    pass


class SpecError(VidllmError, ValueError):
    """A sampling spec, budget or option that cannot be satisfied."""


class RegistryError(VidllmError, KeyError):
    """A name that is not registered (the message suggests close names)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class MissingDependencyError(VidllmError, ImportError):
    """An optional package is not installed; the message says how to install it."""
