"""A live session on a 720p file replayed at real speed: answer delay, lag and memory.

The clip (generated, 1280x720, 10 fps): a sign panel with a small disc moving over the picture
all the time (so every frame changes and is perceived: the worst case), and a code ("CODE 7")
written on the panel for 6 s every 30 s, at times not aligned with the 2 fps sampling. The
session (embedded default, 2 fps, tags + OCR) watches from the start for each code with a
forward question: 'tell me when the text "CODE 7" appears'.

Printed:
- delay of each forward answer from the moment the text TRULY appeared (ground truth, not the
  frame that showed it): p50/p95 and p95 / target, target = 1 frame interval + 0.5 s;
- lag: how far the session's newest perceived frame is behind the stream's real time
  (p50/p95/max), beside the same replay with no session (decode only), measured in this run;
- peak RSS of the second minute and of the last minute, and their ratio (target <= 1.1);
- a backward question about the start of the stream, answered from memory.

Targets (issue 10), 2 CPU cores: p95 delay <= interval + 0.5 s; lag bounded; RSS flat.

    python benchmarks/stream.py                # 10 minutes (real time: it takes 10 minutes)
    python benchmarks/stream.py --minutes 3    # a shorter run
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from media import render_sign  # noqa: E402

from vidllm.tasks.stream import StreamSession  # noqa: E402
from vidllm.video.live import open_stream  # noqa: E402
from vidllm.video.synthetic import make_clip  # noqa: E402

FPS = 2.0
EVERY, SHOWN, FIRST = 30.0, 6.0, 7.3  # a code from FIRST + k * EVERY, for SHOWN seconds


def code_events(minutes: float) -> list[tuple[float, float, str]]:
    count = int((minutes * 60 - FIRST - SHOWN) // EVERY) + 1
    return [(FIRST + k * EVERY, FIRST + k * EVERY + SHOWN, f"CODE {k + 1}") for k in range(count)]


def make_stream_clip(path: Path, minutes: float, events) -> str:
    size = (1280, 720)
    blank = render_sign("", size)
    signs = {text: render_sign(text, size) for _, _, text in events}
    h, w = size[1], size[0]
    yy, xx = np.ogrid[:h, :w]

    def draw(i, t, width, height):
        image = blank
        for start, end, text in events:
            if start <= t < end:
                image = signs[text]
                break
        image = image.copy()
        x = w * (0.1 + 0.8 * (0.5 + 0.5 * np.sin(t / 3.0)))  # a disc wandering along the bottom
        image[(xx - x) ** 2 + (yy - h * 0.85) ** 2 <= (h * 0.05) ** 2] = (200, 60, 40)
        return image

    return make_clip(path, nframes=int(minutes * 60 * 10), fps=10, size=size, draw=draw, draw_index=False, gop=80)


def replay_lag(clip: str) -> list[float]:
    """The baseline: the same real-speed replay, frames read and dropped at once."""
    source = open_stream(clip, fps=FPS, realtime=True)
    lags = []
    for frames in source:
        lags.append(source.clock() - float(frames.timestamps[0]))
    return lags


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--baseline-seconds", type=float, default=60.0, help="How long the decode-only replay runs.")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)  # the application sets threads (1 is fastest on 2 busy cores)
    events = code_events(args.minutes)
    with tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        clip = make_stream_clip(Path(tmp) / "stream.mp4", args.minutes, events)
        print(f"clip: {args.minutes:g} min 1280x720 10 fps, {len(events)} codes, encoded in {time.perf_counter() - began:.0f} s")

        short = make_stream_clip(Path(tmp) / "short.mp4", args.baseline_seconds / 60, [])
        base = replay_lag(short)

        session = StreamSession("timeline", tools=("tags", "ocr"))
        source = open_stream(clip, fps=FPS, realtime=True)
        session.clock = source.clock
        for _, _, text in events:
            session.watch(f'tell me when the text "{text}" appears')
        process = psutil.Process()
        lags, rss, answers = [], [], []
        for frames in source:
            for event in session.feed(frames):
                if event.kind == "answer":
                    answers.append(event)
            lags.append(source.clock() - session.now)
            rss.append((session.now, process.memory_info().rss))
        start_question = session.ask("What text was on screen at the start?")
        model_question = session.ask("What is shown in the video?")
        session.end()
        stats = source.stats
        session.close()

    truth = {f'tell me when the text "{text}" appears': start for start, _, text in events}
    delays = np.array([e.delay + (e.evidence_time - truth[e.question]) for e in answers])
    target = 1 / FPS + 0.5
    print(f"forward answers: {len(answers)} of {len(events)} codes; all after the text appeared: "
          f"{bool(np.all([e.evidence_time >= truth[e.question] for e in answers]))}")
    if len(delays):
        print(f"delay from the true appearance: p50 {np.percentile(delays, 50):.2f} s, p95 {np.percentile(delays, 95):.2f} s, "
              f"max {delays.max():.2f} s; p95 / target ({target:.1f} s) = {np.percentile(delays, 95) / target:.2f}")
    lags = np.array(lags)
    print(f"lag behind real time: p50 {np.percentile(lags, 50):.2f} s, p95 {np.percentile(lags, 95):.2f} s, max {lags.max():.2f} s "
          f"(decode-only baseline p95 {np.percentile(base, 95):.2f} s); frames dropped {stats.dropped} of "
          f"{stats.delivered + stats.dropped}")
    times = np.array([t for t, _ in rss])
    memory = np.array([m for _, m in rss]) / 2**20
    second = memory[(times >= 60) & (times < 120)]
    last = memory[times >= times.max() - 60]
    if len(second) and len(last):
        print(f"peak RSS: second minute {second.max():.0f} MiB, last minute {last.max():.0f} MiB, "
              f"ratio {last.max() / second.max():.3f} (target <= 1.1)")
    print(f"backward question at the end: {start_question.answer!r} (decided by {start_question.decided_by}, "
          f"evidence at {start_question.evidence_time})")
    print(f"model question at the end: {model_question.answer[:80]!r} ({model_question.seconds:.1f} s)")
    print(f"session: {session.summary()}")


if __name__ == "__main__":
    main()
