"""The embedded default: a text LLM reasoning over the perception timeline (VideoChat-Text).

Perception tools describe the video in time-stamped text (``vidllm.perceive``), the lines most
relevant to the question are chosen under a token budget, and a text model answers: by default
SmolLM2-135M-Instruct (GGUF, llama.cpp, ``llamacpp:smollm2``), or any text backend URI, such
as an OpenAI-compatible server (``llm="openai:http://127.0.0.1:8000/v1#name"``). Multiple
choice reads the letter from the reply; when the reply names none, the options are scored
against the evidence instead. Evidence is the lines most similar to question + answer.

``TimelineReasoner.ask`` returns an ``Answer`` with evidence; ``TimelineBackend`` puts the same
path behind the common ``Backend`` interface (``load_model("timeline")``) for the evaluation
runner and the server.
"""

from __future__ import annotations

import atexit
import dataclasses
import functools
import json
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from pydantic import Field

from vidllm.errors import UnsupportedInputError
from vidllm.models.base import Backend, BackendOptions, Output, PreparedRequest
from vidllm.models.request import Generation, Request, Text, Turn
from vidllm.perceive.analyze import DEFAULT_TOOLS, analyze, make_tools
from vidllm.perceive.text_embed import default_embedder
from vidllm.perceive.timeline import Line, Timeline, clock
from vidllm.tasks.answer import Answer, Evidence
from vidllm.tasks.choices import parse_choice, split_options

log = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "You answer questions about a video. You cannot see the video; you get a time-stamped "
    "description of it written by perception tools (objects, on-screen text, speech, motion). "
    "Answer briefly, using only the description."
)
CHOICE_INSTRUCTION = "Answer with the option's letter."
DEFAULT_LLM = "llamacpp:smollm2"
# One thread: in a fresh process 2 threads read the prompt 1.9x faster (340 vs 180 tokens/s for
# SmolLM2), but right after perception in the same process they were slower than one (2.4 s vs
# 1.9 s a question, measured on 2 cores), as the perception libraries' threads still compete.
DEFAULT_LLM_OPTIONS = {"n_threads": 1, "n_ctx": 2048, "repeat_penalty": 1.1}

_llm_lock = threading.Lock()


@functools.lru_cache(maxsize=4)
def _text_model(uri: str, options_json: str):
    """One loaded text model per (uri, options) in a process, freed before shutdown."""
    from vidllm.models.registry import load_model

    model = load_model(uri, **json.loads(options_json))
    atexit.register(model.close)
    return model


@dataclass
class TimelineReasoner:
    """Ask a video a question on a CPU, offline. All settings go into the answer's manifest."""

    tools: tuple[str, ...] = DEFAULT_TOOLS
    tool_options: dict | None = None
    llm: str = DEFAULT_LLM
    llm_options: dict = field(default_factory=lambda: dict(DEFAULT_LLM_OPTIONS))
    budget_tokens: int = 150  # a 135M model reasons best over a few relevant lines (and reads ~180 tokens/s)
    max_new_tokens: int = 48
    temperature: float = 0.0
    seed: int = 0
    progress: bool | None = None

    def timeline(self, video) -> Timeline:
        return analyze(video, make_tools(self.tools, self.tool_options), progress=self.progress)

    def text_model(self):
        return _text_model(self.llm, json.dumps(self.llm_options, sort_keys=True))

    def ask(self, video, question: str, options: list[tuple[str, str]] | None = None,
            time_range: tuple[float, float] | None = None) -> Answer:
        """Answer ``question``; ``time_range`` limits what the model is told to [start, end)."""
        timings: dict[str, float] = {}
        began = time.perf_counter()
        timeline = self.timeline(video)
        if time_range is not None:
            timeline = timeline.within(*time_range)
        timings["perception"] = round(time.perf_counter() - began, 3)
        t = time.perf_counter()
        embedder = default_embedder()
        selected = timeline.select(question, self.budget_tokens, embedder)
        description = "\n".join(line.render() for line, _ in selected) or "(the tools found nothing)"
        timings["retrieval"] = round(time.perf_counter() - t, 3)
        prompt = self._prompt(timeline, description, question, options or [])
        t = time.perf_counter()
        request = Request(
            (Turn("system", (Text(SYSTEM_PROMPT),)), Turn("user", (Text(prompt),))),
            Generation(max_new_tokens=self.max_new_tokens, temperature=self.temperature, seed=self.seed),
        )
        model = self.text_model()
        with _llm_lock:  # one llama.cpp context: one generation at a time
            [response] = model.generate([request])
        reply = response.text
        timings["reasoning"] = round(time.perf_counter() - t, 3)
        answer, source = reply.strip(), None
        if options:
            letters, texts = [o[0] for o in options], [o[1] for o in options]
            answer, source = parse_choice(reply, letters, texts), "reply"
            if answer is None:
                answer, source = self._choose_by_evidence(question, options, selected, embedder), "evidence"
        support = dict(options).get(answer, answer) if options else reply
        evidence = self._evidence(question, support, selected, embedder)
        timings["total"] = round(time.perf_counter() - began, 3)
        return Answer(
            question=question, answer=answer, reply=reply, options=list(options or []),
            choice_source=source, evidence=evidence,
            usage={"prompt_tokens": response.usage.prompt_tokens,
                   "generated_tokens": response.usage.generated_tokens, "visual_tokens": 0},
            timings=timings,
            manifest=self._manifest(timeline, prompt, embedder, response.manifest, time_range),
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

    def _manifest(self, timeline: Timeline, prompt: str, embedder, llm_manifest: dict, time_range) -> dict:
        import vidllm

        return {
            "model": "timeline",
            "llm": {"uri": self.llm, "options": self.llm_options, **llm_manifest},
            "sampling": {"temperature": self.temperature, "seed": self.seed, "max_new_tokens": self.max_new_tokens},
            "retrieval": {"embedder": embedder.manifest(), "budget_tokens": self.budget_tokens},
            "time_range": list(time_range) if time_range else None,
            "system_prompt": SYSTEM_PROMPT,
            "prompt": prompt,
            "perception": timeline.manifest,
            "versions": {"vidllm": vidllm.__version__},
        }


class TimelineOptions(BackendOptions):
    tools: tuple[str, ...] = Field(DEFAULT_TOOLS, description="Perception tools to run.")
    llm: str = Field(DEFAULT_LLM, description="The text model that reasons: any text backend URI.")
    llm_options: dict = Field(default_factory=lambda: dict(DEFAULT_LLM_OPTIONS),
                              description="Options of the text model's backend.")
    budget_tokens: int = Field(150, ge=20, description="Tokens of timeline shown to the text model.")
    progress: bool | None = Field(None, description="Progress bar on stderr while perceiving.")


class TimelineBackend(Backend):
    """The embedded default behind the common interface: one video and a question per request."""

    scheme: ClassVar[str] = "timeline"
    description: ClassVar[str] = "perception tools describe the video as text; a small text LLM reasons (CPU, offline)"
    requires: ClassVar[tuple[str, ...]] = ("torch", "rapidocr_onnxruntime", "faster_whisper", "llama_cpp")
    install: ClassVar[str] = "pip install 'vidllm[default]'"
    Options = TimelineOptions

    def load(self) -> None:
        o = self.options
        self.reasoner = TimelineReasoner(tools=tuple(o.tools), llm=o.llm, llm_options=dict(o.llm_options),
                                         budget_tokens=o.budget_tokens, progress=o.progress)

    def samples_videos(self) -> bool:
        return False  # the perception tools sample what they need

    def _generate(self, batch: list[PreparedRequest]) -> list[Output]:
        outputs = []
        for prepared in batch:
            request = prepared.request
            videos = request.videos()
            if len(videos) != 1:
                raise UnsupportedInputError(f"timeline answers about one video per request, got {len(videos)}")
            video = videos[0]
            question, options = split_options(request.turns[-1].text.replace(CHOICE_INSTRUCTION, "").strip())
            gen = request.generation
            # a copy per request: the backend's reasoner stays as configured (and thread-safe)
            reasoner = dataclasses.replace(self.reasoner, max_new_tokens=gen.max_new_tokens,
                                           temperature=gen.temperature, seed=gen.seed)
            spec = video.spec
            time_range = (spec.start, spec.end) if spec.end is not None or spec.start > 0 else None
            answer = reasoner.ask(video.source, question, options, time_range=time_range)
            outputs.append(Output(
                text=answer.answer if options else answer.reply,
                prompt_tokens=answer.usage["prompt_tokens"], visual_tokens=0,
                generated_tokens=answer.usage["generated_tokens"],
                manifest={**answer.manifest, "reply": answer.reply, "choice_source": answer.choice_source,
                          "evidence": [e.__dict__ for e in answer.evidence]},
                timings=answer.timings,
            ))
        return outputs
