"""Image-text embedders (CLIP, SigLIP) for users who have the weights: pictures and questions
in one space, so frames can be chosen by what a question asks about, not only by how new
they look.

``load_image_text_embedder("hf:openai/clip-vit-base-patch32")`` (a hub id or a local folder)
loads any transformers model with ``get_image_features`` and ``get_text_features`` (CLIP,
SigLIP, SigLIP 2, ...) through its own tokenizer and image processor; ``open_clip:<arch>/<pretrained>``
loads one through open_clip where it is installed. Both return unit vectors and a manifest.
The backends are a registry (``IMAGE_TEXT_EMBEDDERS``), like every pluggable part.

No such weights ship in a package this project can install offline, so the embedded default
does not use one; the tests build a tiny random-weight CLIP locally and check the mechanics.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from vidllm.errors import MissingDependencyError, ModelNotFoundError, ModelURIError
from vidllm.registry import Registry


def _unit(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


class ImageTextEmbedder:
    """``embed_images`` ((n, H, W, 3) uint8) and ``embed_texts`` (list of str), each to unit rows."""

    scheme: ClassVar[str] = ""

    def __init__(self, target: str, batch_size: int = 16):
        self.target, self.batch_size = target, batch_size

    def embed_images(self, images: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def manifest(self) -> dict:
        return {"embedder": f"{self.scheme}:{self.target}"}


class TransformersImageText(ImageTextEmbedder):
    scheme = "hf"

    def __init__(self, target: str, batch_size: int = 16):
        super().__init__(target, batch_size)
        try:
            import torch  # noqa: F401
            from transformers import AutoImageProcessor, AutoModel, AutoTokenizer
        except ImportError as exc:
            raise MissingDependencyError(f"hf: image-text embedders need transformers and torch ({exc}): "
                                         "pip install 'vidllm[hf]'") from None
        try:
            self.model = AutoModel.from_pretrained(target).eval()
            self.tokenizer = AutoTokenizer.from_pretrained(target)
            self.images = AutoImageProcessor.from_pretrained(target)
        except OSError as exc:
            raise ModelNotFoundError(f"hf:{target}: could not load an image-text model ({str(exc).splitlines()[0]})") \
                from None
        if not (hasattr(self.model, "get_image_features") and hasattr(self.model, "get_text_features")):
            raise ModelURIError(f"hf:{target}: {type(self.model).__name__} does not embed images and texts "
                                "(use a CLIP or SigLIP model)")

    def embed_images(self, images: np.ndarray) -> np.ndarray:
        import torch

        rows = []
        with torch.inference_mode():
            for begin in range(0, len(images), self.batch_size):
                batch = self.images(images=list(images[begin:begin + self.batch_size]), return_tensors="pt")
                rows.append(_features(self.model.get_image_features(pixel_values=batch["pixel_values"])))
        return _unit(np.concatenate(rows)) if rows else np.zeros((0, 0), np.float32)

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        import torch

        with torch.inference_mode():
            batch = self.tokenizer(list(texts), padding=True, truncation=True, return_tensors="pt")
            kept = {k: v for k, v in batch.items() if k in ("input_ids", "attention_mask")}
            return _unit(_features(self.model.get_text_features(**kept)))

    def manifest(self) -> dict:
        config = self.model.config
        return {"embedder": f"hf:{self.target}", "model_type": config.model_type,
                "name_or_path": getattr(config, "_name_or_path", self.target)}


def _features(out) -> np.ndarray:
    """transformers 4.x returns a tensor, 5.x may return an output object with the pooled vectors."""
    if hasattr(out, "pooler_output"):
        out = out.pooler_output
    return out.float().numpy()


class OpenClipImageText(ImageTextEmbedder):
    scheme = "open_clip"

    def __init__(self, target: str, batch_size: int = 16):
        super().__init__(target, batch_size)
        try:
            import open_clip
        except ImportError:
            raise MissingDependencyError("open_clip: image-text embedders need open_clip: "
                                         "pip install open_clip_torch") from None
        arch, _, pretrained = target.partition("/")
        self.model, _, self.preprocess = open_clip.create_model_and_transforms(arch, pretrained=pretrained or None)
        self.model.eval()
        self.tokenize = open_clip.get_tokenizer(arch)

    def embed_images(self, images: np.ndarray) -> np.ndarray:
        import torch
        from PIL import Image

        with torch.inference_mode():
            batch = torch.stack([self.preprocess(Image.fromarray(image)) for image in images])
            return _unit(self.model.encode_image(batch).float().numpy())

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return _unit(self.model.encode_text(self.tokenize(list(texts))).float().numpy())


IMAGE_TEXT_EMBEDDERS: Registry[ImageTextEmbedder] = Registry("image-text embedder", ImageTextEmbedder)
IMAGE_TEXT_EMBEDDERS.register("hf", TransformersImageText)
IMAGE_TEXT_EMBEDDERS.register("open_clip", OpenClipImageText)


def load_image_text_embedder(uri: str, **options) -> ImageTextEmbedder:
    """``hf:<id or folder>`` or ``open_clip:<arch>/<pretrained>``."""
    scheme, _, target = uri.partition(":")
    if not target:
        raise ModelURIError(f"an image-text embedder is scheme:target (hf:<id or folder>, "
                            f"open_clip:<arch>/<pretrained>), got {uri!r}")
    return IMAGE_TEXT_EMBEDDERS.get(scheme)(target, **options)
