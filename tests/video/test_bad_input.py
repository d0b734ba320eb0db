"""Every kind of bad input gives one line naming the file and the problem, exit code 2."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from vidllm.errors import NotAVideoError, VideoNotFoundError
from vidllm.video.sample import sample_frames
from vidllm.video.spec import SamplingSpec
from vidllm.video.synthetic import make_clip, read_frame_index


def run_cli(*args, env=None, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "vidllm", *args], capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def assert_one_line_error(result, path, words):
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert str(path) in lines[0]
    assert any(w in lines[0] for w in words), lines[0]


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    files = {}
    files["missing"] = d / "nope.mp4"
    files["directory"] = d / "folder.mp4"
    files["directory"].mkdir()
    files["empty"] = d / "empty.mp4"
    files["empty"].write_bytes(b"")
    files["text"] = d / "notes.mp4"
    files["text"].write_text("this is not a video\n" * 100)
    good_mp4 = make_clip(d / "good.mp4", nframes=100, fps=25, size=(160, 120), gop=25)
    data = open(good_mp4, "rb").read()
    files["truncated_mp4"] = d / "truncated.mp4"  # the index (moov) is at the end: gone
    files["truncated_mp4"].write_bytes(data[: len(data) // 2])
    files["audio_only"] = d / "audio.m4a"
    make_clip(files["audio_only"], timestamps=[], audio_tone_hz=440, draw=None, draw_index=False)
    return files


@pytest.mark.parametrize(
    "name, words",
    [
        ("missing", ["no such file"]),
        ("directory", ["directory"]),
        ("empty", ["empty"]),
        ("text", ["not a video"]),
        ("truncated_mp4", ["not a video", "truncated"]),
        ("audio_only", ["no video stream"]),
    ],
)
@pytest.mark.parametrize("command", ["info", "sample"])
def test_unusable_input_gives_one_clear_line(bad_files, name, words, command):
    path = bad_files[name]
    assert_one_line_error(run_cli(command, str(path)), path, words)


def test_errors_are_typed_for_python_callers(bad_files):
    with pytest.raises(VideoNotFoundError):
        sample_frames(bad_files["missing"])
    with pytest.raises(FileNotFoundError):  # callers who do not know vidllm can still catch it
        sample_frames(bad_files["missing"])
    with pytest.raises(NotAVideoError):
        sample_frames(bad_files["audio_only"])


@pytest.fixture(scope="module")
def ts_clip(tmp_path_factory):
    d = tmp_path_factory.mktemp("ts")
    return make_clip(d / "clip.ts", nframes=250, fps=25, size=(160, 120), gop=25)


def test_truncated_stream_samples_what_is_readable(ts_clip, tmp_path):
    data = open(ts_clip, "rb").read()
    cut = tmp_path / "cut.ts"
    cut.write_bytes(data[: int(len(data) * 0.55)])
    frames = sample_frames(cut, SamplingSpec(fps=1.0), cache=False)
    assert 3 <= len(frames) < 10
    np.testing.assert_allclose(frames.timestamps, [read_frame_index(f) / 25 for f in frames.data])
    result = run_cli("sample", str(cut), "--fps", "1")
    assert result.returncode == 0


def test_corrupt_middle_skips_and_says_so(ts_clip, tmp_path):
    data = bytearray(open(ts_clip, "rb").read())
    rng = np.random.default_rng(0)
    middle = len(data) // 2
    data[middle : middle + 6000] = rng.integers(0, 256, 6000, dtype=np.uint8).tobytes()
    bad = tmp_path / "corrupt.ts"
    bad.write_bytes(bytes(data))
    frames = sample_frames(bad, SamplingSpec(fps=2.0), cache=False)
    assert len(frames) >= 15
    readable = [read_frame_index(f) / 25 for f in frames.data]
    # where a frame decoded cleanly its drawn index matches its timestamp
    assert np.mean(np.isclose(frames.timestamps, readable)) > 0.8
    result = run_cli("sample", str(bad), "--fps", "2")
    assert result.returncode == 0


def test_one_frame_video(tmp_path):
    path = make_clip(tmp_path / "one.mp4", nframes=1, fps=25, size=(64, 48))
    frames = sample_frames(path, SamplingSpec(nframes=8), cache=False)
    assert len(frames) == 1 and frames.timestamps[0] == 0.0
    assert any("distinct" in w for w in frames.warnings)
    result = run_cli("sample", str(path), "--nframes", "8", "--json")
    assert result.returncode == 0 and "warning" in result.stderr


def test_large_frames_are_resized_while_decoding(tmp_path):
    path = make_clip(tmp_path / "big.mp4", nframes=2, fps=2, size=(3840, 2160), draw=None)
    frames = sample_frames(path, SamplingSpec(nframes=1, max_pixels=448 * 252), cache=False)
    assert frames.width * frames.height <= 448 * 252


def test_frames_beyond_the_decode_limit_are_refused(tmp_path):
    path = make_clip(tmp_path / "wide.mp4", nframes=2, fps=2, size=(640, 480))
    result = run_cli("info", str(path), env={"VIDLLM_MAX_DECODE_PIXELS": "100000"})
    assert_one_line_error(result, path, ["above the limit"])


@pytest.mark.parametrize(
    "args, words",
    [
        (["--nframes", "0"], "nframes must be >= 1"),
        (["--nframes", "4", "--fps", "1"], "choose one sampling strategy"),
        (["--fps", "1", "--min-frames", "9", "--max-frames", "3"], "min_frames 9 > max_frames 3"),
        (["--start", "50"], "past the end"),
        (["--start", "5", "--end", "2"], "must be after start"),
    ],
)
def test_bad_specs_are_one_line(clip_cfr, args, words):
    result = run_cli("sample", clip_cfr, *args)
    assert result.returncode == 2 and words in result.stderr and "Traceback" not in result.stderr
