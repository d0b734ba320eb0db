"""``vidllm serve``: one model behind an OpenAI-compatible API (``/v1/models``,
``/v1/chat/completions``), from the standard library's threading HTTP server.

Requests are answered one at a time per model (a local model holds one context); errors come
back as OpenAI-style JSON errors: 400 for a bad request, 500 for a model failure.
"""

from __future__ import annotations

import json
import logging
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from vidllm.errors import RequestError, VidllmError
from vidllm.serve.openai_api import to_completion, to_request

log = logging.getLogger(__name__)

MAX_BODY = 512 * 1024 * 1024  # a video sent inline as base64


class ModelServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, model, model_name: str, *, allow_local_files: bool = False,
                 sampling: dict | None = None):
        super().__init__(address, Handler)
        self.model = model
        self.model_name = model_name
        self.allow_local_files = allow_local_files
        self.sampling = dict(sampling or {})


class Handler(BaseHTTPRequestHandler):
    server: ModelServer
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args) -> None:  # through logging, not stderr prints
        log.info("%s %s", self.address_string(), fmt % args)

    def _send(self, status: int, payload: dict) -> None:
        body = json.dumps(payload, default=str).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, message: str, kind: str) -> None:
        self._send(status, {"error": {"message": message, "type": kind, "code": status}})

    def do_GET(self) -> None:
        if self.path.rstrip("/") in ("/v1/models", "/models"):
            self._send(200, {"object": "list", "data": [{"id": self.server.model_name, "object": "model",
                                                          "owned_by": "vidllm"}]})
        elif self.path.rstrip("/") in ("/health", ""):
            self._send(200, {"status": "ok", "model": self.server.model_name})
        else:
            self._error(404, f"no such endpoint {self.path}", "not_found")

    def do_POST(self) -> None:
        if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
            self._error(404, f"no such endpoint {self.path}", "not_found")
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._error(413, f"the body is {length} bytes; the limit is {MAX_BODY}", "invalid_request_error")
            return
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
            request = to_request(body, allow_local_files=self.server.allow_local_files, sampling=self.server.sampling)
        except (ValueError, RequestError, VidllmError) as exc:
            self._error(400, str(exc), "invalid_request_error")
            return
        try:
            # the backend bounds its own concurrency (one context for a local model)
            [response] = self.server.model.generate([request])
        except VidllmError as exc:
            status = 400 if isinstance(exc, (ValueError, LookupError)) else 500
            self._error(status, str(exc), "invalid_request_error" if status == 400 else "server_error")
            return
        except Exception as exc:  # the server stays up and says what failed
            log.exception("generation failed")
            self._error(500, f"{type(exc).__name__}: {exc}", "server_error")
            return
        self._send(200, to_completion(response, self.server.model_name))


def serve(model_uri: str, *, host: str = "127.0.0.1", port: int = 8000, name: str | None = None,
          model_options: dict | None = None, allow_local_files: bool = False, sampling: dict | None = None,
          ready=None) -> None:
    from vidllm.models.registry import check_sampling, load_model

    sampling = dict(sampling or {})
    check_sampling(model_uri, sampling)
    model = load_model(model_uri, **(model_options or {}))
    server = ModelServer((host, port), model, name or model_uri, allow_local_files=allow_local_files,
                         sampling=sampling)
    if ready:
        ready(server)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        model.close()
