"""The embedded default ``timeline``: a text LLM reading the perception timeline (VideoChat-Text).

Perception tools describe the video in time-stamped text (``vidllm.perceive``), the lines most
relevant to the question are chosen under a token budget, and a text model answers: by default
SmolLM2-135M-Instruct (GGUF, llama.cpp, ``llamacpp:smollm2``), or any text backend URI, such
as an OpenAI-compatible server (``-o llm openai:http://127.0.0.1:8000/v1#name``).

It is a backend like the others: ``load_model("timeline", budget_tokens=200)`` checks its
options, ``generate`` takes ``Request``s. Each output's manifest lists the timeline ``lines``
the text model was shown, with their relevance, so the tasks (``vidllm.tasks.ask``) can cite
the moments an answer rests on.

>>> TimelineOptions().budget_tokens, TimelineOptions().max_answer_tokens
(150, 48)
>>> TimelineOptions(foo=1)
Traceback (most recent call last):
pydantic_core._pydantic_core.ValidationError: ...
"""

from __future__ import annotations

import time
from typing import ClassVar, Literal

from pydantic import Field

from vidllm.choices import CHOICE_INSTRUCTION, split_options
from vidllm.errors import UnsupportedInputError
from vidllm.memory.summaries import (
    PROMPTS,
    Summary,
    SummaryStore,
    store_path,
    summarize,
)
from vidllm.models.base import Backend, BackendOptions, Output, PreparedRequest
from vidllm.models.request import Generation, Request, Text, Turn
from vidllm.models.timeline_reader import choose_by_evidence, read_answer
from vidllm.perceive.analyze import DEFAULT_TOOLS, analyze, make_tools
from vidllm.perceive.text_embed import default_embedder
from vidllm.perceive.timeline import Timeline, clock

SYSTEM_PROMPT = (
    "You answer questions about a video. You cannot see the video; you get a time-stamped "
    "description of it written by perception tools (objects, on-screen text, speech, motion). "
    "Answer briefly, using only the description."
)
DEFAULT_LLM = "llamacpp:smollm2"
ANSWER_PREFIX = "The answer is"  # options are scored as the continuation of this reply
# One thread: in a fresh process 2 threads read the prompt 1.9x faster (340 vs 180 tokens/s for
# SmolLM2), but right after perception in the same process they were slower than one (2.4 s vs
# 1.9 s a question, measured on 2 cores), as the perception libraries' threads still compete.
DEFAULT_LLM_OPTIONS = {"n_threads": 1, "n_ctx": 2048, "repeat_penalty": 1.1}


class TimelineOptions(BackendOptions):
    tools: tuple[str, ...] = Field(DEFAULT_TOOLS, min_length=1, description="Perception tools to run.")
    tool_options: dict[str, dict] = Field(default_factory=dict,
                                          description="Settings per tool: {\"speech\": {\"model\": \"base\"}}.")
    llm: str = Field(DEFAULT_LLM, description="The text model that reasons: any text backend URI.")
    llm_options: dict = Field(default_factory=lambda: dict(DEFAULT_LLM_OPTIONS),
                              description="Options of the text model's backend.")
    threads: int | None = Field(None, ge=1, le=256, description="CPU threads of the embedded LLM (sets llm_options.n_threads).")
    budget_tokens: int = Field(150, ge=20, le=100_000,
                               description="Tokens of timeline shown to the text model (a 135M model reasons best over a few relevant lines).")
    max_answer_tokens: int = Field(48, ge=1, le=8192,
                                   description="Longest reply; a request's max_new_tokens is capped at this.")
    progress: bool | None = Field(None, description="Progress bar on stderr while perceiving (default: when a terminal).")
    answers: Literal["auto", "evidence", "llm"] = Field(
        "auto", description="Open questions: read the answer off the most relevant lines, with their times "
                            "(evidence), or let the text model write it (llm); auto: evidence with the built-in "
                            "135M model, llm with any other (multiple choice: score_options).")
    score_options: Literal["needed", "always"] = Field(
        "needed", description="Multiple choice: the reasoner scores the options when the lines do not settle the "
                              "question (needed), or every time, for its scores in the answer (always).")
    summaries: bool = Field(False, description="Also show the video's chapter and whole-video summaries, written "
                                               "once by the text model from the timeline and stored (long videos).")


class TimelineBackend(Backend):
    """The embedded default behind the common interface: one video and a question per request."""

    scheme: ClassVar[str] = "timeline"
    description: ClassVar[str] = "perception tools describe the video as text; a small text LLM reasons (CPU, offline)"
    requires: ClassVar[tuple[str, ...]] = ("torch", "rapidocr_onnxruntime", "faster_whisper", "llama_cpp")
    install: ClassVar[str] = "pip install 'vidllm[default]'"
    Options = TimelineOptions
    sampling_fields: ClassVar[frozenset[str]] = frozenset({"start", "end"})
    sampling_note: ClassVar[str] = (
        "its perception tools choose their own frames (2 fps for motion, colours and tracks; OCR and "
        "tags their own rates); use a frame-reading model (hf:, vllm:, openai:) to choose frames")

    def load(self) -> None:
        o = self.options
        self.tools = make_tools(o.tools, o.tool_options)
        llm_options = dict(o.llm_options)
        if o.threads:
            llm_options["n_threads"] = o.threads
        self.llm_options = llm_options
        self._llm = None

    @property
    def llm(self) -> Backend:
        """The text model, loaded at its first use: an open question read off the evidence
        needs none, so it costs neither llama.cpp's import nor the model's load."""
        if self._llm is None:
            from vidllm.models.registry import load_model

            self._llm = load_model(self.options.llm, **self.llm_options)
        return self._llm

    def reads_answers(self, mode: str | None = None) -> bool:
        """Whether open questions are answered from the evidence lines, not written by the LLM,
        under ``mode`` (default: the ``answers`` option)."""
        mode = mode or self.options.answers
        return mode == "evidence" or mode == "auto" and self.options.llm == DEFAULT_LLM

    def close(self) -> None:
        if self._llm is not None:
            self._llm.close()
            self._llm = None

    def samples_videos(self) -> bool:
        return False  # the perception tools sample what they need

    def timeline(self, video: str) -> Timeline:
        """The stored timeline of ``video`` (perceived now where it is missing)."""
        return analyze(video, self.tools, progress=self.options.progress)

    def summaries(self, timeline: Timeline, progress=None) -> list[Summary]:
        """Segment, chapter and whole-video summaries of ``timeline`` by the text model (stored
        once written, per video and model settings)."""
        from vidllm import db

        writer = {"llm": self.options.llm, "options": self.llm_options, "prompts": PROMPTS}
        store = SummaryStore(store_path(db.cache_dir(), timeline.video_hash, writer))

        def write(prompt: str) -> str:
            [response] = self.llm.generate([Request(
                (Turn("system", (Text(SYSTEM_PROMPT),)), Turn("user", (Text(prompt),))),
                Generation(max_new_tokens=60, temperature=0.0, seed=0))])
            return response.text

        return summarize(timeline.lines(for_model=True), timeline.duration, write, store=store, progress=progress)

    def _generate(self, batch: list[PreparedRequest]) -> list[Output]:
        return [self._answer(prepared.request) for prepared in batch]

    def _answer(self, request: Request) -> Output:
        videos = request.videos()
        if len(videos) != 1:
            raise UnsupportedInputError(f"timeline answers about one video per request, got {len(videos)}")
        video = videos[0]
        text = "\n".join(p.text for p in request.turns[-1].content if isinstance(p, Text)).strip()
        spec = video.spec
        time_range = (spec.start, spec.end) if spec.end is not None or spec.start > 0 else None
        began = time.perf_counter()
        timeline = self.timeline(video.source)
        if time_range is not None:
            timeline = timeline.within(*time_range)
        output = self.answer_over(timeline, text, request.generation)
        perception = time.perf_counter() - began - sum(output.timings.values())
        output.timings = {"perception": round(perception, 3), **output.timings}
        output.manifest["time_range"] = list(time_range) if time_range else None
        return output

    def answer_over(self, timeline: Timeline, text: str, gen: Generation, answers: str | None = None) -> Output:
        """Answer ``text`` (a question, options inside it or not) from ``timeline``: any
        timeline, also one built by a caller (a stream's, or a haystack with a needle in it).
        ``answers`` overrides the option of that name ("llm": the text model writes the reply)."""
        reads = self.reads_answers(answers)
        question, options = split_options(text.replace(CHOICE_INSTRUCTION, "").strip())
        timings: dict[str, float] = {}
        t = time.perf_counter()
        embedder = default_embedder()
        # the options take part in choosing lines: the line that states an option is evidence
        query = " ".join([question, *(option for _, option in options)])
        selected = timeline.select(query, self.options.budget_tokens, embedder,
                                   terms=[option for _, option in options])
        description = "\n".join(line.render() for line, _ in selected) or "(the tools found nothing)"
        timings["retrieval"] = round(time.perf_counter() - t, 3)

        overview = ""
        if self.options.summaries:
            t = time.perf_counter()
            tree = self.summaries(timeline)
            overview = "Summaries:\n" + "\n".join(s.render() for s in tree if s.level != "segment") + "\n\n"
            timings["summaries"] = round(time.perf_counter() - t, 3)
        prompt = (f"{overview}Video description ({clock(timeline.duration)} long):\n{description}\n\n"
                  f"Question: {text}")
        t = time.perf_counter()
        # the rules that read answers off the lines (an extreme, a moment) also tell multiple
        # choice which line states the answer
        reading = read_answer(question, selected, duration=timeline.duration, every=timeline.lines(for_model=True))
        shown = [{"start": line.start, "end": line.end, "kind": line.kind, "text": line.text,
                  "rendered": line.render(), "relevance": round(float(score), 4)} for line, score in selected]
        option_scores, settled, decision = None, None, None
        if options:  # what the lines settle needs no reasoner (``score_options``)
            settled, by, support = choose_by_evidence(options, shown, reading.to_dict())
            decision = {"option": settled, "by": by, "support": support}
        scoring = options and (settled is None or self.options.score_options == "always")
        if scoring and hasattr(self.llm, "score_continuations"):
            # every option scored by the reasoner's likelihood, not one sampled letter trusted
            # calibrated: how much the description raised each option over the question alone, so
            # a small model's taste for a letter or a position cancels out (PMI scoring)
            replies = [f" {letter}. {option}" for letter, option in options]
            given = self.llm.score_continuations(
                [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": prompt}], ANSWER_PREFIX, replies)
            alone = self.llm.score_continuations(
                [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": f"Question: {text}"}],
                ANSWER_PREFIX, replies)
            option_scores = {letter: round(g - a, 4) for (letter, _), g, a in zip(options, given, alone)}
            letter, option = max(options, key=lambda pair: option_scores[pair[0]])
            text_out, usage, finish, llm_manifest = f"{letter}. {option}", (None, 0), "stop", {}
        elif options and settled is not None:
            text_out, usage, finish, llm_manifest = f"{settled}. {dict(options)[settled]}", (None, 0), "stop", {"used": False}
        elif not options and reads:
            text_out, usage, finish, llm_manifest = reading.answer, (None, 0), "stop", {"used": False}
        else:
            [response] = self.llm.generate([Request(
                (Turn("system", (Text(SYSTEM_PROMPT),)), Turn("user", (Text(prompt),))),
                Generation(max_new_tokens=min(gen.max_new_tokens, self.options.max_answer_tokens),
                           temperature=gen.temperature, seed=gen.seed, stop=gen.stop),
            )])
            text_out, finish, llm_manifest = response.text, response.finish_reason, response.manifest
            usage = (response.usage.prompt_tokens, response.usage.generated_tokens)
        timings["reasoning"] = round(time.perf_counter() - t, 3)
        return Output(
            text=text_out, prompt_tokens=usage[0], visual_tokens=0, generated_tokens=usage[1], finish_reason=finish,
            manifest={
                "llm": {"uri": self.options.llm, "options": self.llm_options, **llm_manifest},
                # letter -> mean log-probability per token of the option as the reply, given the
                # description minus without it (None: the reply was generated, or the lines
                # settled the question and ``score_options`` is "needed")
                "option_scores": option_scores,
                # how the evidence answers the question by rule; the answer itself when open
                # questions are read off the lines (``answers``)
                "reading": {**reading.to_dict(), "answered": not options and reads},
                # multiple choice: the option the lines settle (None: none), how, and each
                # option's support (``timeline_reader.choose_by_evidence``)
                "settled": decision,
                "retrieval": {"embedder": embedder.manifest(), "budget_tokens": self.options.budget_tokens},
                "system_prompt": SYSTEM_PROMPT,
                "prompt": prompt,
                "lines": shown,
                "perception": timeline.manifest,
            },
            timings=timings,
        )
