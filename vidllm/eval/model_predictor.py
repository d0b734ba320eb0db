"""The adapter between the evaluation runner and any model backend (``vidllm.models``).

It follows the interface documented in ``vidllm.eval.runner``: the sample's system prompt,
prompt and answer prefix, then each follow-up as a further turn; only ``time_range`` of the
video is shown; frames come through the shared frame cache with the benchmark's sampling; the
raw reply goes back unparsed with the true frame timestamps, usage and time.
"""

from __future__ import annotations

import time
from typing import Any

from vidllm.eval.runner import spec_for
from vidllm.eval.types import EvalSample, Prediction


class ModelPredictor:
    baseline = False

    def __init__(self, model_uri: str, sampling_overrides: dict[str, Any] | None = None,
                 model_options: dict[str, Any] | None = None, max_new_tokens: int = 256):
        from vidllm.models.registry import load_model

        self.name = model_uri
        self.overrides = dict(sampling_overrides or {})
        self.model = load_model(model_uri, **(model_options or {}))
        self.max_new_tokens = max_new_tokens
        # a local model answers one request at a time; a server takes several
        self.max_workers = 8 if self.model.scheme == "openai" else 1
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


def model_judge(judge_uri: str, model_options: dict[str, Any] | None = None):
    """A ``Judge`` backed by any text-capable model backend."""
    from vidllm.eval.judge import Judge
    from vidllm.models.registry import load_model
    from vidllm.models.request import Generation, Request, Text, Turn

    model = load_model(judge_uri, **(model_options or {}))

    def ask(prompt: str, system: str) -> str:
        turns = ([Turn("system", (Text(system),))] if system else []) + [Turn("user", (Text(prompt),))]
        return model.generate([Request(tuple(turns), Generation(max_new_tokens=512, temperature=0.0, seed=0))])[0].text

    return Judge(ask, judge_uri)
