"""Translate OpenAI chat-completion requests to vidllm ``Request``s, and responses back.

Content parts understood: ``text``; ``image_url`` (data: URLs; http(s) URLs are passed on);
``video_url`` (a data: URL, stored content-addressed in the cache so a re-sent video reuses
its frames and timeline; a local path or file:// URL only when the server allows local files);
and vidllm's own ``{"type": "video", "video": ..., "fps": 1, ...}`` with sampling fields.
"""

from __future__ import annotations

import base64
import hashlib
import io
import time
import uuid
from pathlib import Path

import numpy as np

from vidllm.db import cache_dir
from vidllm.errors import RequestError
from vidllm.models.request import Generation, Image, Request, Text, Turn, Video
from vidllm.video.spec import SamplingSpec


def _data_url_bytes(url: str) -> tuple[str, bytes]:
    header, _, payload = url.partition(",")
    if not header.startswith("data:") or ";base64" not in header:
        raise RequestError("data URLs must be base64: data:<type>;base64,<data>")
    try:
        return header[5:].split(";")[0], base64.b64decode(payload, validate=True)
    except ValueError:
        raise RequestError("the data URL's base64 payload does not decode") from None


def _image(url: str) -> Image:
    if url.startswith("data:"):
        from PIL import Image as PILImage

        _, data = _data_url_bytes(url)
        try:
            return Image(np.asarray(PILImage.open(io.BytesIO(data)).convert("RGB")).copy())
        except OSError:
            raise RequestError("an image_url part holds no image PIL can read") from None
    return Image(url)


def _video_file(url: str, allow_local_files: bool) -> str:
    if url.startswith("data:"):
        mime, data = _data_url_bytes(url)
        folder = cache_dir() / "uploads"
        folder.mkdir(parents=True, exist_ok=True)
        suffix = {"video/webm": ".webm", "video/x-matroska": ".mkv", "video/quicktime": ".mov"}.get(mime, ".mp4")
        path = folder / (hashlib.blake2b(data, digest_size=16).hexdigest() + suffix)
        if not path.exists():
            tmp = path.with_suffix(".part")
            tmp.write_bytes(data)
            tmp.replace(path)
        return str(path)
    local = url[len("file://"):] if url.startswith("file://") else url
    if "://" not in local:
        if not allow_local_files:
            raise RequestError("this server reads no local paths; send the video as a data: URL "
                               "(or start it with --allow-local-files)")
        if not Path(local).exists():
            raise RequestError(f"{local}: no such file on the server")
        return local
    return url


def _part(item, allow_local_files: bool, sampling: dict):
    if isinstance(item, str):
        return Text(item)
    kind = item.get("type")
    if kind == "text":
        return Text(item.get("text", ""))
    if kind == "image_url":
        return _image((item.get("image_url") or {}).get("url", ""))
    if kind in ("video_url", "video"):
        url = (item.get("video_url") or {}).get("url", "") if kind == "video_url" else item.get("video", "")
        fields = {k: v for k, v in item.items() if k in SamplingSpec.field_names()}
        return Video(_video_file(url, allow_local_files), SamplingSpec.from_fields(sampling, **fields))
    raise RequestError(f"unknown content part type {kind!r} (text, image_url, video_url or video)")


def to_request(body: dict, *, allow_local_files: bool = False, sampling: dict | None = None) -> Request:
    """``sampling``: the server's default SamplingSpec fields for videos that name none."""
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not body["messages"]:
        raise RequestError("the body needs a non-empty 'messages' list")
    if body.get("stream"):
        raise RequestError("streaming responses are not supported yet; send stream: false")
    turns = []
    for m in body["messages"]:
        content = m.get("content")
        items = [content] if isinstance(content, str) else list(content or [])
        turns.append(Turn(m.get("role", "user"), tuple(_part(i, allow_local_files, sampling or {}) for i in items)))
    stop = body.get("stop") or ()
    generation = Generation(
        max_new_tokens=int(body.get("max_completion_tokens") or body.get("max_tokens") or 256),
        temperature=float(body.get("temperature") or 0.0), seed=int(body.get("seed") or 0),
        stop=(stop,) if isinstance(stop, str) else tuple(stop),
    )
    return Request(tuple(turns), generation)


def to_completion(response, model_name: str) -> dict:
    usage = response.usage
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model_name,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": response.text},
                     "finish_reason": response.finish_reason}],
        "usage": {"prompt_tokens": usage.prompt_tokens or 0, "completion_tokens": usage.generated_tokens or 0,
                  "total_tokens": usage.total_tokens or 0},
        # what produced the answer (sampling, true frame times, prompt, versions): reproducible
        "vidllm": {"manifest": response.manifest, "timings": response.timings,
                   "visual_tokens": usage.visual_tokens},
    }
