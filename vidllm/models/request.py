"""One request type and one response type for every backend.

A ``Request`` is a conversation: ``Turn``s whose content interleaves ``Text``, ``Image`` and
``Video`` parts (Video-LLaVA's unified image + video input, Qwen's interleaved chat), each video
with its own ``SamplingSpec``, plus the generation settings. Backends never see anything else,
so the CLI, the tasks, the evaluation runner and the server build the same object.

>>> from vidllm.models import Request
>>> from vidllm.video.spec import SamplingSpec
>>> req = Request.ask("clip.mp4", "What is the cyclist doing?", spec=SamplingSpec(fps=1, max_frames=16))
>>> [p.kind for p in req.turns[-1].content]
['video', 'text']
>>> req.generation.max_new_tokens
256

A ``Response`` carries the text, the token usage (prompt, visual, generated), timings and the
manifest of every setting that produced it, so a score can be reproduced from its record.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

import numpy as np

from vidllm.choices import CHOICE_INSTRUCTION
from vidllm.errors import SpecError
from vidllm.video.frames import Frames
from vidllm.video.spec import SamplingSpec

ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class Text:
    text: str
    kind: Literal["text"] = field(default="text", init=False)

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise SpecError(f"a text part needs a string, got {type(self.text).__name__}")

    def to_dict(self) -> dict:
        return {"type": "text", "text": self.text}


@dataclass(frozen=True, eq=False)
class Image:
    """A still image: a path, an http(s)/data URL, or an HxWx3 uint8 array."""

    source: str | np.ndarray
    kind: Literal["image"] = field(default="image", init=False)

    def __post_init__(self) -> None:
        if isinstance(self.source, Path):
            object.__setattr__(self, "source", str(self.source))
        if isinstance(self.source, np.ndarray):
            if self.source.dtype != np.uint8 or self.source.ndim != 3 or self.source.shape[-1] != 3:
                raise SpecError(f"an image array must be uint8 (H, W, 3), got {self.source.dtype} {self.source.shape}")
        elif not isinstance(self.source, str) or not self.source:
            raise SpecError(f"an image needs a path, URL or array, got {self.source!r}")

    def to_dict(self) -> dict:
        src = self.source if isinstance(self.source, str) else f"<array {self.source.shape}>"
        return {"type": "image", "source": src}


@dataclass(frozen=True, eq=False)
class Video:
    """A video: a path or URL plus how to sample it.

    ``budget`` caps this video's visual tokens (else the request's budget is shared evenly).
    ``frames`` lets a caller that already holds sampled ``Frames`` (a stream, a memory stage)
    skip sampling: ``Video(None, frames=frames)``; their timestamps are used as they are.
    """

    source: str | None
    spec: SamplingSpec = field(default_factory=SamplingSpec)
    budget: int | None = None
    frames: Frames | None = None
    kind: Literal["video"] = field(default="video", init=False)

    def __post_init__(self) -> None:
        if isinstance(self.source, Path):
            object.__setattr__(self, "source", str(self.source))
        if self.source is None and self.frames is not None:
            object.__setattr__(self, "source", self.frames.source)
        if not isinstance(self.source, str) or not self.source:
            raise SpecError(f"a video needs a path or URL, got {self.source!r}")
        if not isinstance(self.spec, SamplingSpec):
            raise SpecError(f"a video's spec must be a SamplingSpec, got {type(self.spec).__name__}")
        if self.budget is not None and self.budget < 1:
            raise SpecError(f"a video's token budget must be >= 1, got {self.budget}")

    def to_dict(self) -> dict:
        d = {"type": "video", "source": self.source, "spec": self.spec.to_dict()}
        if self.budget is not None:
            d["budget"] = self.budget
        return d


Part = Union[Text, Image, Video]


def _part(value) -> Part:
    if isinstance(value, (Text, Image, Video)):
        return value
    if isinstance(value, str):
        return Text(value)
    raise SpecError(f"a turn's content holds Text, Image or Video parts or strings, got {type(value).__name__}")


@dataclass(frozen=True)
class Turn:
    role: str
    content: tuple[Part, ...]

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise SpecError(f"role must be one of {', '.join(ROLES)}, got {self.role!r}")
        content = (self.content,) if isinstance(self.content, (str, Text, Image, Video)) else self.content
        object.__setattr__(self, "content", tuple(_part(p) for p in content))
        if not self.content:
            raise SpecError(f"a {self.role} turn needs some content")
        if self.role != "user" and any(p.kind != "text" for p in self.content):
            raise SpecError(f"only user turns may hold images or videos, not {self.role} turns")

    @property
    def text(self) -> str:
        """The turn's text parts joined (what a text-only model reads)."""
        return "".join(p.text for p in self.content if isinstance(p, Text))

    def to_dict(self) -> dict:
        return {"role": self.role, "content": [p.to_dict() for p in self.content]}


@dataclass(frozen=True)
class Generation:
    """Decoding settings. ``temperature == 0`` means greedy decoding; ``seed`` makes sampling
    repeatable where the backend honours it (all built-in ones do)."""

    max_new_tokens: int = 256
    temperature: float = 0.0
    seed: int = 0
    stop: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.stop, str):
            object.__setattr__(self, "stop", (self.stop,))
        object.__setattr__(self, "stop", tuple(self.stop))
        if self.max_new_tokens < 1:
            raise SpecError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if not (self.temperature >= 0 and math.isfinite(self.temperature)):
            raise SpecError(f"temperature must be >= 0, got {self.temperature}")
        if any(not s for s in self.stop):
            raise SpecError("stop strings must not be empty")

    def to_dict(self) -> dict:
        return {**asdict(self), "stop": list(self.stop)}


@dataclass(frozen=True)
class Request:
    """A conversation to continue. ``budget`` caps the visual tokens of all its videos
    together (default: what the model's context leaves after the text and the answer)."""

    turns: tuple[Turn, ...]
    generation: Generation = field(default_factory=Generation)
    budget: int | None = None
    id: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "turns", tuple(self.turns))
        if not self.turns:
            raise SpecError("a request needs at least one turn")
        if self.turns[-1].role != "user":
            raise SpecError(f"the last turn must be the user's, got {self.turns[-1].role!r}")
        if self.budget is not None and self.budget < 1:
            raise SpecError(f"the visual token budget must be >= 1, got {self.budget}")

    @classmethod
    def ask(cls, video, question: str, *, spec: SamplingSpec | None = None, system: str | None = None,
            options: list[str] | None = None, budget: int | None = None, id: str | None = None,
            **generation) -> "Request":
        """One question about one video: ``Request.ask("a.mp4", "Who?", spec=SamplingSpec(fps=1))``.

        ``options`` (multiple choice, e.g. ``["A. red", "B. blue"]``) are listed under the
        question; ``generation`` takes ``max_new_tokens``, ``temperature``, ``seed``, ``stop``.
        """
        text = question
        if options:
            text += "\n" + "\n".join(options) + "\n" + CHOICE_INSTRUCTION
        turns = [Turn("system", (Text(system),))] if system else []
        turns.append(Turn("user", (Video(str(video), spec or SamplingSpec()), Text(text))))
        return cls(tuple(turns), Generation(**generation), budget=budget, id=id)

    @classmethod
    def chat(cls, messages: list[dict], **kwargs) -> "Request":
        """From OpenAI-style messages; a content item ``{"type": "video", "video": path, ...}``
        may carry sampling fields (``nframes``, ``fps``, ``max_frames``, ...), as qwen-vl-utils
        messages do; ``{"type": "image", "image": path}`` and ``{"type": "text", "text": s}``.
        """
        turns = []
        for m in messages:
            content = m.get("content")
            items = [content] if isinstance(content, str) else list(content or [])
            turns.append(Turn(m.get("role", "user"), tuple(_from_item(item) for item in items)))
        return cls(tuple(turns), **kwargs)

    def videos(self) -> list[Video]:
        return [p for t in self.turns for p in t.content if isinstance(p, Video)]

    def images(self) -> list[Image]:
        return [p for t in self.turns for p in t.content if isinstance(p, Image)]

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "turns": [t.to_dict() for t in self.turns],
            "generation": self.generation.to_dict(),
            "budget": self.budget,
        }


def _from_item(item) -> Part:
    if isinstance(item, str):
        return Text(item)
    kind = item.get("type")
    if kind == "text":
        return Text(item["text"])
    if kind == "image":
        return Image(item.get("image") or item.get("url") or item.get("path"))
    if kind == "video":
        fields = set(SamplingSpec.field_names())
        spec = SamplingSpec.from_fields({k: v for k, v in item.items() if k in fields})
        return Video(item.get("video") or item.get("url") or item.get("path"), spec, budget=item.get("budget"))
    raise SpecError(f"unknown content type {kind!r} (use text, image or video)")


@dataclass(frozen=True)
class Usage:
    """Token counts. ``visual_tokens`` is the number of placeholder tokens the images and
    videos became in the prompt (part of ``prompt_tokens``); ``None`` where the backend cannot
    know it (a remote server with no model profile)."""

    prompt_tokens: int | None
    visual_tokens: int | None
    generated_tokens: int | None

    @property
    def total_tokens(self) -> int | None:
        if self.prompt_tokens is None or self.generated_tokens is None:
            return None
        return self.prompt_tokens + self.generated_tokens

    def to_dict(self) -> dict:
        return {**asdict(self), "total_tokens": self.total_tokens}


@dataclass(frozen=True)
class Response:
    """``finish_reason`` is ``"stop"`` (end of answer or a stop string) or ``"length"``."""

    text: str
    usage: Usage
    timings: dict[str, float]
    manifest: dict[str, Any]
    finish_reason: str = "stop"
    request_id: str | None = None

    def to_dict(self) -> dict:
        return {
            "request_id": self.request_id,
            "text": self.text,
            "finish_reason": self.finish_reason,
            "usage": self.usage.to_dict(),
            "timings": dict(self.timings),
            "manifest": self.manifest,
        }

    def __repr__(self) -> str:
        text = self.text if len(self.text) < 60 else self.text[:57] + "..."
        return f"Response({text!r}, usage={self.usage.to_dict()}, finish_reason={self.finish_reason!r})"
