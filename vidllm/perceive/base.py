"""The perception tool interface and its registry.

A tool reads a video's sampled frames (and, for speech, its audio) and returns
``Observation``s: a time span, a kind, a line of text a language model can read, a score,
and an optional payload (labels, boxes, embeddings) for later stages.

A tool declares its settings as a pydantic model (``Options``, see ``options.py``); building
a tool checks them, and its manifest (name, version, keyed settings, weights and their
sha256) is made from them. Building a tool, its manifest and its cache key import no model
library: models load on the first ``run()``.

>>> from pydantic import Field
>>> class Echo(PerceptionTool):
...     class Options(ToolOptions):
...         prefix: str = Field("", description="Put before every line.")
...     name = "echo"
>>> tool = Echo(prefix="> ")
>>> tool.prefix, tool.manifest()
('> ', {'name': 'echo', 'version': '1', 'settings': {'prefix': '> '}})
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from vidllm import weights
from vidllm.perceive.options import ToolOptions, parse_options
from vidllm.registry import Registry
from vidllm.video.frames import Frames


@dataclass(frozen=True)
class Observation:
    start: float  # seconds, inclusive
    end: float  # seconds, exclusive (== start for an instant)
    kind: str  # "tags", "ocr", "speech", "shot", "motion", "colour", "track", ...
    text: str
    score: float = 1.0
    payload: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"observation ends ({self.end}) before it starts ({self.start})")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class PerceptionInput:
    """What a tool may read: the sampled frames, and the video path for audio tools.

    ``start``/``end`` bound the stretch of the video this input covers: a long video is
    perceived a chunk at a time, and an audio tool reads only its chunk's audio."""

    frames: Frames
    video_path: str
    duration: float
    has_audio: bool
    start: float = 0.0
    end: float | None = None  # None: to the end of the video


class PerceptionTool:
    """Subclasses set ``name``, ``kinds``, ``requires`` (pip packages) and ``Options``, and
    implement ``run``; a tool with model files names them in ``weights_model()``.

    ``version`` goes into cache keys and manifests: bump it when outputs change. Options are
    read as attributes (``tool.top_k`` is ``tool.options.top_k``).
    """

    name: ClassVar[str] = ""
    kinds: ClassVar[tuple[str, ...]] = ()
    requires: ClassVar[tuple[str, ...]] = ()
    version: ClassVar[str] = "1"
    Options: ClassVar[type[ToolOptions]] = ToolOptions

    def __init__(self, **options):
        self.options = parse_options(self.name, self.Options, options)

    def __getattr__(self, name: str):
        # only called when normal lookup fails: fall back to the declared options
        options = self.__dict__.get("options")
        if options is not None and name in type(options).model_fields:
            return getattr(options, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def check_available(self) -> None:
        """Raise ``MissingDependencyError`` naming the package to install, if one is missing."""

    def run(self, source: PerceptionInput) -> list[Observation]:
        raise NotImplementedError

    def weights_model(self) -> str | None:
        """The name of this tool's model in ``vidllm.weights.SOURCES``, or None without one."""
        return None

    def manifest(self) -> dict:
        """Settings and model files (with hashes) that produced this tool's observations.

        Only keyed settings appear (see ``options.py``), so the manifest, and the cache key
        made from it, changes exactly when the observations may change.
        """
        out: dict[str, Any] = {"name": self.name, "version": self.version}
        options = self.__dict__.get("options")
        if options is not None and type(options).model_fields:
            out["settings"] = options.model_dump()
        model = self.weights_model()
        if model is not None:
            out["weights"] = weights.manifest(model)
        return out


TOOLS: Registry[PerceptionTool] = Registry("perception tool", PerceptionTool)
