"""``vidllm serve`` run as a user runs it (a subprocess), and vidllm's own OpenAI client
(``--model openai:...``) asking it about real clips."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import openai
import pytest
import tiny_vlms
from media import sign_clip
from model_servers import FakeServer, free_port


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
        self.banner = seen[-1]
        self.url = f"http://127.0.0.1:{self.port}/v1"

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def ask(*args):
    result = subprocess.run([sys.executable, "-m", "vidllm", "ask", *args, "--json"], capture_output=True, text=True,
                            timeout=600, env=os.environ.copy())
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def test_cli_serves_an_openai_backend_with_local_media(tmp_path, clip_cfr):
    """The command with its flags: key, allowed folder, ceilings; frames sampled here, sent upstream."""
    upstream = FakeServer()
    folder = tmp_path / "media"
    folder.mkdir()
    os.symlink(clip_cfr, folder / "clip.mp4")  # a link to a file outside: refused
    (folder / "real.mp4").write_bytes(open(clip_cfr, "rb").read())
    server = Served(f"openai:{upstream.base}#fake-model", "--api-key", "k", "--allowed-local-media-path", str(folder),
                    "--max-frames", "6", "--max-fps", "2")
    try:
        assert "page:" in server.banner
        sdk = openai.OpenAI(base_url=server.url, api_key="k", max_retries=0)
        video = {"type": "video_url", "video_url": {"url": "real.mp4"}}
        reply = sdk.chat.completions.create(model="served", messages=[{"role": "user", "content": [video]}])
        assert reply.choices[0].message.content == "a bicycle"
        sent = upstream.received[-1]["body"]["messages"][0]["content"]
        assert sum(p["type"] == "image_url" for p in sent) == 6  # 1 fps over 10 s, capped by --max-frames 6
        for bad, error in [({"type": "video_url", "video_url": {"url": "clip.mp4"}}, openai.PermissionDeniedError),
                           ({"type": "video", "video": "real.mp4", "fps": 3}, openai.BadRequestError)]:
            with pytest.raises(error):
                sdk.chat.completions.create(model="served", messages=[{"role": "user", "content": [bad]}])
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=server.url, api_key="x", max_retries=0).models.list()
    finally:
        server.close()
        upstream.close()


def test_cli_refuses_bad_settings_in_one_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "vidllm", "serve", "--max-fps", "-1"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2 and "max_fps" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_embedded_default_served_and_asked_through_openai_client(tmp_path):
    clip = sign_clip(tmp_path / "sign.mp4")
    server = Served("timeline")
    try:
        answer = ask(clip, "What number is written on the sign?", "--model", f"openai:{server.url}#served",
                     "-o", "video_mode", "video_url")
        assert "42" in answer["answer"]
        assert answer["manifest"]["model"].endswith("#served")
    finally:
        server.close()


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
