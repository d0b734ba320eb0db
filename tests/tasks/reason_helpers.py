"""Clips and servers for the reasoning tasks' tests (ground, captions, vot, agent)."""

from __future__ import annotations

import re

import numpy as np
from model_servers import FakeServer

from vidllm.video.synthetic import make_clip

# Two discs, one after the other: the red one crosses the upper part of the picture left to
# right, then the blue one crosses it top to bottom. Each enters and leaves the picture, so the
# spans are when any of it is visible (computed from the drawing below).
RED_SEEN = (0.11, 2.89)
BLUE_SEEN = (4.21, 6.79)


def _discs(i, t, w, h):
    image = np.empty((h, w, 3), np.uint8)
    image[:] = (235, 235, 235)
    yy, xx = np.ogrid[:h, :w]
    r = h * 0.1
    if 0 <= t < 3:
        x = w * (-0.1 + 1.2 * t / 3)
        image[(xx - x) ** 2 + (yy - h * 0.3) ** 2 <= r * r] = (220, 20, 20)
    if 4 <= t < 7:
        y = h * (-0.2 + 1.4 * (t - 4) / 3)
        image[(xx - w * 0.6) ** 2 + (yy - y) ** 2 <= r * r] = (20, 40, 220)
    return image


def two_discs_clip(path) -> str:
    """8 s, 640x360, 25 fps: a red disc moves right (RED_SEEN), then a blue disc moves down (BLUE_SEEN)."""
    return make_clip(path, nframes=200, fps=25, size=(640, 360), draw=_discs, draw_index=False)


def prompt_of(body: dict) -> str:
    """The text of the last user message of a chat-completion body."""
    content = body["messages"][-1]["content"]
    if isinstance(content, str):
        return content
    return "\n".join(part.get("text", "") for part in content if part.get("type") == "text")


def images_in(body: dict) -> int:
    content = body["messages"][-1]["content"]
    return 0 if isinstance(content, str) else sum(part.get("type") == "image_url" for part in content)


def frame_times(prompt: str) -> list[float]:
    """The frame times a frame-reading model was told ("The frames are at 0.25s, 0.75s.")."""
    m = re.search(r"The frames are at ([^\n]*)\.", prompt)
    return [float(t) for t in re.findall(r"([\d.]+)s", m.group(1))] if m else []


class ScriptedServer(FakeServer):
    """A real OpenAI-compatible server on 127.0.0.1 whose replies a function of the prompt gives."""

    def __init__(self, reply):
        self.reply = reply
        super().__init__()

    def answer(self, body: dict) -> str:
        return self.reply(prompt_of(body))

    @property
    def uri(self) -> str:
        return f"openai:{self.base}#fake-model"
