"""Real footage and a cheap image embedding for the memory tests.

The haystack is the package-shipped ``bikes`` clip (10 s of street footage with cuts); the
needle is a rendered text card (black text on white) unlike every frame of it. Embeddings are
deliberately simple and deterministic, so the suite loads no model: an 8x8 colour thumbnail
(mean removed, so that layout counts and overall brightness does not) next to a histogram of
gradient orientations (so that edges count), each half L2-normalised, the whole too.
"""

from __future__ import annotations

import functools

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from vidllm.memory.signature import signatures
from vidllm.video.sample import sample_frames
from vidllm.video.samples import sample_path
from vidllm.video.spec import SamplingSpec

# At 2 fps the bikes clip changes shot almost every frame and nothing repeats; at 8 fps
# neighbouring frames repeat, as they do at 1 fps in a long video with long shots.
DENSE_FPS = 8.0


def embed_images(images: np.ndarray) -> np.ndarray:
    """(n, H, W, 3) uint8 -> (n, 204) unit rows: the memory stage's own picture signature."""
    return signatures(images)


def text_card(height: int, width: int, text: str = "NEEDLE 42") -> np.ndarray:
    """A white picture with big black text, (height, width, 3) uint8."""
    picture = Image.new("RGB", (width, height), "white")
    font = ImageFont.load_default(size=max(8, height // 4))
    ImageDraw.Draw(picture).text((width // 2, height // 2), text, fill="black", font=font, anchor="mm")
    return np.asarray(picture)


@functools.lru_cache(maxsize=None)
def bikes(fps: float = DENSE_FPS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The bikes clip sampled at ``fps``: frames (n, H, W, 3), times (n,), embeddings (n, d)."""
    frames = sample_frames(sample_path("bikes"), SamplingSpec(fps=fps), cache=False)
    return frames.data, frames.timestamps, embed_images(frames.data)


@functools.lru_cache(maxsize=None)
def needle_embedding(height: int, width: int) -> np.ndarray:
    return embed_images(text_card(height, width)[None])[0]


def haystack_with_needle(depth: float, fps: float = DENSE_FPS) -> tuple[np.ndarray, np.ndarray, int]:
    """The bikes embeddings with the text card inserted at ``depth`` (0 = first frame, 1 = last),
    as LongVA's V-NIAH places needles; returns embeddings, evenly spaced times and the needle's index."""
    images, _, embeddings = bikes(fps)
    position = min(int(depth * len(embeddings)), len(embeddings))
    with_needle = np.insert(embeddings, position, needle_embedding(*images.shape[1:3]), axis=0)
    return with_needle, np.arange(len(with_needle)) / fps, position

