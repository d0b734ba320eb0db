"""Fixtures for the backends: tiny local models of every family (built once per session),
a real llama.cpp OpenAI-compatible server, and a small local HTTP server that misbehaves."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest
import tiny_vlms as tiny
from model_servers import FakeServer, free_port


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    """``tiny_models(family) -> folder``: each family is built on first use, then reused."""
    root = tmp_path_factory.mktemp("tiny-models")
    built: dict[str, str] = {}

    def get(family: str) -> str:
        if family not in built:
            built[family] = str(tiny.build(family, root / family))
        return built[family]

    return get


@pytest.fixture(scope="session")
def loaded_models(tiny_models):
    """``loaded_models(family) -> Backend`` loaded through ``hf:<folder>``, one per session."""
    from vidllm.models import load_model

    loaded: dict = {}

    def get(family: str, **options):
        key = (family, tuple(sorted(options.items())))
        if key not in loaded:
            loaded[key] = load_model(f"hf:{tiny_models(family)}", device="cpu", **options)
        return loaded[key]

    return get


@pytest.fixture(scope="session")
def smollm2():
    from vidllm.models.llamacpp_backend import smollm2_path

    try:
        return smollm2_path()
    except Exception as exc:  # MissingDependencyError
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def llama_server(smollm2, tmp_path_factory):
    """llama-cpp-python's OpenAI-compatible server with SmolLM2 on a free local port."""
    pytest.importorskip("llama_cpp.server", reason="needs llama-cpp-python[server]")
    pytest.importorskip("uvicorn", reason="needs llama-cpp-python[server]")
    port = free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", smollm2, "--host", "127.0.0.1",
           "--port", str(port), "--n_threads", "1", "--n_ctx", "2048", "--model_alias", "smollm2"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"llama.cpp server exited: {log.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("llama.cpp server did not start within 60 s")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def fake_server():
    server = FakeServer()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    """Local servers must be reached directly, whatever proxy the environment names."""
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
