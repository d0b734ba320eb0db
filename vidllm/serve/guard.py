"""What every request passes before any route sees it: the API key and the body's size and pace.

A plain ASGI middleware, so that a wrong key or an oversized ``Content-Length`` is answered at
once, without reading a byte of the body, and a body larger than it claimed, or one that stops
arriving, ends in 413 / 408 rather than a held connection.
"""

from __future__ import annotations

import asyncio
import hmac
import json

from vidllm.serve.config import ServeConfig

#: paths readable without the key: the page and its files, health, and GETs of uploads (their
#: ids are 128-bit content hashes, so the URL itself is the capability a <video> element carries)
OPEN_PATHS = ("/", "/health", "/favicon.ico")


class BodyTooLarge(Exception):
    pass


class BodyTimeout(Exception):
    pass


def error_body(status: int, message: str, kind: str, param: str | None = None) -> bytes:
    return json.dumps({"error": {"message": message, "type": kind, "param": param, "code": status}}).encode()


async def send_error(send, status: int, message: str, kind: str, close: bool = False, headers=()) -> None:
    body = error_body(status, message, kind)
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]
    if close:  # the body was not read: the connection cannot carry another request
        head.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})


class Guard:
    def __init__(self, app, config: ServeConfig):
        self.app, self.config = app, config
        self._key = config.api_key.encode() if config.api_key else None

    def limit_for(self, path: str) -> int:
        return self.config.max_upload_bytes if path.rstrip("/") == "/v1/uploads" else self.config.max_body_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path, headers = scope["path"], dict(scope["headers"])
        if self._key and scope["method"] != "OPTIONS" and not self._open(scope):
            given = headers.get(b"authorization", b"")
            token = given[7:] if given[:7].lower() == b"bearer " else headers.get(b"x-api-key", b"")
            if not hmac.compare_digest(token, self._key):
                return await send_error(send, 401, "missing or wrong API key (Authorization: Bearer KEY)",
                                        "authentication_error", close=True)
        limit = self.limit_for(path)
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return await send_error(send, 413, f"the body is {int(declared)} bytes; this server's limit is {limit}",
                                    "invalid_request_error", close=True)
        received, timeout, complete = 0, self.config.body_timeout, False

        async def guarded_receive():
            nonlocal received, complete
            if complete:  # after the body, receive() only waits for a disconnect (a stream's whole life)
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), timeout)
            except asyncio.TimeoutError:
                raise BodyTimeout(f"the body stopped arriving for {timeout:g} s") from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(f"the body is over this server's limit of {limit} bytes")
                complete = not message.get("more_body", False)
            return message

        return await self.app(scope, guarded_receive, send)

    @staticmethod
    def _open(scope) -> bool:
        path = scope["path"]
        if path in OPEN_PATHS or path.startswith("/static/"):
            return True
        return scope["method"] in ("GET", "HEAD") and path.startswith("/v1/uploads/")
