"""Long video on a laptop CPU: an hour of 720p analysed by the embedded default, and V-NIAH.

    python benchmarks/long_video.py                 # both parts
    python benchmarks/long_video.py --part analysis # 10- and 60-minute analysis: time and peak RSS
    python benchmarks/long_video.py --part niah     # needle in a haystack on 30 minutes of footage

The videos are real package-shipped footage looped to length (``tests.media.long_footage``),
1280x720, built once under ~/.cache/vidllm/bench. Each analysis runs `vidllm describe` in a
fresh process with an empty cache, so it measures cold perception; peak RSS is that process's
own (``os.wait4``). Targets (issue 9): an hour within 10 minutes on 2 cores; the 60-minute peak
RSS within 1.1x of the 10-minute one; V-NIAH mean >= 0.9 over 6 depths x 4 lengths.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.media import long_footage  # noqa: E402

BENCH = Path.home() / ".cache" / "vidllm" / "bench"


def analyse(video: str) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of a cold `vidllm describe` of ``video``."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "VIDLLM_CACHE_DIR": cache}
        began = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-m", "vidllm", "describe", video, "--no-progress"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - began
        if status != 0:
            raise SystemExit(f"describe failed on {video}: {child.stderr.read().decode()[-500:]}")
    return seconds, usage.ru_maxrss / 1024


def part_analysis() -> None:
    BENCH.mkdir(parents=True, exist_ok=True)
    videos = {}
    for minutes in (10, 60):
        print(f"building {minutes} min of 1280x720 footage ...", file=sys.stderr)
        videos[minutes] = long_footage(BENCH / f"footage-{minutes}min-720p.mp4", minutes, size=(1280, 720), fps=2)
    results = {}
    for minutes, video in videos.items():
        print(f"analysing {minutes} min ...", file=sys.stderr)
        results[minutes] = analyse(video)
        seconds, rss = results[minutes]
        print(f"{minutes:>3} min: {seconds:7.1f} s ({seconds / minutes:5.1f} s per minute of video), peak RSS {rss:7.0f} MB")
    hour_s, hour_rss = results[60]
    ten_s, ten_rss = results[10]
    print(f"60-minute analysis / 10-minute budget: {hour_s / 600:.2f}x (target <= 1.00)")
    print(f"60-minute / 10-minute time: {hour_s / ten_s:.2f}x (linear would be 6.00)")
    print(f"peak RSS 60-minute / 10-minute: {hour_rss / ten_rss:.2f}x (target <= 1.10)")


def part_niah(out: Path) -> None:
    BENCH.mkdir(parents=True, exist_ok=True)
    print("building 31 min of footage for the haystack ...", file=sys.stderr)
    haystack = long_footage(BENCH / "haystack-31min-640p.mp4", 31, size=(640, 360), fps=1)
    args = [sys.executable, "-m", "vidllm", "niah", haystack, "--lengths", "300,900,1500,1860",
            "--depths", "0,0.2,0.4,0.6,0.8,1", "--needles", "2", "--out", str(out), "--json"]
    began = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"niah failed: {done.stderr[-800:]}")
    results = json.loads(done.stdout)
    print(f"V-NIAH over {len(results['cells'])} cells in {time.perf_counter() - began:.0f} s: mean "
          f"{results['mean']:.3f} (target >= 0.90); random {results['baselines']['random']:.3f}; "
          f"oracle {results['baselines']['oracle']:.3f}; heat-map {out / 'heatmap.png'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=["analysis", "niah", "all"], default="all")
    parser.add_argument("--niah-out", type=Path, default=ROOT / "benchmarks" / "results" / "niah")
    args = parser.parse_args()
    if args.part in ("analysis", "all"):
        part_analysis()
    if args.part in ("niah", "all"):
        part_niah(args.niah_out)


if __name__ == "__main__":
    main()
