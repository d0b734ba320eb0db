"""``ModelPool``: the loaded models of one caller, each loaded once and closed by the owner.

A model is expensive to load (weights into memory, a llama.cpp context, a connection pool), so
commands, the evaluation and the server ask a pool for it by URI and options; the pool gives back
the same loaded backend for the same (URI, options) and closes them all when its owner is done.
Nothing is cached at module level: whoever creates a pool owns what it loads.

>>> from vidllm.models.pool import ModelPool
>>> with ModelPool() as pool:                                       # doctest: +SKIP
...     model = pool.get("timeline")
...     assert pool.get("timeline") is model
"""

from __future__ import annotations

import json
import threading

from vidllm.models.base import Backend


class ModelPool:
    def __init__(self) -> None:
        self._models: dict[str, Backend] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key(uri: str, options: dict) -> str:
        return json.dumps([uri, options], sort_keys=True, default=str)

    def get(self, uri: str, **options) -> Backend:
        """The backend ``uri`` names, loaded with ``options`` once for this pool."""
        from vidllm.models.registry import load_model

        key = self.key(uri, options)
        with self._lock:  # two threads asking for the same model load it once
            if key not in self._models:
                self._models[key] = load_model(uri, **options)
            return self._models[key]

    def close(self) -> None:
        with self._lock:
            models, self._models = list(self._models.values()), {}
        for model in models:
            model.close()

    def __len__(self) -> int:
        return len(self._models)

    def __enter__(self) -> "ModelPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
