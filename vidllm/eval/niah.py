"""Needle in a video haystack (V-NIAH, LongVA's protocol) for any backend.

The haystack is any video sampled at one frame a second; a cell of the grid takes its first
``length`` frames and inserts the needle, one picture (a generated text card or any image),
as one frame at index ``int(depth * length)``, so everything after it moves one second later.
The model is asked what the card says (four options, or one word) and the cell scores the
share of its needles answered right; the headline is the mean over cells.

Perception is paid once: the haystack's timeline is analysed (and stored) once for the whole
grid, each needle is perceived once on its own, and a cell only splices the needle's
observations into the haystack's at its position. Frame-reading models (``hf:``, ``vllm:``,
``openai:``) get the haystack's frames with the needle inserted, under their token budget.

Cells are written to ``cells.jsonl`` as they finish (a rerun skips them) in grid order, with
no timings inside, so the same seed gives the same bytes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import html
import json
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vidllm.errors import SpecError
from vidllm.models.request import (
    Generation,
    Request,
    Response,
    Text,
    Turn,
    Usage,
    Video,
)
from vidllm.perceive.analyze import config_key
from vidllm.perceive.base import Observation, PerceptionInput
from vidllm.perceive.store import ObservationStore
from vidllm.perceive.timeline import Timeline
from vidllm.video.frames import Frames

DEPTHS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
# Needle words: common enough for OCR to read and for a small model to repeat, unrelated to
# street or animation footage so that no haystack frame says them.
WORDS = (
    "APRICOT", "BALLOON", "CACTUS", "DOLPHIN", "EMERALD", "FALCON", "GUITAR", "HARBOR", "IGLOO",
    "JASMINE", "KETTLE", "LANTERN", "MAGNET", "NUTMEG", "OYSTER", "PARROT", "QUARTZ", "RADISH",
    "SADDLE", "TEAPOT", "UMBRELLA", "VIOLIN", "WALNUT", "YOGURT", "ZEPHYR", "ANCHOR", "BUTTON",
    "CANDLE", "DIAMOND", "ENGINE", "FEATHER", "GARLIC", "HAMMER", "ISLAND", "JIGSAW", "KOALA",
    "LEMON", "MARBLE", "NAPKIN", "ORCHID", "PEPPER", "QUILL", "RIBBON", "SPONGE", "TULIP",
)
QUESTION = "What word is written on the card shown in the video?"
VISUAL_NEEDLE_TOOLS = ("tags", "ocr")  # tools that read a single picture; motion and shots need a sequence


@dataclass(frozen=True)
class NiahConfig:
    haystack: str
    lengths: tuple[int, ...]  # frames at 1 fps, i.e. seconds of haystack
    depths: tuple[float, ...] = DEPTHS
    needles_per_cell: int = 2
    answer_format: str = "choice"  # "choice" (four options) or "word" (one word)
    seed: int = 0
    model: str = "timeline"
    model_options: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.lengths or any(n < 1 for n in self.lengths):
            raise SpecError(f"lengths must be positive numbers of frames, got {list(self.lengths)}")
        if any(not 0.0 <= d <= 1.0 for d in self.depths):
            raise SpecError(f"depths must be within 0..1, got {list(self.depths)}")
        if self.answer_format not in ("choice", "word"):
            raise SpecError(f"answer format must be 'choice' or 'word', got {self.answer_format!r}")
        if self.needles_per_cell < 1:
            raise SpecError("needles_per_cell must be at least 1")

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "lengths": list(self.lengths), "depths": list(self.depths)}


@dataclass(frozen=True)
class Needle:
    word: str
    options: tuple[tuple[str, str], ...]  # ("A", "APRICOT"), ...; empty for one-word answers
    correct: str  # the letter, or the word

    def question(self) -> str:
        if not self.options:
            return f"{QUESTION} Answer with one word."
        return QUESTION + "\n" + "\n".join(f"{letter}. {text}" for letter, text in self.options)


def cell_needles(config: NiahConfig, length: int, depth: float) -> list[Needle]:
    """The needles of one cell, drawn from ``WORDS`` by a generator seeded with the cell."""
    rng = random.Random(f"{config.seed}:{length}:{depth:.4f}")
    needles = []
    for _ in range(config.needles_per_cell):
        words = rng.sample(WORDS, 4)
        if config.answer_format == "word":
            needles.append(Needle(words[0], (), words[0]))
            continue
        order = rng.sample(range(4), 4)
        options = tuple(("ABCD"[k], words[i]) for k, i in enumerate(order))
        needles.append(Needle(words[0], options, "ABCD"[order.index(0)]))
    return needles


def text_card(word: str, size: tuple[int, int] = (640, 360)) -> np.ndarray:
    """Black capitals on a white card filling the picture: the needle frame."""
    from PIL import Image, ImageDraw, ImageFont

    w, h = size
    picture = Image.new("RGB", size, "white")
    font = ImageFont.load_default(size=h // 5)
    ImageDraw.Draw(picture).text((w / 2, h / 2), word, fill="black", font=font, anchor="mm")
    return np.asarray(picture).copy()


def perceive_picture(image: np.ndarray, tools, store: ObservationStore) -> list[Observation]:
    """What ``tools`` observe in one picture shown for one second, [0, 1); stored by content."""
    digest = "picture:" + hashlib.blake2b(image.tobytes() + str(image.shape).encode(), digest_size=12).hexdigest()
    frames = Frames(data=image[None], timestamps=np.array([0.5]), targets=np.array([0.5]), source=digest,
                    content_hash=digest, mode="exact")
    found: list[Observation] = []
    for tool in tools:
        key = config_key(tool, None)
        stored = store.load(digest, tool.name, key)
        if stored is None:
            stored = tool.run(PerceptionInput(frames=frames, video_path=digest, duration=1.0, has_audio=False))
            store.save(digest, tool.name, key, tool.manifest(), stored, 0.0)
        found += stored
    return found


def with_needle(haystack: Timeline, length: int, position: int, needle: list[Observation]) -> Timeline:
    """The first ``length`` seconds of ``haystack`` with a one-second needle at ``position``:
    what was observed from there on moves one second later, and a span the needle falls in
    stretches over it."""
    kept = []
    for o in haystack.within(0.0, float(length)).observations:
        start, end = o.start, min(o.end, float(length))
        if start >= position:
            start, end = start + 1.0, end + 1.0
        elif end > position:
            end += 1.0
        kept.append(dataclasses.replace(o, start=start, end=end))
    kept += [dataclasses.replace(o, start=o.start + position, end=o.end + position) for o in needle]
    return Timeline(f"{haystack.video_hash}+needle@{position}", float(length + 1), kept, haystack.manifest)


def haystack_frames(haystack: str, length: int) -> Frames:
    """The haystack's first ``length`` frames at 1 fps, small (frame models get them resized
    to their budget anyway)."""
    from vidllm.video.sample import sample_frames
    from vidllm.video.spec import SamplingSpec

    return sample_frames(haystack, SamplingSpec(fps=1.0, end=float(length), max_pixels=224 * 224), cache=False)


def with_card(frames: Frames, position: int, card: np.ndarray) -> Frames:
    """``frames`` with ``card`` inserted as one frame at ``position``, all re-timed at 1 fps."""
    from vidllm.video.resize import resize

    needle = resize(card, (frames.width, frames.height))[None]
    data = np.concatenate([frames.data[:position], needle, frames.data[position:]])
    times = np.arange(len(data), dtype=np.float64) + 0.5
    return Frames(data=data, timestamps=times, targets=times.copy(), source=frames.source,
                  content_hash=f"{frames.content_hash}+needle@{position}", mode="exact")


def score(needle: Needle, answer: str) -> bool:
    if needle.options:
        return answer == needle.correct
    return needle.word.lower() in {w.lower() for w in answer.replace(".", " ").split()}


def run(config: NiahConfig, out_dir, *, pool=None, progress: bool | None = None) -> dict:
    """Run the grid (resuming from ``out_dir/cells.jsonl``) and write ``results.json``,
    ``heatmap.png`` and ``report.html``; returns the results."""
    from tqdm.auto import tqdm

    from vidllm.models.pool import ModelPool
    from vidllm.tasks.ask import answer_from_response
    from vidllm.video.sample import probe

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    info = probe(config.haystack)
    if info.duration + 1e-6 < max(config.lengths):
        raise SpecError(f"{config.haystack}: the haystack is {info.duration:.0f} s long; the longest cell needs "
                        f"{max(config.lengths)} frames at 1 fps")
    done = _read_cells(out / "cells.jsonl", config)
    pool = pool or ModelPool()
    backend = pool.get(config.model, **config.model_options)
    timeline_backend = hasattr(backend, "answer_over")
    haystack = backend.timeline(config.haystack) if timeline_backend else None
    store = ObservationStore()
    needle_tools = [t for t in getattr(backend, "tools", []) if t.name in VISUAL_NEEDLE_TOOLS]
    grid = [(length, depth) for length in config.lengths for depth in config.depths]
    sampled: dict[int, Frames] = {}  # frame models: the haystack of the current length, sampled once
    bar = tqdm(grid, desc="V-NIAH", unit="cell", disable=None if progress is None else not progress)
    with open(out / "cells.jsonl", "a", encoding="utf-8") as sink:
        for length, depth in bar:
            if (length, depth) in done:
                continue
            position = min(int(depth * length), length)
            records = []
            for needle in cell_needles(config, length, depth):
                card = text_card(needle.word)
                gen = Generation(max_new_tokens=16, temperature=0.0, seed=config.seed)
                if timeline_backend:
                    timeline = with_needle(haystack, length, position, perceive_picture(card, needle_tools, store))
                    output = backend.answer_over(timeline, needle.question(), gen)
                    response = Response(output.text, Usage(output.prompt_tokens, 0, output.generated_tokens),
                                        output.timings, output.manifest)
                else:
                    if length not in sampled:
                        sampled.clear()  # the grid goes length by length: one length held at a time
                        sampled[length] = haystack_frames(config.haystack, length)
                    frames = with_card(sampled[length], position, card)
                    request = Request((Turn("user", (Video(None, frames=frames), Text(needle.question()))),), gen)
                    [response] = backend.generate([request])
                answer = answer_from_response(QUESTION, list(needle.options), response)
                at_needle = any(e.start <= position + 0.5 <= e.end for e in answer.evidence)
                records.append({"word": needle.word, "correct": needle.correct, "answer": answer.answer,
                                "right": score(needle, answer.answer), "reply": answer.reply,
                                "choice_source": answer.choice_source, "evidence_at_needle": at_needle})
            cell = {"length": length, "depth": depth, "position": position,
                    "score": sum(r["right"] for r in records) / len(records), "needles": records}
            sink.write(json.dumps(cell, sort_keys=True) + "\n")
            sink.flush()
            done[(length, depth)] = cell
            bar.set_postfix(mean=f"{np.mean([c['score'] for c in done.values()]):.2f}")
    bar.close()
    cells = [done[key] for key in grid]
    results = {
        "config": config.to_dict(),
        "haystack": {"path": config.haystack, "duration": info.duration},
        "model": backend.describe(),
        "mean": round(float(np.mean([c["score"] for c in cells])), 4),
        "baselines": baselines(config),
        "cells": [{k: c[k] for k in ("length", "depth", "position", "score")} for c in cells],
    }
    (out / "results.json").write_text(json.dumps(results, indent=2, sort_keys=True, default=str) + "\n")
    heatmap_png(results, out / "heatmap.png")
    report_html(results, out / "report.html")
    return results


def baselines(config: NiahConfig) -> dict:
    """A seeded random guess among the options (or the word list) and an oracle that knows the
    needle, on the same grid: the floor and the ceiling the model's mean sits between."""
    rng = random.Random(f"random:{config.seed}")
    hits = []
    for length in config.lengths:
        for depth in config.depths:
            for needle in cell_needles(config, length, depth):
                guess = rng.choice(needle.options)[0] if needle.options else rng.choice(WORDS)
                hits.append(score(needle, guess))
    return {"random": round(float(np.mean(hits)), 4), "oracle": 1.0}


def _read_cells(path: Path, config: NiahConfig) -> dict:
    done = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                cell = json.loads(line)
            except json.JSONDecodeError:  # a line cut by an interruption: that cell runs again
                continue
            done[(cell["length"], cell["depth"])] = cell
    if done:
        # rewrite without any cut line, so appending continues a clean file
        path.write_text("".join(json.dumps(c, sort_keys=True) + "\n" for c in done.values()), encoding="utf-8")
    return done


def _colour(value: float) -> tuple[int, int, int]:
    """Red (0) through yellow to green (1), like LongVA's heat-maps."""
    value = min(max(value, 0.0), 1.0)
    return (int(255 * min(1.0, 2 * (1 - value))), int(200 * min(1.0, 2 * value)), 60)


def heatmap_png(results: dict, path) -> None:
    """Depth (rows) x length (columns), one coloured cell each, its score written in it."""
    from PIL import Image, ImageDraw, ImageFont

    lengths = list(results["config"]["lengths"])
    depths = list(results["config"]["depths"])
    cell_w, cell_h, left, top = 64, 36, 70, 40
    picture = Image.new("RGB", (left + cell_w * len(lengths) + 10, top + cell_h * len(depths) + 48), "white")
    draw = ImageDraw.Draw(picture)
    font = ImageFont.load_default(size=12)
    scores = {(c["length"], c["depth"]): c["score"] for c in results["cells"]}
    for i, depth in enumerate(depths):
        draw.text((8, top + i * cell_h + cell_h / 2), f"{depth:.0%}", fill="black", font=font, anchor="lm")
        for j, length in enumerate(lengths):
            x, y = left + j * cell_w, top + i * cell_h
            value = scores[(length, depth)]
            draw.rectangle([x, y, x + cell_w - 2, y + cell_h - 2], fill=_colour(value))
            draw.text((x + cell_w / 2, y + cell_h / 2), f"{value:.2f}", fill="black", font=font, anchor="mm")
    for j, length in enumerate(lengths):
        draw.text((left + j * cell_w + cell_w / 2, top + cell_h * len(depths) + 12), str(length), fill="black",
                  font=font, anchor="mm")
    draw.text((left, 12), f"V-NIAH mean {results['mean']:.3f} (random {results['baselines']['random']:.2f})",
              fill="black", font=font)
    draw.text((left, top + cell_h * len(depths) + 28), "haystack frames (1 fps)", fill="black", font=font)
    draw.text((8, 26), "depth", fill="black", font=font)
    picture.save(path)


def report_html(results: dict, path) -> None:
    rows = "".join(f"<tr><td>{c['length']}</td><td>{c['depth']:.1f}</td><td>{c['position']}</td>"
                   f"<td>{c['score']:.2f}</td></tr>" for c in results["cells"])
    page = f"""<!doctype html><meta charset="utf-8"><title>V-NIAH</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}td,th{{padding:2px 10px}}</style>
<h1>Needle in a video haystack</h1>
<p>Mean score <b>{results['mean']:.3f}</b>; random baseline {results['baselines']['random']:.3f};
oracle {results['baselines']['oracle']:.3f}. Haystack {html.escape(str(results['haystack']['path']))}
({results['haystack']['duration']:.0f} s); model {html.escape(str(results['model'].get('uri', '')))}.</p>
<img src="heatmap.png" alt="depth by length heat-map">
<table><tr><th>length</th><th>depth</th><th>needle at frame</th><th>score</th></tr>{rows}</table>
<h2>Settings</h2><pre>{html.escape(json.dumps(results['config'], indent=2, default=str))}</pre>
"""
    Path(path).write_text(page, encoding="utf-8")


def print_table(results: dict, stream=sys.stdout) -> None:
    lengths = list(results["config"]["lengths"])
    scores = {(c["length"], c["depth"]): c["score"] for c in results["cells"]}
    print("depth \\ length " + " ".join(f"{n:>6}" for n in lengths), file=stream)
    for depth in results["config"]["depths"]:
        print(f"{depth:>14.1f} " + " ".join(f"{scores[(n, depth)]:>6.2f}" for n in lengths), file=stream)
    b = results["baselines"]
    print(f"mean {results['mean']:.3f}   random {b['random']:.3f}   oracle {b['oracle']:.3f}", file=stream)
