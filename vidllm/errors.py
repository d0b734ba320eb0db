"""Every error vidllm raises on purpose, in one place.

Each kind of failure has its own class, subclassing the fitting built-in exception so that
callers who do not know vidllm can still catch it. Messages name the value received, what was
allowed and, where there is one, the next step. Only the command line (``vidllm.cli``) and the
server turn them into one-line messages, exit codes and HTTP statuses.

Exit codes of the ``vidllm`` command: 0 success, 1 an unexpected failure (a bug: run with -v
for the traceback), 2 bad input or usage (every ``VidllmError``), 130 interrupted.

>>> issubclass(VideoNotFoundError, FileNotFoundError), VideoNotFoundError.exit_code
(True, 2)
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class VidllmError(Exception):
    """Base class: an expected failure with a message fit to show a user as it is."""

    exit_code = EXIT_USAGE


# -- input: videos, sampling, options ---------------------------------------------------------


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


class NoAudioError(VideoError, LookupError):
    """The file holds no audio stream (or none with the index asked for)."""


class DiskFullError(VidllmError, OSError):
    """vidllm could not write its files (cache, run store, results): no space left, a file-size
    limit reached, or a failing disk. What was committed before is kept; the same command
    resumes once there is room (``vidllm.db.disk_full_error`` recognises the causes)."""


class StreamError(VidllmError, ConnectionError):
    """A live source (network stream, growing file, capture device) that cannot be opened or
    read: it never started, or stayed silent past its timeouts; the message names the source."""

    def __init__(self, source, problem: str):
        self.source = str(source)
        self.problem = problem
        super().__init__(f"{self.source}: {problem}")


class SpecError(VidllmError, ValueError):
    """A sampling spec or token budget that cannot be satisfied."""


class OptionError(VidllmError, ValueError):
    """An option that is unknown, malformed or out of bounds (``-o key value``, a tool's or a
    backend's settings, a sampling flag the chosen model cannot honour); the message lists
    what is allowed."""


class SamplingRefusedError(OptionError):
    """Sampling settings a model cannot honour. ``render(label)`` names each field as the
    caller's user knows it (the command line shows ``--max-frames`` for ``max_frames``)."""

    def __init__(self, scheme: str, refused, honoured, reason: str):
        self.scheme, self.refused, self.honoured, self.reason = scheme, tuple(refused), tuple(honoured), reason
        super().__init__(self.render())

    def render(self, label=str) -> str:
        return (f"the {self.scheme} model cannot honour sampling setting(s) {', '.join(map(label, self.refused))}: "
                f"{self.reason} (it honours: {', '.join(map(label, self.honoured)) or 'none'})")


class RegistryError(VidllmError, KeyError):
    """A name that is not registered (the message suggests close names)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class MissingDependencyError(VidllmError, ImportError):
    """An optional package is not installed; the message says how to install it."""


# -- models --------------------------------------------------------------------------------------


class ModelURIError(VidllmError, ValueError):
    """A model URI that cannot be parsed; the message lists the accepted forms."""


class ModelNotFoundError(VidllmError, FileNotFoundError):
    """The model a URI names does not exist (no such folder or file, not on the hub)."""


class BackendOptionError(OptionError):
    """An option the backend does not have, or a value out of bounds."""


class BackendError(VidllmError, RuntimeError):
    """The backend failed while loading or generating."""


class UnsupportedInputError(VidllmError, ValueError):
    """The request holds something this backend or model cannot read (a video for a text LLM)."""


class ContextOverflowError(SpecError):
    """The prompt does not fit the model's context."""


class NoGPUError(BackendError):
    """The backend needs a CUDA GPU and none is visible."""


class ServerError(BackendError):
    """A model server answered with an error, or not at all; ``status`` is the HTTP code if any."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class ServerTimeoutError(ServerError, TimeoutError):
    pass


class ServerUnreachableError(ServerError, ConnectionError):
    pass


# -- serving -------------------------------------------------------------------------------------


class RequestError(VidllmError, ValueError):
    """A request the server cannot take (HTTP 400)."""


class MediaForbiddenError(RequestError, PermissionError):
    """Media from a place the server does not allow: a local file outside its folder, a remote
    URL when remote media is off, or one that resolves to a loopback/private address (HTTP 403)."""


class MediaTooLargeError(RequestError):
    """A body, upload or media file beyond the server's size limits (HTTP 413)."""


class SessionLimitError(RequestError):
    """As many stream sessions (or open questions) as the server allows are open (HTTP 429)."""


class SessionEndedError(RequestError):
    """A stream session whose source has ended, or that was closed, cannot take this question (HTTP 409)."""


# -- evaluation ----------------------------------------------------------------------------------


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


class RunInUseError(EvalError, RuntimeError):
    """Another process is writing the same output folder (the message names it)."""


class ModelBackendUnavailableError(EvalError, NotImplementedError):
    """The model URI names a backend that this install does not provide."""


class PredictionFormatError(EvalError, ValueError):
    """A predictions file is not in any format ``vidllm score`` knows."""


class JudgeRequiredError(EvalError, ValueError):
    """A score can only be computed with a judge model and none was given."""
