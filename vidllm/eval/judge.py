"""Judge-based scoring: a text model grades free-form answers, with its prompt and model recorded.

A ``Judge`` wraps any callable ``ask(prompt, system) -> reply`` (a vidllm backend, an HTTP client,
a test double) and the name of the model behind it. Every call is recorded as a ``JudgeCall``
(model, system, prompt, reply) and kept in the run's store, so a re-score never asks twice and a
report shows exactly what the judge saw.

Each judged benchmark keeps its own judge prompts and reads each reply twice, as its official
script does (quirks included) and robustly; those live in the benchmark's module. This module is
the generic part only.

>>> j = Judge(lambda prompt, system: "Correct", "fixed")
>>> call = j.call("Is 2 + 2 = 4?")
>>> call.reply, call.model, j.call("Is 2 + 2 = 4?") is call   # asked once, memoised
('Correct', 'fixed', True)
"""

from __future__ import annotations

import hashlib
import json
import textwrap
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

Ask = Callable[[str, str], str]


@dataclass(frozen=True)
class JudgeCall:
    model: str
    system: str
    prompt: str
    reply: str

    @property
    def key(self) -> str:
        return judge_key(self.model, self.system, self.prompt)

    def to_dict(self) -> dict:
        return {"model": self.model, "system": self.system, "prompt": self.prompt, "reply": self.reply}


def judge_key(model: str, system: str, prompt: str) -> str:
    return hashlib.sha256(json.dumps([model, system, prompt]).encode()).hexdigest()


class Judge:
    """A grading model: ``ask(prompt, system) -> reply`` plus the model's name.

    Replies are memoised by (model, system, prompt); ``seed`` fills the memo from earlier calls
    (the run store keeps them), so re-scoring a finished run asks nothing.
    """

    def __init__(self, ask: Ask, model: str, *, baseline: bool = False):
        self.ask = ask
        self.model = model
        self.baseline = baseline
        self._memo: dict[str, JudgeCall] = {}
        self._lock = threading.Lock()

    def seed(self, calls: Mapping[str, JudgeCall]) -> None:
        self._memo.update(calls)

    @property
    def calls(self) -> dict[str, JudgeCall]:
        return dict(self._memo)

    def call(self, prompt: str, system: str = "") -> JudgeCall:
        key = judge_key(self.model, system, prompt)
        with self._lock:
            if key in self._memo:
                return self._memo[key]
        reply = self.ask(prompt, system)
        if not isinstance(reply, str):
            raise TypeError(f"judge {self.model!r} returned {type(reply).__name__}, expected str")
        made = JudgeCall(self.model, system, prompt, reply)
        with self._lock:
            self._memo[key] = made
        return made


def prompt_block(text: str) -> str:
    """A prompt written indented in the source (a triple-quoted block), as the judge sees it."""
    return textwrap.dedent(text).strip()
