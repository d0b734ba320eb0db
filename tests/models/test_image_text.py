"""Image-text embedders through transformers, tested with a tiny random-weight CLIP built here
(no hub): unit vectors of the right shape, deterministic, and frame retrieval over a long
video that returns true timestamps and scans a chunk at a time."""

from __future__ import annotations

import numpy as np
import pytest
import tiny_vlms as tiny

from tests.media import long_footage
from vidllm.errors import ModelNotFoundError, ModelURIError, RegistryError
from vidllm.perceive.image_text import load_image_text_embedder
from vidllm.tasks.frame_selection import select_frames
from vidllm.video.spec import SamplingSpec


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    folder = tmp_path_factory.mktemp("tiny-clip")
    import torch

    torch.manual_seed(0)
    tok = tiny.tokenizer(["<pad>", "<eos>"], pad_token="<pad>", eos_token="<eos>")
    config = CLIPConfig(
        text_config=dict(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, max_position_embeddings=64, eos_token_id=tok.eos_token_id,
                         pad_token_id=tok.pad_token_id),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                           image_size=32, patch_size=8),
        projection_dim=16)
    CLIPModel(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(folder)
    return str(folder)


def test_images_and_texts_become_unit_vectors_in_one_space(tiny_clip):
    embedder = load_image_text_embedder(f"hf:{tiny_clip}")
    images = np.random.default_rng(0).integers(0, 255, (5, 48, 64, 3), dtype=np.uint8)
    pictures = embedder.embed_images(images)
    texts = embedder.embed_texts(["a red car", "a white card with text"])
    assert pictures.shape == (5, 16) and texts.shape == (2, 16)
    assert np.allclose(np.linalg.norm(pictures, axis=1), 1, atol=1e-5)
    assert np.allclose(np.linalg.norm(texts, axis=1), 1, atol=1e-5)
    assert np.array_equal(embedder.embed_images(images), pictures)  # deterministic
    assert embedder.manifest()["model_type"] == "clip"


def test_retrieve_by_pictures_scans_the_whole_video_and_keeps_true_times(tiny_clip, tmp_path):
    video = long_footage(tmp_path / "six.mp4", 6, size=(160, 90), fps=1)
    embedder = load_image_text_embedder(f"hf:{tiny_clip}")
    selection = select_frames(video, "retrieve", 5, SamplingSpec(max_pixels=160 * 90),
                              question="a bicycle", image_text=embedder)
    m = selection.manifest
    assert m["scanned_frames"] == 360 and len(selection.frames) == 5 == len(m["scores"])
    times = selection.frames.timestamps
    assert np.all(np.diff(times) > 0) and times[0] >= 0 and times[-1] < 360
    assert np.allclose(times % 1.0, 0.0)  # the source has a frame each whole second: true times, not targets
    assert max(times) - min(times) > 120  # coverage spreads the picks over the video


@pytest.mark.parametrize("uri, error", [("hf:/no/such/folder", ModelNotFoundError),
                                        ("clip", ModelURIError), ("siglip:x", RegistryError)])
def test_a_bad_embedder_is_one_clear_error(uri, error):
    with pytest.raises(error):
        load_image_text_embedder(uri)
