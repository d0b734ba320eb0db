"""Peak memory of ``vidllm sample --fps 1 --out DIR`` on a long clip against a short one.

Frames are streamed into the frame cache and to ``--out`` as they are decoded, so the peak
resident memory should not grow with the clip's length: the target is a 30-minute clip within
1.2x of a 5-minute one. The peak is the command's own high-water mark (``VmHWM``, written by
the child as it exits; ``wait4``'s ``ru_maxrss`` would include this parent's memory at fork).

The clips are 1280x720 H.264 with a moving gradient and each frame's index drawn in, at 5 fps
with a keyframe every second (cheap to generate on two cores; the 1 fps sampling decodes the
same frames per second of video whatever the source rate), generated once with PyAV into
``~/.cache/vidllm/bench``. Each run uses a fresh, empty frame cache in a temporary folder.

    python benchmarks/sample_memory.py [--long 30] [--short 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

from vidllm.db import cache_dir
from vidllm.video.synthetic import make_clip

FPS = 5


def bench_clip(minutes: float) -> str:
    path = cache_dir() / "bench" / f"memory_{minutes:g}min_720p_{FPS}fps.mp4"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        print(f"generating {path} (once) ...", file=sys.stderr)
        tmp = path.with_suffix(".part.mp4")
        make_clip(tmp, nframes=int(minutes * 60 * FPS), fps=FPS, size=(1280, 720), gop=FPS)
        os.replace(tmp, path)
    return str(path)


# ``python -m vidllm`` that prints its memory high-water mark (kB) as its last stderr line
PEAK_REPORTING_VIDLLM = """
import atexit, runpy, sys

def report_peak():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                sys.stderr.write("\\npeak-kb " + line.split()[1] + "\\n")

atexit.register(report_peak)
sys.argv[0] = "vidllm"
runpy.run_module("vidllm", run_name="__main__", alter_sys=True)
"""


def peak_rss(args: list[str], env: dict) -> tuple[float, float]:
    """(peak RSS in MB, seconds) of ``vidllm ARGS``."""
    began = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", PEAK_REPORTING_VIDLLM, *args], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0 or "peak-kb " not in proc.stderr:
        raise SystemExit(f"vidllm {' '.join(args)} failed: {proc.stderr[-2000:]}")
    return int(proc.stderr.rsplit("peak-kb ", 1)[1].split()[0]) / 1024, time.perf_counter() - began


def measure(clip: str) -> tuple[float, float, int]:
    """Peak RSS (MB), seconds and frame-cache bytes of one sampling run, on a fresh cache."""
    with tempfile.TemporaryDirectory() as work:
        env = {**os.environ, "VIDLLM_CACHE_DIR": os.path.join(work, "cache")}
        peak, seconds = peak_rss(["sample", clip, "--fps", "1", "--out", os.path.join(work, "frames")], env)
        frames_dir = os.path.join(work, "cache", "frames")
        cached = sum(os.path.getsize(os.path.join(frames_dir, f)) for f in os.listdir(frames_dir))
        shutil.rmtree(work, ignore_errors=True)
    return peak, seconds, cached


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--long", type=float, default=30, help="minutes of the long clip")
    parser.add_argument("--short", type=float, default=5, help="minutes of the short clip (the baseline)")
    args = parser.parse_args()
    short, long = bench_clip(args.short), bench_clip(args.long)
    base_peak, base_s, base_cache = measure(short)
    peak, seconds, cache = measure(long)
    print(f"{args.short:g}-minute clip: peak RSS {base_peak:.0f} MB, {base_s:.1f} s, cache {base_cache / 1e9:.2f} GB")
    print(f"{args.long:g}-minute clip: peak RSS {peak:.0f} MB, {seconds:.1f} s, cache {cache / 1e9:.2f} GB")
    ratio = peak / base_peak
    print(f"peak RSS ratio {args.long:g} min / {args.short:g} min: {ratio:.2f}x (target <= 1.2x) "
          f"{'OK' if ratio <= 1.2 else 'ABOVE TARGET'}")


if __name__ == "__main__":
    main()
