"""Requests an attacker would send, each with the status it must get, for every content part type
and for both a local backend and an ``openai:`` backend behind the server. After each: the server
still answers, nothing the request brought stays on disk, and nothing reached the upstream."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time

import httpx2
import numpy as np
import pytest
from echo_backend import EchoBackend
from PIL import Image
from serve_support import BODY_LIMIT, KEY

AUTH = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}


def part(kind: str, url: str) -> dict:
    if kind == "video":
        return {"type": "video_url", "video_url": {"url": url}}
    if kind == "image":
        return {"type": "image_url", "image_url": {"url": url}}
    return {"type": "file", "file": {"file_data": url, "filename": "x.mp4"}}


def chat(*parts, **more) -> dict:
    return {"model": "served", "messages": [{"role": "user", "content": [*parts, {"type": "text", "text": "?"}]}],
            **more}


def png(width: int, height: int) -> str:
    import io

    buf = io.BytesIO()
    Image.fromarray(np.zeros((height, width, 3), np.uint8)).save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def data_file(path) -> str:
    return "data:video/mp4;base64," + base64.b64encode(open(path, "rb").read()).decode()


# (case, kind, body or a function of the media folder -> body, status)
PLACES = [
    ("file:// outside", "file:///etc/passwd", 403),
    ("FILE:// outside", "FILE:///etc/passwd", 403),
    ("bare path outside", "/etc/passwd", 403),
    ("../ traversal", "../outside/secret.{ext}", 403),
    ("../ inside a sub-folder", "sub/../../outside/secret.{ext}", 403),
    ("symlink out", "link.{ext}", 403),
    ("symlinked folder out", "sub/escape/secret.{ext}", 403),
    ("loopback URL", "http://127.0.0.1:9/x.{ext}", 403),
    ("link-local URL", "http://169.254.169.254/latest/meta-data", 403),
    ("private URL", "http://10.0.0.1/x.{ext}", 403),
    ("ftp URL", "ftp://example.org/x.{ext}", 400),
    ("invalid base64", "data:video/mp4;base64,!!!notbase64", 400),
    ("not a data URL", "data:video/mp4,plain", 400),
]
CASES = [(f"{kind}: {name}", kind, url.replace("{ext}", "mp4" if kind == "video" else "png"), status)
         for kind in ("video", "image") for name, url, status in PLACES]
CASES += [
    ("file: invalid base64", "file", "data:video/mp4;base64,%%%", 400),
    ("file: an upload id that is a path", "file", None, 400),
    ("file: not a video or image", "file", "data:text/plain;base64," + base64.b64encode(b"top secret").decode(), 400),
]


@pytest.fixture(params=["local", "openai"])
def target(request, echo_server, proxy_server, upstream, isolated_cache):
    server = echo_server if request.param == "local" else proxy_server
    before = len(upstream.received)
    yield server
    assert httpx2.get(server.base + "/health").status_code == 200  # still alive
    leftovers = [p for p in (isolated_cache / "serve-tmp").glob("*")] if (isolated_cache / "serve-tmp").exists() else []
    assert leftovers == []  # the request's temporary files are gone
    assert len(upstream.received) == before  # nothing reached the upstream


def post(server, body, headers=AUTH) -> httpx2.Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx2.post(server.url + "/chat/completions", content=data, headers=headers, timeout=60)


def expect(response: httpx2.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == status and error["message"] and "\n" not in error["message"]
    assert "Traceback" not in error["message"] and "/tmp/" not in error["message"]
    return error


@pytest.mark.parametrize("case, kind, url, status", CASES, ids=[c[0] for c in CASES])
def test_media_from_places_not_allowed(target, case, kind, url, status):
    if url is None:
        body = chat({"type": "file", "file": {"file_id": "../../../etc/passwd"}})
    else:
        body = chat(part(kind, url))
    expect(post(target, body), status)


def test_image_of_etc_passwd_never_goes_upstream(proxy_server, upstream):
    """The reported hole: an image_url naming a local file was read and sent upstream."""
    before = len(upstream.received)
    for url in ("/etc/passwd", "file:///etc/passwd", "http://169.254.169.254/"):
        expect(post(proxy_server, chat(part("image", url))), 403)
    assert len(upstream.received) == before
    ok = post(proxy_server, chat(part("image", "red.png")))  # inside the allowed folder: goes as pixels
    assert ok.status_code == 200, ok.text
    sent = upstream.received[-1]["body"]["messages"][0]["content"][0]["image_url"]["url"]
    assert sent.startswith("data:image/") and "passwd" not in json.dumps(upstream.received[-1])


WRONG_TYPES = {
    "messages a string": {"model": "served", "messages": "hi"},
    "message a string": {"model": "served", "messages": ["hi"]},
    "content a number": {"model": "served", "messages": [{"role": "user", "content": 42}]},
    "role a number": {"model": "served", "messages": [{"role": 5, "content": "hi"}]},
    "role unknown": {"model": "served", "messages": [{"role": "wizard", "content": "hi"}]},
    "part type unknown": chat({"type": "audio", "audio": "x"}),
    "part text a number": {"model": "served", "messages": [{"role": "user", "content": [{"type": "text", "text": 1}]}]},
    "image_url a string": chat({"type": "image_url", "image_url": "red.png"}),
    "video_url url a list": chat({"type": "video_url", "video_url": {"url": []}}),
    "max_tokens a list": {**chat(), "max_tokens": [1]},
    "max_tokens a float": {**chat(), "max_tokens": 1.5},
    "max_tokens negative": {**chat(), "max_tokens": -3},
    "stop a number": {**chat(), "stop": 5},
    "temperature a string": {**chat(), "temperature": "hot"},
    "stream a string": {**chat(), "stream": "yes"},
    "seed a string": {**chat(), "seed": "1"},
    "n 2": {**chat(), "n": 2},
    "model a number": {**chat(), "model": 5},
    "model missing": {"messages": [{"role": "user", "content": "hi"}]},
    "messages missing": {"model": "served"},
    "messages empty": {"model": "served", "messages": []},
    "body a list": [1, 2],
    "fps a string": chat({"type": "video", "video": "clip.mp4", "fps": "fast"}),
    "fps 1e7": chat({"type": "video", "video": "clip.mp4", "fps": 1e7}),
    "nframes 1e6": chat({"type": "video", "video": "clip.mp4", "nframes": 1_000_000}),
    "unknown sampling field": chat({"type": "video", "video": "clip.mp4", "frames_per_second": 2}),
    "media_io fps 1e7": {**chat(part("video", "clip.mp4")), "media_io_kwargs": {"video": {"fps": 1e7}}},
    "media_io a string": {**chat(part("video", "clip.mp4")), "media_io_kwargs": "fast"},
    "processor fps a string": {**chat(part("video", "clip.mp4")), "mm_processor_kwargs": {"fps": "fast"}},
    "1000 messages": {"model": "served", "messages": [{"role": "user", "content": "hi"}] * 1000},
}


@pytest.mark.parametrize("case", list(WRONG_TYPES))
def test_wrong_types_and_bounds_are_400(target, case):
    error = expect(post(target, WRONG_TYPES[case]), 400)
    assert error["type"] == "invalid_request_error"


def test_malformed_json(target):
    expect(post(target, b'{"model": "served", "messages": [}'), 400)


def test_wrong_api_key(target):
    expect(post(target, chat(), headers={**AUTH, "Authorization": "Bearer nope"}), 401)
    expect(post(target, chat(), headers={"Content-Type": "application/json"}), 401)


def test_body_over_the_limit(target):
    """The configured limit is 2 MB (the default is 200 MB; the same code path refuses both)."""
    big = chat(part("video", "data:video/mp4;base64," + "A" * (BODY_LIMIT + 1000)))
    expect(post(target, big), 413)


def test_huge_resolution_video_and_image(target, media):
    expect(post(target, chat(part("video", "huge.mp4"))), 413)
    expect(post(target, chat(part("video", data_file(media["huge"])))), 413)
    expect(post(target, chat(part("file", data_file(media["huge"])))), 413)
    expect(post(target, chat(part("image", png(640, 480)))), 413)


def raw_request(server, head: bytes, body: bytes = b"", wait: float = 10.0) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=wait) as s:
        s.sendall(head + body)
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
        except TimeoutError:
            out += b"<no answer>"
        return out


@pytest.mark.parametrize("length, status", [(b"-1", 400), (b"abc", 400), (b"100", 408)])
def test_bad_content_length(target, length, status):
    head = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + KEY.encode() +
            b"\r\nContent-Type: application/json\r\nContent-Length: " + length + b"\r\n\r\n")
    began = time.monotonic()
    answer = raw_request(target, head, b'{"model": "served"')
    assert answer.startswith(b"HTTP/1.1 %d" % status), answer[:200]
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]["code"] == status
    assert time.monotonic() - began < 9  # answered, not held open


def test_queue_full_is_429_and_timeout_is_504(start_server, isolated_cache):
    slow = start_server(EchoBackend(delay=1.5), max_queue=0, request_timeout=0.5)
    body = chat(part("video", "clip.mp4"))
    results = {}
    thread = threading.Thread(target=lambda: results.update(a=post(slow, body)))
    thread.start()
    time.sleep(0.3)
    busy = post(slow, body)
    thread.join()
    expect(busy, 429)
    assert busy.headers["retry-after"] == "1"
    expect(results["a"], 504)
    time.sleep(1.5)  # the slow thread ends; its slot and files are given back
    assert httpx2.get(slow.base + "/health").json()["active"] == 0
    assert not list((isolated_cache / "serve-tmp").glob("*"))


@pytest.fixture(scope="module")
def remote_server(start_server):
    return start_server(EchoBackend(), allow_remote_media=True)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "169.254.169.254", "10.1.2.3", "192.168.0.1",
                                  "172.16.5.5", "0.0.0.0", "[::ffff:127.0.0.1]", "[fe80::1]", "100.64.0.1"])
def test_remote_media_never_from_non_public_addresses(remote_server, host):
    """With remote media allowed, every non-public address is refused before connecting: a
    listener on 127.0.0.1 sees no connection."""
    server = remote_server
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.3)
        port = listener.getsockname()[1]
        for kind in ("video", "image"):
            error = expect(post(server, chat(part(kind, f"http://{host}:{port}/clip.mp4"))), 403)
            assert "public addresses only" in error["message"]
        with pytest.raises(TimeoutError):
            listener.accept()
    assert httpx2.get(server.base + "/health").status_code == 200


def test_idle_connections_neither_block_nor_stay(start_server):
    """50 silent connections: a normal request is still served; the silent ones are closed after
    the idle timeout, before sending any request."""
    server = start_server(EchoBackend(), idle_timeout=1)
    idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(50)]
    try:
        ok = post(server, chat(part("video", "clip.mp4")))
        assert ok.status_code == 200, ok.text
        for s in idle:
            s.settimeout(10)
            assert s.recv(1) == b""  # closed by the server
    finally:
        for s in idle:
            s.close()


def test_remote_download_limits_and_redirects(remote_server, media, monkeypatch, isolated_cache):
    """The download path itself, against a real HTTP server on 127.0.0.1 that a stand-in name
    ("media.test") is let through to (the only address check skipped): the clip is fetched and
    sampled; a redirect to a link-local address is checked again and refused; a file over the
    size limit is refused with nothing kept."""
    import http.server

    from vidllm.serve import media as media_module

    clip = open(media["clip"], "rb").read()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            if self.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", "http://169.254.169.254/latest")
                self.end_headers()
                return
            data = clip if self.path == "/clip.mp4" else b"\0" * (BODY_LIMIT + 10)
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    real = media_module.public_address
    monkeypatch.setattr(media_module, "public_address",
                        lambda host, port: "127.0.0.1" if host == "media.test" else real(host, port))
    base = f"http://media.test:{httpd.server_address[1]}"
    try:
        ok = post(remote_server, chat(part("video", f"{base}/clip.mp4")))
        assert ok.status_code == 200, ok.text
        assert json.loads(ok.json()["choices"][0]["message"]["content"])["videos"][0]["frames"] == 4
        expect(post(remote_server, chat(part("video", f"{base}/redirect"))), 403)
        expect(post(remote_server, chat(part("video", f"{base}/big.mp4"))), 413)
        assert not list((isolated_cache / "serve-tmp").glob("*"))
    finally:
        httpd.shutdown()
