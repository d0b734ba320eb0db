"""``EchoBackend``: a cheap local backend for the server tests. It runs the shared path of every
backend (the real sampler decodes the real video) and replies with what it was given: each
video's frame count, size and true times, each image's size, and the text, so a test can check
exactly what reached the model. ``delay`` makes it slow (queues, timeouts)."""

from __future__ import annotations

import json
import time

from pydantic import Field

from vidllm.models.base import Backend, BackendOptions, Output, conversation_parts
from vidllm.models.request import Image, Text, Video


class EchoOptions(BackendOptions):
    delay: float = Field(0.0, ge=0, description="Seconds each answer takes.")
    reply: str | None = Field(None, description="A fixed reply instead of what it saw (still samples).")


class EchoBackend(Backend):
    scheme = "echo"
    description = "replies with what it saw (tests)"
    Options = EchoOptions

    def _generate(self, batch):
        time.sleep(self.options.delay)
        return [Output(self.options.reply or json.dumps(self.seen(p)), prompt_tokens=7, generated_tokens=3)
                for p in batch]

    @staticmethod
    def seen(prepared) -> dict:
        seen = {"videos": [], "images": [], "text": []}
        for _turn, part, pv in conversation_parts(prepared):
            if isinstance(part, Video):
                seen["videos"].append({"frames": len(pv.frames), "size": [pv.frames.width, pv.frames.height],
                                       "times": [round(float(t), 3) for t in pv.frames.timestamps]})
            elif isinstance(part, Image):
                seen["images"].append(list(part.source.shape) if not isinstance(part.source, str) else part.source)
            elif isinstance(part, Text):
                seen["text"].append(part.text)
        return seen
