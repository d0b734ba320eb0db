"""Live-stream sessions over HTTP: a ``StreamSession`` on a source, questions posted at any moment,
answers as server-sent events.

==========================================  ===================================================
``POST   /v1/streams``                      ``{"source", "model"?, "checks_only"?, "fps"?,
                                            "realtime"?, "follow"?, "tools"?, "questions"?}``
                                            -> the session (``id``, ``state``, question ids...)
``GET    /v1/streams[/{id}]``               the open sessions / one session's state
``POST   /v1/streams/{id}/questions``       ``{"question", "mode": "ask"|"watch", "at"?}`` -> ``{"id"}``
``DELETE /v1/streams/{id}/questions/{qid}`` cancel a watch (a ``cancelled`` event)
``GET    /v1/streams/{id}/events``          server-sent events, JSON data, numbered (``id:``) so a
                                            client resumes with ``Last-Event-ID`` or ``?after=N``
``DELETE /v1/streams/{id}``                 stop the source and free the session (an ``end`` event)
==========================================  ===================================================

Events (SSE ``event:`` name = the data's ``type``): ``status`` (``state`` starting | running |
finished | failed, stream time, frames, drops, lag); ``answer`` (``StreamEvent.to_dict()``:
``question_id``, ``answer``, ``stream_time``, ``evidence_time``, ``delay``, ``decided_by``,
``evidence``); ``cancelled``; ``ended`` (a watch still open when the source ended); ``error`` (a
question that failed); ``missed`` (older events than the kept history were asked for); ``end``
(the session is closed: the last event, then the response ends).

A source obeys the server's media policy (``media.py``): a path or ``file://`` only inside
``--allowed-local-media-path`` (symlinks resolved), an upload id (``file-...``), or a network stream
(rtsp, rtmp, http(s)/HLS, udp, tcp, srt) only with ``--allow-remote-media`` and only to a host whose
every address is public. Capture devices are never opened. A file is replayed at real speed unless
``"realtime": false`` (then as fast as it decodes; questions given at creation are then the way to
watch from the first frame). A session keeps answering asks from memory for ``stream_keep`` seconds
after its source ends, then it is freed; ``max_streams`` sessions at once (429 beyond). Sessions are
closed when the server's event loop ends (``vidllm serve`` stopped, ``ServerThread.close()``).

Threads: each session has one feeding thread (the source's frames into the session, scheduled asks)
and one question thread (watches registered, asks answered, in the order posted); a lock keeps
one of them at a time inside the ``StreamSession``. The served model is lent to the sessions (its
backend bounds concurrent generations); ``"checks_only": true`` runs no model at all.

>>> sessions = StreamSessions(config, model, policy)   # doctest: +SKIP
>>> app.include_router(stream_router(sessions))        # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import math
import threading
import time
import uuid
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Literal
from urllib.parse import unquote, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sse_starlette.sse import EventSourceResponse, ServerSentEvent

from vidllm.errors import (
    MediaForbiddenError,
    MediaTooLargeError,
    RequestError,
    SessionEndedError,
    SessionLimitError,
    StreamError,
    VidllmError,
)
from vidllm.serve.config import ServeConfig
from vidllm.serve.guard import error_body
from vidllm.serve.media import MediaPolicy, public_address
from vidllm.serve.schema import describe_errors
from vidllm.tasks.stream import STREAM_TOOLS, StreamEvent, StreamSession
from vidllm.video.live import DEFAULT_MAX_PIXELS, NETWORK_SCHEMES, LiveSource

log = logging.getLogger(__name__)

STATUS_EVERY = 2.0  # seconds (wall clock) between status events while a source plays
HISTORY = 1000  # events kept per session for late or resuming readers
DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "rtmp": 1935, "rtmps": 443, "http": 80, "https": 443}
PINNED = ("udp", "tcp", "srt", "rtp")  # plain transports: FFmpeg is given the checked address, not the name
KINDS = {400: "invalid_request_error", 403: "permission_error", 404: "not_found_error", 409: "invalid_request_error",
         413: "invalid_request_error", 429: "rate_limit_error", 500: "server_error"}


# -- request bodies ------------------------------------------------------------------------------

class _Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class StreamQuestion(_Body):
    question: str = Field(min_length=1, max_length=2000)
    mode: Literal["ask", "watch"] = "ask"
    at: float | None = Field(None, ge=0, description="An ask: the stream time to answer at (default: now, or the "
                                                      "first frame).")


class StreamCreate(_Body):
    source: str = Field(min_length=1, max_length=4096)
    model: str | None = Field(None, min_length=1, description="The served model's name (the only one offered).")
    checks_only: bool = Field(False, description="Deterministic checks only (text, counting, presence): no model.")
    fps: float | None = Field(None, gt=0, description="Frames a second the session perceives (default 2).")
    realtime: bool = Field(True, description="A file: replay it at real speed (else as fast as it decodes).")
    follow: bool = Field(False, description="A file still being written: read it as it grows.")
    tools: list[Literal["tags", "ocr"]] | None = Field(None, description="Per-frame perception (default: all).")
    questions: list[StreamQuestion] = Field(default_factory=list, description="Asked or watched from the first "
                                                                               "frame.")


def problem(status: int, message: str, param: str | None = None, headers: dict | None = None) -> Response:
    """The server's one-line OpenAI error object."""
    return Response(error_body(status, message, KINDS.get(status, "server_error"), param), status, headers=headers,
                    media_type="application/json")


def status_of(exc: BaseException) -> int:
    if isinstance(exc, MediaForbiddenError):
        return 403
    if isinstance(exc, MediaTooLargeError):
        return 413
    if isinstance(exc, SessionLimitError):
        return 429
    if isinstance(exc, SessionEndedError):
        return 409
    return 400 if isinstance(exc, VidllmError) else 500


# -- events ----------------------------------------------------------------------------------------

class EventLog:
    """One session's events, numbered from 1, the last ``size`` kept. Any thread publishes; readers
    on the event loop wait for new ones (``follow``)."""

    def __init__(self, size: int = HISTORY):
        self._events: deque = deque(maxlen=size)
        self._lock = threading.Lock()
        self._next = 1
        self._waiters: set = set()  # (loop, asyncio.Event) of each reader
        self.closed = False

    def publish(self, kind: str, data: dict, final: bool = False) -> None:
        with self._lock:
            if self.closed:
                return
            seq, self._next = self._next, self._next + 1
            self._events.append((seq, kind, _finite({"type": kind, **data})))
            self.closed = final
            waiters = list(self._waiters)
        for loop, wake in waiters:
            try:
                loop.call_soon_threadsafe(wake.set)
            except RuntimeError:  # that reader's loop has ended
                pass

    def after(self, seq: int) -> tuple[list, int, bool]:
        """(events after ``seq``, how many of those are no longer kept, closed)."""
        with self._lock:
            first = self._events[0][0] if self._events else self._next
            return [e for e in self._events if e[0] > seq], max(0, first - 1 - seq), self.closed

    async def follow(self, after: int = 0):
        """``(seq, kind, data)`` after ``after``, then each new one as it comes, until the final event."""
        wake = asyncio.Event()
        waiter = (asyncio.get_running_loop(), wake)
        with self._lock:
            self._waiters.add(waiter)
        try:
            while True:
                wake.clear()  # before reading: a publish after the read sets it again
                events, missed, closed = self.after(after)
                if missed:
                    yield after + missed, "missed", {"type": "missed", "count": missed}
                for event in events:
                    yield event
                    after = event[0]
                if closed and not events:
                    return
                if not events:
                    await wake.wait()
        finally:
            with self._lock:
                self._waiters.discard(waiter)


def _finite(value):
    """JSON without NaN or infinities (a question asked before the first frame has no stream time)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


# -- one session -----------------------------------------------------------------------------------

class LentModel:
    """The server's loaded model lent to a session as its pool: ``get`` returns it whatever the URI,
    and the session, which does not own this pool, never closes it."""

    def __init__(self, model):
        self.model = model

    def get(self, uri: str, **options):
        return self.model


class ServedStream:
    """A ``StreamSession`` fed from a ``LiveSource`` by its own thread, with client question ids."""

    def __init__(self, stream_id: str, label: str, uri: str, body: StreamCreate, *, model, model_name: str | None,
                 config: ServeConfig):
        """``model_name``: the served model's name, or None for the deterministic checks only."""
        self.id, self.label, self.uri, self.model_name = stream_id, label, uri, model_name
        self.created = int(time.time())
        self.fps = body.fps or 2.0
        self.tools = tuple(dict.fromkeys(body.tools)) if body.tools is not None else STREAM_TOOLS
        self.source = LiveSource(uri, fps=self.fps, max_pixels=min(config.max_pixels, DEFAULT_MAX_PIXELS),
                                 realtime=body.realtime, follow=body.follow)
        # a live source's clock runs on while the session computes: delays include that time
        self.session = StreamSession(config.model if model_name else None, pool=LentModel(model), tools=self.tools,
                                     clock=self.source.clock if self.source.drops else None)
        self.state, self.error = "starting", ""
        self.log = EventLog()
        self.finished_at: float | None = None
        self.last_activity = time.monotonic()
        self._lock = threading.Lock()  # one thread at a time inside the session
        self._stop = threading.Event()
        self._feeding = True  # the feeding thread still takes scheduled asks
        self._ids = itertools.count(1)
        self._client_id: dict[str, str] = {}  # the session's question id -> the id the client knows
        self._session_id: dict[str, str] = {}  # a client's watch id -> the session's
        self._scheduled: list[tuple[float, str, str]] = []  # asks waiting for their stream time
        self._questions = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"vidllm-stream-q {stream_id}")
        self._thread = threading.Thread(target=self._feed, name=f"vidllm-stream {stream_id}", daemon=True)
        self.initial = [self._register(q) for q in body.questions]  # before the first frame

    def start(self) -> None:
        self._thread.start()

    @property
    def alive(self) -> bool:
        """The feeding thread still runs (the source plays)."""
        return self._thread.is_alive()

    # -- questions (called from the question thread, or before the start) --------------------------

    def next_id(self) -> str:
        return f"q{next(self._ids)}"

    @property
    def open_questions(self) -> int:
        return len(self.session.questions) + len(self._scheduled)

    def post(self, question: StreamQuestion, qid: str) -> asyncio.Future:
        """Take ``question`` under the client id ``qid`` on the question thread; the future is done
        once it is registered (a watch) or answered (an ask)."""
        self.last_activity = time.monotonic()
        return asyncio.wrap_future(self._questions.submit(self._take, question, qid))

    def cancel(self, qid: str) -> asyncio.Future:
        self.last_activity = time.monotonic()
        return asyncio.wrap_future(self._questions.submit(self._cancel, qid))

    def _take(self, question: StreamQuestion, qid: str) -> str:
        try:
            return self._register(question, qid)
        except Exception as exc:
            if question.mode == "watch" or isinstance(exc, SessionEndedError):
                raise  # the client waits for a watch's registration: its failure is the reply
            # an ask nobody waits for: its failure is an event
            log.warning("stream %s: question %s failed", self.id, qid, exc_info=not isinstance(exc, VidllmError))
            text = str(exc) if isinstance(exc, VidllmError) else f"the question failed ({type(exc).__name__})"
            self.log.publish("error", {"question_id": qid, "message": self.scrub(text)})
            raise

    def _register(self, question: StreamQuestion, qid: str | None = None) -> str:
        qid = qid or self.next_id()
        events = []
        with self._lock:
            if self._stop.is_set():
                raise SessionEndedError(f"stream {self.id} is closed")
            now = self.session.now
            if question.mode == "watch":
                if not self._feeding:
                    raise SessionEndedError(f"the source of stream {self.id} has ended: a watch would never be answered "
                                     "(ask instead)")
                sid = self.session.watch(question.question)
                self._client_id[sid], self._session_id[qid] = qid, sid
            elif self._feeding and (not self.session.frames_seen or (question.at is not None and question.at > now)):
                self._scheduled.append((question.at or 0.0, qid, question.question))
            else:
                events = [self._ask(qid, question.question)]
        self._say(events)
        return qid

    def _cancel(self, qid: str) -> None:
        with self._lock:
            sid = self._session_id.pop(qid, None)
            if sid is None or sid not in self.session.questions:
                raise SessionEndedError(f"no open watch {qid[:40]!r} in stream {self.id}")
            event = self.session.cancel(sid)
        self._say([event])

    def _ask(self, qid: str, text: str) -> StreamEvent:
        """Answer now (the session lock held)."""
        event = self.session.ask(text)
        self._client_id[event.question_id] = qid
        return event

    def _due(self, until: float) -> list[StreamEvent]:
        """Scheduled asks whose time has come (the session lock held)."""
        due = sorted((item for item in self._scheduled if item[0] <= until), key=lambda item: item[0])
        self._scheduled = [item for item in self._scheduled if item[0] > until]
        return [self._ask(qid, text) for _, qid, text in due]

    def _say(self, events: list[StreamEvent]) -> None:
        for event in events:
            data = event.to_dict()
            # a watch may answer again (a counter); an ask's answer, a cancel or the end close the question
            again = event.kind == "answer" and event.mode == "watch"
            data["question_id"] = (self._client_id.get if again else self._client_id.pop)(event.question_id,
                                                                                         event.question_id)
            self.log.publish(event.kind, data)

    # -- the feeding thread ------------------------------------------------------------------------

    def _feed(self) -> None:
        last_status = 0.0
        try:
            for frames in self.source:
                if self._stop.is_set():
                    break
                with self._lock:
                    events = self.session.feed(frames)
                    events += self._due(self.session.now)
                    started, self.state = self.state == "starting", "running"
                self._say(events)
                if started or time.monotonic() - last_status >= STATUS_EVERY:
                    last_status = time.monotonic()
                    self.log.publish("status", self.status())
        except VidllmError as exc:  # a StreamError: never started, unreadable, stalled past its timeouts
            self.error = self.scrub(getattr(exc, "problem", None) or str(exc))
        except Exception as exc:  # noqa: BLE001 - the session fails, the server goes on
            log.error("stream %s failed", self.id, exc_info=True)
            self.error = f"the session failed ({type(exc).__name__})"
        finally:
            self.source.close()
            if not self._stop.is_set():  # the source ended on its own: asks are still answered from memory
                with self._lock:
                    self._feeding = False
                    events = self._due(math.inf) + self.session.end()
                    self._session_id.clear()
                    self.state, self.finished_at = ("failed" if self.error else "finished"), time.monotonic()
                self._say(events)
                self.log.publish("status", self.status())

    # -- state -----------------------------------------------------------------------------------

    def status(self) -> dict:
        summary, stats = self.session.summary(), self.source.stats
        lag = None
        if self.source.drops and self.session.frames_seen and self.state == "running":
            lag = round(max(0.0, (self.source.clock() or self.session.now) - self.session.now), 3)
        out = {"stream": self.id, "state": self.state, "stream_time": summary["now"], "frames": summary["frames"],
               "dropped": stats.dropped, "reconnects": stats.reconnects, "lag": lag,
               "open_questions": self.open_questions, "memory_items": summary["memory_items"]}
        if self.error:
            out["error"] = self.error
        return out

    def describe(self) -> dict:
        return {"id": self.id, "object": "stream", "created": self.created, "source": self.label,
                "model": self.model_name, "fps": self.fps, "realtime": self.source.realtime, "tools": list(self.tools),
                "questions": self.initial, "events": f"/v1/streams/{self.id}/events", **self.status()}

    def scrub(self, text: str) -> str:
        """The server's path of a local source out of a message, as the client named it."""
        return " ".join(text.replace(self.uri, self.label).split())[:1000]

    def close(self, reason: str) -> None:
        """Stop the source and both threads, and say ``end``; blocks for at most a few seconds."""
        self._stop.set()
        self._questions.shutdown(wait=False, cancel_futures=True)
        self.source.close()
        self._thread.join(timeout=10)  # a frame being perceived finishes first
        self.session.close()
        self.state = "closed"
        self.log.publish("end", {"reason": reason, **self.status()}, final=True)


# -- all sessions --------------------------------------------------------------------------------

class StreamSessions:
    """The server's stream sessions: admission (``max_streams``), the source policy, expiry of
    sessions whose source ended, and closing them all when the server's loop ends."""

    def __init__(self, config: ServeConfig, model, policy: MediaPolicy):
        self.config, self.model, self.policy = config, model, policy
        self._streams: dict[str, ServedStream] = {}
        self._opening = 0
        self._lock = threading.Lock()
        self._keeper: asyncio.Task | None = None

    def __len__(self) -> int:
        return len(self._streams)

    def get(self, stream_id: str) -> ServedStream | None:
        return self._streams.get(stream_id)

    def list(self) -> list[ServedStream]:
        return list(self._streams.values())

    def open(self, body: StreamCreate) -> ServedStream:
        """A started session on ``body.source`` (blocking: a file header or a DNS lookup)."""
        with self._lock:
            if len(self._streams) + self._opening >= self.config.max_streams:
                raise SessionLimitError(f"this server keeps at most {self.config.max_streams} stream sessions open; "
                                   "delete one (DELETE /v1/streams/ID) or retry later")
            self._opening += 1
        try:
            uri = self.source_uri(body.source, follow=body.follow)
            stream_id = f"stream-{uuid.uuid4().hex[:16]}"
            try:
                stream = ServedStream(stream_id, body.source, uri, body, model=self.model,
                                      model_name=None if body.checks_only else self.config.served_name,
                                      config=self.config)
            except StreamError as exc:
                raise RequestError(f"{body.source[:200]}: {exc.problem}") from None
            with self._lock:
                self._streams[stream_id] = stream
            stream.start()
            return stream
        finally:
            with self._lock:
                self._opening -= 1

    def source_uri(self, source: str, follow: bool = False) -> str:
        """What ``LiveSource`` opens for a client's ``source``, checked against the media policy."""
        parts = urlsplit(source)
        scheme = parts.scheme.lower()
        if scheme in NETWORK_SCHEMES:
            if not self.policy.allow_remote:
                raise MediaForbiddenError("this server opens no network streams (start it with --allow-remote-media)")
            if not parts.hostname:
                raise MediaForbiddenError(f"a network stream needs a host to connect to, not {source[:200]!r}")
            # every address the name has now must be public
            address = public_address(parts.hostname, parts.port or DEFAULT_PORTS.get(scheme, 0))
            if scheme not in PINNED:  # TLS, Host headers and RTSP/RTMP URLs need the name: FFmpeg resolves it again
                return source
            user = parts.netloc.rpartition("@")[0]
            host = (f"{user}@" if user else "") + (f"[{address}]" if ":" in address else address)
            return parts._replace(netloc=host + (f":{parts.port}" if parts.port else "")).geturl()
        if scheme == "device":
            raise MediaForbiddenError("this server opens no capture devices")
        if scheme == "file":
            if parts.netloc not in ("", "localhost"):
                raise MediaForbiddenError("file:// URLs name files on this server only (file:///path)")
            path = self.policy.local(unquote(parts.path))
        elif scheme and len(scheme) > 1:
            raise RequestError(f"a stream source is a file, an upload id or an rtsp, rtmp, http(s), udp, tcp or srt "
                               f"URL, not {scheme}:")
        elif source.startswith("file-") and self.policy.uploads is not None:
            path = self.policy.uploads.path(source)
        else:
            path = self.policy.local(source)
        if not follow:  # a growing file may not hold a whole header yet
            self.policy.check_video(path)
        return str(path)

    def close(self, stream_id: str, reason: str) -> bool:
        with self._lock:
            stream = self._streams.pop(stream_id, None)
        if stream is None:
            return False
        stream.close(reason)
        return True

    def close_all(self, reason: str) -> None:
        for stream_id in list(self._streams):
            self.close(stream_id, reason)

    def keep(self) -> None:
        """Start the keeper on the running loop (once): it frees sessions whose source ended more
        than ``stream_keep`` seconds ago, and closes them all when the loop ends."""
        if self._keeper is None or self._keeper.done():
            self._keeper = asyncio.get_running_loop().create_task(self._keep())

    async def _keep(self) -> None:
        try:
            while True:
                await asyncio.sleep(1.0)
                now = time.monotonic()
                for stream in self.list():
                    if stream.finished_at is not None and \
                            now - max(stream.finished_at, stream.last_activity) > self.config.stream_keep:
                        await asyncio.to_thread(self.close, stream.id, "expired: the source ended "
                                                                       f"{self.config.stream_keep:g} s ago")
        finally:  # cancelled as the server's loop ends
            self.close_all("the server is stopping")


# -- routes ----------------------------------------------------------------------------------------

def stream_router(sessions: StreamSessions) -> APIRouter:
    router = APIRouter()
    config = sessions.config

    def unknown(stream_id: str) -> Response:
        return problem(404, f"no stream session {stream_id[:60]!r} (it ended, was deleted, or never existed)")

    async def parse(request: Request, model: type[BaseModel]):
        try:
            return model.model_validate_json(await request.body())
        except ValidationError as exc:
            return problem(400, *describe_errors(exc))

    @router.post("/v1/streams")
    async def create(request: Request):
        body = await parse(request, StreamCreate)
        if isinstance(body, Response):
            return body
        if body.model is not None and body.model != config.served_name:
            return problem(404, f"The model `{body.model[:200]}` does not exist (this server offers "
                                f"`{config.served_name}`).", "model")
        if body.fps is not None and body.fps > config.max_fps:
            return problem(400, f"fps {body.fps:g} is above this server's max_fps {config.max_fps:g}", "fps")
        if len(body.questions) > config.max_stream_questions:
            return problem(400, f"{len(body.questions)} questions; a session takes at most "
                                f"{config.max_stream_questions}", "questions")
        sessions.keep()
        try:
            stream = await asyncio.to_thread(sessions.open, body)
        except VidllmError as exc:
            headers = {"Retry-After": "5"} if isinstance(exc, SessionLimitError) else None
            return problem(status_of(exc), str(exc)[:1000], "source" if status_of(exc) in (400, 403) else None,
                           headers)
        return stream.describe()

    @router.get("/v1/streams")
    async def listing():
        return {"object": "list", "data": [stream.describe() for stream in sessions.list()]}

    @router.get("/v1/streams/{stream_id}")
    async def one(stream_id: str):
        stream = sessions.get(stream_id)
        return stream.describe() if stream else unknown(stream_id)

    @router.post("/v1/streams/{stream_id}/questions")
    async def question(stream_id: str, request: Request):
        body = await parse(request, StreamQuestion)
        if isinstance(body, Response):
            return body
        stream = sessions.get(stream_id)
        if stream is None:
            return unknown(stream_id)
        if stream.open_questions >= config.max_stream_questions:
            return problem(429, f"stream {stream_id} has {config.max_stream_questions} open questions; cancel one "
                                "or wait for answers", headers={"Retry-After": "5"})
        qid = stream.next_id()
        try:
            done = stream.post(body, qid)
        except RuntimeError:  # closed between the lookup and now
            return unknown(stream_id)
        if body.mode == "watch":  # registered before the reply, so a refusal is this request's error
            try:
                await done
            except Exception as exc:  # noqa: BLE001 - every failure becomes an OpenAI error
                return problem(status_of(exc), stream.scrub(str(exc)) if isinstance(exc, VidllmError)
                               else f"the question failed ({type(exc).__name__})")
        else:  # the answer comes as an event; its failure too
            done.add_done_callback(lambda future: future.cancelled() or future.exception())
        return {"id": qid, "object": "stream.question", "stream": stream_id, "question": body.question,
                "mode": body.mode, "at": body.at, "events": f"/v1/streams/{stream_id}/events"}

    @router.delete("/v1/streams/{stream_id}/questions/{question_id}")
    async def cancel(stream_id: str, question_id: str):
        stream = sessions.get(stream_id)
        if stream is None:
            return unknown(stream_id)
        try:
            await stream.cancel(question_id)
        except (SessionEndedError, RuntimeError):
            return problem(404, f"no open watch {question_id[:40]!r} in stream {stream_id}")
        return {"id": question_id, "object": "stream.question", "cancelled": True}

    @router.get("/v1/streams/{stream_id}/events")
    async def events(stream_id: str, request: Request, after: int | None = None):
        stream = sessions.get(stream_id)
        if stream is None:
            return unknown(stream_id)
        resume = request.headers.get("last-event-id", "")
        start = max(0, after if after is not None else int(resume) if resume.isdigit() else 0)

        async def sent():
            async for seq, kind, data in stream.log.follow(start):
                yield ServerSentEvent(data=json.dumps(data), event=kind, id=str(seq))

        return EventSourceResponse(sent(), ping=10, sep="\n", headers={"Cache-Control": "no-cache"})

    @router.delete("/v1/streams/{stream_id}")
    async def delete(stream_id: str):
        if not await asyncio.to_thread(sessions.close, stream_id, "deleted"):
            return unknown(stream_id)
        return {"id": stream_id, "object": "stream", "deleted": True}

    return router


__all__ = ["StreamCreate", "StreamQuestion", "StreamSessions", "ServedStream", "EventLog", "stream_router"]
