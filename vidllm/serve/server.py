"""``vidllm serve``: load the model once, build the app, run it on uvicorn.

uvicorn's HTTP/1.1 protocol with two changes: a connection that sends nothing is closed after
``idle_timeout`` like an idle keep-alive one (uvicorn only times out connections that have
already finished a request), and a request h11 cannot parse (``Content-Length: abc`` or ``-1``)
is answered with OpenAI's JSON error instead of plain text. ``limit_concurrency`` bounds open
connections and tasks (503 beyond it).

>>> with ServerThread(create_app(config, model)) as server:   # doctest: +SKIP
...     print(server.url)
http://127.0.0.1:40123/v1
"""

from __future__ import annotations

import logging
import socket
import threading
import time

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from vidllm.serve.config import ServeConfig
from vidllm.serve.guard import error_body

log = logging.getLogger(__name__)


class GuardedH11Protocol(H11Protocol):
    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        # the keep-alive timer, armed before the first request too: an idle socket is dropped
        self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive, self.timeout_keep_alive_handler)

    def send_400_response(self, msg: str) -> None:
        body = error_body(400, f"malformed HTTP request ({msg.rstrip('.')})", "invalid_request_error")
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                   (b"connection", b"close")]
        try:
            self.transport.write(self.conn.send(h11.Response(status_code=400, headers=headers, reason=b"Bad Request")))
            self.transport.write(self.conn.send(h11.Data(data=body)))
            self.transport.write(self.conn.send(h11.EndOfMessage()))
        except h11.LocalProtocolError:  # a response had already begun: nothing more can be said
            pass
        self.transport.close()


def uvicorn_config(app, config: ServeConfig, host: str, port: int | None = None, sock=None) -> uvicorn.Config:
    return uvicorn.Config(app, host=host, port=port or 0, http=GuardedH11Protocol, lifespan="off",
                          timeout_keep_alive=max(1, round(config.idle_timeout)),
                          limit_concurrency=config.max_connections, log_config=None, access_log=False)


class ServerThread:
    """The app on uvicorn in a background thread on a free loopback port (tests, benchmarks,
    notebooks); ``close()`` stops it."""

    def __init__(self, app, config: ServeConfig | None = None, host: str = "127.0.0.1", port: int = 0):
        self.app, self.config = app, config or app.state.config
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        self.port = sock.getsockname()[1]
        self.host = host
        self.server = uvicorn.Server(uvicorn_config(app, self.config, host, self.port))
        self._sock = sock
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True,
                                       name="vidllm-serve")
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.01)

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return self.base + "/v1"

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.app.state.runner.close()

    def __enter__(self) -> "ServerThread":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def serve(config: ServeConfig, *, host: str = "127.0.0.1", port: int = 8000, ready=None) -> None:
    """Load ``config.model`` once and serve it until interrupted. ``ready(url)`` is called once
    the model is loaded and the port is open."""
    from vidllm.models.pool import ModelPool
    from vidllm.models.registry import check_sampling
    from vidllm.serve.app import create_app

    check_sampling(config.model, config.sampling)
    with ModelPool() as pool:
        model = pool.get(config.model, **config.model_options)
        serve_app(create_app(config, model), config, host=host, port=port, ready=ready)


def serve_app(app, config: ServeConfig, *, host: str, port: int, ready=None) -> None:
    """Run a built app on uvicorn in this thread until interrupted."""
    server = uvicorn.Server(uvicorn_config(app, config, host, port))
    if ready:
        original = server.startup

        async def startup(sockets=None):
            await original(sockets=sockets)
            bound = server.servers[0].sockets[0].getsockname()[1] if server.servers else port
            ready(f"http://{host}:{bound}/v1")

        server.startup = startup
    try:
        server.run()
    finally:
        app.state.runner.close()
