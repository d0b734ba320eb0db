"""Load on ``vidllm serve``, loopback only: latency under concurrency, idle connections, memory.

The server runs in a child process (so its memory is its own) in front of a cheap local backend
that still samples every video for real (``FrameCount``: the shared sampling path, frame cache
off, a reply naming the frames it got). Printed:

- a baseline: 20 text requests one at a time (p50);
- 1,000 text requests at concurrency 16: p50 / p95, requests per second, errors (target 0);
- 100 video requests at concurrency 4 (a 6 s 320x240 clip, 8 frames decoded each): p50 / p95, errors;
- one request while 50 idle connections are held open: served, and its time over the baseline;
- the server's RSS after 200 video requests over its RSS after the 10th (target <= 1.2).

    python benchmarks/serve_load.py
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

KEY = "bench-key"


def serve_child(port: int, folder: str) -> None:
    """The child process: the app on uvicorn with the cheap backend."""
    from vidllm.models.base import Backend, Output, conversation_parts
    from vidllm.models.request import Video
    from vidllm.serve.app import create_app
    from vidllm.serve.config import ServeConfig
    from vidllm.serve.server import serve_app

    class FrameCount(Backend):
        scheme = "framecount"

        def _generate(self, batch):
            return [Output(" ".join(f"{len(pv.frames)} frames" for _, part, pv in conversation_parts(p)
                                    if isinstance(part, Video)) or "ok", prompt_tokens=1, generated_tokens=1)
                    for p in batch]

    config = ServeConfig(model="framecount", name="bench", api_key=KEY, allowed_local_media_path=folder)
    serve_app(create_app(config, FrameCount(cache=False)), config, host="127.0.0.1", port=port)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    import psutil

    return psutil.Process(pid).memory_info().rss / 1e6


async def run(url: str, bodies: list[dict], concurrency: int) -> tuple[list[float], int]:
    import httpx2

    latencies, errors, queue = [], 0, list(bodies)
    limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx2.AsyncClient(limits=limits, timeout=120, headers={"Authorization": f"Bearer {KEY}"}) as client:
        async def worker():
            nonlocal errors
            while queue:
                body = queue.pop()
                began = time.perf_counter()
                try:
                    r = await client.post(url + "/chat/completions", json=body)
                    ok = r.status_code == 200
                except Exception:  # noqa: BLE001 - counted, not raised: the benchmark reports errors
                    ok = False
                latencies.append(time.perf_counter() - began)
                errors += not ok

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors


def report(label: str, latencies: list[float], errors: int, wall: float, baseline: float | None = None) -> None:
    p50, p95 = np.percentile(latencies, 50) * 1000, np.percentile(latencies, 95) * 1000
    ratio = f", p50 {p50 / baseline:.1f}x the one-at-a-time baseline" if baseline else ""
    print(f"{label}: {len(latencies)} requests, {errors} errors, p50 {p50:.1f} ms, p95 {p95:.1f} ms, "
          f"{len(latencies) / wall:.0f} req/s{ratio}")


def main() -> int:
    from vidllm.video.synthetic import make_clip

    folder = Path(tempfile.mkdtemp(prefix="vidllm-serve-load-"))
    make_clip(folder / "clip.mp4", nframes=150, fps=25, size=(320, 240), gop=25)
    port = free_port()
    child = subprocess.Popen([sys.executable, __file__, "--serve", str(port), str(folder)])
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or child.poll() is not None:
                    raise SystemExit("the server did not start")
                time.sleep(0.2)
        text = {"model": "bench", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 4}

        def video(i: int) -> dict:
            part = {"type": "video", "video": "clip.mp4", "nframes": 8, "start": (i % 10) * 0.1}
            return {"model": "bench", "messages": [{"role": "user", "content": [part, {"type": "text", "text": "?"}]}]}

        latencies, errors = asyncio.run(run(url, [text] * 20, 1))
        baseline = float(np.percentile(latencies, 50) * 1000)
        print(f"baseline: 20 text requests one at a time, p50 {baseline:.1f} ms, {errors} errors")

        began = time.perf_counter()
        latencies, errors = asyncio.run(run(url, [text] * 1000, 16))
        report("text, concurrency 16", latencies, errors, time.perf_counter() - began, baseline)

        latencies, errors = asyncio.run(run(url, [video(i) for i in range(10)], 4))  # same concurrency as below
        rss_10 = rss_mb(child.pid)
        began = time.perf_counter()
        latencies, video_errors = asyncio.run(run(url, [video(i) for i in range(100)], 4))
        report("video, concurrency 4", latencies, video_errors, time.perf_counter() - began)
        _, more_errors = asyncio.run(run(url, [video(i) for i in range(90)], 4))
        rss_200 = rss_mb(child.pid)
        print(f"server RSS: {rss_10:.0f} MB after 10 video requests, {rss_200:.0f} MB after 200: "
              f"ratio {rss_200 / rss_10:.2f} (target <= 1.2); errors {errors + more_errors}")

        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(50)]
        try:
            latencies, errors = asyncio.run(run(url, [text], 1))
            print(f"with 50 idle connections open: a text request served in {latencies[0] * 1000:.1f} ms "
                  f"({latencies[0] * 1000 / baseline:.1f}x baseline), {errors} errors")
        finally:
            for s in idle:
                s.close()
        health = json.loads(subprocess.run(["curl", "-s", url[:-3] + "/health"], capture_output=True,
                                           text=True).stdout or "{}")
        print(f"server health afterwards: {health.get('status')}")
    finally:
        child.terminate()
        child.wait(timeout=30)
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve_child(int(sys.argv[2]), sys.argv[3])
    else:
        sys.exit(main())
