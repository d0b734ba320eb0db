"""``ask``: one question about one video, with any model; returns an ``Answer``.

Every model takes the same path: the question (options given apart or inside it) becomes a
``Request``, the backend answers, and the reply becomes an ``Answer`` with its evidence:
- multiple choice weighs the model's choice (the option the embedded default's reasoner finds
  likeliest, where it was asked; else the letter read from the reply, ``vidllm.choices``)
  against what the model read, where it shows that (the embedded default's timeline lines):
  what the lines settle (``timeline_reader.choose_by_evidence``) is the answer whatever a small
  model preferred; when the reply names no letter, the option closest to the lines is chosen;
  the answer says which way it was chosen and how each option was supported;
- evidence is the timeline lines that support the answer (the embedded default), or the times
  the reply names ("at 0:03", "from 3 to 5 seconds") for a model that watched the frames.

>>> import vidllm
>>> answer = vidllm.ask("clip.mp4", "What number is on the sign?")        # doctest: +SKIP
>>> answer.answer, [(e.start, e.end) for e in answer.evidence]            # doctest: +SKIP
('42', [(3.0, 5.0)])
"""

from __future__ import annotations

import dataclasses
import os
import re
import time

import numpy as np

from vidllm.choices import parse_choice, question_and_options
from vidllm.errors import OptionError
from vidllm.models.pool import ModelPool
from vidllm.models.registry import check_sampling
from vidllm.models.request import Request, Response
from vidllm.models.timeline_reader import (
    WHEN_QUESTION,
    choose_by_evidence,
    moment_answer,
)
from vidllm.models.timeline_reader import statement as _statement
from vidllm.perceive.timeline import NUMBER_WORDS, clock
from vidllm.tasks.answer import Answer, Evidence
from vidllm.tasks.frame_selection import STRATEGIES, select_frames
from vidllm.timeparse import find_spans
from vidllm.video.probe import check_path
from vidllm.video.spec import SamplingSpec

DEFAULT_MODEL = "timeline"
_shared_pool: ModelPool | None = None


def default_model() -> str:
    """``$VIDLLM_MODEL`` when set (read at call time), else the embedded default."""
    return os.environ.get("VIDLLM_MODEL") or DEFAULT_MODEL


def shared_pool() -> ModelPool:
    """The pool of ``vidllm.ask`` calls that bring none: models stay loaded for the next
    question and are closed when the interpreter exits."""
    global _shared_pool
    if _shared_pool is None:
        import atexit

        _shared_pool = ModelPool()
        atexit.register(_shared_pool.close)
    return _shared_pool


def ask(video, question: str, *, options: list[str] | None = None, model: str | None = None,
        model_options: dict | None = None, sampling: dict | None = None, pool: ModelPool | None = None,
        max_new_tokens: int = 256, temperature: float = 0.0, seed: int = 0, budget: int | None = None,
        strategy: str = "uniform", image_text: str | None = None) -> Answer:
    """Answer ``question`` about ``video`` with ``model`` (default: ``default_model()``).

    ``sampling`` holds the ``SamplingSpec`` fields the caller chose (the rest take the
    defaults); a field the model cannot honour is refused, never silently dropped.
    ``model_options`` are the backend's options (``vidllm models --options``). ``strategy``
    chooses which frames a frame-reading model sees under its budget (``frame_selection``:
    uniform, memory, retrieve); the embedded default chooses timeline lines, not frames.
    ``image_text`` names a CLIP/SigLIP model (``hf:<id or folder>``) that ``retrieve`` compares
    frames with the question through.
    """
    began = time.perf_counter()
    check_path(video)
    question, pairs = question_and_options(question, options)
    uri = model or default_model()
    sampling = dict(sampling or {})
    check_sampling(uri, sampling)  # before anything loads
    model_options = dict(model_options or {})
    if strategy == "hierarchical":  # the text pathway: chapter summaries above the relevant lines
        if uri.split(":", 1)[0] != "timeline":
            raise OptionError("--strategy hierarchical reads chapter summaries written from the perception "
                              "timeline: use the timeline model (frame-reading models: uniform, memory, retrieve)")
        model_options["summaries"] = True
    else:
        STRATEGIES.get(strategy)  # an unknown name fails before anything loads
    spec = SamplingSpec.from_fields(sampling)
    backend = (pool or shared_pool()).get(uri, **model_options)
    request = Request.ask(str(video), question, spec=spec, budget=budget,
                          options=[f"{letter}. {text}" for letter, text in pairs] or None,
                          max_new_tokens=max_new_tokens, temperature=temperature, seed=seed)
    selection = None
    if strategy not in ("uniform", "hierarchical") and backend.samples_videos():
        embedder = None
        if image_text:
            from vidllm.perceive.image_text import load_image_text_embedder

            embedder = load_image_text_embedder(image_text)
        request, selection = with_selected_frames(backend, request, question, strategy, embedder)
    [response] = backend.generate([request])
    answer = answer_from_response(question, pairs, response)
    if selection is not None:
        answer.manifest["frame_selection"] = selection.manifest
    answer.timings["total"] = round(time.perf_counter() - began, 3)
    return answer


def with_selected_frames(backend, request: Request, question: str, strategy: str, image_text=None):
    """``request`` with its video's frames chosen by ``strategy``: as many as the model's
    budget holds (the planner's count and size), so the visual tokens match the plan."""
    from vidllm.budget import plan_budget
    from vidllm.models.request import Turn, Video
    from vidllm.video.sample import probe

    [video] = request.videos()
    info = probe(video.source)
    spec, count = video.spec, None
    budget = request.budget or backend.default_budget(request)
    if backend.profile is not None and budget is not None:
        plan = plan_budget(backend.profile, width=info.display_width, height=info.display_height,
                           duration=info.duration, budget=budget, spec=SamplingSpec.from_fields(spec.to_dict()))
        spec, count = plan.spec, plan.nframes
    start, end = spec.clip_range(info.duration)
    count = count or spec.frame_count(end - start)
    selection = select_frames(video.source, strategy, count, spec, question=question, image_text=image_text)
    chosen = Video(None, frames=selection.frames)
    turns = tuple(Turn(t.role, tuple(chosen if part is video else part for part in t.content)) for t in request.turns)
    return dataclasses.replace(request, turns=turns), selection


def answer_from_response(question: str, options: list[tuple[str, str]], response: Response) -> Answer:
    """The ``Answer`` a backend's response gives: the chosen letter or the reply, and evidence."""
    reply = response.text
    lines = response.manifest.get("lines")  # what the embedded default read, with relevance
    reading = response.manifest.get("reading") or {}  # its answer read off the lines, by rule
    answer, source, support = reply.strip(), None, {}
    if options:
        letters, texts = [o[0] for o in options], [o[1] for o in options]
        scored = response.manifest.get("option_scores")
        answer, source = parse_choice(reply, letters, texts), "likelihood" if scored else "reply"
        # what the lines settle, as the embedded default decided it (else weighed here)
        settled = response.manifest.get("settled")
        chosen, by, support = ((settled["option"], settled["by"], settled["support"]) if settled
                               else choose_by_evidence(options, lines or [], reading))
        if chosen is not None and (chosen != answer or not scored):
            answer, source = chosen, by  # (also when the reasoner, not needed, gave no scores)
        elif answer is None and lines:
            answer, source = choose_by_similarity(question, options, lines), "similarity"
        elif answer is None:
            answer, source = "", "none"  # no letter and nothing to fall back on
    grounding = None
    if lines and not options and reading.get("answered"):
        # the answer was read off the lines (the embedded default): it cites them, and says
        # nothing that they do not
        answer = reply.strip()
        grounding = {"unsupported": [], "replaced": False, "from_evidence": True, "rule": reading["rule"]}
        evidence = [Evidence(line["start"], line["end"], line["statement"], round(float(line["relevance"]), 4))
                    for line in reading["lines"]]
    elif lines and not options and WHEN_QUESTION.search(question):
        # "when ...?" over a timeline: the moment is the start of the line most about it, so
        # the answer is that line with its time, whatever a small model made of the times
        top = max(lines, key=lambda line: line.get("relevance", 0.0))
        answer = moment_answer(top["start"], _statement(top))
        grounding = {"unsupported": [], "replaced": False, "from_evidence": True}
        evidence = [Evidence(top["start"], top["end"], _statement(top), round(float(top.get("relevance", 0.0)), 4))]
    elif lines is not None:
        invented = [] if options else unsupported_facts(reply, lines)
        if not options:
            grounding = {"unsupported": invented, "replaced": bool(invented)}
        if invented:  # a number or time the model did not read: say what was read instead
            evidence = evidence_lines(question, question, lines)
            answer = ("The video does not say." if not evidence else
                      f"The video does not say; closest evidence at {clock(evidence[0].start)}: {evidence[0].text}")
        else:
            evidence = evidence_lines(question, dict(options).get(answer, answer) if options else reply, lines)
    else:
        evidence = [Evidence(start, end, "named in the model's reply") for start, end in find_spans(reply)]
    return Answer(
        question=question, answer=answer, reply=reply, options=list(options), choice_source=source,
        option_support=support, option_scores=response.manifest.get("option_scores"), evidence=evidence,
        grounding=grounding, usage=response.usage.to_dict(), timings=dict(response.timings),
        manifest=response.manifest,
    )


def choose_by_similarity(question: str, options: list[tuple[str, str]], lines: list[dict]) -> str:
    """The option whose statement is closest to some line the model read."""
    from vidllm.perceive.text_embed import default_embedder

    embedder = default_embedder()
    shown = embedder.embed([_statement(line) for line in lines])
    claims = embedder.embed([f"{question} {text}" for _, text in options])
    return options[int(np.argmax((claims @ shown.T).max(axis=1)))][0]


def evidence_lines(question: str, answer: str, lines: list[dict], k: int = 3) -> list[Evidence]:
    """The lines most similar to question + answer; a line that contains the answer's words
    (a number, a name) counts double, since that is where the answer came from."""
    if not lines or not answer.strip():
        return []
    from vidllm.perceive.text_embed import default_embedder

    embedder = default_embedder()
    sims = embedder.embed([_statement(line) for line in lines]) @ embedder.embed([f"{question} {answer}"])[0]
    answer_words = {w for w in re.findall(r"[a-z0-9]+", answer.lower()) if len(w) > 2 or w.isdigit()}
    overlap = np.array([len(answer_words & set(re.findall(r"[a-z0-9]+", line["text"].lower()))) / max(1, len(answer_words))
                        for line in lines])
    scores = sims + overlap
    order = np.argsort(-scores)[:k]
    best = scores[order[0]]
    return [Evidence(lines[i]["start"], lines[i]["end"], _statement(lines[i]), round(float(scores[i]), 4))
            for i in order if scores[i] >= 0.8 * best]


def _numbers(text: str) -> set[str]:
    """Numbers and clock times in ``text`` as digits ("seven" -> "7", "7:30" -> "7:30", "07" -> "7")."""
    found = set()
    for token in re.findall(r"\d+(?:[:.]\d+)*|[a-z]+", text.lower()):
        if token[0].isdigit():
            found.add(":".join(str(int(p)) if p.isdigit() else p for p in re.split(r"[:.]", token))
                      if ":" in token else token.lstrip("0") or "0")
        elif token in NUMBER_WORDS:
            found.add(NUMBER_WORDS[token])
    return found


def unsupported_facts(reply: str, lines: list[dict]) -> list[str]:
    """Numbers and times in ``reply`` that appear in none of the ``lines`` the model read
    (their text, or their times in whole seconds): facts the model made up.

    >>> lines = [{"start": 3.0, "end": 5.0, "text": 'the last train leaves at seven'}]
    >>> unsupported_facts("It leaves at 7.", lines), unsupported_facts("At 7:30, after 3 s.", lines)
    ([], ['7:30'])
    """
    read = set()
    for line in lines:
        read |= _numbers(line["text"])
        read |= {str(int(line["start"])), str(int(line["end"])), str(int(round(line["start"]))),
                 str(int(round(line["end"])))}
    return sorted(_numbers(reply) - read)
