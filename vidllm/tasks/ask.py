"""``ask``: one question about one video, with any model; returns an ``Answer``.

Every model takes the same path: the question (options given apart or inside it) becomes a
``Request``, the backend answers, and the reply becomes an ``Answer`` with its evidence:
- multiple choice weighs the model's choice (the option the embedded default's reasoner finds
  likeliest, every option scored; else the letter read from the reply, ``vidllm.choices``)
  against what the model read, where it shows that (the embedded default's timeline lines): when
  exactly one option is stated in the lines most relevant to the question (or, failing that, in
  any line shown, with no other option stated anywhere), that option is the answer whatever a
  small model preferred; when the reply names no letter, the option closest to the
  lines is chosen; the answer says which way it was chosen and how each option was supported;
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
from vidllm.models.timeline_reader import WHEN_QUESTION, number_in
from vidllm.perceive.timeline import NUMBER_WORDS, clock, words
from vidllm.tasks.answer import Answer, Evidence
from vidllm.tasks.frame_selection import STRATEGIES, select_frames
from vidllm.timeparse import find_point, find_spans
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
        support = option_support(options, lines or [])
        stated = [letter for letter, share in support.items() if share == 1.0]
        if reading.get("rule") in EXTREME_RULES and reading["lines"]:
            # "the highest number", "the first thing said", "what comes after X": the line the
            # rule picked (the first it cites) states the answer, whichever lines are the most
            # similar to the question
            support = option_support(options, reading["lines"][:1], top=1)
            stated = [letter for letter, share in support.items() if share == 1.0]
        elif reading.get("rule") == "how many":  # the count of distinct lines is the answer
            count = len(reading["lines"])
            support = {letter: float(number_in(text) == count) for letter, text in options}
            stated = [letter for letter, share in support.items() if share == 1.0]
        if not stated and lines:
            # none stated by the most relevant lines: an option that some line read states, when
            # no other option is stated anywhere, is still what the evidence says (a needle's
            # card whose word a neighbouring topic outranks in relevance)
            anywhere = option_support(options, lines, top=len(lines))
            stated = [letter for letter, share in anywhere.items() if share == 1.0]
        if len(stated) > 1:  # several stated: the one the far most relevant line states
            stated = clearly_most_relevant(stated, options, lines)
        closest = closest_option(options, lines) if lines and not stated else None
        if len(stated) == 1 and stated[0] != answer:
            answer, source = stated[0], "evidence"
        elif closest is not None and closest != answer:
            answer, source = closest, "similarity"
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
        answer = f"At {clock(top['start'])}: {_statement(top)}"
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


def option_support(options: list[tuple[str, str]], lines: list[dict], top: int = 3) -> dict[str, float]:
    """How plainly the ``top`` lines most relevant to the question state each option: the
    largest share of the option's words found in one line's statement (the text before any
    parenthesis, where tools repeat details: "moves left (from the right to the left)" states
    left, not right).

    An option that names a moment ("at 3 seconds", "at 0:42") is stated by the most relevant
    line when that line begins then (within half a second): "when does X appear" is answered by
    the start of the line about X.

    >>> lines = [{"text": "a blue object moves down (from the top to the bottom)", "relevance": 0.6},
    ...          {"text": "mostly white", "relevance": 0.1}]
    >>> option_support([("A", "left"), ("B", "up"), ("C", "down"), ("D", "bottom")], lines)
    {'A': 0.0, 'B': 0.0, 'C': 1.0, 'D': 0.0}
    >>> sign = [{"text": '"EXIT 42"', "start": 3.0, "relevance": 0.7}, {"text": "still", "start": 1.0, "relevance": 0.2}]
    >>> option_support([("A", "at 1 second"), ("B", "at 3 seconds"), ("C", "at 0:04")], sign)
    {'A': 0.0, 'B': 1.0, 'C': 0.0}
    """
    relevant = sorted(lines, key=lambda line: -line.get("relevance", 0.0))[:top]
    statements = [words(line["text"].split("(", 1)[0]) for line in relevant]
    support = {}
    for letter, text in options:
        moment = find_point(text) if _TIME_UNIT.search(text) else None
        if moment is not None:
            support[letter] = float(bool(relevant) and abs(relevant[0].get("start", -1e9) - moment) <= 0.5)
            continue
        wanted = words(text)
        shares = [len(wanted & said) / len(wanted) for said in statements] if wanted else []
        support[letter] = round(max(shares, default=0.0), 3)
    return support


# the readings that pick one line by a rule (not by similarity): the option it states is the answer
EXTREME_RULES = ("highest", "lowest", "first", "last", "after", "before")
# an option naming a moment: a unit of time or a clock ("3 seconds", "2 s", "1 minute", "0:42")
_TIME_UNIT = re.compile(r"\b\d+(?:\.\d+)?\s*(?:s|sec|secs|seconds?|min|minutes?)\b|\b\d+:\d{2}\b", re.I)


SIMILARITY_MARGIN = 0.15  # sentence similarity by which one option must beat every other


def clearly_most_relevant(stated: list[str], options: list[tuple[str, str]], lines: list[dict],
                          margin: float = SIMILARITY_MARGIN) -> list[str]:
    """Of the ``stated`` options, the one whose most relevant stating line is more relevant
    than any line stating another by ``margin`` ("camera pans right" over "camera tilts up"
    for "Which way does the camera pan?"), as a one-item list; else ``stated`` unchanged."""
    best = {}
    for letter, text in options:
        if letter in stated:
            support = [line.get("relevance", 0.0) for line in lines
                       if option_support([(letter, text)], [line], top=1)[letter] == 1.0]
            best[letter] = max(support, default=float("-inf"))
    ranked = sorted(best, key=lambda letter: -best[letter])
    if len(ranked) > 1 and best[ranked[0]] - best[ranked[1]] >= margin:
        return ranked[:1]
    return stated


def closest_option(options: list[tuple[str, str]], lines: list[dict], top: int = 3,
                   margin: float = SIMILARITY_MARGIN) -> str | None:
    """The option far closer in meaning than any other to the ``top`` lines most relevant to
    the question ("a bicycle" to "objects: mountain bike", which shares no word with it), or
    None when none stands out by ``margin``: where no line states an option in words, the
    evidence still points at one, and a small model's likelihood should not overrule it."""
    if len(options) < 2 or not lines:
        return None
    from vidllm.perceive.text_embed import default_embedder

    embedder = default_embedder()
    relevant = sorted(lines, key=lambda line: -line.get("relevance", 0.0))[:top]
    shown = embedder.embed([_statement(line) for line in relevant])
    closeness = (embedder.embed([text for _, text in options]) @ shown.T).max(axis=1)
    order = np.argsort(-closeness)
    if closeness[order[0]] - closeness[order[1]] < margin:
        return None
    return options[int(order[0])][0]


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


def _statement(line: dict) -> str:
    """A shown line without its times ("objects: bicycle"): what similarity is computed on."""
    return line["rendered"].split("] ", 1)[-1]
