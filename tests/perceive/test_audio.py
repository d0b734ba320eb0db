"""Audio extraction: 16 kHz mono float32 on the frames' clock, ranges, files without audio."""

from __future__ import annotations

import numpy as np
import pytest

from vidllm.errors import NoAudioError, SpecError, VideoError
from vidllm.video.audio import extract_audio
from vidllm.video.samples import sample_path
from vidllm.video.synthetic import make_clip

BURST = (6.0, 6.5)


@pytest.fixture(scope="module")
def burst_clip(tmp_path_factory):
    """10 s of silence with a 1 kHz burst from 6.0 s to 6.5 s (AAC, 16 kHz)."""
    samples = np.zeros(10 * 16000, np.float32)
    i, j = int(BURST[0] * 16000), int(BURST[1] * 16000)
    samples[i:j] = 0.5 * np.sin(2 * np.pi * 1000 * np.arange(j - i) / 16000)
    return make_clip(tmp_path_factory.mktemp("audio") / "burst.mp4", nframes=100, fps=10, size=(64, 48),
                     audio_samples=samples, audio_rate=16000)


def onset(audio) -> float:
    loud = np.flatnonzero(np.abs(audio.samples) > 0.1)
    return audio.start + loud[0] / audio.sample_rate


def test_whole_track_is_16k_mono_float32_on_the_video_clock(burst_clip):
    audio = extract_audio(burst_clip)
    assert audio.samples.dtype == np.float32 and audio.samples.ndim == 1 and audio.sample_rate == 16000
    assert audio.start == pytest.approx(0.0, abs=0.03)
    assert audio.duration == pytest.approx(10.0, abs=0.1)
    assert onset(audio) == pytest.approx(BURST[0], abs=0.03)


@pytest.mark.parametrize("start, end", [(5.0, 8.0), (0.5, 7.0), (6.2, None)])
def test_range_keeps_times(burst_clip, start, end):
    """Ranges past 1 s seek first: times must not move."""
    audio = extract_audio(burst_clip, start=start, end=end)
    assert audio.start == pytest.approx(start, abs=1e-3)
    if end is not None:
        assert audio.end == pytest.approx(end, abs=1e-3)
    expected = max(start, BURST[0])
    assert onset(audio) == pytest.approx(expected, abs=0.03)


def test_six_channels_mixed_to_mono():
    audio = extract_audio(sample_path("bigbuckbunny"))  # 48 kHz 5.1 AAC
    assert audio.sample_rate == 16000 and audio.duration == pytest.approx(5.3, abs=0.1)
    assert 0.05 < float(np.abs(audio.samples).max()) <= 1.0


def test_video_without_audio_is_a_typed_error():
    with pytest.raises(NoAudioError, match="no audio stream") as caught:
        extract_audio(sample_path("bikes"))
    assert isinstance(caught.value, VideoError) and isinstance(caught.value, LookupError)


@pytest.mark.parametrize("start, end", [(-1.0, None), (3.0, 2.0), (3.0, 3.0)])
def test_bad_ranges(burst_clip, start, end):
    with pytest.raises(SpecError):
        extract_audio(burst_clip, start=start, end=end)
