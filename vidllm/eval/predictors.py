"""Baseline predictors: real, deterministic answerers that need no model.

They are baselines, not mocks: each one is a fixed answering strategy whose score means something
(``first:`` is the score of always choosing option A; ``oracle:`` is the ceiling the parsers and
metrics allow; ``hash:`` answers at chance). Every prediction they make carries ``baseline=True``
and results.json labels the run as a baseline.

==================  ==========================================================================
``oracle:``         the ground truth, written the way the benchmark's prompt asks for it
                    (each benchmark's ``oracle_answer``)
``first:``          option A for multiple choice; "Yes", "0", or nothing for the other kinds
``hash:``           an answer picked from the doc_id's hash (chance level, reproducible)
``echo:``           the prompt itself, back
``fixed:TEXT``      TEXT for every sample (e.g. ``fixed:`` answers "" everywhere)
``sleep:S[:BASE]``  waits S seconds, then answers as BASE (default ``hash``); for testing runs
==================  ==========================================================================

They live in the ``BASELINES`` registry, by scheme; another package adds one with
``BASELINES.register("name", "package.module:Class")`` (a ``Baseline`` subclass, built from the
whole URI).

>>> p = make_baseline("first:")
>>> p.name, p.baseline
('first:', True)
>>> is_baseline("oracle:"), is_baseline("hf:Qwen/Qwen2.5-VL-3B-Instruct")
(True, False)
"""

from __future__ import annotations

import hashlib
import time

from vidllm.errors import ModelBackendUnavailableError
from vidllm.eval.benchmarks import BENCHMARKS, Benchmark
from vidllm.eval.types import EvalSample, Prediction
from vidllm.registry import Registry

Answer = tuple[str, tuple[str, ...]]  # (reply, replies to the follow-ups)


class Baseline:
    """A named, deterministic answering strategy; subclasses implement ``answer``.

    ``uri`` is the whole predictor URI (``fixed:TEXT``); what follows the scheme configures it.
    """

    scheme = ""  # the URI scheme it is registered under
    baseline = True
    max_workers = 64  # no model behind it: as many threads as the runner likes

    def __init__(self, uri: str):
        self.name = uri
        self.argument = uri.partition(":")[2]
        self.delay = 0.0

    @property
    def manifest(self) -> dict:
        return {"kind": "baseline", "delay_seconds": self.delay} if self.delay else {"kind": "baseline"}

    def answer(self, sample: EvalSample) -> Answer:
        raise NotImplementedError

    def __call__(self, sample: EvalSample) -> Prediction:
        started = time.perf_counter()
        if self.delay:
            time.sleep(self.delay)
        text, turns = self.answer(sample)
        return Prediction(text=text, turns=turns, model=self.name, baseline=True, seconds=time.perf_counter() - started)


def _no_turns(sample: EvalSample) -> tuple[str, ...]:
    return tuple("" for _ in sample.followups)


class Oracle(Baseline):
    """The ground truth, as the sample's benchmark writes a perfect answer (``oracle_answer``)."""

    scheme = "oracle"

    def __init__(self, uri: str):
        super().__init__(uri)
        self._benchmarks: dict[str, Benchmark] = {}  # scorers only (no folder), one per benchmark

    def answer(self, sample: EvalSample) -> Answer:
        bench = self._benchmarks.get(sample.benchmark)
        if bench is None:
            bench = self._benchmarks[sample.benchmark] = BENCHMARKS.get(sample.benchmark)()
        return bench.oracle_answer(sample)


class First(Baseline):
    scheme = "first"

    def answer(self, sample: EvalSample) -> Answer:
        replies = {"choice": "A", "yesno": "Yes", "count": "0", "choice_span": "A"}
        return replies.get(sample.kind, ""), _no_turns(sample)


class Hash(Baseline):
    """A reproducible guess: the doc_id's hash picks the option, the yes/no or the count."""

    scheme = "hash"

    def answer(self, sample: EvalSample) -> Answer:
        h = int.from_bytes(hashlib.sha256(sample.doc_id.encode()).digest()[:4], "big")
        turns = _no_turns(sample)
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


class Echo(Baseline):
    scheme = "echo"

    def answer(self, sample: EvalSample) -> Answer:
        return sample.prompt, tuple(sample.followups)


class Fixed(Baseline):
    scheme = "fixed"

    def answer(self, sample: EvalSample) -> Answer:
        return self.argument, tuple(self.argument for _ in sample.followups)


class Sleep(Baseline):
    """``sleep:S[:BASE]``: BASE's answers (default ``hash``), each after S seconds."""

    scheme = "sleep"

    def __init__(self, uri: str):
        super().__init__(uri)
        seconds, _, inner = self.argument.partition(":")
        try:
            self.delay = float(seconds)
        except ValueError:
            raise ModelBackendUnavailableError(f"sleep: wants seconds, as in sleep:0.2 or sleep:0.2:oracle, got {uri!r}") from None
        self.inner = make_baseline(inner if ":" in inner else f"{inner or 'hash'}:")

    def answer(self, sample: EvalSample) -> Answer:
        return self.inner.answer(sample)


BASELINES: Registry[Baseline] = Registry("baseline predictor", Baseline)
for _baseline in (Oracle, First, Hash, Echo, Fixed, Sleep):
    BASELINES.register(_baseline.scheme, _baseline)


def is_baseline(uri: str) -> bool:
    """Whether ``uri`` names a baseline predictor (its scheme is in ``BASELINES``)."""
    return uri.partition(":")[0] in BASELINES


def make_baseline(uri: str) -> Baseline:
    """The baseline predictor named by ``uri`` (``oracle:``, ``first:``, ``sleep:0.2``, ...)."""
    if not is_baseline(uri):
        raise ModelBackendUnavailableError(
            f"{uri!r} is not a baseline predictor; baselines are: " + ", ".join(f"{s}:" for s in BASELINES.names())
        )
    return BASELINES.get(uri.partition(":")[0])(uri)


__all__ = ["BASELINES", "Baseline", "is_baseline", "make_baseline"]
