"""Video-LLM backends behind one request type.

>>> from vidllm.models import load_model, Request
>>> from vidllm.video.spec import SamplingSpec
>>> model = load_model("hf:/models/SmolVLM2-500M-Video-Instruct")  # doctest: +SKIP
>>> request = Request.ask("clip.mp4", "What happens?", spec=SamplingSpec(fps=1, max_frames=16))
>>> [answer] = model.generate([request])  # doctest: +SKIP
>>> answer.text, answer.usage.visual_tokens  # doctest: +SKIP
('A cyclist rides down a street.', 640)

Importing this package is light: a backend's heavy packages (torch, transformers, vllm,
llama_cpp) load only when that backend is chosen.
"""

from __future__ import annotations

from vidllm.errors import (
    BackendError,
    BackendOptionError,
    ContextOverflowError,
    ModelNotFoundError,
    ModelURIError,
    NoGPUError,
    ServerError,
    ServerTimeoutError,
    ServerUnreachableError,
    UnsupportedInputError,
)
from vidllm.models.base import (
    Backend,
    BackendOptions,
    Output,
    PreparedRequest,
    PreparedVideo,
)
from vidllm.models.registry import BACKENDS, available_backends, load_model, parse_uri
from vidllm.models.request import (
    Generation,
    Image,
    Request,
    Response,
    Text,
    Turn,
    Usage,
    Video,
)

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendError",
    "BackendOptionError",
    "BackendOptions",
    "ContextOverflowError",
    "Generation",
    "Image",
    "ModelNotFoundError",
    "ModelURIError",
    "NoGPUError",
    "Output",
    "PreparedRequest",
    "PreparedVideo",
    "Request",
    "Response",
    "ServerError",
    "ServerTimeoutError",
    "ServerUnreachableError",
    "Text",
    "Turn",
    "UnsupportedInputError",
    "Usage",
    "Video",
    "available_backends",
    "load_model",
    "parse_uri",
]
