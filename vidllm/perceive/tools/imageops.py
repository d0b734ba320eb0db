"""Small numpy image operations for the ``visual`` tool: colour names, histograms, connected
regions, global shift. No OpenCV or SciPy: the inputs are thumbnails (~160x90), where plain
numpy is fast enough and behaves the same everywhere.
"""

from __future__ import annotations

import numpy as np

COLOURS = ("black", "grey", "white", "red", "orange", "yellow", "green", "cyan", "blue", "purple",
           "pink", "brown")
_INDEX = {name: i for i, name in enumerate(COLOURS)}
# hue ranges (degrees) of the saturated colours, checked in order
_HUES = (("red", 0, 15), ("orange", 15, 40), ("yellow", 40, 70), ("green", 70, 165), ("cyan", 165, 195),
         ("blue", 195, 255), ("purple", 255, 290), ("pink", 290, 340), ("red", 340, 360.1))


def colour_index(rgb: np.ndarray) -> np.ndarray:
    """Name every pixel of float RGB (..., 3) in 0-255 with an index into ``COLOURS``.

    Plain HSV rules: dark is black, unsaturated is grey or white, the rest by hue; dark oranges
    and yellows are brown, pale reds are pink. Coarse on purpose: these are the words a person
    would use ("a red car"), not a colorimetric measurement.

    >>> [COLOURS[i] for i in colour_index(np.array([[220., 20, 20], [250, 250, 250], [30, 40, 210]]))]
    ['red', 'white', 'blue']
    """
    rgb = np.asarray(rgb, dtype=np.float32) / 255.0
    high = rgb.max(axis=-1)
    low = rgb.min(axis=-1)
    chroma = high - low
    sat = np.where(high > 0, chroma / np.maximum(high, 1e-6), 0.0)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    safe = np.maximum(chroma, 1e-6)
    hue = np.where(high == r, ((g - b) / safe) % 6, np.where(high == g, (b - r) / safe + 2, (r - g) / safe + 4)) * 60.0
    out = np.full(rgb.shape[:-1], _INDEX["grey"], dtype=np.int8)
    for name, lo, hi in _HUES:
        out[(hue >= lo) & (hue < hi)] = _INDEX[name]
    dullish = (sat < 0.5) & (high > 0.75)
    out[(out == _INDEX["red"]) & dullish] = _INDEX["pink"]
    out[np.isin(out, [_INDEX["orange"], _INDEX["yellow"]]) & (high < 0.6)] = _INDEX["brown"]
    out[(out == _INDEX["red"]) & (high < 0.45) & (sat < 0.75)] = _INDEX["brown"]
    grey = (sat < 0.2) | (chroma < 0.1)
    out[grey] = _INDEX["grey"]
    out[grey & (high > 0.8)] = _INDEX["white"]
    out[high < 0.18] = _INDEX["black"]
    return out


def colour_shares(index: np.ndarray) -> np.ndarray:
    """Share of each colour (len(COLOURS),) among the named pixels of one image."""
    counts = np.bincount(index.reshape(-1).astype(np.int64), minlength=len(COLOURS)).astype(np.float64)
    return counts / max(1.0, counts.sum())


def describe_colours(shares: np.ndarray, min_share: float = 0.15, most: int = 3) -> str:
    """"mostly red and white" from colour shares: the colours above ``min_share``, largest first.

    >>> describe_colours(np.array([0, .1, .3, .6, 0, 0, 0, 0, 0, 0, 0, 0]))
    'mostly red and white'
    """
    order = [int(i) for i in np.argsort(-shares, kind="stable") if shares[i] >= min_share][:most]
    if not order:
        order = [int(np.argmax(shares))]
    names = [COLOURS[i] for i in order]
    if len(names) == 1:
        return f"mostly {names[0]}"
    if len(names) == 2:
        return f"mostly {names[0]} and {names[1]}"
    return f"{', '.join(names[:-1])} and {names[-1]}"


def histogram(image: np.ndarray, bins: int = 8) -> np.ndarray:
    """Normalised joint RGB histogram (bins**3,) of a float 0-255 image."""
    q = np.clip(image.astype(np.int32) * bins // 256, 0, bins - 1)
    codes = (q[..., 0] * bins + q[..., 1]) * bins + q[..., 2]
    counts = np.bincount(codes.reshape(-1), minlength=bins**3).astype(np.float64)
    return counts / counts.sum()


def label_regions(mask: np.ndarray, max_steps: int = 1000) -> np.ndarray:
    """Connected regions (4-neighbour) of a boolean mask: int32 labels, 0 for background.

    Each pixel takes the largest label among itself and its neighbours until nothing changes,
    with pointer jumping (a pixel also takes the label its label's pixel holds) so that large
    regions settle in a few dozen vectorised steps.
    """
    h, w = mask.shape
    flat_ids = np.arange(1, h * w + 1, dtype=np.int32).reshape(h, w)
    labels = np.where(mask, flat_ids, 0)
    for _ in range(max_steps):
        grown = labels.copy()
        np.maximum(grown[1:], labels[:-1], out=grown[1:])
        np.maximum(grown[:-1], labels[1:], out=grown[:-1])
        np.maximum(grown[:, 1:], labels[:, :-1], out=grown[:, 1:])
        np.maximum(grown[:, :-1], labels[:, 1:], out=grown[:, :-1])
        grown = np.where(mask, grown, 0)
        # pointer jumping: label L names the pixel L-1; take that pixel's (larger) label
        jumped = np.where(grown > 0, grown.reshape(-1)[np.maximum(grown, 1).reshape(-1) - 1].reshape(h, w), 0)
        grown = np.maximum(grown, jumped)
        if np.array_equal(grown, labels):
            break
        labels = grown
    return labels


def clean_mask(mask: np.ndarray) -> np.ndarray:
    """Drop speckles: keep a pixel when at least 3 of its 4 neighbours are set too, then grow
    the survivors back by one pixel (an opening with a small cross)."""
    m = mask.astype(np.int8)
    n = np.zeros_like(m)
    n[1:] += m[:-1]
    n[:-1] += m[1:]
    n[:, 1:] += m[:, :-1]
    n[:, :-1] += m[:, 1:]
    core = mask & (n >= 3)
    grown = core.copy()
    grown[1:] |= core[:-1]
    grown[:-1] |= core[1:]
    grown[:, 1:] |= core[:, :-1]
    grown[:, :-1] |= core[:, 1:]
    return grown & mask


def global_shift(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """(dx, dy, strength): how far the content of grey image ``b`` moved relative to ``a``, by
    phase correlation. Strength is the correlation peak (near 1 for a clean shift, near 0
    when the pictures are unrelated)."""
    h, w = a.shape
    window = np.outer(np.hanning(h), np.hanning(w))
    fa = np.fft.rfft2((a - a.mean()) * window)
    fb = np.fft.rfft2((b - b.mean()) * window)
    cross = fb * np.conj(fa)
    cross /= np.maximum(np.abs(cross), 1e-9)
    corr = np.fft.irfft2(cross, s=(h, w))
    y, x = np.unravel_index(int(np.argmax(corr)), corr.shape)
    dy = y - h if y > h // 2 else y
    dx = x - w if x > w // 2 else x
    return float(dx), float(dy), float(corr[y, x])
