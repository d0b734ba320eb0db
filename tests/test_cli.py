"""The command line as a user runs it: real subprocesses, real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from vidllm.video.synthetic import make_clip


def vidllm(*args, env=None):
    result = subprocess.run([sys.executable, "-m", "vidllm", *args], capture_output=True, text=True,
                            timeout=300, env={**os.environ, **(env or {})})
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_info_json_has_every_fact(tmp_path):
    path = make_clip(tmp_path / "a.mp4", nframes=50, fps=25, size=(160, 120), gop=10, audio_tone_hz=440)
    facts = json.loads(vidllm("info", str(path), "--json"))
    assert facts["duration"] == 2.0 and facts["frame_count"] == 50 and facts["frame_count_source"] == "scan"
    assert (facts["width"], facts["height"], facts["rotation"]) == (160, 120, 0)
    assert facts["average_fps"] == 25.0 and facts["real_fps"] == 25.0
    assert facts["codec"] == "h264" and facts["pixel_format"] == "yuv420p"
    assert facts["keyframe_count"] == 5 and facts["keyframe_interval"] == 0.4
    assert facts["has_audio"] and facts["audio_sample_rate"] == 16000
    assert "duration" in vidllm("info", str(path))


def test_sample_json_and_out_files(tmp_path, bikes):
    out = tmp_path / "frames"
    report = json.loads(vidllm("sample", bikes, "--fps", "1", "--max-frames", "4", "--max-pixels", "50000",
                               "--out", str(out), "--json"))
    assert len(report["timestamps"]) == 4 and report["mode"] == "exact"
    assert report["width"] * report["height"] <= 50000
    names = sorted(p.name for p in out.iterdir())
    assert "contact_sheet.jpg" in names
    stamped = [n for n in names if n.startswith("frame_")]
    assert len(stamped) == 4
    assert f"{report['timestamps'][0]:09.3f}s" in stamped[0]


def test_cache_commands(tmp_path, bikes):
    vidllm("sample", bikes, "--nframes", "3")
    again = json.loads(vidllm("sample", bikes, "--nframes", "3", "--json"))
    assert again["from_cache"] and again["decoded_frames"] == 0
    info = json.loads(vidllm("cache", "info", "--json"))
    assert info["entries"] == 1 and Path(info["path"]) == Path(os.environ["VIDLLM_CACHE_DIR"])
    assert "freed" in vidllm("cache", "clear")
    assert json.loads(vidllm("cache", "info", "--json"))["entries"] == 0


def test_samples_lists_package_clips():
    rows = json.loads(vidllm("samples", "--json"))
    assert {r["name"] for r in rows} >= {"bikes", "city"}
    assert vidllm("samples", "bikes").strip().endswith("bikes.mp4")
