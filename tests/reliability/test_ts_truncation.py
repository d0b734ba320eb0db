"""A cut MPEG-TS (or M2TS) file is reported ``truncated``: what can be told, and what cannot.

Transport packets have a fixed size (188 bytes; 192 in M2TS), so a cut inside a packet (187 of
188 cut points) leaves a file that is not a whole number of them. A cut on a packet boundary
inside a video PES is seen only when that PES declared its length: the demuxer then flags the
short last frame corrupt. FFmpeg writes video PES without a length, and a boundary cut in one
leaves a file that reads as a whole, shorter stream: that is not detectable from the container
(nor reliably by the decoder, which conceals a short last frame about two times in three), and
is not claimed. A cut at the end of a PES loses no video: the file is a whole, shorter video.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from vidllm.video.probe import scan_index
from vidllm.video.sample import sample_frames
from vidllm.video.spec import SamplingSpec
from vidllm.video.synthetic import make_clip, read_frame_index

FRAMES = 100


def remux_ts(source: str, path: Path, **options: str) -> Path:
    """The same video packets in a new transport stream, with the muxer's ``options``."""
    with av.open(source) as src, av.open(str(path), "w", format="mpegts", options=options) as dst:
        stream = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                dst.mux(packet)
    return path


@pytest.fixture(scope="module")
def streams(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("ts")
    plain = Path(make_clip(d / "plain.ts", nframes=FRAMES, fps=25, size=(160, 120), gop=25))
    return {
        "ts": plain,  # FFmpeg's default: video PES of no stated length
        "ts with PES lengths": remux_ts(str(plain), d / "lengths.ts", omit_video_pes_length="0"),
        "m2ts": remux_ts(str(plain), d / "plain.m2ts", mpegts_m2ts_mode="1"),
    }


def video_packets(data: bytes, size: int = 188) -> list[tuple[int, bool]]:
    """(packet number, starts a PES) for each transport packet of the video stream (the PID
    whose PES carry a video stream id, 0xE0-0xEF)."""
    lead = size - 188
    rows = [(i, data[at + lead:at + size]) for i, at in enumerate(range(0, len(data) - size + 1, size))]

    def pid(p):
        return ((p[1] & 0x1F) << 8) | p[2]

    def payload(p):
        return p[4 + 1 + p[4]:] if p[3] & 0x20 else p[4:]

    video = next(pid(p) for _, p in rows if p[1] & 0x40 and payload(p)[:3] == b"\0\0\1" and payload(p)[3] >> 4 == 0xE)
    return [(i, bool(p[1] & 0x40)) for i, p in rows if pid(p) == video]


def cut_on_boundary(source: Path, path: Path, *, inside_pes: bool, size: int = 188) -> Path:
    """``source`` cut after a whole packet near its middle: one inside a video PES (the next
    video packet continues it), or one that ends a PES (the next starts a new one)."""
    data = source.read_bytes()
    packets = video_packets(data, size)
    middle = len(packets) // 2
    at = next(number + 1 for (number, _), (_, starts) in zip(packets[middle:], packets[middle + 1:])
              if starts != inside_pes)
    path.write_bytes(data[: at * size])
    return path


@pytest.mark.parametrize("kind", ["ts", "ts with PES lengths", "m2ts"])
def test_whole_stream_is_not_truncated(streams, kind):
    index = scan_index(streams[kind])
    assert not index.truncated and len(index.pts) == FRAMES and not index.notes()


@pytest.mark.parametrize("kind, packet", [("ts", 188), ("m2ts", 192)])
def test_cut_inside_a_packet_is_truncated(streams, tmp_path, kind, packet):
    data = streams[kind].read_bytes()
    keep = int(len(data) * 0.55)
    assert keep % packet  # the cut falls inside a packet
    cut = tmp_path / f"cut{streams[kind].suffix}"
    cut.write_bytes(data[:keep])
    index = scan_index(cut)
    assert index.truncated and 0 < len(index.pts) < FRAMES
    assert any("truncated" in note for note in index.notes())


def test_cut_on_a_boundary_inside_a_pes_of_stated_length_is_truncated(streams, tmp_path):
    cut = cut_on_boundary(streams["ts with PES lengths"], tmp_path / "cut.ts", inside_pes=True)
    assert cut.stat().st_size % 188 == 0
    index = scan_index(cut)
    assert index.truncated and 0 < len(index.pts) < FRAMES


def test_cut_on_a_boundary_inside_a_pes_of_no_length_reads_as_whole(streams, tmp_path):
    """The limit: nothing in the file says it was cut. Its frames are still read, with their
    true times, up to the one the cut went through."""
    cut = cut_on_boundary(streams["ts"], tmp_path / "cut.ts", inside_pes=True)
    index = scan_index(cut)
    assert not index.truncated and 0 < len(index.pts) < FRAMES
    frames = sample_frames(cut, SamplingSpec(fps=1000.0, max_frames=FRAMES), cache=False)
    drawn = np.array([read_frame_index(image) for image in frames.data[:-1]]) / 25
    np.testing.assert_allclose(frames.timestamps[:-1], drawn, rtol=0, atol=1e-6)


@pytest.mark.parametrize("kind", ["ts", "ts with PES lengths"])
def test_cut_at_the_end_of_a_pes_is_a_whole_shorter_video(streams, tmp_path, kind):
    cut = cut_on_boundary(streams[kind], tmp_path / "cut.ts", inside_pes=False)
    index = scan_index(cut)
    assert not index.truncated and 0 < len(index.pts) < FRAMES
