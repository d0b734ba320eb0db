"""Corpus inputs laid out as a benchmark, for ``vidllm eval``, and how to read what the run kept.

MLVU's layout is the simplest the loaders read: ``json/4_count.json`` (a list of multiple-choice
items naming their video) and ``video/4_count/<video>``. Each input becomes one sample whose video
is a symbolic link to it under its own name: a link is what a benchmark folder assembled from
elsewhere holds, keeps a FIFO a FIFO and a directory a directory, and costs nothing for the big
inputs. A missing input and a symlink loop leave a link that resolves to nothing, which the
loader reports as a missing video; a URL is no file name a benchmark can hold, so it is given as
the video's name and is missing the same way.

Outcome of ``vidllm eval`` on such a folder (``eval_outcome``): ``ok`` (exit 0, answered),
``recorded`` (exit 0, the sample kept with a one-line error: the video cannot be used), ``error``
(exit 2, one line: the benchmark cannot be run, e.g. its video is missing), or a failure:
``lost`` (exit 0 without the sample, or with an error of several lines) besides those of
``outcomes.run_vidllm``.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

from outcomes import Outcome, run_vidllm

BENCH, STEM, TASK = "mlvu", "4_count", "count"
OPTIONS = ["one", "two", "three", "four"]
# the embedded text model over the visual tool alone, with short answers: the fastest real model
MODEL_ARGS = ["-m", "timeline", "-o", "tools", '["visual"]', "-o", "progress", "false",
              "-o", "max_answer_tokens", "8"]


def video_name(path: str) -> str:
    return path if "://" in path else os.path.basename(path)


def mlvu_folder(root: str | os.PathLike, paths: list[str]) -> Path:
    """An MLVU folder with one count question per input of ``paths`` (sample ``4_count/<i>``)."""
    root = Path(root)
    videos = root / "video" / STEM
    videos.mkdir(parents=True, exist_ok=True)
    (root / "json").mkdir(exist_ok=True)
    items = []
    for i, path in enumerate(paths):
        name = video_name(path)
        if "://" not in path:
            os.symlink(os.path.abspath(path), videos / name)
        items.append({"video": name, "duration": 10.0, "question": f"How many discs are there in clip {i}?",
                      "candidates": OPTIONS, "answer": OPTIONS[i % 4], "question_type": TASK})
    (root / "json" / f"{STEM}.json").write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
    return root


def eval_args(data: str | os.PathLike, out: str | os.PathLike) -> list[str]:
    return ["eval", *MODEL_ARGS, "--bench", BENCH, "--data", str(data), "--out", str(out), "--no-progress"]


def kept_samples(out: str | os.PathLike) -> dict[str, dict]:
    """doc_id -> the row samples.jsonl holds for it ({} when the run wrote nothing)."""
    path = Path(out) / "samples.jsonl"
    if not path.exists():
        return {}
    rows = (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    return {row["doc_id"]: row for row in rows}


def eval_outcome(root: str | os.PathLike, path: str, *, timeout: float = 300) -> Outcome:
    """``vidllm eval`` on a one-sample folder holding ``path``, classified as the module says."""
    root = Path(root)
    data, out = mlvu_folder(root / "data", [path]), root / "out"
    outcome = run_vidllm(eval_args(data, out), timeout=timeout)
    if outcome.status != "ok":
        return outcome
    row = kept_samples(out).get(f"{STEM}/0")
    if row is None:
        return replace(outcome, status="lost", message="exit 0 but the sample is not in samples.jsonl")
    error = row.get("error")
    if not error:
        return outcome
    if "\n" in error.strip():
        return replace(outcome, status="lost", message=f"an error of several lines: {error[:120]!r}")
    return replace(outcome, status="recorded", message=error[:160])
