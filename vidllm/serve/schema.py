"""The chat-completion request body as pydantic models: what OpenAI's API and vLLM accept,
typed strictly so that a wrongly typed field is a 400 naming the field, never a crash.

Content parts: ``text``; ``image_url``; ``video_url`` (vLLM); ``file`` / ``input_file``
(OpenAI: ``file_data`` as a data URL, or ``file_id`` of an upload); and vidllm's own
``{"type": "video", "video": URL, "fps": 1, ...}`` with any ``SamplingSpec`` field. Unknown
top-level fields (``top_p``, ``user``, ...) are accepted and ignored, as OpenAI servers do.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


class TextPart(_Strict):
    type: Literal["text", "input_text"]
    text: str


class URL(_Strict):
    url: str = Field(min_length=1)
    detail: str | None = None


class ImagePart(_Strict):
    type: Literal["image_url"]
    image_url: URL


class VideoURLPart(_Strict):
    type: Literal["video_url"]
    video_url: URL


class VideoPart(_Strict):
    """vidllm's own video part: the URL plus sampling fields."""

    model_config = ConfigDict(strict=True, extra="forbid")
    type: Literal["video"]
    video: str = Field(min_length=1)
    nframes: int | None = Field(None, ge=1)
    fps: float | None = Field(None, gt=0)
    min_frames: int | None = Field(None, ge=1)
    max_frames: int | None = Field(None, ge=1)
    keyframes: bool | None = None
    scene_threshold: float | None = Field(None, gt=0, lt=1)
    start: float | None = Field(None, ge=0)
    end: float | None = Field(None, gt=0)
    mode: Literal["exact", "fast"] | None = None
    tolerance: float | None = Field(None, ge=0)
    max_pixels: int | None = Field(None, ge=64)
    min_pixels: int | None = Field(None, ge=1)
    size_factor: int | None = Field(None, ge=1, le=1024)

    def sampling(self) -> dict:
        return self.model_dump(exclude={"type", "video"}, exclude_none=True)


class FileRef(_Strict):
    file_data: str | None = Field(None, min_length=1)
    file_id: str | None = Field(None, min_length=1)
    filename: str | None = None


class FilePart(_Strict):
    type: Literal["file"]
    file: FileRef


class InputFilePart(FileRef):
    type: Literal["input_file"]


Part = Annotated[Union[TextPart, ImagePart, VideoURLPart, VideoPart, FilePart, InputFilePart],
                 Field(discriminator="type")]


class Message(_Strict):
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[Part] | None = None
    name: str | None = None


class VideoIO(_Strict):
    """vLLM's ``media_io_kwargs["video"]``: how the server loads a video."""

    num_frames: int | None = Field(None, ge=-1)
    fps: float | None = Field(None, ge=-1)


class MediaIO(_Strict):
    video: VideoIO | None = None


class ProcessorKwargs(_Strict):
    """vLLM's ``mm_processor_kwargs``; only ``fps`` is read (per video, or one for all)."""

    fps: float | list[float] | None = None


class StreamOptions(_Strict):
    include_usage: bool = False


class ChatCompletionRequest(_Strict):
    model: str = Field(min_length=1)
    messages: list[Message] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(None, ge=1, le=1_000_000)
    max_completion_tokens: int | None = Field(None, ge=1, le=1_000_000)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    seed: int | None = None
    stop: str | list[str] | None = None
    n: Literal[1] | None = None
    media_io_kwargs: MediaIO | None = None
    mm_processor_kwargs: ProcessorKwargs | None = None


def describe_errors(exc: ValidationError | list[dict], limit: int = 3) -> tuple[str, str | None]:
    """One line naming the first few wrong fields (never echoing their values, which may be
    megabytes of base64), and the first field's path as OpenAI's ``param``."""
    errors = exc.errors() if isinstance(exc, ValidationError) else exc
    lines, first = [], None
    for err in errors[:limit]:
        loc = [str(p) for p in err.get("loc", ()) if p != "body"]
        # a discriminated union repeats the tag in the path ("content.0.text.text"): keep it readable
        where = ".".join(loc) or "body"
        first = first or where
        lines.append(f"{where}: {err.get('msg', 'invalid')}")
    more = f" (and {len(errors) - limit} more)" if len(errors) > limit else ""
    return "; ".join(lines) + more, first
