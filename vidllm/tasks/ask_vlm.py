"""``ask`` with any backend that reads frames (``hf:``, ``vllm:``, ``openai:``, ...).

The model sees the sampled frames with their true timestamps; its reply is the answer, and
the times it names ("at 00:03", "from 3 to 5 seconds") become the evidence spans.
"""

from __future__ import annotations

import functools
import json

from vidllm.tasks.answer import Answer, Evidence
from vidllm.tasks.choices import parse_choice
from vidllm.video.spec import SamplingSpec

DEFAULT_SPEC = SamplingSpec(fps=1.0, max_frames=32)


@functools.lru_cache(maxsize=2)
def _model(uri: str, options_json: str):
    from vidllm.models.registry import load_model

    return load_model(uri, **json.loads(options_json))


def ask_with_backend(model: str, video, question: str, options: list[tuple[str, str]], *,
                     spec: SamplingSpec | None = None, model_options: dict | None = None,
                     max_new_tokens: int = 256, temperature: float = 0.0, seed: int = 0,
                     budget: int | None = None) -> Answer:
    from vidllm.models.request import Request
    from vidllm.timeparse import find_spans

    backend = _model(model, json.dumps(model_options or {}, sort_keys=True))
    request = Request.ask(str(video), question, spec=spec or DEFAULT_SPEC,
                          options=[f"{letter}. {text}" for letter, text in options] or None,
                          budget=budget, max_new_tokens=max_new_tokens, temperature=temperature, seed=seed)
    [response] = backend.generate([request])
    reply = response.text
    answer, source = reply.strip(), None
    if options:
        answer, source = parse_choice(reply, [o[0] for o in options], [o[1] for o in options]), "reply"
        if answer is None:
            answer, source = "", "none"  # no letter and no evidence to fall back on
    evidence = [Evidence(start, end, "named in the model's reply") for start, end in find_spans(reply)]
    return Answer(
        question=question, answer=answer, reply=reply, options=list(options), choice_source=source,
        evidence=evidence, usage=response.usage.to_dict(), timings=dict(response.timings),
        manifest=response.manifest,
    )
