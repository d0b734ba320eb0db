"""The frames-do-not-fit message gives sizes in a unit that shows them (never "need 0.0 GB")."""

from __future__ import annotations

import shutil
from collections import namedtuple

import pytest

from vidllm.errors import SpecError
from vidllm.video import sample
from vidllm.video.sample import format_bytes, sample_frames
from vidllm.video.spec import SamplingSpec


@pytest.mark.parametrize("count, text", [
    (0, "0 B"), (999, "999 B"), (1000, "1.0 KB"), (73_728, "73.7 KB"), (999_949, "999.9 KB"),
    (999_960, "1.0 MB"), (5_000_000, "5.0 MB"), (6 * 1024**3, "6.4 GB"), (2.5e12, "2.5 TB"), (3e15, "3000.0 TB"),
])
def test_format_bytes(count, text):
    assert format_bytes(count) == text


def test_small_need_against_little_free_space_names_both_in_kb(clip_cfr, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**6, 10**6 - 1500, 1500))
    with pytest.raises(SpecError) as caught:
        sample_frames(clip_cfr, SamplingSpec(nframes=8, max_pixels=64 * 48))
    message = str(caught.value)
    assert "need 73.7 KB, more than the 1.5 KB free for the frame cache" in message, message
    assert "0.0 GB" not in message


def test_need_above_the_memory_limit_with_the_cache_off(clip_cfr, monkeypatch):
    monkeypatch.setattr(sample, "MAX_BATCH_BYTES", 50_000)
    with pytest.raises(SpecError, match=r"need 73\.7 KB, more than the 50\.0 KB allowed in memory \(cache off\)"):
        sample_frames(clip_cfr, SamplingSpec(nframes=8, max_pixels=64 * 48), cache=False)
