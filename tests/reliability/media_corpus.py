"""A corpus of awkward and malformed media, generated on the spot (nothing large is committed).

Every playable input carries its frame index drawn into each frame (``draw_frame_index``), and
its ``Case`` says at what time each index must be reported (``truth``), so that sampled
timestamps can be checked against the pixels rather than against any header.

``build_corpus(folder)`` writes the files and returns the cases; ``expect`` says what a command
must do with each: ``"ok"`` (a result), ``"error"`` (a one-line error, exit code 2) or
``"either"`` (a damaged file: a result with a warning, or a one-line error). Inputs that need
the FFmpeg command line (edit lists, negative-start MKV) use the static binary of
``imageio-ffmpeg`` and are left out where it is not installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Callable

import av
import numpy as np

from vidllm.video.synthetic import default_picture, draw_frame_index, make_clip

FPS = 25
SIZE = (160, 120)


@dataclass(frozen=True)
class Case:
    name: str
    path: str
    expect: str  # "ok", "error" or "either"
    # index drawn into a frame -> the time (s) vidllm must report for it; None: not checkable
    truth: Callable[[int], float] | None = None
    note: str = ""
    tags: frozenset = field(default_factory=frozenset)
    peak_mb: float = 1024  # the most memory any command may take on it


def cfr_truth(fps: float = FPS, first_index: int = 0) -> Callable[[int], float]:
    return lambda index: (index - first_index) / fps


def ffmpeg_exe() -> str | None:
    """The FFmpeg command line: on PATH, else imageio-ffmpeg's static build, else None."""
    if found := shutil.which("ffmpeg"):
        return found
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    return imageio_ffmpeg.get_ffmpeg_exe()


def _ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-y", *args], check=True, timeout=120)


def _write_frames(path: Path, codec: str, *, fmt: str | None = None, nframes: int = 50, size=SIZE,
                  pix_fmt: str = "yuv420p", options: dict | None = None) -> str:
    """Frames with their index drawn in, through any encoder and muxer PyAV has."""
    width, height = size
    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        stream.options = options or {}
        for i in range(nframes):
            image = default_picture(i, i / FPS, width, height)
            draw_frame_index(image, i)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return str(path)


def _damage(source: str, path: Path, *, keep: float | None = None, overwrite: str | None = None) -> str:
    data = bytearray(Path(source).read_bytes())
    if keep is not None:
        data = data[: int(len(data) * keep)]
    if overwrite is not None:
        middle, span = len(data) // 2, max(len(data) // 10, 512)
        noise = bytes(span) if overwrite == "zeros" else np.random.default_rng(7).bytes(span)
        data[middle : middle + span] = noise
    path.write_bytes(bytes(data))
    return str(path)


def _zero_packet_stream(path: Path) -> str:
    """A Matroska file that declares a video stream and holds no packet for it."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
        container.start_encoding()
    return str(path)


# The largest square (a multiple of 16) libx264 encodes here, found by bisection with PyAV:
# 16240x16240 encodes, 16256x16256 is refused ("Invalid argument").
LARGEST_SQUARE = 16240


def _grey_square(path: Path, side: int) -> str:
    """One mid-grey frame of ``side`` x ``side``, built as YUV planes (an RGB array of this size
    would take 790 MB in the test process)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width = stream.height = side
        stream.pix_fmt, stream.options = "yuv420p", {"preset": "ultrafast"}
        frame = av.VideoFrame(side, side, "yuv420p")
        for plane in frame.planes:
            plane.update(bytes([128]) * plane.buffer_size)
        frame.pts, frame.time_base = 0, Fraction(1, FPS)
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return str(path)


def build_corpus(folder: str | os.PathLike, *, full: bool = True) -> list[Case]:
    """Write the corpus into ``folder``; ``full=False`` leaves out the slow and big inputs."""
    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    cases: list[Case] = []

    def add(name, path, expect, truth=None, note="", tags=(), peak_mb=1024):
        cases.append(Case(name, str(path), expect, truth, note, frozenset(tags), peak_mb))

    # -- not videos at all
    (d / "zero.mp4").write_bytes(b"")
    add("zero bytes", d / "zero.mp4", "error")
    (d / "random.mp4").write_bytes(np.random.default_rng(1).bytes(50_000))
    add("random bytes .mp4", d / "random.mp4", "error")
    (d / "notes.txt").write_text("this is not a video\n" * 200)
    add("text file", d / "notes.txt", "error")
    (d / "folder.mp4").mkdir(exist_ok=True)
    add("directory", d / "folder.mp4", "error")
    add("missing path", d / "missing.mp4", "error")
    loop = d / "loop.mp4"
    if not loop.is_symlink():
        os.symlink(loop, loop)
    add("symlink loop", loop, "error")
    fifo = d / "fifo.mp4"
    if not fifo.exists():
        os.mkfifo(fifo)
    add("FIFO (no writer)", fifo, "error", tags={"fifo"})
    add("http URL, nothing listening", "http://127.0.0.1:9/clip.mp4", "error", tags={"url"})

    # -- good clips in awkward places and shapes
    base = make_clip(d / "base.mp4", nframes=250, fps=FPS, size=SIZE, gop=25, bframes=2)
    add("plain MP4 (reference)", base, "ok", cfr_truth())
    odd = d / "vidéo clip ü 日本 (1).mp4"
    shutil.copyfile(base, odd)
    add("unicode + spaces in path", odd, "ok", cfr_truth())
    add("one frame", make_clip(d / "one.mp4", nframes=1, fps=FPS, size=SIZE), "ok", cfr_truth())
    add("2x2", make_clip(d / "tiny.mp4", nframes=10, fps=FPS, size=(2, 2), draw_index=False), "ok")
    add("16384x16", make_clip(d / "wide.mp4", nframes=10, fps=2, size=(16384, 16), draw_index=False), "ok",
        tags={"extreme"})
    vfr_times = [0.0, 0.04, 0.1, 0.5, 0.52, 0.9, 1.7, 1.75, 2.6, 3.0, 3.04, 3.9, 4.4, 4.45, 5.0]
    add("VFR", make_clip(d / "vfr.mp4", timestamps=vfr_times, fps=FPS, size=SIZE), "ok", lambda i: vfr_times[i])
    add("rotated 90", make_clip(d / "rotated.mp4", nframes=50, fps=FPS, size=SIZE, rotation=90), "ok")
    audio = d / "audio.m4a"
    make_clip(audio, timestamps=[], audio_tone_hz=440, draw=None, draw_index=False)
    add("audio only", audio, "error")
    add("zero video packets", _zero_packet_stream(d / "empty_stream.mkv"), "error")

    # -- codecs and containers
    add("raw H.264 (.h264)", _write_frames(d / "raw.h264", "libx264", fmt="h264",
                                           options={"bf": "0", "g": "25"}), "ok", cfr_truth())
    add("MPEG-TS", make_clip(d / "clip.ts", nframes=100, fps=FPS, size=SIZE, gop=25), "ok", cfr_truth())
    add("VP9 (WebM)", _write_frames(d / "vp9.webm", "libvpx-vp9", options={"deadline": "realtime", "cpu-used": "8"}),
        "ok", cfr_truth())
    if "libsvtav1" in av.codecs_available:
        add("AV1 (MKV)", _write_frames(d / "av1.mkv", "libsvtav1", size=(192, 128), options={"preset": "12"}),
            "ok", cfr_truth())
    add("MJPEG (AVI)", _write_frames(d / "mjpeg.avi", "mjpeg", pix_fmt="yuvj420p"), "ok", cfr_truth())
    add("MPEG-4 part 2 (AVI)", _write_frames(d / "mpeg4.avi", "mpeg4", options={"qscale": "2"}), "ok", cfr_truth())
    add("FFV1 (MKV)", _write_frames(d / "ffv1.mkv", "ffv1"), "ok", cfr_truth())
    add("ProRes (MOV)", _write_frames(d / "prores.mov", "prores_ks", pix_fmt="yuv422p10le", nframes=20), "ok",
        cfr_truth())
    add("GIF", _write_frames(d / "anim.gif", "gif", pix_fmt="rgb8", nframes=20), "ok", cfr_truth())

    # -- damage: the index (moov) at the end, and at the start (faststart)
    fast = d / "faststart.mp4"
    _remux_faststart(base, fast)
    for keep in (0.1, 0.5, 0.9):
        pct = int(keep * 100)
        add(f"truncated {pct}% (moov at end)", _damage(base, d / f"cut{pct}_end.mp4", keep=keep), "error")
        add(f"truncated {pct}% (faststart)", _damage(str(fast), d / f"cut{pct}_fast.mp4", keep=keep), "ok",
            cfr_truth(), tags={"truncated"})
    add("zeros over the middle", _damage(base, d / "zeros.mp4", overwrite="zeros"), "either", cfr_truth(),
        tags={"damaged"})
    add("random bytes over the middle", _damage(base, d / "noise.mp4", overwrite="random"), "either", cfr_truth(),
        tags={"damaged"})
    ts = make_clip(d / "long.ts", nframes=250, fps=FPS, size=SIZE, gop=25)
    add("MPEG-TS truncated 55%", _damage(ts, d / "cut.ts", keep=0.55), "ok", cfr_truth(), tags={"truncated"})

    # -- timelines that do not start at zero (need the FFmpeg command line)
    if ffmpeg_exe():
        edited = d / "editlist.mp4"
        _ffmpeg("-ss", "1.3", "-i", base, "-c", "copy", str(edited))
        # FFmpeg starts the edit at the first frame at or after 1.3 s: frame 33 (1.32 s)
        add("MP4 edit list (-ss 1.3 -c copy)", edited, "ok", cfr_truth(first_index=33), tags={"editlist"})
        negative = d / "negative.mkv"
        _ffmpeg("-i", base, "-c", "copy", "-output_ts_offset", "-2", "-avoid_negative_ts", "disabled", str(negative))
        add("MKV negative start (-2 s)", negative, "ok", cfr_truth(), tags={"negative"})

    if full:
        side = LARGEST_SQUARE
        # without a pixel budget the frame itself is the budget: 790 MB of RGB, decoded from 400 MB of YUV
        add(f"largest square ({side}x{side})", _grey_square(d / "square.mp4", side), "ok", tags={"extreme"},
            peak_mb=1024 + 3 * side * side * 3 / 2**20)
    return cases


def _remux_faststart(source: str, path: Path) -> None:
    """The same packets with the index (moov) written before the data, as for web playback."""
    with av.open(source) as src, av.open(str(path), "w", options={"movflags": "faststart"}) as dst:
        stream = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is None:
                continue
            packet.stream = stream
            dst.mux(packet)
