"""Local HTTP servers for the client tests: a free port, and a server that misbehaves on cue."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeServer:
    """A real HTTP server on 127.0.0.1 whose behaviour a test scripts, one entry a request:
    ``"ok"``, ``("status", code, body)``, ``("slow", seconds)``, ``"drop"`` (close the connection
    without answering). Requests beyond the script get ``"ok"``. Bodies received are kept."""

    def __init__(self):
        self.script: list = []
        self.received: list[dict] = []
        self.lock = threading.Lock()
        self.in_flight = self.max_in_flight = 0
        self.delay = 0.0  # seconds every answer takes (to see concurrency)
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                self._reply(200, {"object": "list", "data": [{"id": "fake-model", "object": "model"}]})

            def do_POST(self):
                with server.lock:
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                self.counted = True
                try:
                    self._post()
                finally:
                    self._leave()

            def _leave(self):
                # a request stops counting before its reply is sent: once the client has the
                # reply it may send the next request, which must not find this one still counted
                if getattr(self, "counted", False):
                    self.counted = False
                    with server.lock:
                        server.in_flight -= 1

            def _post(self):
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                with server.lock:
                    server.received.append({"path": self.path, "body": body, "headers": dict(self.headers)})
                    action = server.script.pop(0) if server.script else "ok"
                time.sleep(server.delay)
                if action == "drop":
                    self._leave()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if isinstance(action, tuple) and action[0] == "slow":
                    time.sleep(action[1])
                    action = "ok"
                if isinstance(action, tuple) and action[0] == "status":
                    self._reply(action[1], action[2])
                    return
                text = server.answer(body)
                self._reply(200, {
                    "id": "cmpl-1", "object": "chat.completion", "model": body.get("model"),
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                 "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14},
                })

            def _reply(self, code, payload):
                self._leave()
                data = json.dumps(payload).encode() if not isinstance(payload, bytes) else payload
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def answer(self, body: dict) -> str:
        return "a bicycle"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
