"""Fit frames to a pixel budget: aspect kept, sides rounded to a factor (28 for Qwen2.5-VL)."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from vidllm.errors import SpecError


def fit_size(
    width: int,
    height: int,
    *,
    max_pixels: int | None = None,
    min_pixels: int | None = None,
    factor: int = 1,
) -> tuple[int, int]:
    """The (width, height) nearest the original that keeps the aspect ratio, has sides that are
    multiples of ``factor`` and holds between ``min_pixels`` and ``max_pixels`` pixels.

    >>> fit_size(1280, 720, max_pixels=448 * 448, factor=28)
    (588, 336)
    >>> fit_size(1280, 720)
    (1280, 720)
    """
    if width <= 0 or height <= 0:
        raise SpecError(f"cannot resize a {width}x{height} picture")
    if factor < 1:
        raise SpecError(f"size factor must be >= 1, got {factor}")
    if max_pixels is not None and min_pixels is not None and min_pixels > max_pixels:
        raise SpecError(f"min_pixels {min_pixels} is larger than max_pixels {max_pixels}")
    w = max(factor, round(width / factor) * factor)
    h = max(factor, round(height / factor) * factor)
    if max_pixels is not None and w * h > max_pixels:
        scale = math.sqrt(width * height / max_pixels)
        w = max(factor, math.floor(width / scale / factor) * factor)
        h = max(factor, math.floor(height / scale / factor) * factor)
    elif min_pixels is not None and w * h < min_pixels:
        scale = math.sqrt(min_pixels / (width * height))
        w = math.ceil(width * scale / factor) * factor
        h = math.ceil(height * scale / factor) * factor
    return int(w), int(h)


def resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an HxWx3 uint8 image to (width, height) with antialiasing."""
    if (image.shape[1], image.shape[0]) == size:
        return image
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR, reducing_gap=None))


def rotate_upright(image: np.ndarray, rotation: float) -> np.ndarray:
    """Apply a display-matrix rotation (degrees counter-clockwise, as FFmpeg reports it)."""
    quarter_turns = int(round(rotation / 90.0)) % 4
    return np.ascontiguousarray(np.rot90(image, k=quarter_turns)) if quarter_turns else image
