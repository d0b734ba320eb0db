"""The embedded default: a text LLM reasoning over the perception timeline (VideoChat-Text).

Perception tools describe the video in time-stamped text (``vidllm.perceive``), the lines most
relevant to the question are chosen under a token budget, and SmolLM2-135M-Instruct (GGUF,
through llama.cpp) answers. Multiple choice reads the letter from the reply; when the reply
names none, the options are scored against the evidence instead. Evidence is the lines most
similar to the question together with the answer.
"""

from __future__ import annotations

import atexit
import functools
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidllm.errors import MissingDependencyError
from vidllm.models.llamacpp_backend import smollm2_path
from vidllm.perceive.analyze import DEFAULT_TOOLS, analyze, make_tools
from vidllm.perceive.text_embed import default_embedder, file_sha256
from vidllm.perceive.timeline import Line, Timeline, clock
from vidllm.tasks.answer import Answer, Evidence
from vidllm.tasks.choices import parse_choice

log = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "You answer questions about a video. You cannot see the video; you get a time-stamped "
    "description of it written by perception tools (objects, on-screen text, speech, motion). "
    "Answer briefly, using only the description."
)
CHOICE_INSTRUCTION = "Answer with the option's letter."


@functools.lru_cache(maxsize=2)
def _llama(path: str, n_threads: int, n_ctx: int):
    try:
        from llama_cpp import Llama, LlamaRAMCache
    except ImportError:
        raise MissingDependencyError("the embedded default needs: pip install llama-cpp-python") from None
    llm = Llama(model_path=path, n_ctx=n_ctx, n_threads=n_threads, n_batch=512, verbose=False, seed=0)
    # Questions about one short video share the whole description prefix: keep its KV state.
    llm.set_cache(LlamaRAMCache(capacity_bytes=256 << 20))
    # free it before interpreter shutdown tears down llama_cpp's globals (else a warning
    # "TypeError: 'NoneType' object is not callable" is printed at exit)
    atexit.register(llm.close)
    return llm


@dataclass
class TimelineReasoner:
    """Ask a video a question on a CPU, offline. All settings go into the answer's manifest."""

    tools: tuple[str, ...] = DEFAULT_TOOLS
    tool_options: dict | None = None
    llm_path: str | None = None
    n_threads: int = 1
    n_ctx: int = 2048
    budget_tokens: int = 200  # a 135M model reasons best over a few relevant lines
    max_new_tokens: int = 48
    temperature: float = 0.0
    repeat_penalty: float = 1.1  # a small model loops on its own words without it
    seed: int = 0
    progress: bool | None = None

    def timeline(self, video) -> Timeline:
        return analyze(video, make_tools(self.tools, self.tool_options), progress=self.progress)

    def ask(self, video, question: str, options: list[tuple[str, str]] | None = None) -> Answer:
        timings: dict[str, float] = {}
        began = time.perf_counter()
        timeline = self.timeline(video)
        timings["perception"] = round(time.perf_counter() - began, 3)
        t = time.perf_counter()
        embedder = default_embedder()
        selected = timeline.select(question, self.budget_tokens, embedder)
        description = "\n".join(line.render() for line, _ in selected) or "(the tools found nothing)"
        timings["retrieval"] = round(time.perf_counter() - t, 3)
        prompt = self._prompt(timeline, description, question, options or [])
        t = time.perf_counter()
        llm = _llama(self.llm_path or smollm2_path(), self.n_threads, self.n_ctx)
        out = llm.create_chat_completion(
            messages=[{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": prompt}],
            max_tokens=self.max_new_tokens, temperature=self.temperature, seed=self.seed,
            repeat_penalty=self.repeat_penalty,
        )
        reply = out["choices"][0]["message"]["content"] or ""
        timings["reasoning"] = round(time.perf_counter() - t, 3)
        answer, source = reply.strip(), None
        if options:
            letters, texts = [o[0] for o in options], [o[1] for o in options]
            answer, source = parse_choice(reply, letters, texts), "reply"
            if answer is None:
                answer, source = self._choose_by_evidence(question, options, selected, embedder), "evidence"
        support = dict(options or []).get(answer, answer) if options else reply
        evidence = self._evidence(question, support, selected, embedder)
        timings["total"] = round(time.perf_counter() - began, 3)
        return Answer(
            question=question, answer=answer, reply=reply, options=list(options or []),
            choice_source=source, evidence=evidence,
            usage={"prompt_tokens": out["usage"]["prompt_tokens"],
                   "generated_tokens": out["usage"]["completion_tokens"], "visual_tokens": 0},
            timings=timings,
            manifest=self._manifest(timeline, prompt, embedder),
        )

    def _prompt(self, timeline: Timeline, description: str, question: str, options) -> str:
        text = f"Video description ({clock(timeline.duration)} long):\n{description}\n\nQuestion: {question}"
        if options:
            text += "\n" + "\n".join(f"{letter}. {option}" for letter, option in options)
            text += "\n" + CHOICE_INSTRUCTION
        return text

    def _choose_by_evidence(self, question, options, selected, embedder) -> str:
        """Fallback: the option whose statement is closest to some line of the description."""
        if not selected:
            return options[0][0]
        lines = embedder.embed([line.render() for line, _ in selected])
        claims = embedder.embed([f"{question} {text}" for _, text in options])
        scores = (claims @ lines.T).max(axis=1)
        return options[int(np.argmax(scores))][0]

    def _evidence(self, question: str, answer: str, selected: list[tuple[Line, float]], embedder,
                  k: int = 3) -> list[Evidence]:
        """Lines most similar to question + answer; a line that contains the answer's words
        (a number, a name) counts double, since that is where the answer came from."""
        if not selected or not answer.strip():
            return []
        lines = [line for line, _ in selected]
        sims = embedder.embed([line.render() for line in lines]) @ embedder.embed([f"{question} {answer}"])[0]
        words = {w for w in re.findall(r"[a-z0-9]+", answer.lower()) if len(w) > 2 or w.isdigit()}
        overlap = np.array([len(words & set(re.findall(r"[a-z0-9]+", line.text.lower()))) / max(1, len(words))
                            for line in lines])
        scores = sims + overlap
        order = np.argsort(-scores)[:k]
        best = scores[order[0]]
        return [Evidence(lines[i].start, lines[i].end, lines[i].render().split("] ", 1)[1], round(float(scores[i]), 4))
                for i in order if scores[i] >= 0.8 * best]

    def _manifest(self, timeline: Timeline, prompt: str, embedder) -> dict:
        import llama_cpp

        import vidllm

        path = self.llm_path or smollm2_path()
        return {
            "model": "timeline",
            "llm": {"name": "SmolLM2-135M-Instruct.Q4_1", "path": path, "sha256": file_sha256(Path(path)),
                    "runtime": f"llama-cpp-python {llama_cpp.__version__}", "n_threads": self.n_threads,
                    "n_ctx": self.n_ctx},
            "sampling": {"temperature": self.temperature, "seed": self.seed, "max_new_tokens": self.max_new_tokens,
                         "repeat_penalty": self.repeat_penalty},
            "retrieval": {"embedder": embedder.manifest(), "budget_tokens": self.budget_tokens},
            "system_prompt": SYSTEM_PROMPT,
            "prompt": prompt,
            "perception": timeline.manifest,
            "versions": {"vidllm": getattr(vidllm, "__version__", "0.1.0")},
        }

