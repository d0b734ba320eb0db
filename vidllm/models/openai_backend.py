"""``openai:<base_url>#<model>``: any OpenAI-compatible chat server (vllm serve, SGLang,
Ollama, llama.cpp, hosted APIs).

Videos go as sampled frames (``image_url`` parts, each preceded by its true time in the text,
"Frame at 12.48s:"), or as one ``video_url`` when the server decodes video itself
(``video_mode="video_url"``: vLLM, SGLang). Requests run concurrently with a bounded number in
flight; transient failures (connection refused or dropped, timeouts, HTTP 408/429/5xx) are
retried with exponential backoff and jitter (tenacity), or after the server's Retry-After;
every failure ends in one typed, one-line error. ``stream=True`` (or ``generate_stream``)
receives the answer as server-sent events, token by token.

>>> model = load_model("openai:http://127.0.0.1:8000/v1#Qwen/Qwen2.5-VL-7B-Instruct",
...                    profile="qwen2.5-vl", max_concurrency=8)  # doctest: +SKIP

HTTP goes through the official ``openai`` SDK (httpx underneath): ``pip install 'vidllm[openai]'``.
"""

from __future__ import annotations

import base64
import io
import logging
import mimetypes
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Literal

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

try:
    import openai
    import tenacity
except ImportError:  # check_available() says which extra to install
    openai = tenacity = None

if TYPE_CHECKING:
    from vidllm.models.request import Response

log = logging.getLogger(__name__)

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}






class OpenAIOptions(BackendOptions):
    batch_size: int = Field(64, ge=1, le=100000, description="Requests prepared (frames sampled) at a time.")
    api_key: str | None = Field(None, exclude=True, description="Bearer key; default: $OPENAI_API_KEY.")
    video_mode: Literal["frames", "video_url"] = Field(
        "frames", description="frames: sampled frames as images; video_url: the file, for servers that decode video.")
    max_concurrency: int = Field(4, ge=1, le=1024, description="Requests in flight at once.")
    max_retries: int = Field(3, ge=0, le=20, description="Retries of a transient failure.")
    stream: bool = Field(False, description="Receive answers as server-sent events (a server that only streams).")
    timeout: float = Field(120.0, gt=0, description="Seconds one attempt may take.")
    backoff: float = Field(1.0, ge=0, description="Seconds before the first retry; doubles each time.")
    max_backoff: float = Field(30.0, ge=0, description="Longest wait between retries.")
    max_pixels: int | None = Field(448 * 448, ge=64, description="Pixels per frame sent (aspect kept).")
    image_format: Literal["jpeg", "png"] = Field("jpeg", description="Encoding of frames and image arrays.")
    jpeg_quality: int = Field(85, ge=10, le=100, description="JPEG quality of frames.")
    profile: str | None = Field(None, description="The served model's family in vidllm.budget.PROFILES "
                                                  "(e.g. qwen2.5-vl): plans frames to a token budget.")
    sampling_kwargs: bool = Field(False, description="video_url mode: send the spec's fps and frame count as "
                                                     "vLLM reads them (mm_processor_kwargs.fps, "
                                                     "media_io_kwargs.video.num_frames/fps).")
    extra_body: dict = Field(default_factory=dict, description="Fields merged into every request body.")
    headers: dict[str, str] = Field(default_factory=dict, description="Extra HTTP headers.")


class OpenAIBackend(Backend):
    scheme = "openai"
    description = "any OpenAI-compatible chat server (vllm serve, SGLang, Ollama, llama.cpp, hosted APIs)"
    requires = ("openai", "tenacity")
    install = "pip install 'vidllm[openai]'"
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
        key = self.options.api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY"  # vLLM's word for none
        # retries are tenacity's (_call), so that every failure can say how many attempts it took
        self.client = openai.OpenAI(base_url=self.base_url, api_key=key, max_retries=0, timeout=self.options.timeout,
                                    default_headers=self.options.headers or None)
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
                if self.options.sampling_kwargs:  # vLLM's names: the processor's rate, the loader's frames
                    spec = part.spec
                    if spec.fps:
                        extra.setdefault("mm_processor_kwargs", {})["fps"] = spec.fps
                    frames = spec.nframes or (spec.max_frames if spec.fps else None)
                    if frames:
                        video_io = {"num_frames": frames, **({"fps": spec.fps} if spec.fps else {})}
                        extra.setdefault("media_io_kwargs", {})["video"] = video_io
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

    def _one(self, prepared: PreparedRequest, on_text=None) -> Output:
        began = time.perf_counter()
        body = self.body(prepared)
        encode_s = time.perf_counter() - began
        with self._in_flight:
            if on_text is not None or self.options.stream:
                text, finish, usage, served = self._streamed(body, on_text)
            else:
                text, finish, usage, served = self._answered(body)
        predicted = [pv.predicted_tokens for pv in prepared.videos]
        visual = sum(predicted) if self.profile is not None and predicted and None not in predicted else None
        return Output(
            text=text.strip(), prompt_tokens=usage.get("prompt_tokens"), visual_tokens=visual,
            generated_tokens=usage.get("completion_tokens"), finish_reason=finish or "stop",
            manifest={"served_model": served or self.model, "request_body": _summary(body),
                      "visual_tokens_source": "predicted" if visual is not None else None},
            timings={"encode_s": round(encode_s, 4), "model_s": round(time.perf_counter() - began - encode_s, 4)},
        )

    def generate_stream(self, request, on_text) -> "Response":
        """Answer one request, calling ``on_text(delta)`` as the server streams tokens; the
        ``Response`` is the same as ``generate`` gives (the server uses this for ``stream=true``)."""
        prepared = self.prepare(request)
        with self._slots:
            began = time.perf_counter()
            out = self._one(prepared, on_text)
            elapsed = time.perf_counter() - began
        return self._response(prepared, out, elapsed, 1)

    # -- HTTP, through the official SDK; retries by tenacity ------------------------------------------

    def _answered(self, body: dict):
        answer = self._call(lambda: self.client.chat.completions.create(**_sdk_arguments(body)))
        try:
            choice = answer.choices[0]
            return choice.message.content or "", choice.finish_reason, _usage(answer.usage), answer.model
        except (AttributeError, IndexError, TypeError):
            raise BackendError(f"openai: {self.base_url} sent an answer with no choices: "
                               f"{str(answer)[:200]}") from None

    def _streamed(self, body: dict, on_text):
        """Server-sent events; a failure before the first token is retried, one after it is not
        (the caller has already shown part of the answer)."""
        state = {"text": [], "finish": None, "usage": {}, "model": None}

        def once():
            chunks = self.client.chat.completions.create(**_sdk_arguments(body), stream=True,
                                                         stream_options={"include_usage": True})
            with chunks:
                for chunk in chunks:
                    state["model"] = chunk.model or state["model"]
                    if chunk.usage is not None:
                        state["usage"] = _usage(chunk.usage)
                    for choice in chunk.choices or ():
                        delta = choice.delta.content if choice.delta else None
                        if delta:
                            state["text"].append(delta)
                            if on_text is not None:
                                on_text(delta)
                        state["finish"] = choice.finish_reason or state["finish"]

        self._call(once, retry_while=lambda: not state["text"])
        return "".join(state["text"]), state["finish"], state["usage"], state["model"]

    def _call(self, fn, retry_while=lambda: True):
        """``fn()`` with retries of transient failures (connection refused or dropped, timeouts,
        HTTP 408/409/425/429/5xx), exponential backoff with jitter or the server's Retry-After;
        every failure ends in one typed, one-line error naming the attempts made."""
        opts = self.options
        jitter = tenacity.wait_exponential_jitter(multiplier=opts.backoff, max=opts.max_backoff, jitter=opts.backoff)

        def wait(state: tenacity.RetryCallState) -> float:
            after = _retry_after(state.outcome.exception())
            return min(after, opts.max_backoff) if after is not None else jitter(state)

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(opts.max_retries + 1), wait=wait, reraise=True,
            retry=tenacity.retry_if_exception(lambda exc: _transient(exc) and retry_while()),
            before_sleep=lambda state: log.info("openai: %s (attempt %d of %d); retrying",
                                                self._reason(state.outcome.exception()), state.attempt_number,
                                                opts.max_retries + 1))
        try:
            return retrying(fn)
        except openai.OpenAIError as exc:
            attempts = retrying.statistics.get("attempt_number", 1)
            tries = f"{attempts} attempt{'s' if attempts > 1 else ''}"
            status = getattr(exc, "status_code", None)
            message = f"{self._reason(exc)} ({tries})"
            if isinstance(exc, openai.APIStatusError) and not _transient(exc):
                message += _advice(status)
            if isinstance(exc, openai.APITimeoutError):
                raise ServerTimeoutError(message) from None
            if isinstance(exc, openai.APIConnectionError) and _unreachable(exc):
                raise ServerUnreachableError(message) from None
            raise ServerError(message, status) from None

    def _reason(self, exc: BaseException) -> str:
        where = f"openai: {self.base_url}"
        if isinstance(exc, openai.APITimeoutError):
            return f"{where} gave no answer within {self.options.timeout:g} s"
        if isinstance(exc, openai.APIConnectionError):
            why = _unreachable(exc)
            if why:
                return f"cannot reach {self.base_url} ({why}): is the server running?"
            return f"{where}: the server closed the connection without answering"
        if isinstance(exc, openai.APIStatusError):
            return f"{where} answered HTTP {exc.status_code}: {_error_message(exc)}"
        return f"{where}: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}"

    def _only_model(self) -> str:
        listing = self._call(lambda: self.client.models.list())
        names = [m.id for m in listing.data]
        if len(names) == 1:
            return names[0]
        raise ModelURIError(f"openai:{self.target}: name the model after '#' "
                            f"(the server offers: {', '.join(map(str, names)) or 'none'})")

    def close(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            client.close()


_SDK_FIELDS = ("model", "messages", "max_tokens", "temperature", "seed", "stop")


def _sdk_arguments(body: dict) -> dict:
    """The body as the SDK's keyword arguments; fields it does not name go as ``extra_body``."""
    known = {k: body[k] for k in _SDK_FIELDS if k in body}
    extra = {k: v for k, v in body.items() if k not in _SDK_FIELDS}
    return {**known, "extra_body": extra} if extra else known


def _usage(usage) -> dict:
    if usage is None:
        return {}
    return {"prompt_tokens": getattr(usage, "prompt_tokens", None),
            "completion_tokens": getattr(usage, "completion_tokens", None)}


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, openai.APIConnectionError):  # timeouts included
        return True
    return isinstance(exc, openai.APIStatusError) and exc.status_code in RETRY_STATUS


def _unreachable(exc: BaseException) -> str | None:
    """Why no connection could be made ("connection refused", "unknown host"), or None when
    one was made and then dropped."""
    chain, cause = [], exc.__cause__ or exc.__context__
    while cause is not None and cause not in chain:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    if any(isinstance(c, ConnectionRefusedError) or "refused" in str(c).lower() for c in chain):
        return "connection refused"
    if any(isinstance(c, socket.gaierror) for c in chain):
        return "unknown host"
    connect = [c for c in chain if type(c).__name__ == "ConnectError"]
    return (" ".join(str(connect[0]).split())[:120] or "cannot connect") if connect else None


def _error_message(exc: "openai.APIStatusError") -> str:
    body = exc.body
    if isinstance(body, dict):
        err = body.get("error", body)
        text = err.get("message") if isinstance(err, dict) else err
        text = str(text or body)
    else:
        try:
            text = exc.response.text
        except Exception:  # noqa: BLE001 - a streamed response already closed
            text = str(body or "")
    return " ".join(str(text).split())[:300] or "(no message)"


def _advice(code: int | None) -> str:
    if code in (401, 403):
        return " - check the API key (option api_key or $OPENAI_API_KEY)"
    if code == 404:
        return " - check that the base URL ends with /v1 and the model name after '#'"
    if code in (400, 413, 422):
        return " - the server refused the request; a text-only server cannot take frames (video_mode)"
    return ""


def _retry_after(exc: BaseException | None) -> float | None:
    response = getattr(exc, "response", None)
    value = response.headers.get("Retry-After") if response is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


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
