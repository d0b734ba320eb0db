"""``openai:<base_url>#<model>``: any OpenAI-compatible chat server (vllm serve, SGLang,
Ollama, llama.cpp, hosted APIs).

Videos go as sampled frames (``image_url`` parts, each preceded by its true time in the text,
"Frame at 12.48s:"), or as one ``video_url`` when the server decodes video itself
(``video_mode="video_url"``: vLLM, SGLang). Requests run concurrently with a bounded number in
flight; transient failures (connection refused or dropped, timeouts, HTTP 408/429/5xx) are
retried with exponential backoff; every failure ends in one typed, one-line error.

>>> model = load_model("openai:http://127.0.0.1:8000/v1#Qwen/Qwen2.5-VL-7B-Instruct",
...                    profile="qwen2.5-vl", max_concurrency=8)  # doctest: +SKIP

Only the standard library talks HTTP here (urllib), so this backend needs no extra package.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import mimetypes
import os
import random
import socket
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.client import HTTPException
from typing import Literal

from pydantic import Field

from vidllm.budget import PROFILES
from vidllm.errors import (
    BackendError,
    BackendOptionError,
    ModelURIError,
    ServerError,
    ServerTimeoutError,
    ServerUnreachableError,
)
from vidllm.models.base import (
    Backend,
    BackendOptions,
    Output,
    PreparedRequest,
    conversation_parts,
)
from vidllm.models.request import Image, Text, Video

log = logging.getLogger(__name__)

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}








class OpenAIOptions(BackendOptions):
    batch_size: int = Field(64, ge=1, le=100000, description="Requests prepared (frames sampled) at a time.")
    api_key: str | None = Field(None, exclude=True, description="Bearer key; default: $OPENAI_API_KEY.")
    video_mode: Literal["frames", "video_url"] = Field(
        "frames", description="frames: sampled frames as images; video_url: the file, for servers that decode video.")
    max_concurrency: int = Field(4, ge=1, le=1024, description="Requests in flight at once.")
    max_retries: int = Field(3, ge=0, le=20, description="Retries of a transient failure.")
    timeout: float = Field(120.0, gt=0, description="Seconds one attempt may take.")
    backoff: float = Field(1.0, ge=0, description="Seconds before the first retry; doubles each time.")
    max_backoff: float = Field(30.0, ge=0, description="Longest wait between retries.")
    max_pixels: int | None = Field(448 * 448, ge=64, description="Pixels per frame sent (aspect kept).")
    image_format: Literal["jpeg", "png"] = Field("jpeg", description="Encoding of frames and image arrays.")
    jpeg_quality: int = Field(85, ge=10, le=100, description="JPEG quality of frames.")
    profile: str | None = Field(None, description="The served model's family in vidllm.budget.PROFILES "
                                                  "(e.g. qwen2.5-vl): plans frames to a token budget.")
    sampling_kwargs: bool = Field(False, description="video_url mode: send the spec's fps / frame count as "
                                                     "mm_processor_kwargs (vLLM).")
    extra_body: dict = Field(default_factory=dict, description="Fields merged into every request body.")
    headers: dict[str, str] = Field(default_factory=dict, description="Extra HTTP headers.")


class OpenAIBackend(Backend):
    scheme = "openai"
    description = "any OpenAI-compatible chat server (vllm serve, SGLang, Ollama, llama.cpp, hosted APIs)"
    requires = ()
    Options = OpenAIOptions

    def load(self) -> None:
        base, _, model = self.target.partition("#")
        if not base.startswith(("http://", "https://")):
            raise ModelURIError(f"openai:{self.target}: expected openai:<base_url>#<model>, e.g. "
                                "openai:http://127.0.0.1:8000/v1#Qwen/Qwen2.5-VL-7B-Instruct")
        self.base_url = base.rstrip("/")
        if self.options.profile:
            if self.options.profile not in PROFILES:
                raise BackendOptionError(f"openai: unknown profile {self.options.profile!r} "
                                         f"(known: {', '.join(PROFILES)})")
            self.profile = PROFILES[self.options.profile]
        self.model = model or self._only_model()
        # every request of this backend, whichever thread or generate() call sent it
        self._in_flight = threading.BoundedSemaphore(self.options.max_concurrency)

    @property
    def concurrency(self) -> int:
        return self.options.max_concurrency

    def describe(self) -> dict:
        return {"base_url": self.base_url, "served_model": self.model, "video_mode": self.options.video_mode,
                "profile": self.profile.to_dict() if self.profile else None}

    def samples_videos(self) -> bool:
        return self.options.video_mode == "frames"

    def adjust_spec(self, spec):
        if self.profile is None and self.options.max_pixels and not spec.max_pixels:
            return spec.replace(max_pixels=max(self.options.max_pixels, spec.size_factor**2))
        return spec

    # -- requests ------------------------------------------------------------------------------------

    def body(self, prepared: PreparedRequest) -> dict:
        """The chat completion request for one prepared request."""
        messages: list[dict] = []
        extra: dict = {}
        for turn, part, pv in conversation_parts(prepared):
            if not messages or messages[-1]["_turn"] is not turn:
                messages.append({"role": turn.role, "content": [], "_turn": turn})
            content = messages[-1]["content"]
            if isinstance(part, Text):
                content.append({"type": "text", "text": part.text})
            elif isinstance(part, Image):
                content.append({"type": "image_url", "image_url": {"url": self._image_url(part.source)}})
            elif isinstance(part, Video) and pv.frames is not None:
                length = f"{pv.duration:.2f} s" if pv.duration else "a"
                content.append({"type": "text", "text": f"Video ({length} long), {len(pv.frames)} frames:"})
                for t, frame in zip(pv.frames.timestamps, pv.frames.data):
                    content.append({"type": "text", "text": f"Frame at {t:.2f}s:"})
                    content.append({"type": "image_url", "image_url": {"url": self._image_url(frame)}})
            elif isinstance(part, Video):
                content.append({"type": "video_url", "video_url": {"url": _video_url(part.source)}})
                if self.options.sampling_kwargs:
                    spec = part.spec
                    kw = {"fps": spec.fps} if spec.fps else {"num_frames": spec.nframes} if spec.nframes else {}
                    extra.setdefault("mm_processor_kwargs", {}).update(kw)
        for m in messages:
            turn = m.pop("_turn")
            if all(c["type"] == "text" for c in m["content"]):
                m["content"] = turn.text  # plain strings: text-only servers accept nothing else
        gen = prepared.request.generation
        body = {"model": self.model, "messages": messages, "max_tokens": gen.max_new_tokens,
                "temperature": gen.temperature, "seed": gen.seed}
        if gen.stop:
            body["stop"] = list(gen.stop)
        return {**body, **extra, **self.options.extra_body}

    def _image_url(self, source) -> str:
        if isinstance(source, str):
            if source.startswith(("http://", "https://", "data:")):
                return source
            mime = mimetypes.guess_type(source)[0] or "image/jpeg"
            with open(source, "rb") as f:
                return f"data:{mime};base64,{base64.b64encode(f.read()).decode()}"
        from PIL import Image as PILImage

        buf = io.BytesIO()
        if self.options.image_format == "png":
            PILImage.fromarray(source).save(buf, "PNG")
        else:
            PILImage.fromarray(source).save(buf, "JPEG", quality=self.options.jpeg_quality)
        return f"data:image/{self.options.image_format};base64,{base64.b64encode(buf.getvalue()).decode()}"

    def _generate(self, batch: list[PreparedRequest]) -> list[Output]:
        workers = min(self.options.max_concurrency, len(batch))
        if workers == 1:
            return [self._one(p) for p in batch]
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vidllm-openai") as pool:
            futures = [pool.submit(self._one, p) for p in batch]
            try:
                return [f.result() for f in futures]
            except BaseException:
                for f in futures:
                    f.cancel()
                raise

    def _one(self, prepared: PreparedRequest) -> Output:
        began = time.perf_counter()
        body = self.body(prepared)
        encode_s = time.perf_counter() - began
        with self._in_flight:
            answer = self.post("/chat/completions", body)
        try:
            choice = answer["choices"][0]
            text = choice["message"].get("content") or ""
        except (KeyError, IndexError, TypeError, AttributeError):
            raise BackendError(f"openai: {self.base_url} sent an answer with no choices: "
                               f"{json.dumps(answer)[:200]}") from None
        usage = answer.get("usage") or {}
        predicted = [pv.predicted_tokens for pv in prepared.videos]
        visual = sum(predicted) if self.profile is not None and predicted and None not in predicted else None
        return Output(
            text=text.strip(), prompt_tokens=usage.get("prompt_tokens"), visual_tokens=visual,
            generated_tokens=usage.get("completion_tokens"), finish_reason=choice.get("finish_reason") or "stop",
            manifest={"served_model": answer.get("model", self.model), "request_body": _summary(body),
                      "visual_tokens_source": "predicted" if visual is not None else None},
            timings={"encode_s": round(encode_s, 4), "model_s": round(time.perf_counter() - began - encode_s, 4)},
        )

    # -- HTTP ------------------------------------------------------------------------------------------

    def post(self, path: str, body: dict | None) -> dict:
        """POST (or GET when ``body`` is None) with retries; returns the decoded JSON answer."""
        url = self.base_url + path
        data = None if body is None else json.dumps(body).encode()
        opts = self.options
        attempts, last = 0, None
        for attempt in range(opts.max_retries + 1):
            attempts += 1
            try:
                return self._once(url, data)
            except _Retry as exc:
                last = exc
                if attempt == opts.max_retries:
                    break
                wait = exc.retry_after if exc.retry_after is not None else opts.backoff * 2**attempt
                wait = min(opts.max_backoff, wait) * (0.5 + random.random() / 2 if exc.retry_after is None else 1)
                log.info("openai: %s (attempt %d of %d); retrying in %.2f s", exc.reason, attempts,
                            opts.max_retries + 1, wait)
                time.sleep(wait)
        tries = f"{attempts} attempt{'s' if attempts > 1 else ''}"
        raise last.error(f"{last.reason} ({tries})")

    def _once(self, url: str, data: bytes | None) -> dict:
        headers = {"Content-Type": "application/json", "Accept": "application/json", **self.options.headers}
        key = self.options.api_key or os.environ.get("OPENAI_API_KEY")
        if key:
            headers["Authorization"] = f"Bearer {key}"
        req = urllib.request.Request(url, data=data, headers=headers, method="GET" if data is None else "POST")
        deadline = time.monotonic() + self.options.timeout
        where = f"openai: {url}"
        try:
            with urllib.request.urlopen(req, timeout=self.options.timeout) as resp:
                raw = _read(resp, deadline)
        except urllib.error.HTTPError as exc:
            detail = _error_message(exc)
            reason = f"{where} answered HTTP {exc.code}: {detail}"
            if exc.code in RETRY_STATUS:
                raise _Retry(reason, ServerError, exc.code, _retry_after(exc)) from None
            raise ServerError(reason + _advice(exc.code), exc.code) from None
        except TimeoutError:  # socket.timeout is TimeoutError
            raise _Retry(f"{where} gave no answer within {self.options.timeout:g} s", ServerTimeoutError) from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise _Retry(f"{where} gave no answer within {self.options.timeout:g} s", ServerTimeoutError) from None
            if isinstance(exc.reason, ConnectionError) and not isinstance(exc.reason, ConnectionRefusedError):
                raise _Retry(f"{where}: the server closed the connection without answering", ServerError) from None
            raise _Retry(f"cannot reach {self.base_url} ({_reason(exc.reason)}): is the server running?",
                         ServerUnreachableError) from None
        except (HTTPException, ConnectionError) as exc:  # dropped mid-answer, bad status line
            raise _Retry(f"{where}: the server closed the connection without answering "
                         f"({type(exc).__name__})", ServerError) from None
        try:
            return json.loads(raw)
        except ValueError:
            raise BackendError(f"{where} answered with something that is not JSON: {raw[:120]!r}") from None

    def _only_model(self) -> str:
        listing = self.post("/models", None)
        names = [m.get("id") for m in listing.get("data", []) if isinstance(m, dict)]
        if len(names) == 1:
            return names[0]
        raise ModelURIError(f"openai:{self.target}: name the model after '#' "
                            f"(the server offers: {', '.join(map(str, names)) or 'none'})")


class _Retry(Exception):
    """A transient failure: ``error`` is the class raised when the retries run out."""

    def __init__(self, reason: str, error: type[ServerError], status: int | None = None,
                 retry_after: float | None = None):
        super().__init__(reason)
        self.reason, self.status, self.retry_after, self._error = reason, status, retry_after, error

    def error(self, message: str) -> ServerError:
        return self._error(message, self.status)


def _read(resp, deadline: float) -> bytes:
    """Read the body in pieces so a server that trickles bytes cannot outlast the timeout."""
    chunks = []
    while chunk := resp.read(65536):
        chunks.append(chunk)
        if time.monotonic() > deadline:
            raise TimeoutError("body too slow")
    return b"".join(chunks)


def _error_message(exc: urllib.error.HTTPError) -> str:
    try:
        raw = exc.read()
    except Exception:
        raw = b""
    try:
        payload = json.loads(raw)
        err = payload.get("error", payload) if isinstance(payload, dict) else payload
        message = err.get("message") if isinstance(err, dict) else err
        text = str(message or payload)
    except ValueError:
        text = raw.decode(errors="replace") or exc.reason or ""
    return " ".join(str(text).split())[:300] or "(no message)"


def _advice(code: int) -> str:
    if code in (401, 403):
        return " - check the API key (option api_key or $OPENAI_API_KEY)"
    if code == 404:
        return " - check that the base URL ends with /v1 and the model name after '#'"
    if code in (400, 413, 422):
        return " - the server refused the request; a text-only server cannot take frames (video_mode)"
    return ""


def _retry_after(exc: urllib.error.HTTPError) -> float | None:
    value = exc.headers.get("Retry-After") if exc.headers else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _reason(reason) -> str:
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, socket.gaierror):
        return "unknown host"
    return str(getattr(reason, "strerror", None) or reason)


def _video_url(source: str) -> str:
    if source.startswith(("http://", "https://", "data:", "file://")):
        return source
    mime = mimetypes.guess_type(source)[0] or "video/mp4"
    with open(source, "rb") as f:
        return f"data:{mime};base64,{base64.b64encode(f.read()).decode()}"


def _summary(body: dict) -> dict:
    """The request body for the manifest, with media replaced by their kind and size."""
    def part(p):
        if isinstance(p, dict) and p.get("type") in ("image_url", "video_url"):
            url = p[p["type"]]["url"]
            return {"type": p["type"], "url": url if not url.startswith("data:") else f"<data {len(url)} chars>"}
        return p

    messages = [{**m, "content": m["content"] if isinstance(m["content"], str) else [part(p) for p in m["content"]]}
                for m in body["messages"]]
    return {**body, "messages": messages}
