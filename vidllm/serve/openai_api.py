"""A validated chat-completion body -> vidllm ``Request``; a ``Response`` -> OpenAI's objects.

Sampling of each video, later sources overriding earlier ones (``SamplingSpec.from_fields``:
naming a frame count drops an inherited rate and the other way round):

1. the server's defaults (``vidllm serve --fps 2 ...``);
2. ``mm_processor_kwargs.fps`` (vLLM: the rate the model's processor samples at; a list gives
   one rate per video);
3. ``media_io_kwargs.video`` (vLLM: ``num_frames`` alone is a frame count; with ``fps`` it caps
   the frames sampled at that rate; -1 means "not set", as in vLLM);
4. the fields of vidllm's own ``{"type": "video", ...}`` part.

Then the server's ceilings: a request asking for more frames, a higher rate or larger frames than
the server allows is refused (400) with the limit; what it leaves open gets the ceiling.
"""

from __future__ import annotations

import json
import time
import uuid

from vidllm.errors import RequestError, VidllmError
from vidllm.models.request import Generation, Image, Request, Text, Turn, Video
from vidllm.serve.config import ServeConfig
from vidllm.serve.media import MediaPolicy, Workspace
from vidllm.serve.schema import (
    ChatCompletionRequest,
    FilePart,
    ImagePart,
    InputFilePart,
    TextPart,
    VideoPart,
    VideoURLPart,
)
from vidllm.video.spec import SamplingSpec


def to_request(body: ChatCompletionRequest, config: ServeConfig, policy: MediaPolicy,
               work: Workspace) -> tuple[Request, list[dict]]:
    """The ``Request`` and the sampling fields each request part named itself (for the backend's
    ``check_sampling``)."""
    if len(body.messages) > config.max_messages:
        raise RequestError(f"{len(body.messages)} messages; this server takes at most {config.max_messages}")
    parts = sum(len(m.content) for m in body.messages if isinstance(m.content, list))
    if parts > config.max_parts:
        raise RequestError(f"{parts} content parts; this server takes at most {config.max_parts}")
    rates = _processor_rates(body)
    turns, asked, media = [], [], 0
    for message in body.messages:
        role = "system" if message.role == "developer" else message.role
        content = message.content
        if content is None or content == "" or content == []:
            continue  # an empty assistant turn (a tool call in OpenAI's API): nothing to read
        items = [TextPart(type="text", text=content)] if isinstance(content, str) else content
        out = []
        for item in items:
            if isinstance(item, TextPart):
                out.append(Text(item.text))
                continue
            media += 1
            if media > config.max_media:
                raise RequestError(f"more than {config.max_media} images and videos; this server's limit")
            if isinstance(item, ImagePart):
                out.append(Image(policy.image(item.image_url.url, work)))
            elif isinstance(item, (VideoURLPart, VideoPart)):
                url = item.video_url.url if isinstance(item, VideoURLPart) else item.video
                own = item.sampling() if isinstance(item, VideoPart) else {}
                spec = video_spec(body, config, own, rates, index=sum(1 for p in out if isinstance(p, Video)))
                asked.append(own)
                out.append(Video(policy.video(url, work), spec))
            elif isinstance(item, (FilePart, InputFilePart)):
                ref = item.file if isinstance(item, FilePart) else item
                kind, value = policy.file(ref.file_data, ref.file_id, ref.filename, work)
                if kind == "image":
                    out.append(Image(value))
                else:
                    out.append(Video(value, video_spec(body, config, {}, rates, index=0)))
        if out:
            try:
                turns.append(Turn(role, tuple(out)))
            except VidllmError as exc:
                raise RequestError(str(exc)) from None
    if not turns:
        raise RequestError("the messages hold no content")
    stop = body.stop or ()
    generation = Generation(
        max_new_tokens=body.max_completion_tokens or body.max_tokens or 256,
        temperature=body.temperature or 0.0, seed=body.seed or 0,
        stop=(stop,) if isinstance(stop, str) else tuple(stop),
    )
    return Request(tuple(turns), generation), asked


def _processor_rates(body: ChatCompletionRequest) -> list[float]:
    fps = body.mm_processor_kwargs.fps if body.mm_processor_kwargs else None
    return [] if fps is None else [fps] if isinstance(fps, float | int) else list(fps)


def video_spec(body: ChatCompletionRequest, config: ServeConfig, own: dict, rates: list[float],
               index: int) -> SamplingSpec:
    """One video's ``SamplingSpec`` from the four sources, within the server's ceilings."""
    fields = dict(config.sampling)
    if rates:
        fields = _layer(fields, fps=float(rates[min(index, len(rates) - 1)]))
    video_io = body.media_io_kwargs.video if body.media_io_kwargs else None
    if video_io is not None:
        frames = video_io.num_frames if video_io.num_frames and video_io.num_frames > 0 else None
        rate = video_io.fps if video_io.fps and video_io.fps > 0 else None
        if rate is not None:
            fields = _layer(fields, fps=rate, max_frames=frames)
        elif frames is not None:
            fields = _layer(fields, nframes=frames)
    fields = _layer(fields, **own)
    _check_ceiling("fps", fields.get("fps"), config.max_fps)
    for name in ("nframes", "max_frames", "min_frames"):
        _check_ceiling(name, fields.get(name), config.max_frames)
    _check_ceiling("max_pixels", fields.get("max_pixels"), config.max_pixels)
    _check_ceiling("min_pixels", fields.get("min_pixels"), config.max_pixels)
    if fields.get("nframes") is None:  # a rate, keyframes or scenes: capped by the ceiling
        fields["max_frames"] = min(fields.get("max_frames") or config.max_frames, config.max_frames)
    fields.setdefault("max_pixels", config.max_pixels)
    try:
        return SamplingSpec.from_fields(fields)
    except VidllmError as exc:
        raise RequestError(f"video sampling: {exc}") from None


def _layer(fields: dict, **more) -> dict:
    more = {k: v for k, v in more.items() if v is not None}
    if any(k in more for k in ("nframes", "fps", "keyframes", "scene_threshold")):
        fields = {k: v for k, v in fields.items() if k not in ("nframes", "fps", "keyframes", "scene_threshold")}
    return {**fields, **more}


def _check_ceiling(name: str, value, ceiling) -> None:
    if value is not None and value > ceiling:
        raise RequestError(f"{name}={value:g} is above this server's limit of {ceiling:g}")


def question_of(request: Request) -> str:
    users = [t for t in request.turns if t.role == "user"]
    return users[-1].text if users else ""


# -- responses -----------------------------------------------------------------------------------


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def usage_of(response) -> dict:
    u = response.usage
    prompt, generated = u.prompt_tokens or 0, u.generated_tokens or 0
    return {"prompt_tokens": prompt, "completion_tokens": generated, "total_tokens": prompt + generated}


def vidllm_extension(response, evidence: list[dict]) -> dict:
    """What produced the answer (sampling, true frame times, prompt, versions) and the moments
    supporting it: an answer that can be checked and reproduced."""
    return {"manifest": json.loads(json.dumps(response.manifest, default=str)), "timings": response.timings,
            "visual_tokens": response.usage.visual_tokens, "evidence": evidence}


def to_completion(response, model_name: str, evidence: list[dict]) -> dict:
    return {
        "id": completion_id(), "object": "chat.completion", "created": int(time.time()), "model": model_name,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": response.text},
                     "finish_reason": response.finish_reason, "logprobs": None}],
        "usage": usage_of(response),
        "vidllm": vidllm_extension(response, evidence),
    }


def chunk(chunk_id: str, created: int, model_name: str, delta: dict, finish_reason: str | None = None,
          **extra) -> dict:
    """One ``chat.completion.chunk`` as OpenAI streams them."""
    return {"id": chunk_id, "object": "chat.completion.chunk", "created": created, "model": model_name,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}], **extra}
