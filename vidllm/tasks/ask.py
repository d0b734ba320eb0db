"""``ask``: one question about one video, with any model; returns an ``Answer``.

Options may be given apart (``options=["A. left", "B. right"]``) or inside the question.
"""

from __future__ import annotations

import os

from vidllm.tasks.answer import Answer
from vidllm.tasks.choices import normalise_options, split_options
from vidllm.video.probe import check_path

DEFAULT_MODEL = os.environ.get("VIDLLM_MODEL", "timeline")


def ask(video, question: str, *, options: list[str] | None = None, model: str | None = None,
        **settings) -> Answer:
    check_path(video)
    if options:
        pairs = normalise_options(list(options))
    else:
        question, pairs = split_options(question)
    model = model or DEFAULT_MODEL
    if model == "timeline":
        from vidllm.models.timeline import TimelineReasoner

        return TimelineReasoner(**settings).ask(video, question, pairs)
    from vidllm.tasks.ask_vlm import ask_with_backend

    return ask_with_backend(model, video, question, pairs, **settings)
