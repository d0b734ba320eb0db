"""Real servers on 127.0.0.1 for the serving tests: the app on uvicorn in a thread, in front of
a cheap local backend (``EchoBackend``: real sampling, a reply saying what it saw) or of an
``openai:`` backend whose upstream is a small local server (``model_servers.FakeServer``)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from echo_backend import EchoBackend
from model_servers import FakeServer
from PIL import Image
from serve_support import BODY_LIMIT, KEY

from vidllm.models.registry import load_model
from vidllm.serve.app import create_app
from vidllm.serve.config import ServeConfig
from vidllm.serve.server import ServerThread
from vidllm.video.synthetic import make_clip


@pytest.fixture(scope="session")
def media(tmp_path_factory):
    """An allowed folder with a clip and a picture, a secret outside it and a symlink out."""
    root = tmp_path_factory.mktemp("serve-media")
    allowed = root / "allowed"
    (allowed / "sub").mkdir(parents=True)
    make_clip(allowed / "clip.mp4", nframes=100, fps=25, size=(160, 120))  # 4 s, frame index drawn in
    Image.fromarray(np.full((48, 64, 3), (200, 30, 30), np.uint8)).save(allowed / "red.png")
    outside = root / "outside"
    outside.mkdir()
    make_clip(outside / "secret.mp4", nframes=25, fps=25, size=(64, 48))
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(outside / "secret.png")
    (outside / "secret.txt").write_text("top secret")
    os.symlink(outside / "secret.mp4", allowed / "link.mp4")
    os.symlink(outside / "secret.png", allowed / "link.png")
    os.symlink(outside, allowed / "sub" / "escape")
    make_clip(allowed / "huge.mp4", nframes=2, fps=25, size=(640, 480))  # "huge" for a server taking 320x240
    return {"root": root, "allowed": allowed, "outside": outside, "clip": str(allowed / "clip.mp4"),
            "huge": str(allowed / "huge.mp4")}


def config_for(media, **more) -> ServeConfig:
    settings = dict(model="echo", name="served", api_key=KEY, allowed_local_media_path=media["allowed"],
                    max_body_bytes=BODY_LIMIT, max_upload_bytes=BODY_LIMIT, max_source_pixels=320 * 240,
                    max_messages=100, max_fps=10, max_frames=64, body_timeout=2, request_timeout=60)
    settings.update(more)
    return ServeConfig(**settings)


@pytest.fixture(scope="module")
def start_server(media):
    """``start_server(model, **config) -> ServerThread``; all closed at the module's end."""
    started = []

    def start(model, **config) -> ServerThread:
        server = ServerThread(create_app(config_for(media, **config), model))
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


@pytest.fixture(scope="module")
def echo_server(start_server):
    return start_server(EchoBackend())


@pytest.fixture(scope="module")
def upstream():
    server = FakeServer()
    yield server
    server.close()


@pytest.fixture(scope="module")
def proxy_server(start_server, upstream):
    """vidllm serving an ``openai:`` backend whose upstream is ``upstream``."""
    model = load_model(f"openai:{upstream.base}#fake-model", max_retries=0, max_pixels=64 * 48)
    return start_server(model)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
