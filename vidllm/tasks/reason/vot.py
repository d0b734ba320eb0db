"""``vot``: Video-of-Thought, perception first, then cognition, in five recorded steps.

1. **targets**: the model lists what the question is about (items that share no word with
   the question are dropped; with none left, the question's own words are the target);
2. **tracks**: the targets' spatio-temporal list from perception (``tracks.py``: moving-region
   tracks with direction and path, on-screen text, speech, objects), and for a frame-reading
   model also its own description of frames sampled over the video, with their true times;
3. **actions**: the model analyses what each target does, *given the tracks* (VoT's released
   code never passed them, its issue #7);
4. **ranking**: every option scored 1-10 by the model in a call of its own, and ranked (ties
   broken by how plainly the evidence states an option, then by text similarity); an open
   question first gets candidate answers from the model, plus the two evidence statements
   most relevant to it;
5. **verification**: the top answer is checked against the perception evidence; where the
   evidence is silent, the model's yes/no decides. On failure, one retry: the model is told
   why and picks again; an answer still contradicted gives way to the option the evidence
   states (``decided_by="evidence"``).

Each step's output is in the next step's input (its prompt, or for a step without a model call
the query it ran), and ``--json`` shows every step with its calls (prompt, reply, frame times,
tokens, seconds), evidence times and what decided it. Replies are read robustly; an unreadable
one is recorded as such, never replaced by a random pick.

>>> result = vot("discs.mp4", "Which way does the blue object move?",
...              options=["A. left", "B. right", "C. up", "D. down"])          # doctest: +SKIP
>>> result.answer, result.steps[1].data["tracks"][1]["direction"]              # doctest: +SKIP
('D', 'down')
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from vidllm.choices import LETTERS, parse_choice, question_and_options
from vidllm.errors import SpecError
from vidllm.models.pool import ModelPool
from vidllm.tasks.answer import OptionsAsText
from vidllm.tasks.reason.common import (
    Reasoner,
    Step,
    content_words,
    read_score,
    reply_lines,
    similarities,
)
from vidllm.tasks.reason.tracks import TrackEntry, render_entries, track_entries

MAX_CANDIDATES = 4  # open questions: candidate answers scored in step 4


@dataclass
class VoTResult(OptionsAsText):
    question: str
    options: list[tuple[str, str]]
    answer: str  # the option letter
    answer_text: str
    verified: bool
    # what put the answer first: the ranking's "model", "evidence" or "similarity"; "retry" (the
    # model's second pick after a failed verification); "evidence" also when perception overruled it
    decided_by: str
    model: str
    steps: list[Step] = field(default_factory=list)
    timings: dict = field(default_factory=dict)

    def render(self) -> str:
        lines = [f"{self.answer}. {self.answer_text}",
                 f"({'verified' if self.verified else 'not verified'}; decided by {self.decided_by})"]
        for n, step in enumerate(self.steps, 1):
            lines.append(f"\n{n}. {step.name} [{step.decided_by}]")
            lines.extend("   " + line for line in step.output.splitlines())
        return "\n".join(lines)


def vot(video, question: str, *, options: list[str] | None = None, model: str | None = None,
        model_options: dict | None = None, pool: ModelPool | None = None, nframes: int = 8, seed: int = 0) -> VoTResult:
    """Answer ``question`` about ``video`` in VoT's five steps (see the module docstring)."""
    from vidllm.tasks.ask import default_model, shared_pool
    from vidllm.video.probe import check_path

    began = time.perf_counter()
    check_path(video)
    question, pairs = question_and_options(question, options)
    if not question.strip():
        raise SpecError("vot needs a question")
    uri = model or default_model()
    backend = (pool or shared_pool()).get(uri, **(model_options or {}))
    r = Reasoner(backend, video, nframes=nframes, seed=seed, max_new_tokens=64)
    listed = "\n".join(f"{letter}. {text}" for letter, text in pairs)
    asked = f"Question: {question}" + (f"\nOptions:\n{listed}" if pairs else "")

    targets = _targets(r, asked, question)
    tracks = _tracks(r, question, targets)
    actions = _actions(r, asked, tracks)
    steps = [targets, tracks, actions]
    if not pairs:
        steps.append(_candidates(r, asked, tracks, actions))
        pairs = steps[-1].data["options"]
        listed = "\n".join(f"{letter}. {text}" for letter, text in pairs)
        asked = f"Question: {question}\nOptions:\n{listed}"
    evidence: list[TrackEntry] = tracks.data["entries"]
    steps.append(_ranking(r, asked, question, pairs, evidence, actions))
    verify = _verification(r, asked, pairs, evidence, steps[-1])
    steps.append(verify)
    for step in steps:
        step.data.pop("entries", None)  # kept as dicts in "tracks"
    answer = verify.data["answer"]
    return VoTResult(question, pairs, answer, dict(pairs).get(answer, ""), verify.data["verified"],
                     verify.data["final_decided_by"], uri, steps,
                     {"total": round(time.perf_counter() - began, 3), **{s.name: s.seconds for s in steps}})


def _timed(step_fn):
    def run(*args, **kwargs) -> Step:
        began = time.perf_counter()
        step = step_fn(*args, **kwargs)
        step.seconds = round(time.perf_counter() - began, 3)
        return step

    return run


@_timed
def _targets(r: Reasoner, asked: str, question: str) -> Step:
    prompt = (f"{asked}\nWhich objects, people or texts in the video must be watched to answer? "
              "List them, one per line.")
    call = r.ask(prompt, max_new_tokens=40)
    named = named_targets(call.reply, question)
    targets, decided_by = (named, "model") if named else ([" ".join(content_words(question))], "question")
    return Step("targets", "; ".join(targets), decided_by, [call], data={"targets": targets})


def named_targets(reply: str, question: str, limit: int = 4) -> list[str]:
    """The targets a reply names that the question names too: short listed items sharing a word
    with the question, and from a sentence, the longest run of the question's words in it
    (quotations of the question left out).

    >>> named_targets('The blue object must be watched to answer "Which way does the blue object move?"',
    ...               "Which way does the blue object move?")
    ['the blue object']
    >>> named_targets("1. the red ball\\n2. the sky", "Where does the red ball go?")
    ['the red ball']
    """
    asked = re.findall(r"[a-z0-9]+", question.lower())
    meaningful = set(content_words(question))
    found: list[str] = []
    for item in reply_lines(re.sub(r'"[^"]*"|“[^”]*”', " ", reply), limit=8, max_words=40):
        words = re.findall(r"[a-z0-9]+", item.lower())
        if len(words) > 6:  # a sentence: the longest stretch of it the question also says
            words = _longest_common_run(words, asked)
        if meaningful & set(words) and " ".join(words) not in found:
            found.append(" ".join(words))
    return found[:limit]


def _longest_common_run(a: list[str], b: list[str]) -> list[str]:
    best, end = 0, 0
    lengths = [0] * (len(b) + 1)
    for i in range(1, len(a) + 1):
        previous = 0
        for j in range(1, len(b) + 1):
            current = lengths[j]
            lengths[j] = previous + 1 if a[i - 1] == b[j - 1] else 0
            if lengths[j] > best:
                best, end = lengths[j], i
            previous = current
    return a[end - best:end]


@_timed
def _tracks(r: Reasoner, question: str, targets: Step) -> Step:
    query = f"Targets: {targets.output}. {question}"
    entries = track_entries(r.timeline(), query)
    calls = []
    if r.reads_frames:  # the model's own account of sampled frames, with their times
        call = r.ask(f"{query}\nFor each frame time, say where the targets are and which way they move.")
        calls.append(call)
        if call.frame_times and call.reply:
            entries.append(TrackEntry("model", call.frame_times[0], call.frame_times[-1], "model", call.reply))
    output = render_entries(entries)
    evidence = [{"start": e.start, "end": e.end, "kind": e.kind, "text": e.text} for e in entries]
    return Step("tracks", output, "perception+model" if calls else "perception", calls, evidence,
                data={"input": query, "tracks": [e.to_dict() for e in entries], "entries": entries})


@_timed
def _actions(r: Reasoner, asked: str, tracks: Step) -> Step:
    prompt = (f"{asked}\nTracks of the targets (time span, what, movement):\n{tracks.output}\n"
              "Using these tracks, describe what each target does over time.")
    call = r.ask(prompt)
    output = call.reply or "(no analysis)"
    return Step("actions", output, "model", [call], list(tracks.evidence))


@_timed
def _candidates(r: Reasoner, asked: str, tracks: Step, actions: Step) -> Step:
    """An open question's candidate answers: the model's, and the two most relevant statements."""
    call = r.ask(f"{asked}\nWhat happens: {actions.output}\nList up to three short possible answers, one per line.",
                 max_new_tokens=48)
    candidates = reply_lines(call.reply, limit=MAX_CANDIDATES - 2)
    entries: list[TrackEntry] = tracks.data["entries"]
    for e in sorted(entries, key=lambda e: -e.relevance)[:2]:
        if e.statement() not in candidates:
            candidates.append(e.statement())
    pairs = [(LETTERS[i], text) for i, text in enumerate(candidates[:MAX_CANDIDATES])]
    if not pairs:
        raise SpecError("no candidate answers: the model listed none and perception observed nothing")
    output = "\n".join(f"{letter}. {text}" for letter, text in pairs)
    return Step("candidates", output, "model+evidence", [call], data={"input": actions.output, "options": pairs})


def model_score(reply: str, letter: str, pairs) -> tuple[int | None, str | None]:
    """The 1-10 score a reply gives an option, and how it was read: a number; else the option the
    reply names instead (9 for this one, 2 for another: "The answer is D" scores B low); else
    yes/no (8 or 3); else None (unread, recorded, never guessed).

    >>> pairs = [("A", "left"), ("B", "down")]
    >>> model_score("Score: 7", "A", pairs), model_score("The answer is B. down", "A", pairs)
    ((7, 'number'), (2, 'named option'))
    """
    number = read_score(reply)
    if number is not None:
        return number, "number"
    named = parse_choice(reply, [p[0] for p in pairs], [p[1] for p in pairs])
    if named is not None:
        return (9 if named == letter else 2), "named option"
    said = _yes_no(reply)
    if said is not None:
        return (8 if said else 3), "yes/no"
    return None, None


def evidence_support(pairs, entries: list[TrackEntry]) -> dict[str, float]:
    """How plainly the most relevant evidence entries state each option (0-1, see
    ``vidllm.models.timeline_reader.option_support``)."""
    from vidllm.models.timeline_reader import option_support

    # only the entries about the question's targets: "moves right" said of the red object is no
    # evidence for the blue one
    top = max((e.relevance for e in entries), default=0.0)
    lines = [{"text": e.statement(), "relevance": e.relevance} for e in entries if e.relevance >= 0.8 * top]
    return option_support(list(pairs), lines)


@_timed
def _ranking(r: Reasoner, asked: str, question: str, pairs, entries: list[TrackEntry], actions: Step) -> Step:
    calls, scores, read_as = [], {}, {}
    for letter, text in pairs:
        call = r.ask(f"{asked}\nWhat happens: {actions.output}\nCandidate answer: {letter}. {text}\n"
                     "How likely is this answer right, from 1 (surely wrong) to 10 (surely right)? "
                     "Reply with one number.", max_new_tokens=12)
        calls.append(call)
        scores[letter], read_as[letter] = model_score(call.reply, letter, pairs)
    support = evidence_support(pairs, entries)
    close = similarities([f"{question} {text}" for _, text in pairs], " ".join(e.statement() for e in entries) or question)
    similarity = {letter: round(float(s), 4) for (letter, _), s in zip(pairs, close)}
    ranked = sorted(pairs, key=lambda p: (-(scores[p[0]] or 0), -support[p[0]], -similarity[p[0]], p[0]))
    top, second = ranked[0][0], ranked[1][0] if len(ranked) > 1 else None
    if scores[top] is not None and (second is None or (scores[second] or 0) < scores[top]):
        decided_by = "model"
    elif second is None or support[top] > support[second]:
        decided_by = "evidence" if support[top] > 0 else "similarity"
    else:
        decided_by = "similarity"
    output = "\n".join(f"{n}. {letter}. {text} (score {scores[letter] if scores[letter] is not None else '?'}/10)"
                       for n, (letter, text) in enumerate(ranked, 1))
    stated = [e for e in entries if e.relevance > 0][:3]
    return Step("ranking", output, decided_by, calls,
                [{"start": e.start, "end": e.end, "kind": e.kind, "text": e.text} for e in stated],
                data={"input": actions.output, "scores": scores, "score_read_as": read_as, "support": support, "similarity": similarity,
                      "ranked": [letter for letter, _ in ranked]})


@_timed
def _verification(r: Reasoner, asked: str, pairs, entries: list[TrackEntry], ranking: Step) -> Step:
    support = ranking.data["support"]
    texts = dict(pairs)
    stated = [letter for letter, share in support.items() if share == 1.0]
    evidence_text = "\n".join(e.render() for e in entries) or "(none)"
    calls, attempts = [], []

    def check(letter: str) -> tuple[bool | None, str]:
        call = r.ask(f"{asked}\nEvidence:\n{evidence_text}\nRanking:\n{ranking.output}\n"
                     f"Proposed answer: {letter}. {texts[letter]}\n"
                     "Does the evidence support the proposed answer? Reply yes or no.", max_new_tokens=8)
        calls.append(call)
        said = _yes_no(call.reply)
        if support.get(letter) == 1.0:
            verdict = (True, "evidence")  # the evidence states it
        elif len(stated) == 1:
            verdict = (False, "evidence")  # the evidence states another option
        elif said is not None:
            verdict = (said, "model")
        else:
            verdict = (None, "unchecked")  # evidence silent, reply unreadable: nothing to act on
        attempts.append({"answer": letter, "verified": verdict[0], "by": verdict[1], "model_said": said})
        return verdict

    answer = ranking.data["ranked"][0]
    ok, by = check(answer)
    final_by = ranking.decided_by  # what ranked the answer first
    if ok is False:  # one retry: the model is told why and picks again among the others
        call = r.ask(f"{asked}\nEvidence:\n{evidence_text}\nThe answer {answer}. {texts[answer]} does not fit "
                     f"the evidence ({'perception' if by == 'evidence' else 'the model'} says so). "
                     f"Which other option is right? Reply with its letter.", max_new_tokens=12)
        calls.append(call)
        retry = parse_choice(call.reply, [p[0] for p in pairs], [p[1] for p in pairs])
        if retry is None or retry == answer:  # unreadable: the next in the ranking, not a random pick
            retry = next(letter for letter in ranking.data["ranked"] if letter != answer)
        answer, final_by = retry, "retry"
        ok, by = check(answer)
        if ok is False and len(stated) == 1:
            answer, ok, final_by = stated[0], True, "evidence"
    evidence = [{"start": e.start, "end": e.end, "kind": e.kind, "text": e.text}
                for e in entries if support.get(answer, 0) > 0 and set(content_words(texts[answer])) & set(content_words(e.statement()))]
    output = f"{answer}. {texts[answer]}: {_VERDICTS[ok]} ({by})"
    return Step("verification", output, by, calls, evidence,
                data={"input": ranking.output, "answer": answer, "verified": ok is True, "attempts": attempts,
                      "retried": len(attempts) > 1, "final_decided_by": final_by})


_VERDICTS = {True: "verified", False: "not verified", None: "not checked"}


def _yes_no(reply: str) -> bool | None:
    """A reply's yes or no: the word itself, else "supports"/"correct" unless negated; None when
    it says neither.

    >>> _yes_no("Yes."), _yes_no("No, it moves up."), _yes_no("The evidence supports it."), _yes_no("It does not support it.")
    (True, False, True, False)
    """
    words = re.findall(r"[a-z']+", reply.lower())[:12]
    yes, no = "yes" in words, "no" in words
    if yes != no:
        return yes
    if any(w.startswith("support") or w in ("correct", "consistent", "true") for w in words):
        return not any(w in ("not", "doesn't", "don't", "isn't", "cannot") for w in words)
    return None
