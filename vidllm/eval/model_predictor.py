"""What answers the samples and what judges the replies: a baseline or any model backend.

``make_predictor`` and ``make_judge`` pick between the two; models are loaded through the
caller's ``ModelPool``, which owns them and closes them.

``ModelPredictor`` follows the interface documented in ``vidllm.eval.runner``: the sample's
system prompt, prompt and answer prefix, then each follow-up as a further turn; only
``time_range`` of the video is shown; frames come through the shared frame cache with the
benchmark's sampling; the raw reply goes back unparsed with the true frame timestamps, usage
and time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from vidllm.errors import OptionError
from vidllm.eval.judge import Judge
from vidllm.eval.predictors import is_baseline, make_baseline
from vidllm.eval.runner import spec_for
from vidllm.eval.types import EvalSample, Prediction

if TYPE_CHECKING:  # the model stack loads only when a model is asked for, not with vidllm.eval
    from vidllm.models.pool import ModelPool


class ModelPredictor:
    """Any backend of ``vidllm.models`` behind the predictor interface."""

    baseline = False

    def __init__(self, model_uri: str, pool: ModelPool, *, sampling: Mapping[str, Any] | None = None,
                 model_options: Mapping[str, Any] | None = None, max_new_tokens: int = 256):
        self.name = model_uri
        self.overrides = dict(sampling or {})
        self.model = pool.get(model_uri, **dict(model_options or {}))
        self.max_new_tokens = max_new_tokens
        # what the backend declares it can answer at once (1 for an in-process model)
        self.max_workers = self.model.concurrency
        self.manifest = {"model": model_uri, "options": self.model.options.model_dump(mode="json"),
                         "describe": self.model.describe(), "max_new_tokens": max_new_tokens,
                         "answer_prefix": "appended to the user turn (backends continue no assistant turn)"}

    def __call__(self, sample: EvalSample) -> Prediction:
        from vidllm.models.request import Generation, Request, Text, Turn, Video

        began = time.perf_counter()
        spec = spec_for(sample, **self.overrides)
        prompt = sample.prompt + (f"\n{sample.answer_prefix}" if sample.answer_prefix else "")
        turns = [Turn("system", (Text(sample.system),))] if sample.system else []
        turns.append(Turn("user", (Video(sample.video_path, spec), Text(prompt))))
        generation = Generation(max_new_tokens=self.max_new_tokens, temperature=0.0, seed=0)
        [first] = self.model.generate([Request(tuple(turns), generation, id=sample.doc_id)])
        replies, usage = [], dict(first.usage.to_dict())
        for followup in sample.followups:
            turns += [Turn("assistant", (Text((replies or [first.text])[-1]),)), Turn("user", (Text(followup),))]
            [response] = self.model.generate([Request(tuple(turns), generation, id=sample.doc_id)])
            replies.append(response.text)
        videos = first.manifest.get("videos") or [{}]
        return Prediction(
            text=first.text, turns=tuple(replies), model=self.name,
            frame_timestamps=tuple(videos[0].get("timestamps") or ()),
            usage=usage, seconds=round(time.perf_counter() - began, 4),
        )


def make_predictor(model_uri: str, pool: ModelPool, *, sampling: Mapping[str, Any] | None = None,
                   model_options: Mapping[str, Any] | None = None) -> Callable[[EvalSample], Prediction]:
    """The predictor for ``model_uri``: a baseline (``oracle:``, ``first:``, ``hash:``, ``echo:``,
    ``fixed:TEXT``, ``sleep:S[:BASE]``, see ``vidllm.eval.predictors``) or any model backend URI
    (``timeline``, ``hf:...``, ``openai:...``) loaded through ``pool`` with ``model_options``."""
    if is_baseline(model_uri):
        if model_options:
            raise OptionError(f"{model_uri} is a baseline predictor: it takes no backend options (-o)")
        return make_baseline(model_uri)
    from vidllm.models.registry import check_sampling

    check_sampling(model_uri, sampling or {})  # refused before anything loads
    return ModelPredictor(model_uri, pool, sampling=sampling, model_options=model_options)


def make_judge(judge_uri: str | None, pool: ModelPool, *, model_options: Mapping[str, Any] | None = None) -> Judge | None:
    """The judge for ``judge_uri``: None for none, ``fixed:REPLY`` (a baseline that always
    replies REPLY), or any model backend URI that reads text, loaded through ``pool``."""
    if not judge_uri:
        return None
    scheme, _, rest = judge_uri.partition(":")
    if scheme == "fixed":
        return Judge(lambda prompt, system: rest, judge_uri, baseline=True)
    from vidllm.models.request import Generation, Request, Text, Turn

    model = pool.get(judge_uri, **dict(model_options or {}))

    def ask(prompt: str, system: str) -> str:
        turns = ([Turn("system", (Text(system),))] if system else []) + [Turn("user", (Text(prompt),))]
        return model.generate([Request(tuple(turns), Generation(max_new_tokens=512, temperature=0.0, seed=0))])[0].text

    return Judge(ask, judge_uri)


__all__ = ["ModelPredictor", "make_judge", "make_predictor"]
