"""The ASGI application: one loaded model behind OpenAI's chat-completion API, with video input.

=============================  ==========================================================
``POST /v1/chat/completions``  plain, or ``stream: true`` as server-sent events (OpenAI chunks)
``GET  /v1/models[/{id}]``     the served model (``id``, ``created``, ``owned_by``)
``POST /v1/uploads``           a media file as the raw body -> ``{"id": "file-..."}``, usable as
                               ``{"type": "file", "file": {"file_id": ...}}``
``GET  /v1/uploads/{id}``      the file (range requests: a <video> can seek); ``/frame?t=S``
                               one frame as JPEG (the page's evidence thumbnails)
``GET  /health``, ``GET /``    liveness; the web page (``static/``)
=============================  ==========================================================

Every error is OpenAI's ``{"error": {"message", "type", "param", "code"}}`` with its status:
400 a malformed or wrongly typed body (named field), 401 a wrong key, 403 media from a place
the server does not allow, 404 an unknown model or path (the body is read, so the connection
stays usable), 408 a body that stops arriving, 413 too large, 429 the queue is full, 502 an
upstream server failed, 504 the request took longer than ``request_timeout``.

>>> app = create_app(ServeConfig(model="timeline"), model)   # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import time
from dataclasses import asdict
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from sse_starlette.sse import EventSourceResponse
from starlette.exceptions import HTTPException

from vidllm.db import cache_dir
from vidllm.errors import (
    MediaForbiddenError,
    MediaTooLargeError,
    OptionError,
    RequestError,
    ServerError,
    ServerTimeoutError,
    SpecError,
    UnsupportedInputError,
    VidllmError,
)
from vidllm.serve import openai_api
from vidllm.serve.config import ServeConfig
from vidllm.serve.guard import BodyTimeout, BodyTooLarge, Guard, error_body
from vidllm.serve.jobs import Runner
from vidllm.serve.media import MediaPolicy
from vidllm.serve.schema import ChatCompletionRequest, describe_errors
from vidllm.serve.streams import StreamSessions, stream_router
from vidllm.serve.uploads import UploadStore

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
KINDS = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
         404: "not_found_error", 405: "invalid_request_error", 408: "timeout_error", 413: "invalid_request_error",
         429: "rate_limit_error", 500: "server_error", 502: "upstream_error", 503: "server_error",
         504: "timeout_error"}


def error(status: int, message: str, param: str | None = None, headers: dict | None = None) -> Response:
    return Response(error_body(status, message, KINDS.get(status, "server_error"), param), status,
                    headers=headers, media_type="application/json")


def status_of(exc: BaseException) -> int:
    if isinstance(exc, MediaForbiddenError):
        return 403
    if isinstance(exc, MediaTooLargeError):
        return 413
    if isinstance(exc, (RequestError, SpecError, OptionError, UnsupportedInputError)):
        return 400
    if isinstance(exc, ServerTimeoutError):
        return 504
    if isinstance(exc, ServerError):
        return 502
    return 500


class Scrubber:
    """Server paths out of messages sent to clients (temporary folders, the cache, the cwd)."""

    def __init__(self, *folders):
        self.folders = [str(f) for f in folders if f]

    def paths(self, text: str) -> str:
        for folder in sorted({str(cache_dir()), *self.folders}, key=len, reverse=True):
            if len(folder) > 1:  # "/" (--allow-local-files, a server started in /) hides nothing
                text = text.replace(folder, "<server>")
        return text

    def __call__(self, text: str) -> str:
        return " ".join(self.paths(text).split())[:1000]


def create_app(config: ServeConfig, model) -> FastAPI:
    """The application serving the loaded backend ``model`` under ``config.served_name``."""
    started = int(time.time())
    uploads = UploadStore(config.max_upload_bytes, config.max_uploads_total_bytes)
    policy = MediaPolicy(allowed_folder=config.allowed_local_media_path, allow_remote=config.allow_remote_media,
                         max_bytes=config.max_upload_bytes, max_source_pixels=config.max_source_pixels,
                         uploads=uploads)
    runner = Runner(model.concurrency, config.max_queue)
    scrub = Scrubber(config.allowed_local_media_path, os.getcwd())
    name = config.served_name

    app = FastAPI(title="vidllm", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.config, app.state.model, app.state.runner = config, model, runner
    app.add_middleware(Guard, config=config)
    # outermost: a browser's preflight is answered before the key or the body is looked at
    app.add_middleware(CORSMiddleware, allow_origins=list(config.cors_origins), allow_methods=["*"],
                       allow_headers=["*"])
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    def failure(exc: BaseException) -> Response:
        status = status_of(exc)
        if status == 500:
            log.error("request failed: %s: %s", type(exc).__name__, exc, exc_info=not isinstance(exc, VidllmError))
            text = str(exc) if isinstance(exc, VidllmError) else f"the server failed ({type(exc).__name__})"
        else:
            text = str(exc)
        return error(status, scrub(text))

    # -- errors raised outside the routes' own handling ------------------------------------------

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        await _drain(request)
        return error(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        message, param = describe_errors(exc.errors())
        return error(400, message, param)

    @app.exception_handler(BodyTooLarge)
    async def too_large(request: Request, exc: BodyTooLarge):
        return error(413, str(exc), headers={"Connection": "close"})

    @app.exception_handler(BodyTimeout)
    async def body_timeout(request: Request, exc: BodyTimeout):
        return error(408, str(exc), headers={"Connection": "close"})

    # -- routes -----------------------------------------------------------------------------------

    @app.get("/health")
    async def health():
        return {"status": "ok", "model": name, "active": runner.active, "capacity": runner.capacity,
                "api_key_required": bool(config.api_key)}

    @app.get("/")
    async def page():
        return FileResponse(STATIC / "index.html")

    def model_card() -> dict:
        return {"id": name, "object": "model", "created": started, "owned_by": "vidllm", "root": config.model,
                "parent": None}

    @app.get("/v1/models")
    async def models():
        return {"object": "list", "data": [model_card()]}

    @app.get("/v1/models/{model_id:path}")
    async def one_model(model_id: str):
        if model_id != name:
            return error(404, f"The model `{model_id[:200]}` does not exist (this server offers `{name}`).", "model")
        return model_card()

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        raw = await request.body()
        try:
            body = ChatCompletionRequest.model_validate_json(raw)
        except ValidationError as exc:
            message, param = describe_errors(exc)
            return error(400, message, param)
        if body.model != name:
            return error(404, f"The model `{body.model[:200]}` does not exist (this server offers `{name}`).",
                         "model")
        job = runner.admit()
        if job is None:
            return error(429, f"the server is busy ({runner.capacity} requests running or queued); retry shortly",
                         headers={"Retry-After": "1"})
        deadline = time.monotonic() + config.request_timeout
        streaming = False
        try:
            try:
                req = await job.run(prepare, body, job.work, timeout=config.request_timeout)
            except asyncio.TimeoutError:
                return error(504, f"preparing the request took longer than {config.request_timeout:g} s")
            except Exception as exc:  # noqa: BLE001 - every failure becomes an OpenAI error
                return failure(exc)
            if body.stream:
                streaming = True
                return EventSourceResponse(stream(job, body, req, deadline), ping=10, sep="\n",
                                           headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
            try:
                response, evidence = await job.run(produce, req, None, timeout=deadline - time.monotonic())
            except asyncio.TimeoutError:
                return error(504, f"the model took longer than {config.request_timeout:g} s")
            except Exception as exc:  # noqa: BLE001
                return failure(exc)
            completion = openai_api.to_completion(response, name, evidence)
            return Response(scrub.paths(json.dumps(completion, default=str)), media_type="application/json")
        finally:
            if not streaming:
                job.finish()

    def prepare(body: ChatCompletionRequest, work):
        request, asked = openai_api.to_request(body, config, policy, work)
        for fields in asked:
            model.check_sampling(fields)
        return request

    def produce(req, emit):
        if emit is not None and callable(getattr(model, "generate_stream", None)):
            response = model.generate_stream(req, emit)
        else:
            [response] = model.generate([req])
        return response, evidence_of(req, response)

    async def stream(job, body: ChatCompletionRequest, req, deadline: float):
        chunk_id, created = openai_api.completion_id(), int(time.time())
        loop, deltas = asyncio.get_running_loop(), asyncio.Queue()

        def emit(text: str) -> None:  # called from the worker thread as tokens arrive
            loop.call_soon_threadsafe(deltas.put_nowait, text)

        def event(delta: dict, finish=None, **extra) -> str:
            return json.dumps(openai_api.chunk(chunk_id, created, name, delta, finish, **extra), default=str)

        try:
            yield event({"role": "assistant", "content": ""})
            work = job.start(produce, req, emit)
            sent = ""
            while True:
                getter = asyncio.ensure_future(deltas.get())
                done, _ = await asyncio.wait({getter, work}, timeout=max(0.001, deadline - time.monotonic()),
                                             return_when=asyncio.FIRST_COMPLETED)
                if getter in done:
                    text = getter.result()
                    sent += text
                    yield event({"content": text})
                    continue
                getter.cancel()
                if work in done:
                    break
                yield json.dumps({"error": {"message": f"the model took longer than {config.request_timeout:g} s",
                                            "type": "timeout_error", "param": None, "code": 504}})
                return
            try:
                response, evidence = work.result()
            except Exception as exc:  # noqa: BLE001 - the stream has begun: the error is an event
                failed = json.loads(failure(exc).body)
                yield json.dumps(failed)
                return
            while not deltas.empty():  # tokens emitted just before the end
                text = deltas.get_nowait()
                sent += text
                yield event({"content": text})
            rest = response.text[len(sent):] if response.text.startswith(sent) else ("" if sent else response.text)
            for piece in _pieces(rest):
                yield event({"content": piece})
            yield scrub.paths(event({}, response.finish_reason,
                                    vidllm=openai_api.vidllm_extension(response, evidence)))
            if body.stream_options and body.stream_options.include_usage:
                usage = openai_api.chunk(chunk_id, created, name, {}, None, usage=openai_api.usage_of(response))
                usage["choices"] = []
                yield json.dumps(usage)
            yield "[DONE]"
        finally:
            job.finish()

    def evidence_of(req, response) -> list[dict]:
        from vidllm.tasks.ask import answer_from_response

        try:
            answer = answer_from_response(openai_api.question_of(req), [], response)
        except Exception:  # noqa: BLE001 - evidence is extra: an answer without it is still an answer
            log.warning("no evidence for the answer", exc_info=True)
            return []
        return [asdict(e) for e in answer.evidence]

    # -- uploads (the page's videos) -------------------------------------------------------------

    @app.post("/v1/uploads")
    async def upload(request: Request, filename: str | None = None):
        try:
            upload_id = await uploads.save(request.stream(), filename, request.headers.get("content-type"))
        except (BodyTooLarge, BodyTimeout):
            raise
        except VidllmError as exc:
            return failure(exc)
        path = uploads.path(upload_id)
        return {"id": upload_id, "object": "file", "bytes": path.stat().st_size, "created_at": int(time.time()),
                "filename": filename, "url": f"/v1/uploads/{upload_id}"}

    @app.get("/v1/uploads/{upload_id}")
    async def uploaded(upload_id: str):
        try:
            return FileResponse(uploads.path(upload_id))
        except VidllmError as exc:
            return error(404, str(exc))

    @app.get("/v1/uploads/{upload_id}/frame")
    async def frame(upload_id: str, t: float = 0.0, width: int = 160):
        try:
            path = uploads.path(upload_id)
        except VidllmError as exc:
            return error(404, str(exc))
        job = runner.admit()
        if job is None:
            return error(429, "the server is busy; retry shortly", headers={"Retry-After": "1"})
        try:
            data = await job.run(_thumbnail, path, t, min(max(width, 16), 640), timeout=config.request_timeout)
        except asyncio.TimeoutError:
            return error(504, "the frame took too long")
        except Exception as exc:  # noqa: BLE001
            return failure(exc)
        finally:
            job.finish()
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "max-age=3600"})

    # -- live-stream sessions (streams.py): routes before the catch-all below ----------------------

    app.state.streams = StreamSessions(config, model, policy)
    app.include_router(stream_router(app.state.streams))

    # -- anything else: a JSON 404 after reading the body ------------------------------------------

    @app.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"], include_in_schema=False)
    async def unknown(request: Request, rest: str):
        await _drain(request)
        return error(404, f"no such endpoint: {request.method} /{rest[:200]}")

    return app


async def _drain(request: Request) -> None:
    """Read what is left of the body, so the connection can carry the client's next request."""
    try:
        async for _ in request.stream():
            pass
    except Exception:  # noqa: BLE001 - already read, too large or too slow: the guard answers those
        pass


def _pieces(text: str, size: int = 16):
    """A finished reply as stream deltas (a backend that cannot stream tokens)."""
    words = text.split(" ")
    piece = ""
    for i, word in enumerate(words):
        piece += word + (" " if i < len(words) - 1 else "")
        if len(piece) >= size:
            yield piece
            piece = ""
    if piece:
        yield piece


def _thumbnail(path: Path, t: float, width: int) -> bytes:
    from PIL import Image as PILImage

    from vidllm.video.sample import probe, sample_frames
    from vidllm.video.spec import SamplingSpec

    info = probe(path)
    start = min(max(0.0, t), max(0.0, info.duration - 1e-3))
    frames = sample_frames(path, SamplingSpec(nframes=1, start=start, end=start + 0.5, max_pixels=width * width),
                           cache=False)
    buf = io.BytesIO()
    PILImage.fromarray(frames.data[0]).save(buf, "JPEG", quality=80)
    return buf.getvalue()
