"""Answers bound to the evidence: options scored by the reasoner's likelihood, and open answers
that name a number or time nobody read replaced by what was read."""

from __future__ import annotations

import pytest

from vidllm.models.request import Response, Usage
from vidllm.tasks.ask import answer_from_response, unsupported_facts


def line(start, end, kind, text, relevance=0.5):
    label = {"ocr": "on-screen text", "speech": "speech", "track": "movement"}[kind]
    return {"start": start, "end": end, "kind": kind, "text": text, "relevance": relevance,
            "rendered": f"[00:{int(start):02d}.0-00:{int(end):02d}.0] {label}: {text}"}


def response(text, lines, **manifest):
    return Response(text, Usage(None, 0, None), {}, {"lines": lines, **manifest})


LINES = [line(2, 6, "speech", "The last train leave, not heaven.", 0.7),
         line(0, 8, "ocr", '"PLATFORM 4"', 0.3)]


@pytest.mark.parametrize("reply, invented", [
    ("The last train leaves at 7:30.", ["7:30"]),
    ("It leaves at eleven.", ["11"]),
    ("The train leaves from platform 4.", []),
    ("Platform four, between 2 and 6 seconds.", []),
    ("The last train leaves.", []),
    ("At 10 past 9 on platform 4", ["10", "9"]),
])
def test_numbers_and_times_nobody_read_are_found(reply, invented):
    assert unsupported_facts(reply, LINES) == sorted(invented)


def test_an_open_answer_that_invents_a_time_is_replaced_by_what_was_read():
    answer = answer_from_response("Tell me the departure of the last train.", [],
                                  response("The last train leaves at 9:45 pm.", LINES))
    assert answer.grounding == {"unsupported": ["9:45"], "replaced": True}
    assert "9:45" not in answer.answer and answer.answer.startswith("The video does not say")
    assert "train leave" in answer.answer  # the closest thing read, quoted with its time
    assert answer.reply == "The last train leaves at 9:45 pm."  # the model's words are kept apart


def test_a_grounded_open_answer_is_kept():
    answer = answer_from_response("Which platform?", [], response("Platform 4.", LINES))
    assert answer.answer == "Platform 4." and answer.grounding == {"unsupported": [], "replaced": False}
    assert any(e.start == 0 and "PLATFORM 4" in e.text for e in answer.evidence)


def test_options_scored_by_likelihood_are_reported_and_evidence_still_wins():
    lines = [line(0, 4, "track", "a blue object moves down (from the top to the bottom)", 0.6)]
    options = [("A", "left"), ("B", "up"), ("C", "down"), ("D", "right")]
    scores = {"A": -1.0, "B": -0.9, "C": -1.1, "D": -1.4}
    answer = answer_from_response("Which way does it move?", options,
                                  response("B. up", lines, option_scores=scores))
    assert answer.option_scores == scores
    assert answer.answer == "C" and answer.choice_source == "evidence"
    unstated = answer_from_response("Which way does it move?", options,
                                    response("B. up", [line(0, 4, "ocr", '"HELLO"')], option_scores=scores))
    assert unstated.answer == "B" and unstated.choice_source == "likelihood"


def test_the_embedded_reasoner_scores_a_continuation_it_was_told_above_others():
    from vidllm.models.llamacpp_backend import smollm2_path
    from vidllm.models.registry import load_model

    try:
        smollm2_path()
    except Exception as exc:
        pytest.skip(str(exc))
    model = load_model("llamacpp:smollm2", n_ctx=512)
    try:
        messages = [{"role": "user", "content": "The secret word is BANANA. What is the secret word?"}]
        scores = model.score_continuations(messages, "The secret word is", [" BANANA", " CARROT", " WINDOW"])
        assert scores[0] == max(scores) and len(set(scores)) == 3
        # the same call gives the same numbers (the context is reset around it)
        assert model.score_continuations(messages, "The secret word is", [" BANANA", " CARROT", " WINDOW"]) == scores
    finally:
        model.close()


@pytest.mark.parametrize("question", ["When does the platform sign appear?", "At what time is PLATFORM 4 shown?",
                                      "what time does the sign come up"])
def test_a_when_question_is_answered_with_the_time_of_the_line_most_about_it(question):
    lines = [line(0, 8, "ocr", '"PLATFORM 4"', 0.8), line(2, 6, "speech", "The last train leave, not heaven.", 0.3)]
    answer = answer_from_response(question, [], response("It appears in the 17th hour.", lines))
    assert answer.answer == 'At 00:00.0: on-screen text: "PLATFORM 4"'
    assert answer.grounding["from_evidence"] and answer.reply == "It appears in the 17th hour."
    assert [(e.start, e.end) for e in answer.evidence] == [(0, 8)]


def test_a_question_that_is_not_about_when_keeps_the_reply():
    answer = answer_from_response("Which platform is shown?", [], response("Platform 4.", LINES))
    assert answer.answer == "Platform 4." and not answer.grounding.get("from_evidence")
