"""The OpenAI-compatible backend against real HTTP servers on 127.0.0.1: llama-cpp-python's
server with SmolLM2 (the real path), and a small local server that is slow, fails or hangs up."""

from __future__ import annotations

import base64
import io
import time

import numpy as np
import pytest
from model_servers import free_port

from vidllm.errors import (
    BackendOptionError,
    ModelURIError,
    ServerError,
    ServerTimeoutError,
    ServerUnreachableError,
    VidllmError,
)
from vidllm.models import Generation, Request, Text, Turn, load_model
from vidllm.video.spec import SamplingSpec

FAST = dict(backoff=0.01, max_backoff=0.05)


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and text
    return text


# -- the real server ----------------------------------------------------------------------------


def test_real_llama_cpp_server_answers(llama_server):
    model = load_model(f"openai:{llama_server}#smollm2", timeout=60)
    req = Request((Turn("system", "Answer in a few words."), Turn("user", "What has two wheels and pedals?")),
                  Generation(max_new_tokens=24))
    [resp] = model.generate([req])
    assert resp.text
    assert resp.usage.prompt_tokens > 5 and 1 <= resp.usage.generated_tokens <= 24
    assert resp.usage.visual_tokens is None  # a text model: nothing visual to count
    assert resp.manifest["served_model"] == "smollm2"
    assert resp.manifest["base_url"] == llama_server
    assert resp.timings["total_s"] > 0


def test_real_server_model_name_is_found_when_omitted(llama_server):
    model = load_model(f"openai:{llama_server}")
    assert model.model == "smollm2"


def test_real_server_refusing_frames_is_a_clear_error(llama_server, bikes):
    """A text-only server cannot take image parts: the server's own reason, in one line."""
    model = load_model(f"openai:{llama_server}#smollm2", max_retries=1, **FAST)
    with pytest.raises(ServerError) as info:
        model.generate([Request.ask(bikes, "What is happening?", spec=SamplingSpec(nframes=2), max_new_tokens=4)])
    text = one_line(info.value)
    assert "HTTP 500" in text and "2 attempts" in text and "can only concatenate str" in text


# -- what is sent -------------------------------------------------------------------------------


def test_frames_go_as_images_with_their_true_times(fake_server, bikes):
    model = load_model(f"openai:{fake_server.base}#fake-model", max_pixels=160 * 90)
    req = Request.ask(bikes, "What is happening?", spec=SamplingSpec(nframes=3, start=1.0), system="Be brief.",
                      max_new_tokens=7, stop=["\n"], seed=3)
    [resp] = model.generate([req])
    assert resp.text == "a bicycle"
    body = fake_server.received[0]["body"]
    assert body["model"] == "fake-model" and body["max_tokens"] == 7 and body["seed"] == 3 and body["stop"] == ["\n"]
    system, user = body["messages"]
    assert system == {"role": "system", "content": "Be brief."}
    parts = user["content"]
    labels = [p["text"] for p in parts if p["type"] == "text" and p["text"].startswith("Frame at ")]
    times = [float(label[len("Frame at "):-2]) for label in labels]
    video = resp.manifest["videos"][0]
    assert times == [round(t, 2) for t in video["timestamps"]] and len(times) == 3
    images = [p["image_url"]["url"] for p in parts if p["type"] == "image_url"]
    assert len(images) == 3
    from PIL import Image

    picture = Image.open(io.BytesIO(base64.b64decode(images[0].split(",", 1)[1])))
    assert picture.size == (video["width"], video["height"]) and video["width"] * video["height"] <= 160 * 90
    assert parts[-1] == {"type": "text", "text": "What is happening?"}
    assert resp.usage.to_dict() == {"prompt_tokens": 11, "visual_tokens": None, "generated_tokens": 3,
                                    "total_tokens": 14}
    assert "<data" in str(resp.manifest["request_body"])  # no base64 blobs in the manifest


def test_profile_plans_frames_and_predicts_visual_tokens(fake_server, bikes):
    model = load_model(f"openai:{fake_server.base}#fake-model", profile="qwen2.5-vl")
    [resp] = model.generate([Request.ask(bikes, "?", spec=SamplingSpec(nframes=4), budget=1000)])
    plan = resp.manifest["videos"][0]["plan"]
    assert resp.usage.visual_tokens == plan["visual_tokens"] <= 1000
    assert resp.manifest["visual_tokens_source"] == "predicted"


def test_video_url_mode_sends_the_file(fake_server, clip_cfr):
    model = load_model(f"openai:{fake_server.base}#fake-model", video_mode="video_url", sampling_kwargs=True)
    [resp] = model.generate([Request.ask(clip_cfr, "Count.", spec=SamplingSpec(fps=2.0))])
    body = fake_server.received[0]["body"]
    [video] = [p for p in body["messages"][0]["content"] if p["type"] == "video_url"]
    with open(clip_cfr, "rb") as f:
        assert base64.b64decode(video["video_url"]["url"].split(",", 1)[1]) == f.read()
    assert body["mm_processor_kwargs"] == {"fps": 2.0} and "media_io_kwargs" not in body
    model.generate([Request.ask(clip_cfr, "Count.", spec=SamplingSpec(nframes=5))])
    assert fake_server.received[-1]["body"]["media_io_kwargs"] == {"video": {"num_frames": 5}}  # vLLM's loader
    assert resp.manifest["videos"][0].get("timestamps") is None  # the server sampled


def test_requests_run_concurrently_but_bounded(fake_server):
    fake_server.delay = 0.2
    model = load_model(f"openai:{fake_server.base}#fake-model", max_concurrency=2)
    assert model.concurrency == 2
    out = model.generate([Request((Turn("user", f"q{i}"),), id=str(i)) for i in range(6)])
    assert [r.request_id for r in out] == [str(i) for i in range(6)]
    assert fake_server.max_in_flight == 2  # in parallel, never more than allowed


def test_the_bound_holds_across_callers(fake_server):
    """Three threads calling generate at once still share one bound of in-flight requests."""
    from concurrent.futures import ThreadPoolExecutor

    fake_server.delay = 0.1
    model = load_model(f"openai:{fake_server.base}#fake-model", max_concurrency=3)
    with ThreadPoolExecutor(3) as pool:
        batches = list(pool.map(lambda k: model.generate([Request((Turn("user", f"{k}-{i}"),)) for i in range(4)]),
                                range(3)))
    assert [len(b) for b in batches] == [4, 4, 4]
    assert fake_server.max_in_flight == 3


# -- failures -----------------------------------------------------------------------------------


def test_transient_failures_are_retried(fake_server):
    fake_server.script = [("status", 503, {"error": {"message": "warming up"}}), "drop", "ok"]
    model = load_model(f"openai:{fake_server.base}#fake-model", max_retries=3, **FAST)
    [resp] = model.generate([Request((Turn("user", "hi"),))])
    assert resp.text == "a bicycle"
    assert len(fake_server.received) == 3


@pytest.mark.parametrize("script, error, words", [
    ([("status", 500, {"error": {"message": "CUDA out of\nmemory"}})] * 3, ServerError,
     ["HTTP 500", "CUDA out of memory", "3 attempts"]),
    (["drop"] * 3, ServerError, ["closed the connection", "3 attempts"]),
    ([("status", 401, {"error": {"message": "bad key"}})], ServerError, ["HTTP 401", "bad key", "API key"]),
    ([("status", 404, b"<html>not here</html>")], ServerError, ["HTTP 404", "not here", "/v1"]),
])
def test_failures_end_in_one_clear_line(fake_server, script, error, words):
    fake_server.script = list(script)
    model = load_model(f"openai:{fake_server.base}#fake-model", max_retries=2, **FAST)
    with pytest.raises(error) as info:
        model.generate([Request((Turn("user", "hi"),))])
    text = one_line(info.value)
    for word in words:
        assert word in text
    assert isinstance(info.value, VidllmError)
    retried = script[0] == "drop" or script[0][1] >= 500
    assert len(fake_server.received) == (3 if retried else 1)


def test_a_slow_server_times_out_without_hanging(fake_server):
    fake_server.script = [("slow", 3.0), ("slow", 3.0)]
    model = load_model(f"openai:{fake_server.base}#fake-model", timeout=0.3, max_retries=1, **FAST)
    began = time.monotonic()
    with pytest.raises(ServerTimeoutError) as info:
        model.generate([Request((Turn("user", "hi"),))])
    assert time.monotonic() - began < 2.0
    assert "no answer within 0.3 s (2 attempts)" in one_line(info.value)
    assert isinstance(info.value, TimeoutError)


def test_nothing_listening_is_unreachable():
    port = free_port()
    began = time.monotonic()
    with pytest.raises(ServerUnreachableError) as info:
        load_model(f"openai:http://127.0.0.1:{port}/v1#m", max_retries=1, **FAST).generate(
            [Request((Turn("user", "hi"),))])
    assert time.monotonic() - began < 2.0
    assert "connection refused" in one_line(info.value) and "is the server running" in str(info.value)
    assert isinstance(info.value, ConnectionError)


@pytest.mark.parametrize("uri, options, error, words", [
    ("openai:127.0.0.1:8000#m", {}, ModelURIError, ["openai:<base_url>#<model>"]),
    ("openai:http://127.0.0.1:9/v1#m", {"max_concurency": 2}, BackendOptionError,
     ["unknown option 'max_concurency'", "max_concurrency"]),
    ("openai:http://127.0.0.1:9/v1#m", {"timeout": -1}, BackendOptionError, ["timeout=-1"]),
    ("openai:http://127.0.0.1:9/v1#m", {"profile": "qwen9"}, BackendOptionError,
     ["unknown profile 'qwen9'", "qwen2.5-vl"]),
])
def test_bad_uris_and_options(uri, options, error, words):
    with pytest.raises(error) as info:
        load_model(uri, **options)
    text = one_line(info.value)
    for word in words:
        assert word in text


def test_api_key_is_sent_and_kept_out_of_the_manifest(fake_server):
    model = load_model(f"openai:{fake_server.base}#fake-model", api_key="sk-secret")
    [resp] = model.generate([Request((Turn("user", "hi"),))])
    headers = {k.lower(): v for k, v in fake_server.received[0]["headers"].items()}
    assert headers["authorization"] == "Bearer sk-secret"
    assert "sk-secret" not in str(resp.manifest)


def test_image_arrays_are_encoded(fake_server):
    from vidllm.models import Image

    model = load_model(f"openai:{fake_server.base}#fake-model", image_format="png")
    model.generate([Request((Turn("user", (Image(np.full((8, 8, 3), 200, np.uint8)), Text("colour?"))),))])
    [part] = [p for p in fake_server.received[0]["body"]["messages"][0]["content"] if p["type"] == "image_url"]
    assert part["image_url"]["url"].startswith("data:image/png;base64,")


def test_real_server_streams_tokens(llama_server):
    """``generate_stream`` and ``stream=True``: the answer arrives as server-sent events."""
    model = load_model(f"openai:{llama_server}#smollm2", timeout=60)
    req = Request((Turn("user", "Name three colours."),), Generation(max_new_tokens=16))
    pieces = []
    resp = model.generate_stream(req, pieces.append)
    assert len(pieces) > 1 and "".join(pieces).strip() == resp.text
    [again] = load_model(f"openai:{llama_server}#smollm2", timeout=60, stream=True).generate([req])
    assert again.text == resp.text  # greedy: the same answer, streamed or not
