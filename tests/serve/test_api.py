"""The server as its users call it: the official ``openai`` SDK and curl, against a real server
on 127.0.0.1 in front of a backend that says exactly what it saw."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys

import openai
import pytest
from serve_support import BODY_LIMIT, KEY


def client(server, key=KEY, **more) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url, api_key=key, max_retries=0, timeout=60, **more)


def video_message(url: str, question: str = "What happens?", **part) -> list[dict]:
    video = {"type": "video_url", "video_url": {"url": url}} if not part else {"type": "video", "video": url, **part}
    return [{"role": "user", "content": [video, {"type": "text", "text": question}]}]


def seen(completion) -> dict:
    return json.loads(completion.choices[0].message.content)


def test_plain_chat_with_a_video(echo_server, media):
    completion = client(echo_server).chat.completions.create(model="served", messages=video_message("clip.mp4"))
    got = seen(completion)
    # the server's default sampling (1 fps, mid-interval targets) over the 4 s 25 fps clip: true frame times
    assert got["videos"] == [{"frames": 4, "size": [160, 120], "times": [0.48, 1.48, 2.48, 3.48]}]
    assert got["text"] == ["What happens?"]
    assert completion.object == "chat.completion" and completion.model == "served"
    assert completion.usage.prompt_tokens == 7 and completion.usage.total_tokens == 10
    extension = completion.model_extra["vidllm"]
    assert extension["manifest"]["videos"][0]["timestamps"] == [0.48, 1.48, 2.48, 3.48]
    assert str(media["allowed"]) not in json.dumps(extension)  # no server path goes back


def test_streamed_chat_with_a_video(echo_server):
    stream = client(echo_server).chat.completions.create(
        model="served", messages=video_message("clip.mp4", nframes=3), stream=True,
        stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert json.loads(text)["videos"][0]["frames"] == 3
    assert chunks[0].choices[0].delta.role == "assistant"
    finals = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finals) == 1 and finals[0].choices[0].finish_reason == "stop"
    assert chunks[-1].usage.completion_tokens == 3 and chunks[-1].choices == []
    assert all(c.object == "chat.completion.chunk" and c.id == chunks[0].id for c in chunks)


def test_models_list_like_openai(echo_server):
    models = client(echo_server).models.list().data
    assert [m.id for m in models] == ["served"]
    assert models[0].owned_by == "vidllm" and models[0].created > 1_700_000_000
    assert client(echo_server).models.retrieve("served").id == "served"
    with pytest.raises(openai.NotFoundError):
        client(echo_server).models.retrieve("gpt-9")


def test_unknown_model_is_404_and_wrong_key_is_401(echo_server):
    with pytest.raises(openai.NotFoundError) as info:
        client(echo_server).chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": "hi"}])
    assert "gpt-9" in info.value.message and info.value.body["type"] == "not_found_error"
    with pytest.raises(openai.AuthenticationError):
        client(echo_server, key="wrong").chat.completions.create(model="served", messages=[{"role": "user",
                                                                                           "content": "hi"}])


def test_unknown_endpoint_then_the_same_connection_still_works(echo_server):
    """embeddings.create (unknown here) then models.list on one keep-alive connection."""
    sdk = client(echo_server)
    with pytest.raises(openai.NotFoundError):
        sdk.embeddings.create(model="served", input="x" * 50_000)
    assert sdk.models.list().data[0].id == "served"


def test_vllm_media_io_kwargs_and_processor_fps(echo_server):
    sdk = client(echo_server)
    frames = sdk.chat.completions.create(model="served", messages=video_message("clip.mp4"),
                                         extra_body={"media_io_kwargs": {"video": {"num_frames": 5}}})
    assert seen(frames)["videos"][0]["frames"] == 5
    rate = sdk.chat.completions.create(model="served", messages=video_message("clip.mp4"),
                                       extra_body={"mm_processor_kwargs": {"fps": 2.0}})
    times = seen(rate)["videos"][0]["times"]
    assert len(times) == 8 and all(abs(b - a - 0.5) < 0.05 for a, b in zip(times, times[1:]))
    capped = sdk.chat.completions.create(model="served", messages=video_message("clip.mp4"),
                                         extra_body={"media_io_kwargs": {"video": {"fps": 4.0, "num_frames": 6}},
                                                     "mm_processor_kwargs": {"fps": 1.0}})
    assert seen(capped)["videos"][0]["frames"] == 6  # 4 fps over 4 s = 16, capped at num_frames
    own = sdk.chat.completions.create(model="served", messages=video_message("clip.mp4", nframes=2),
                                      extra_body={"media_io_kwargs": {"video": {"num_frames": 5}}})
    assert seen(own)["videos"][0]["frames"] == 2  # the part's own fields win
    with pytest.raises(openai.BadRequestError) as info:
        sdk.chat.completions.create(model="served", messages=video_message("clip.mp4"),
                                    extra_body={"media_io_kwargs": {"video": {"num_frames": 65}}})
    assert "limit of 64" in info.value.message


def test_images_and_file_parts(echo_server, media):
    picture = base64.b64encode((media["allowed"] / "red.png").read_bytes()).decode()
    clip = base64.b64encode(open(media["clip"], "rb").read()).decode()
    messages = [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{picture}"}},
        {"type": "image_url", "image_url": {"url": "red.png"}},
        {"type": "file", "file": {"file_data": f"data:video/mp4;base64,{clip}", "filename": "c.mp4"}},
        {"type": "text", "text": "Colour?"}]}]
    got = seen(client(echo_server).chat.completions.create(model="served", messages=messages))
    assert got["images"] == [[48, 64, 3], [48, 64, 3]] and got["videos"][0]["frames"] == 4


def test_upload_then_ask_by_file_id(echo_server, media, isolated_cache):
    import httpx2

    data = open(media["clip"], "rb").read()
    r = httpx2.post(echo_server.url + "/uploads", params={"filename": "clip.mp4"}, content=data,
                    headers={"Authorization": f"Bearer {KEY}", "Content-Type": "video/mp4"})
    assert r.status_code == 200, r.text
    upload = r.json()
    assert upload["bytes"] == len(data) and upload["id"].startswith("file-")
    messages = [{"role": "user", "content": [{"type": "file", "file": {"file_id": upload["id"]}},
                                             {"type": "text", "text": "?"}]}]
    assert seen(client(echo_server).chat.completions.create(model="served", messages=messages))["videos"]
    played = httpx2.get(echo_server.base + upload["url"], headers={"Range": "bytes=0-99"})
    assert played.status_code == 206 and played.content == data[:100]
    thumb = httpx2.get(echo_server.base + upload["url"] + "/frame", params={"t": 2.0, "width": 80})
    assert thumb.status_code == 200 and thumb.content[:2] == b"\xff\xd8"
    assert list((isolated_cache / "uploads").iterdir())
    cleared = subprocess.run([sys.executable, "-m", "vidllm", "cache", "clear"], capture_output=True, text=True,
                             timeout=120)
    assert cleared.returncode == 0 and not (isolated_cache / "uploads").exists()


def test_uploads_are_bounded(echo_server, isolated_cache):
    """Over the size limit: 413 and nothing kept; identical uploads at once: one file, no loss."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx2

    headers = {"Authorization": f"Bearer {KEY}"}
    too_big = httpx2.post(echo_server.url + "/uploads", content=b"x" * (BODY_LIMIT + 1), headers=headers)
    assert too_big.status_code == 413
    streamed = httpx2.post(echo_server.url + "/uploads", headers=headers,  # no Content-Length: counted as read
                           content=iter([b"y" * 65536] * (BODY_LIMIT // 65536 + 2)))
    assert streamed.status_code == 413
    assert [p.name for p in (isolated_cache / "uploads").iterdir()] == []
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda _: httpx2.post(echo_server.url + "/uploads", content=b"same" * 1000,
                                                  headers=headers).json()["id"], range(16)))
    assert len(set(ids)) == 1 and len(list((isolated_cache / "uploads").iterdir())) == 1


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_curl_plain_stream_and_errors(echo_server):
    def curl(*args):
        out = subprocess.run(["curl", "-sS", "-w", "\n%{http_code}", "-H", f"Authorization: Bearer {KEY}", *args],
                             capture_output=True, text=True, timeout=60)
        body, _, code = out.stdout.rpartition("\n")
        return int(code), body

    body = json.dumps({"model": "served", "messages": video_message("clip.mp4", nframes=2)})
    code, text = curl(echo_server.url + "/chat/completions", "-H", "Content-Type: application/json", "-d", body)
    assert code == 200 and json.loads(json.loads(text)["choices"][0]["message"]["content"])["videos"][0]["frames"] == 2
    streamed = json.dumps({"model": "served", "stream": True, "messages": video_message("clip.mp4", nframes=2)})
    code, text = curl("-N", echo_server.url + "/chat/completions", "-H", "Content-Type: application/json",
                      "-d", streamed)
    events = [line[len("data: "):] for line in text.splitlines() if line.startswith("data: ")]
    assert code == 200 and events[-1] == "[DONE]"
    assert json.loads("".join(json.loads(e)["choices"][0]["delta"].get("content", "") for e in events[:-1]))
    code, text = curl(echo_server.url + "/chat/completions", "-d", "{not json")
    assert code == 400 and json.loads(text)["error"]["type"] == "invalid_request_error"
    code, text = curl("-X", "OPTIONS", echo_server.url + "/chat/completions", "-H", "Origin: http://example.org",
                      "-H", "Access-Control-Request-Method: POST")
    assert code == 200
    code, text = curl(echo_server.base + "/health")
    assert code == 200 and json.loads(text)["status"] == "ok"


def test_openai_backend_behind_the_server_streams_token_by_token(start_server, echo_server):
    """Two vidllm servers: the SDK streams from the first, whose ``openai:`` backend streams
    from the second (it decodes the video sent as a data URL) and relays each delta."""
    from vidllm.models.registry import load_model

    relay = start_server(load_model(f"openai:{echo_server.url}#served", api_key=KEY, video_mode="video_url",
                                    sampling_kwargs=True, max_retries=0))
    stream = client(relay).chat.completions.create(model="served", stream=True,
                                                   messages=video_message("clip.mp4", "Count.", nframes=3))
    deltas = [c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content]
    got = json.loads("".join(deltas))
    assert len(deltas) > 2  # relayed as it came, not as one block
    assert got["videos"][0]["frames"] == 3 and got["text"] == ["Count."]
    plain = client(relay).chat.completions.create(model="served", messages=video_message("clip.mp4", nframes=2))
    assert seen(plain)["videos"][0]["frames"] == 2


def test_upload_store_keeps_within_its_total(isolated_cache):
    """Beyond the total, the oldest uploads go; the newest always stays."""
    import asyncio
    import os

    from vidllm.serve.uploads import UploadStore

    async def chunks(data: bytes):
        yield data

    store = UploadStore(max_bytes=10_000, max_total_bytes=25_000)
    ids = []
    for i in range(4):
        ids.append(asyncio.run(store.save(chunks(bytes([i]) * 10_000), f"v{i}.mp4")))
        os.utime(store.path(ids[-1]), (i + 1, i + 1))  # distinct ages, whatever the clock's resolution
    kept = sorted(p.name[:32] for p in (isolated_cache / "uploads").iterdir())
    assert kept == sorted(i[5:] for i in ids[-2:])
    for bad in ("../../etc/passwd", "file-" + "0" * 32, "file-XYZ"):
        with pytest.raises(Exception, match="no upload"):
            store.path(bad)
