"""Baseline predictors: real, deterministic answerers that need no model.

They are baselines, not mocks: each one is a fixed answering strategy whose score means something
(``first:`` is the score of always choosing option A; ``oracle:`` is the ceiling the parsers and
metrics allow; ``hash:`` answers at chance). Every prediction they make carries ``baseline=True``
and results.json labels the run as a baseline.

==================  ==========================================================================
``oracle:``         the ground truth, written the way the benchmark's prompt asks for it
``first:``          option A for multiple choice; "Yes", "0", or nothing for the other kinds
``hash:``           an answer picked from the doc_id's hash (chance level, reproducible)
``echo:``           the prompt itself, back
``fixed:TEXT``      TEXT for every sample (e.g. ``fixed:`` answers "" everywhere)
``sleep:S[:BASE]``  waits S seconds, then answers as BASE (default ``hash``); for testing runs
==================  ==========================================================================

>>> p = make_baseline("first:")
>>> p.name, p.baseline
('first:', True)
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from vidllm.errors import ModelBackendUnavailableError
from vidllm.eval import simulate
from vidllm.eval.types import EvalSample, Prediction

SCHEMES = ("oracle", "first", "hash", "echo", "fixed", "sleep")


def _fmt(t: float) -> str:
    return f"{float(t):.1f}"


def oracle_answer(sample: EvalSample) -> tuple[str, tuple[str, ...]]:
    """(reply, follow-up replies) that state the ground truth in the benchmark's expected form."""
    kind, target = sample.kind, sample.target
    if sample.benchmark == "vau" and sample.task == "tag":
        span = target or (-1.0, -1.0)
        return f"<glue>[{_fmt(span[0])}, {_fmt(span[1])}]</glue>", ()
    if kind == "choice":
        return (target or ""), ()
    if kind == "span":
        return (f"The event happens in {_fmt(target[0])} - {_fmt(target[1])} seconds." if target else ""), ()
    if kind == "spans":
        return "The events happen in " + ", ".join(f"{_fmt(s)} - {_fmt(e)}" for s, e in target) + " seconds.", ()
    if kind == "point":
        spans = target[0] if target and isinstance(target[0][0], (list, tuple)) else target
        s, e = spans[0]
        return f"The highlight is at {_fmt((s + e) / 2)} seconds.", ()
    if kind == "count":
        return str(target), ()
    if kind == "yesno":
        return str(target), ()
    if kind == "rating":
        return (f"video: {round(target)}, because it matches the human ratings." if target is not None else ""), ()
    if kind == "captions":
        captions = sample.extra.get("g") or [""] * len(target)
        return "\n".join(f"{_fmt(s)} - {_fmt(e)} seconds, {c}" for (s, e), c in zip(target, captions)), ()
    if kind == "choice_span":
        letter, span = target
        return f"({letter}) The answer happens in {_fmt(span[0])} - {_fmt(span[1])} seconds.", ()
    if kind == "operation":
        solution = simulate.solve(sample.extra["kind"], {**sample.extra, "question": sample.question})
        return (f"Final Answer: {solution}" if solution else ""), ()
    if sample.benchmark == "videoreasonbench":
        return f"Final Answer: {target}", ()
    if sample.followups:
        return str(target or ""), tuple(str(sample.extra.get("reasoning", "")) for _ in sample.followups)
    return str(target or ""), ()


def first_answer(sample: EvalSample) -> tuple[str, tuple[str, ...]]:
    replies = {"choice": "A", "yesno": "Yes", "count": "0", "choice_span": "A"}
    return replies.get(sample.kind, ""), tuple("" for _ in sample.followups)


def hash_answer(sample: EvalSample) -> tuple[str, tuple[str, ...]]:
    """A reproducible guess: the doc_id's hash picks the option, the yes/no or the count."""
    h = int.from_bytes(hashlib.sha256(sample.doc_id.encode()).digest()[:4], "big")
    turns = tuple("" for _ in sample.followups)
    if sample.kind in ("choice", "choice_span") and sample.options:
        return chr(ord("A") + h % len(sample.options)), turns
    if sample.kind == "yesno":
        return ("Yes", "No")[h % 2], turns
    if sample.kind == "count":
        return str(h % 5), turns
    if sample.kind == "rating":
        low, high = sample.extra.get("scale", (1, 5))
        return f"video: {low + h % (high - low + 1)}", turns
    if sample.kind == "span" and sample.time_range is None:
        return f"The event happens in {h % 20} - {h % 20 + 5} seconds.", turns
    return "", turns


class Baseline:
    """A named, deterministic answering strategy (see the module docs)."""

    baseline = True

    def __init__(self, name: str, answer: Callable[[EvalSample], tuple[str, tuple[str, ...]]], delay: float = 0.0):
        self.name = name
        self._answer = answer
        self.delay = delay
        self.max_workers = 64
        self.manifest = {"kind": "baseline", "delay_seconds": delay} if delay else {"kind": "baseline"}

    def __call__(self, sample: EvalSample) -> Prediction:
        started = time.perf_counter()
        if self.delay:
            time.sleep(self.delay)
        text, turns = self._answer(sample)
        return Prediction(text=text, turns=turns, model=self.name, baseline=True, seconds=time.perf_counter() - started)


def make_baseline(uri: str) -> Baseline:
    """The baseline predictor named by ``uri`` (``oracle:``, ``first:``, ``sleep:0.2``, ...)."""
    scheme, _, rest = uri.partition(":")
    simple = {"oracle": oracle_answer, "first": first_answer, "hash": hash_answer,
              "echo": lambda s: (s.prompt, tuple(s.followups))}
    if scheme in simple:
        return Baseline(uri, simple[scheme])
    if scheme == "fixed":
        return Baseline(uri, lambda s: (rest, tuple(rest for _ in s.followups)))
    if scheme == "sleep":
        seconds, _, inner = rest.partition(":")
        try:
            delay = float(seconds)
        except ValueError:
            raise ModelBackendUnavailableError(f"sleep: wants seconds, as in sleep:0.2 or sleep:0.2:oracle, got {uri!r}") from None
        base = make_baseline(inner if ":" in inner else f"{inner or 'hash'}:")
        return Baseline(uri, base._answer, delay=delay)
    raise ModelBackendUnavailableError(
        f"{uri!r} is not a baseline predictor; baselines are: " + ", ".join(f"{s}:" for s in SCHEMES)
    )
