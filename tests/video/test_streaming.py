"""Sampling streams frames to the cache and to ``--out``: memory does not grow with the number
of frames, and the frame cache keeps to its size limit."""

from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest
from reliability.outcomes import split_peak, vidllm_command

from vidllm.video.cache import FrameCache
from vidllm.video.sample import sample_frames
from vidllm.video.spec import SamplingSpec
from vidllm.video.synthetic import make_clip, read_frame_index

FRAME_BYTES = 320 * 240 * 3


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("streaming")
    return {
        "short": make_clip(d / "short.mp4", nframes=100, fps=25, size=(320, 240), gop=25),
        "long": make_clip(d / "long.mp4", nframes=1000, fps=25, size=(320, 240), gop=25),
    }


def peak_mb(args, env) -> float:
    """The command's own memory high-water mark (see ``reliability/outcomes.py``)."""
    proc = subprocess.run(vidllm_command(args), capture_output=True, text=True, env={**os.environ, **env}, timeout=300)
    stderr, peak = split_peak(proc.stderr)
    assert proc.returncode == 0 and peak, stderr
    return peak


def test_sample_to_out_does_not_hold_every_frame(clips, tmp_path):
    peaks = {}
    for name, clip in clips.items():
        env = {"VIDLLM_CACHE_DIR": str(tmp_path / f"cache_{name}")}
        peaks[name] = peak_mb(["sample", clip, "--fps", "25", "--out", str(tmp_path / name)], env)
        frames = sorted((tmp_path / name).glob("frame_*.jpg"))
        assert len(frames) == (100 if name == "short" else 1000)
    held_mb = 1000 * FRAME_BYTES / 2**20  # what holding the long clip's frames would take: 220 MB
    assert peaks["long"] - peaks["short"] < held_mb / 2, peaks


def test_cached_frames_are_mapped_and_equal_decoded_ones(clips):
    spec = SamplingSpec(nframes=16)
    first = sample_frames(clips["long"], spec)
    assert isinstance(first.data, np.memmap)
    plain = sample_frames(clips["long"], spec, cache=False)
    assert not isinstance(plain.data, np.memmap)
    np.testing.assert_array_equal(np.asarray(first.data), plain.data)
    assert [read_frame_index(f) for f in first.data] == [round(t * 25) for t in first.timestamps]
    first.data[0] = 0  # copy-on-write: a caller's change stays with the caller
    again = sample_frames(clips["long"], spec)
    assert again.decoded_frames == 0
    np.testing.assert_array_equal(np.asarray(again.data), plain.data)


def test_frame_cache_evicts_least_recently_used_entries(clips):
    entry = 8 * FRAME_BYTES
    cache = FrameCache(max_bytes=int(2.5 * entry))
    for start in (0.0, 1.0, 2.0):
        sample_frames(clips["long"], SamplingSpec(nframes=8, start=start), cache=cache)
    assert cache.info().entries == 2
    # the oldest was evicted; touching an entry keeps it over a newer one
    oldest = sample_frames(clips["long"], SamplingSpec(nframes=8, start=0.0), cache=cache)
    assert oldest.decoded_frames > 0
    assert sample_frames(clips["long"], SamplingSpec(nframes=8, start=2.0), cache=cache).decoded_frames == 0
    sample_frames(clips["long"], SamplingSpec(nframes=8, start=3.0), cache=cache)
    assert sample_frames(clips["long"], SamplingSpec(nframes=8, start=2.0), cache=cache).decoded_frames == 0
    assert sample_frames(clips["long"], SamplingSpec(nframes=8, start=1.0), cache=cache).decoded_frames > 0


def test_an_entry_above_the_whole_limit_is_returned_then_dropped(clips):
    cache = FrameCache(max_bytes=FRAME_BYTES)
    frames = sample_frames(clips["short"], SamplingSpec(nframes=8), cache=cache)
    assert cache.info().entries == 0
    assert [read_frame_index(f) for f in frames.data] == [round(t * 25) for t in frames.timestamps]


def test_damaged_frames_are_left_out_of_the_cached_entry(clips, tmp_path):
    data = bytearray(open(clips["long"], "rb").read())
    middle = len(data) // 2
    data[middle : middle + 20_000] = bytes(20_000)
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(data))
    spec = SamplingSpec(fps=25.0, max_frames=1000)
    cached = sample_frames(damaged, spec)
    plain = sample_frames(damaged, spec, cache=False)
    assert len(cached) == len(plain) < 1000
    np.testing.assert_array_equal(cached.timestamps, plain.timestamps)
    np.testing.assert_array_equal(np.asarray(cached.data), plain.data)
