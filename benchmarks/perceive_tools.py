"""Time each perception tool of the embedded default on a 1-minute 1280x720 clip, cold.

The clip is generated once (kept in the cache dir) with ``vidllm.video.synthetic.make_clip``:
textured scenes that pan slowly and cut every 12 s, a coloured disc crossing each scene,
captions shown for a few seconds at a time, and speech from espeak-ng over most of the minute
(a tone when espeak-ng is missing). Or pass ``--video PATH`` to time a real file.

Everything is cold, as a first ``vidllm ask`` on a new video would be: a fresh process (imports
and model loading count against the tool that needs them), an empty cache directory (the packet
index is scanned, frames are decoded), one decode shared by the visual tools as
``vidllm.perceive.analyze`` does. Prints seconds and the ratio to the clip's length.

    python benchmarks/perceive_tools.py [--video PATH] [--tools tags,ocr,speech,visual] [--speech-model base]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from vidllm.db import cache_dir
from vidllm.video.synthetic import make_clip

SECONDS, FPS, SIZE = 60, 25, (1280, 720)
SCENE = 12.0
CAPTIONS = [(2.0, 6.0, "WELCOME TO THE SHOW"), (14.0, 18.0, "EXIT 42"), (27.0, 31.0, "CHAPTER TWO"),
            (40.0, 43.0, "OPEN 9 TO 5"), (50.0, 56.0, "THANK YOU")]
SPEECH = ("Good morning everyone. The meeting starts at nine. First we look at the sales numbers "
          "for the last quarter. Then the design team shows the new bicycle. After lunch we visit "
          "the factory by bus, and we come back at five. Please bring your badge and a coat, it may "
          "rain in the afternoon. Thank you, and see you there.")


def bench_clip() -> str:
    path = cache_dir() / "bench" / "perceive_1min_720p.mp4"
    if path.exists():
        return str(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    print(f"generating {path} (once) ...", file=sys.stderr)
    rng = np.random.default_rng(0)
    textures = []
    for _ in range(int(np.ceil(SECONDS / SCENE))):
        base = rng.integers(0, 256, (200, 360, 3)).astype(np.float32)
        tint = rng.uniform(0.4, 1.0, 3).astype(np.float32)
        small = (base * tint).astype(np.uint8)
        textures.append(np.asarray(Image.fromarray(small).resize((SIZE[0] + 160, SIZE[1] + 90), Image.BICUBIC)))
    font = ImageFont.load_default(size=56)
    colours = [(220, 30, 30), (30, 60, 220), (240, 200, 20), (30, 180, 60), (200, 40, 200)]

    def draw(i, t, w, h):
        scene = int(t // SCENE)
        local = (t % SCENE) / SCENE
        dx, dy = int(120 * local), int(40 * local)
        image = textures[scene][dy : dy + h, dx : dx + w].copy()
        x = int(w * (0.1 + 0.8 * local)) if scene % 2 == 0 else int(w * (0.9 - 0.8 * local))
        yy, xx = np.ogrid[-60:61, -60:61]
        disc = xx**2 + yy**2 <= 60**2
        y0, x0 = h // 2 - 60, max(0, min(w - 121, x - 60))
        image[y0 : y0 + 121, x0 : x0 + 121][disc] = colours[scene % len(colours)]
        for begin, end, text in CAPTIONS:
            if begin <= t < end:
                pil = Image.fromarray(image)
                d = ImageDraw.Draw(pil)
                box = d.textbbox((0, 0), text, font=font)
                left = (w - (box[2] - box[0])) // 2
                d.rectangle([left - 20, h - 130, left + box[2] - box[0] + 20, h - 50], fill=(0, 0, 0))
                d.text((left - box[0], h - 120 - box[1]), text, fill=(255, 255, 255), font=font)
                image = np.asarray(pil).copy()
        return image

    tmp = path.with_suffix(".part.mp4")
    make_clip(tmp, nframes=SECONDS * FPS, fps=FPS, size=SIZE, draw=draw, draw_index=False, gop=250,
              audio_samples=speech_track(), audio_rate=16000)
    os.replace(tmp, path)
    return str(path)


def speech_track() -> np.ndarray:
    samples = np.zeros(SECONDS * 16000, np.float32)
    binary = shutil.which("espeak-ng")
    if binary is None:
        print("espeak-ng not found: the clip gets a tone instead of speech", file=sys.stderr)
        t = np.arange(len(samples)) / 16000
        return (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        subprocess.run([binary, "-v", "en-us", "-s", "150", "-w", str(wav), SPEECH], check=True, capture_output=True)
        from vidllm.video.audio import extract_audio

        speech = extract_audio(wav).samples[: len(samples) - 16000]
    samples[16000 : 16000 + len(speech)] = speech
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", help="time this file instead of the generated clip")
    parser.add_argument("--tools", default="tags,ocr,speech,visual")
    parser.add_argument("--speech-model", default=None, help="tiny.en (default) or base")
    args = parser.parse_args()
    video = args.video or bench_clip()
    # an empty cache: index scan, decode and (for base) model assembly all count
    os.environ["VIDLLM_CACHE_DIR"] = tempfile.mkdtemp(prefix="vidllm-bench-")
    try:
        run(video, args.tools.split(","), args.speech_model)
    finally:
        shutil.rmtree(os.environ["VIDLLM_CACHE_DIR"], ignore_errors=True)


def run(video: str, names: list[str], speech_model: str | None) -> None:
    import vidllm.perceive.tools  # noqa: F401  (registers the tools)
    from vidllm.perceive.base import TOOLS, PerceptionInput
    from vidllm.video.sample import probe, sample_frames

    began = time.perf_counter()
    info = probe(video)
    index_s = time.perf_counter() - began
    length = info.duration
    rows = [("packet index", index_s, "")]
    frames_by_spec = {}
    total = index_s
    for name in names:
        options = {"model": speech_model} if name == "speech" and speech_model else {}
        t0 = time.perf_counter()
        tool = TOOLS.get(name)(**options)
        tool.check_available()
        spec = tool.sampling(length)
        if spec is not None and spec.key() not in frames_by_spec:
            frames_by_spec[spec.key()] = sample_frames(video, spec, cache=False)
            decode_s = time.perf_counter() - t0
            frames = frames_by_spec[spec.key()]
            rows.append((f"decode {len(frames)} frames {frames.width}x{frames.height}", decode_s, ""))
            total += decode_s
            t0 = time.perf_counter()
        frames = frames_by_spec.get(spec.key()) if spec is not None else None
        found = tool.run(PerceptionInput(frames, video, length, info.has_audio))
        seconds = time.perf_counter() - t0
        total += seconds
        extra = f"{len(found)} observations"
        if name == "ocr":
            extra += f", {tool.reads} frames read"
        rows.append((name, seconds, extra))
    rows.append(("total (cold)", total, ""))
    print(f"{video}: {length:.1f}s, {info.width}x{info.height}, audio={info.has_audio}, {os.cpu_count()} cores")
    print(f"{'stage':<34}{'seconds':>9}{'x clip':>9}  notes")
    for label, seconds, extra in rows:
        print(f"{label:<34}{seconds:>9.2f}{seconds / length:>9.3f}  {extra}")


if __name__ == "__main__":
    main()
