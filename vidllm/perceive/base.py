"""The perception tool interface and its registry.

A tool reads a video's sampled frames (and, for speech, its audio) and returns
``Observation``s: a time span, a kind, a line of text a language model can read, a score,
and an optional payload (labels, boxes, embeddings) for later stages.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

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
    """What a tool may read: the sampled frames, and the video path for audio tools."""

    frames: Frames
    video_path: str
    duration: float
    has_audio: bool


class PerceptionTool:
    """Subclasses set ``name``, ``kinds`` and ``requires`` (pip packages), and implement ``run``.

    ``version`` goes into cache keys and manifests: bump it when outputs change.
    """

    name: ClassVar[str] = ""
    kinds: ClassVar[tuple[str, ...]] = ()
    requires: ClassVar[tuple[str, ...]] = ()
    version: ClassVar[str] = "1"

    def check_available(self) -> None:
        """Raise ``MissingDependencyError`` naming the package to install, if one is missing."""

    def run(self, source: PerceptionInput) -> list[Observation]:
        raise NotImplementedError

    def manifest(self) -> dict:
        """Settings and model files (with hashes) that produced this tool's observations."""
        return {"name": self.name, "version": self.version}


TOOLS: Registry[PerceptionTool] = Registry("perception tool", PerceptionTool)
