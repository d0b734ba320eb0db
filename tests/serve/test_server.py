"""vidllm's OpenAI-compatible server, run as a user runs it, and vidllm's own OpenAI client
(``--model openai:...``) asking it about real clips."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
import tiny_vlms
from media import sign_clip
from model_servers import free_port


class Served:
    def __init__(self, model: str, *extra: str):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vidllm", "serve", "--model", model, "--port", str(self.port), "--name", "served",
             *extra], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        seen = []
        while not seen or "serving" not in seen[-1]:  # printed once the model is loaded and the port open
            line = self.proc.stderr.readline()
            if not line:  # the server exited
                raise AssertionError("the server did not start:\n" + "".join(seen))
            seen.append(line)
        self.url = f"http://127.0.0.1:{self.port}/v1"

    def post(self, path: str, body: bytes):
        req = urllib.request.Request(self.url + path, data=body, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def ask(*args):
    result = subprocess.run([sys.executable, "-m", "vidllm", "ask", *args, "--json"], capture_output=True, text=True,
                            timeout=600, env=os.environ.copy())
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def timeline_server():
    server = Served("timeline")
    yield server
    server.close()


def test_embedded_default_served_and_asked_through_openai_client(timeline_server, tmp_path):
    clip = sign_clip(tmp_path / "sign.mp4")
    answer = ask(clip, "What number is written on the sign?", "--model", f"openai:{timeline_server.url}#served",
                 "-o", "video_mode", "video_url")
    assert "42" in answer["answer"]
    assert answer["manifest"]["model"].endswith("#served")


def test_bad_requests_get_json_errors_and_the_server_stays_up(timeline_server):
    status, body = timeline_server.post("/chat/completions", b"{not json")
    assert status == 400 and body["error"]["type"] == "invalid_request_error"
    status, body = timeline_server.post("/chat/completions", json.dumps({"messages": []}).encode())
    assert status == 400 and "messages" in body["error"]["message"]
    local = {"messages": [{"role": "user", "content": [{"type": "video_url", "video_url": {"url": "/etc/passwd"}},
                                                        {"type": "text", "text": "What?"}]}]}
    status, body = timeline_server.post("/chat/completions", json.dumps(local).encode())
    assert status == 400 and "local paths" in body["error"]["message"]
    status, body = timeline_server.post("/embeddings", b"{}")
    assert status == 404
    with urllib.request.urlopen(timeline_server.url + "/models", timeout=30) as r:
        assert json.loads(r.read())["data"][0]["id"] == "served"


@tiny_vlms.needs_transformers
def test_tiny_vlm_served_receives_frames_with_their_times(tmp_path, clip_cfr):
    model = tiny_vlms.build("qwen2.5-vl", tmp_path / "tiny-qwen")
    server = Served(f"hf:{model}")
    try:
        answer = ask(clip_cfr, "What happens?", "--model", f"openai:{server.url}#served", "--nframes", "4")
        sent = answer["manifest"]["videos"][0]
        assert sent["frames"] == 4
        assert sent["timestamps"] == pytest.approx([1.24, 3.76, 6.24, 8.76], abs=0.021)
        assert isinstance(answer["reply"], str)
    finally:
        server.close()
