"""The malformed-media corpus through vidllm: true timestamps or one clear line, never a crash.

The default run checks timestamps against the drawn frame index on every playable input (in
process) and the cases issue 15 names through the real command line; the full matrix (every
input x ``info``, ``sample``, ``sample --fps 1e9``, ``describe``, ``ask``, ``eval``, each a
subprocess under a deadline) is ``slow`` and prints its table.

``eval`` runs a one-sample MLVU folder whose video is the input (``bench_folder``). A bad video
must not stop an evaluation: the run ends with exit 0 and keeps that sample with a one-line
error (``recorded``). Only an input the folder cannot hold as a file at all (a missing path, a
symlink loop, a URL) makes the benchmark unusable: exit 2, one error naming the missing video.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from bench_folder import STEM, eval_args, eval_outcome, kept_samples, mlvu_folder
from media_corpus import build_corpus, ffmpeg_exe
from outcomes import run_vidllm, table

from vidllm.errors import VideoError
from vidllm.video.sample import probe, sample_frames
from vidllm.video.spec import SamplingSpec
from vidllm.video.synthetic import read_frame_index

needs_ffmpeg = pytest.mark.skipif(ffmpeg_exe() is None, reason="no FFmpeg command line (pip install imageio-ffmpeg)")
# Peak memory any command may take on these small files (the Python process alone is ~130 MB,
# the embedded LLM adds ~350 MB): the frame budget, not the file's claims, bounds it.
PEAK_MB = 1024


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return {case.name: case for case in build_corpus(tmp_path_factory.mktemp("corpus"), full=False)}


def checkable(corpus):
    return [name for name, case in corpus.items() if case.truth is not None]


def every_frame(path):
    """Every frame of ``path`` (a rate far above any stream's, which vidllm caps)."""
    return sample_frames(path, SamplingSpec(fps=1000.0, max_frames=100_000), cache=False)


def drawn_times(case, frames) -> np.ndarray:
    return np.array([case.truth(read_frame_index(image)) for image in frames.data])


CHECKED = [
    "plain MP4 (reference)", "unicode + spaces in path", "one frame", "VFR", "raw H.264 (.h264)", "MPEG-TS",
    "VP9 (WebM)", "MJPEG (AVI)", "MPEG-4 part 2 (AVI)", "FFV1 (MKV)", "ProRes (MOV)", "GIF",
    "truncated 10% (faststart)", "truncated 50% (faststart)", "truncated 90% (faststart)", "MPEG-TS truncated 55%",
]


@pytest.mark.parametrize("name", CHECKED)
def test_every_timestamp_matches_the_drawn_index(corpus, name):
    case = corpus[name]
    frames = every_frame(case.path)
    np.testing.assert_allclose(frames.timestamps, drawn_times(case, frames), rtol=0, atol=1e-6)


@needs_ffmpeg
def test_edit_list_mp4_reports_true_times_and_what_it_skipped(corpus):
    case = corpus["MP4 edit list (-ss 1.3 -c copy)"]
    frames = every_frame(case.path)
    np.testing.assert_allclose(frames.timestamps, drawn_times(case, frames), rtol=0, atol=1e-6)
    assert frames.timestamps[0] == 0.0 and read_frame_index(frames.data[0]) == 33
    info = probe(case.path)
    assert info.frame_count == 250 - 33 and info.duration == pytest.approx(217 / 25)
    assert any("edit list hides 8 frames" in note for note in info.notes)
    assert any("edit list" in w for w in frames.warnings)
    # the same frames through seeking (a few spread frames) as through reading everything
    few = sample_frames(case.path, SamplingSpec(nframes=8), cache=False)
    np.testing.assert_allclose(few.timestamps, drawn_times(case, few), rtol=0, atol=1e-6)


@needs_ffmpeg
def test_negative_start_mkv_keeps_every_frame_and_says_how_it_timed_them(corpus):
    case = corpus["MKV negative start (-2 s)"]
    frames = every_frame(case.path)
    assert len(frames) == 250
    np.testing.assert_allclose(frames.timestamps, drawn_times(case, frames), rtol=0, atol=1e-6)
    assert any("first 50 frames carry no timestamp" in w for w in frames.warnings)
    few = sample_frames(case.path, SamplingSpec(nframes=8), cache=False)
    np.testing.assert_allclose(few.timestamps, drawn_times(case, few), rtol=0, atol=1e-6)


def test_damaged_middle_keeps_true_times_where_the_picture_decoded(corpus):
    for name in ("zeros over the middle", "random bytes over the middle"):
        case = corpus[name]
        frames = every_frame(case.path)
        assert any("unreadable" in w or "damaged" in w for w in frames.warnings)
        # the decoder conceals lost pictures with older ones; the rest must match exactly
        assert np.mean(np.isclose(frames.timestamps, drawn_times(case, frames), atol=1e-6)) > 0.8


def test_faststart_mp4_cut_at_half_is_reported_truncated(corpus):
    case = corpus["truncated 50% (faststart)"]
    info = probe(case.path)
    assert info.truncated and info.header_frame_count == 250 and info.frame_count < 125
    assert any("truncated" in note for note in info.notes)
    result = run_vidllm(["sample", case.path, "--nframes", "4", "--json"])
    assert result.status == "ok" and "truncated" in result.message
    facts = json.loads(run_cli_json(["info", case.path, "--json"]))
    assert facts["truncated"] is True


def test_mpeg_ts_cut_mid_packet_is_reported_truncated(corpus):
    cut, whole = probe(corpus["MPEG-TS truncated 55%"].path), probe(corpus["MPEG-TS"].path)
    assert cut.truncated and any("truncated" in note for note in cut.notes)
    assert not whole.truncated and not whole.notes
    result = run_vidllm(["sample", corpus["MPEG-TS truncated 55%"].path, "--nframes", "4", "--json"])
    assert result.status == "ok" and "truncated" in result.message, result


def run_cli_json(args):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "vidllm", *args], capture_output=True, text=True, timeout=120,
                          check=True).stdout


def test_rate_far_above_the_stream_is_capped_not_allocated(corpus):
    case = corpus["plain MP4 (reference)"]
    result = run_vidllm(["sample", case.path, "--fps", "1e9", "--json"])
    assert result.status == "ok", result
    assert "holds only 250 distinct frames" in result.message
    assert result.peak_mb < PEAK_MB
    frames = sample_frames(case.path, SamplingSpec(nframes=10**9), cache=False)
    assert len(frames) == 250


def test_url_is_one_line_error():
    result = run_vidllm(["info", "http://127.0.0.1:9/clip.mp4"], timeout=60)
    assert result.status == "error" and "URL" in result.message
    with pytest.raises(VideoError):
        probe("http://127.0.0.1:9/clip.mp4")


def test_fifo_and_symlink_loop_are_refused_without_hanging(corpus):
    for name, words in (("FIFO (no writer)", "not a regular file"), ("symlink loop", "symbolic links")):
        result = run_vidllm(["sample", corpus[name].path], timeout=30)
        assert result.status == "error" and words in result.message, result


def test_wide_16384x16_is_described_within_the_frame_budget(corpus):
    case = corpus["16384x16"]
    result = run_vidllm(["describe", case.path, "--tools", "visual"])
    assert result.status == "ok", result
    assert result.peak_mb < PEAK_MB


# The cases issue 15 names, through the command line on every default run.
ISSUE_CASES = [
    "text file", "FIFO (no writer)", "http URL, nothing listening", "raw H.264 (.h264)", "16384x16",
    "truncated 50% (faststart)", "zero video packets", "audio only",
]


@pytest.mark.parametrize("name", ISSUE_CASES)
def test_issue_cases_on_the_command_line(corpus, name):
    case = corpus[name]
    for command in (["info", case.path], ["sample", case.path, "--json"]):
        assert_expected(case, run_vidllm(command, timeout=60))


def assert_expected(case, outcome, column: str = ""):
    assert not outcome.failed, f"{case.name}: {outcome}"
    if column == "eval":  # a bad video is kept as an error; only a video not there stops the run
        unusable = "error" if not os.path.exists(case.path) else "recorded"
        allowed = {"ok": {"ok"}, "error": {unusable}, "either": {"ok", "recorded"}}[case.expect]
    else:
        allowed = {"ok": {"ok"}, "error": {"error"}, "either": {"ok", "error"}}[case.expect]
    assert outcome.status in allowed, f"{case.name}: {column}: {outcome}"
    assert outcome.peak_mb < case.peak_mb, f"{case.name}: {column}: {outcome}"


def test_eval_keeps_going_past_bad_videos(corpus, tmp_path):
    """One evaluation over a good clip, a truncated one and a text file: exit 0, the good one
    answered, each bad one kept in samples.jsonl and results.json with a one-line reason."""
    names = ["plain MP4 (reference)", "truncated 50% (moov at end)", "text file"]
    data = mlvu_folder(tmp_path / "MLVU", [corpus[name].path for name in names])
    out = tmp_path / "out"
    outcome = run_vidllm(eval_args(data, out), timeout=300)
    assert outcome.status == "ok", outcome
    rows = kept_samples(out)
    assert sorted(rows) == [f"{STEM}/{i}" for i in range(3)]
    good, cut, text = (rows[f"{STEM}/{i}"] for i in range(3))
    assert good["error"] is None and good["resps"][0][0].strip()
    for row, words in ((cut, "not a video FFmpeg can read"), (text, "is a text file")):
        assert words in row["error"] and "\n" not in row["error"].strip(), row["error"]
        assert row["resps"] == [[""]]
    results = json.loads((out / "results.json").read_text())
    assert results["samples"]["scored"] == 3 and results["samples"]["with_errors"] == 2


def test_eval_of_a_video_not_there_is_one_error(corpus, tmp_path):
    outcome = eval_outcome(tmp_path, corpus["missing path"].path, timeout=120)
    assert outcome.status == "error" and "no video on disk" in outcome.message, outcome


COMMANDS = {
    "info": lambda p: ["info", p],
    "sample": lambda p: ["sample", p, "--json"],
    "sample --fps 1e9": lambda p: ["sample", p, "--fps", "1e9", "--json"],
    "describe": lambda p: ["describe", p, "--tools", "visual"],
    "ask": lambda p: ["ask", p, "What happens in the video?", "--tools", "visual", "--max-new-tokens", "8"],
}


COLUMNS = [*COMMANDS, "eval"]


@pytest.mark.slow
def test_full_matrix_every_input_every_command(tmp_path_factory, capsys):
    cases = build_corpus(tmp_path_factory.mktemp("full"), full=True)
    runs = tmp_path_factory.mktemp("eval")
    cells, failures = {}, []
    for number, case in enumerate(cases):
        for column in COLUMNS:
            if column == "eval":
                outcome = eval_outcome(runs / str(number), case.path, timeout=300)
            else:
                outcome = run_vidllm(COMMANDS[column](case.path), timeout=300)
            cells[(case.name, column)] = outcome
            try:
                assert_expected(case, outcome, column)
            except AssertionError as exc:
                failures.append(str(exc))
    text = table([c.name for c in cases], COLUMNS, cells)
    count = {status: sum(o.status == status for o in cells.values()) for status in ("ok", "recorded", "error")}
    with capsys.disabled():
        print(f"\n{text}\n{len(cases)} inputs x {len(COLUMNS)} commands = {len(cells)} runs: {count['ok']} results, "
              f"{count['recorded']} evaluations that kept the bad video's sample as a one-line error, "
              f"{count['error']} one-line errors, {len(failures)} failures")
    assert not failures, "\n".join(failures)
