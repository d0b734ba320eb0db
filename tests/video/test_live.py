"""Live sources on real local streams: a replayed file, a growing file, MPEG-TS over UDP published
by ffmpeg on 127.0.0.1 (started and stopped here), a stream that stalls and comes back, sources
that never start. Clips are generated with known content."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from vidllm.errors import StreamError, VideoNotFoundError
from vidllm.video.live import LiveSource, open_stream, source_kind
from vidllm.video.synthetic import make_clip, read_frame_index

pytestmark = pytest.mark.timeout(120)


def ffmpeg_exe() -> str | None:
    """The system ffmpeg, else the static binary of the imageio-ffmpeg wheel."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        return None


needs_ffmpeg = pytest.mark.skipif(ffmpeg_exe() is None, reason="no ffmpeg (apt install ffmpeg, or pip install imageio-ffmpeg)")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def publish(clip: str, url: str) -> subprocess.Popen:
    """ffmpeg sending ``clip`` at real speed as MPEG-TS to ``url``."""
    return subprocess.Popen([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-re", "-i", clip, "-c", "copy",
                             "-f", "mpegts", url], stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> str:
    """4 s at 10 fps, every frame's index drawn into it, a keyframe every 5 frames."""
    return make_clip(tmp_path_factory.mktemp("live") / "indexed.mp4", nframes=40, fps=10, size=(320, 240), gop=5)


def decoded_times(path: str) -> list[float]:
    """Every frame's time from a plain PyAV decode (seconds from the stream start)."""
    import av

    with av.open(path) as container:
        stream = container.streams.video[0]
        return [float((f.pts - stream.start_time) * stream.time_base) for f in container.decode(stream)]


def collect(source) -> tuple[list[float], list[int], list[float]]:
    times, indices, arrivals = [], [], []
    began = time.monotonic()
    for frames in source:
        times.append(float(frames.timestamps[0]))
        indices.append(read_frame_index(frames.data[0]))
        arrivals.append(time.monotonic() - began)
    return times, indices, arrivals


def test_source_kinds():
    assert [source_kind(u) for u in ("udp://127.0.0.1:5000", "rtsp://cam/1", "https://x/live.m3u8", "device:/dev/video0",
                                     "clip.mp4")] == ["network", "network", "network", "device", "file"]
    assert source_kind("rec.ts", follow=True) == "growing"


def test_replay_gives_true_timestamps_at_the_chosen_rate(clip):
    times, indices, _ = collect(open_stream(clip, fps=2))
    assert times == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5])
    assert indices == [0, 5, 10, 15, 20, 25, 30, 35]  # the frame shown is the frame timed


def test_realtime_replay_never_delivers_a_frame_before_its_time(clip):
    source = open_stream(clip, fps=4, realtime=True)
    times, _, arrivals = collect(source)
    assert len(times) == 16
    # pacing is a lower bound (never early); how late depends on the machine, so it is not asserted
    assert all(arrived >= t - times[0] - 0.05 for t, arrived in zip(times, arrivals))
    assert source.stats.dropped == 0


def test_slow_consumer_drops_oldest_frames_and_counts_them(clip):
    source = LiveSource(clip, fps=None, realtime=True, queue_size=2, speed=4.0).start()
    times = []
    for frames in source:
        times.append(float(frames.timestamps[0]))
        time.sleep(0.1)  # 10 frames a second of work on 40 frames a second of stream
    stats = source.stats
    assert stats.dropped > 0
    assert stats.delivered + stats.dropped == stats.received - stats.skipped == 40
    assert times == sorted(times) and times[-1] == pytest.approx(3.9)  # the newest frames survive


def test_growing_file_is_read_while_it_is_written(clip, tmp_path):
    whole = make_clip(tmp_path / "whole.ts", nframes=40, fps=10, size=(320, 240), gop=5)
    data = Path(whole).read_bytes()
    growing = tmp_path / "growing.ts"
    growing.write_bytes(data[:4096])

    def write_rest():
        for start in range(4096, len(data), 8192):
            time.sleep(0.05)
            with open(growing, "ab") as f:
                f.write(data[start:start + 8192])

    writer = threading.Thread(target=write_rest)
    writer.start()
    times, indices, _ = collect(open_stream(str(growing), fps=None, follow=True, read_timeout=1.0))
    writer.join()
    assert indices == list(range(40))
    assert times == pytest.approx(decoded_times(whole))


@needs_ffmpeg
def test_udp_mpegts_stream_published_by_ffmpeg(clip):
    port = free_udp_port()
    source = open_stream(f"udp://127.0.0.1:{port}", fps=2, open_timeout=10, read_timeout=1, reconnect_for=1)
    publisher = publish(clip, f"udp://127.0.0.1:{port}?pkt_size=1316")
    try:
        times, indices, _ = collect(source)
    finally:
        publisher.kill()
        publisher.wait()
    assert len(times) >= 5
    assert np.all(np.diff(times) >= 0.5 - 1e-6)  # thinned to 2 fps, times increasing
    # the stream's own clock: frame index i is shown at i / 10 s after the first frame received
    first_index, first_time = indices[0], times[0]
    assert [round((i - first_index) / 10, 3) for i in indices] == pytest.approx([t - first_time for t in times], abs=1e-3)


@needs_ffmpeg
def test_tcp_stream_is_retried_until_the_server_listens(clip):
    port = free_udp_port()  # a free number; TCP and UDP ports are apart, a clash only fails the test
    source = open_stream(f"tcp://127.0.0.1:{port}", fps=2, open_timeout=15, read_timeout=1, reconnect_for=1)
    source_frames: list[int] = []
    reader = threading.Thread(target=lambda: source_frames.extend(read_frame_index(f.data[0]) for f in source))
    reader.start()  # connects first: refused, retried with backoff
    time.sleep(1.0)
    server = subprocess.Popen([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-re", "-i", clip, "-c", "copy",
                               "-f", "mpegts", f"tcp://127.0.0.1:{port}?listen=1"], stdin=subprocess.DEVNULL)
    try:
        server.wait(timeout=60)
        reader.join(timeout=30)
    finally:
        server.kill()
    assert not reader.is_alive()
    assert source_frames == list(range(0, 40, 5))  # every frame at 2 fps, from the first on
    assert source.stats.last_error  # the refused connections (and the end) were seen, not raised


@needs_ffmpeg
def test_stream_that_stalls_drops_and_comes_back(clip):
    port = free_udp_port()
    url = f"udp://127.0.0.1:{port}?pkt_size=1316"
    source = open_stream(f"udp://127.0.0.1:{port}", fps=2, open_timeout=10, read_timeout=0.5, reconnect_for=4)
    received: list[float] = []

    def consume():
        received.extend(float(f.timestamps[0]) for f in source)

    reader = threading.Thread(target=consume)
    reader.start()
    first = publish(clip, url)
    first.wait()
    time.sleep(1.5)  # the stall: nothing is sent
    second = publish(clip, url)
    second.wait()
    reader.join(timeout=30)
    assert not reader.is_alive()
    assert source.stats.reconnects >= 1
    gaps = np.diff(received)
    assert np.all(gaps > 0)  # times keep increasing across the reconnect
    assert gaps.max() >= 1.0  # and the stall shows as a gap
    assert len(received) >= 10  # frames from both publishers


@pytest.mark.parametrize("uri, what", [
    ("udp://127.0.0.1:{port}", "nothing received within"),
    ("tcp://127.0.0.1:{port}", "nothing received within"),
    ("rtsp://127.0.0.1:{port}/live", "nothing received within"),
    ("device:/dev/video-none", "no capture device"),
])
def test_source_that_never_starts_is_a_clear_error_not_a_hang(uri, what):
    began = time.monotonic()
    with pytest.raises(StreamError, match=what) as error:
        collect(open_stream(uri.format(port=free_udp_port()), open_timeout=1.5, read_timeout=0.5))
    assert "\n" not in str(error.value)
    assert time.monotonic() - began < 30  # bounded by the timeouts, far from a hang


def test_missing_file_is_refused_at_once(tmp_path):
    with pytest.raises(VideoNotFoundError):
        open_stream(str(tmp_path / "none.mp4"))


def test_file_that_is_not_a_video_is_one_line_error(tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    with pytest.raises(StreamError, match="cannot be read as a video"):
        collect(open_stream(str(bad)))
