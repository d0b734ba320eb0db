"""Clips with known events for the stream tests and benchmark: text that appears at a known
time, a disc that jumps a known number of times (each jump's end time is the ground truth)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from media import render_sign

from vidllm.video.synthetic import make_clip


def text_events_clip(path: Path, events: list[tuple[float, float, str]], duration: float, fps: float = 10,
                     size=(640, 360), **encode) -> str:
    """A blank sign; each (start, end, text) shows ``text`` on it in [start, end)."""
    blank = render_sign("", size)
    signs = {text: render_sign(text, size) for _, _, text in events}

    def draw(i, t, w, h):
        for start, end, text in events:
            if start <= t < end:
                return signs[text].copy()
        return blank.copy()

    return make_clip(path, nframes=int(round(duration * fps)), fps=fps, size=size, draw=draw, draw_index=False, **encode)


def jumps(first: float, period: float, count: int, airtime: float = 1.0) -> list[tuple[float, float]]:
    """(take-off, landing) of ``count`` jumps, one every ``period`` seconds from ``first``."""
    return [(first + k * period, first + k * period + airtime) for k in range(count)]


def jumping_disc_clip(path: Path, jump_times: list[tuple[float, float]], duration: float, fps: float = 10,
                      size=(640, 360), **encode) -> str:
    """A dark disc resting low on a light picture; it rises and lands back during each jump."""
    w, h = size
    yy, xx = np.ogrid[:h, :w]
    radius = h * 0.1

    def draw(i, t, width, height):
        image = np.full((h, w, 3), 230, np.uint8)
        y = h * 0.8
        for up, down in jump_times:
            if up <= t < down:
                y -= h * 0.5 * np.sin(np.pi * (t - up) / (down - up))
        image[(xx - w / 2) ** 2 + (yy - y) ** 2 <= radius ** 2] = (30, 30, 120)
        return image

    return make_clip(path, nframes=int(round(duration * fps)), fps=fps, size=size, draw=draw, draw_index=False, **encode)
