"""Model URIs and the one registry of backends.

========================================  ===============================================
``hf:<model id or local folder>``         transformers, on this machine (CPU or GPU)
``vllm:<model id or local folder>``       vLLM's offline engine (GPUs; tensor/pipeline parallel, Ray)
``openai:<base_url>#<model>``             any OpenAI-compatible server (vllm serve, SGLang, Ollama, ...)
``llamacpp:<gguf path>``                  a GGUF text model through llama-cpp-python
``timeline``                              the embedded default: perception + a small text LLM
========================================  ===============================================

>>> from vidllm.models import load_model, available_backends
>>> [b["scheme"] for b in available_backends()]  # doctest: +SKIP
['hf', 'llamacpp', 'openai', 'timeline', 'vllm']
>>> model = load_model("openai:http://127.0.0.1:8000/v1#Qwen/Qwen2.5-VL-7B-Instruct",
...                    max_concurrency=8)  # doctest: +SKIP

Backends from other packages register under the entry-point group ``vidllm.backends``
(``name = "package.module:BackendClass"``), the same path the built-in ones take.
"""

from __future__ import annotations

import importlib.metadata
import logging
from functools import lru_cache

from vidllm.errors import ModelURIError, RegistryError, VidllmError
from vidllm.models.base import Backend
from vidllm.registry import Registry

log = logging.getLogger(__name__)

BACKENDS: Registry[Backend] = Registry("model backend", Backend)
BACKENDS.register("hf", "vidllm.models.transformers_backend:TransformersBackend")
BACKENDS.register("vllm", "vidllm.models.vllm_backend:VLLMBackend")
BACKENDS.register("openai", "vidllm.models.openai_backend:OpenAIBackend")
BACKENDS.register("llamacpp", "vidllm.models.llamacpp_backend:LlamaCppBackend")
BACKENDS.register("timeline", "vidllm.models.timeline:TimelineBackend")

ENTRY_POINT_GROUP = "vidllm.backends"
FORMS = "hf:<id or folder>, vllm:<id or folder>, openai:<base_url>#<model>, llamacpp:<gguf path> or timeline"


@lru_cache(maxsize=1)
def _load_plugins() -> None:
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in BACKENDS:
            BACKENDS.register(ep.name, ep.value)


def parse_uri(uri: str) -> tuple[str, str]:
    """``"hf:Qwen/Qwen2.5-VL-3B-Instruct"`` -> ``("hf", "Qwen/Qwen2.5-VL-3B-Instruct")``.

    A bare name (``timeline``) is a scheme with no target.
    """
    _load_plugins()
    if not isinstance(uri, str) or not uri.strip():
        raise ModelURIError(f"a model URI is needed: {FORMS}")
    uri = uri.strip()
    scheme, sep, target = uri.partition(":")
    if not sep and scheme in BACKENDS:
        return scheme, ""
    if not sep or scheme not in BACKENDS:
        try:
            BACKENDS.get(scheme)  # raises with "did you mean ...?"
        except RegistryError as exc:
            raise ModelURIError(f"{uri!r} is not a model URI ({exc}); use {FORMS}") from None
    return scheme, target


def backend_class(scheme: str) -> type[Backend]:
    _load_plugins()
    try:
        return BACKENDS.get(scheme)
    except (ImportError, AttributeError) as exc:
        raise RegistryError(f"model backend {scheme!r} cannot be loaded: {exc}") from None


def check_sampling(uri: str, fields) -> None:
    """Refuse sampling fields the backend ``uri`` names cannot honour, before anything loads."""
    backend_class(parse_uri(uri)[0]).check_sampling(fields)


def load_model(uri: str, **options) -> Backend:
    """The backend a URI names, loaded with ``options`` (checked against its ``Options``).

    Errors are one line: a malformed URI, an option the backend lacks, a missing package, a
    model path that does not exist.
    """
    scheme, target = parse_uri(uri)
    cls = backend_class(scheme)
    log.info("loading %s with %s", uri, options or "default options")
    return cls(target, **options)


def available_backends() -> list[dict]:
    """Every registered backend and whether it can run here; ``missing`` says what is lacking
    ("package vllm", "a CUDA GPU"). Nothing heavy is imported."""
    _load_plugins()
    rows = []
    for name in BACKENDS.names():
        row = {"scheme": name, "description": "", "available": False, "missing": [], "notes": [], "options": {}}
        try:
            cls = backend_class(name)
        except (RegistryError, VidllmError) as exc:
            row["missing"] = [str(exc)]
            rows.append(row)
            continue
        row["description"] = getattr(cls, "description", "") or (cls.__doc__ or "").strip().split("\n")[0]
        row["install"] = getattr(cls, "install", "")
        try:
            row["missing"] = list(cls.missing()) if hasattr(cls, "missing") else []
        except Exception as exc:  # a plugin's own check failing must not hide the others
            row["missing"] = [f"its availability check failed: {exc}"]
        row["available"] = not row["missing"]
        row["notes"] = list(cls.notes()) if hasattr(cls, "notes") else []
        options = getattr(cls, "Options", None)
        if options is not None and hasattr(options, "model_fields"):
            row["options"] = {
                key: {"default": f.get_default(call_default_factory=True), "description": f.description or ""}
                for key, f in options.model_fields.items()
            }
        rows.append(row)
    return rows
