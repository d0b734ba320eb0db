"""A cheap picture signature for memory decisions when no image model is at hand.

An 8x8 colour thumbnail (mean removed, so that layout counts and overall brightness does not)
next to a histogram of gradient orientations (so that edges count), each part L2-normalised,
and a lighter part for the mean colour (so a flat black frame and a flat white one differ and
neither is a zero vector); the whole normalised too: deterministic, about a millisecond a frame, and enough to tell a repeated shot
from a new one or a text card from street footage. Image-text embedders (CLIP, SigLIP) are for
query-aware choices; this is for "is this picture new".

>>> import numpy as np
>>> grey, card = np.full((2, 32, 48, 3), 128, np.uint8)
>>> card[8:24, 10:38] = 255
>>> s = signatures(np.stack([grey, card, card]))
>>> s.shape, bool(s[1] @ s[2] > 0.99), bool(s[0] @ s[1] < 0.5)
((3, 204), True, True)
>>> black, white = np.zeros((2, 8, 8, 3), np.uint8); white[:] = 255
>>> s = signatures(np.stack([black, white]))
>>> bool(s[0] @ s[1] < 0.9)
True
"""

from __future__ import annotations

import numpy as np

from vidllm.memory.items import unit_rows

COLOUR_WEIGHT = 0.5


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / max(float(np.linalg.norm(vector)), 1e-12)


def signatures(images: np.ndarray) -> np.ndarray:
    """(n, H, W, 3) uint8 -> (n, 204) float32 unit rows: thumbnail (192), gradients (8), mean
    colour and a constant (4, weighted ``COLOUR_WEIGHT``)."""
    from PIL import Image

    rows = []
    for image in images:
        picture = Image.fromarray(image)
        thumbnail = np.asarray(picture.resize((8, 8), Image.BOX), dtype=np.float64) / 255.0
        thumbnail = (thumbnail - thumbnail.mean()).ravel()
        grey = np.asarray(picture.convert("L").resize((32, 32), Image.BOX), dtype=np.float64) / 255.0
        dy, dx = np.gradient(grey)
        orientation = np.arctan2(dy, dx) % np.pi
        gradients, _ = np.histogram(orientation, bins=8, range=(0, np.pi), weights=np.hypot(dx, dy))
        colour = np.append(np.asarray(image, dtype=np.float64).reshape(-1, 3).mean(axis=0) / 255.0, 1.0)
        rows.append(np.concatenate([_unit(thumbnail), _unit(gradients), COLOUR_WEIGHT * _unit(colour)]))
    return unit_rows(np.array(rows))
