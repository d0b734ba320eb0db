"""Shared fixtures: an isolated cache, real sample clips and generated clips with ground truth."""

from __future__ import annotations

import pytest

from vidllm.video.synthetic import make_clip


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own cache directory, so no test sees another's cached frames."""
    root = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("VIDLLM_CACHE_DIR", str(root))
    return root


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def bikes():
    from vidllm.video.samples import sample_path

    return str(sample_path("bikes"))


@pytest.fixture(scope="session")
def clip_cfr(media_dir):
    """10 s, 25 fps, 320x240, keyframe every 50 frames, B-frames; frame index drawn in."""
    return make_clip(media_dir / "cfr.mp4", nframes=250, fps=25, size=(320, 240), gop=50, bframes=2)


@pytest.fixture(scope="session")
def clip_vfr(media_dir):
    """Variable frame rate: irregular gaps between frames, index drawn in."""
    times = [0.0, 0.04, 0.1, 0.5, 0.52, 0.9, 1.7, 1.75, 2.6, 3.0, 3.04, 3.9, 4.4, 4.45, 5.0]
    return make_clip(media_dir / "vfr.mp4", timestamps=times, fps=25, size=(160, 128), return_truth=True)


def pytest_collection_modifyitems(config, items):
    if not any("gpu" in item.keywords for item in items):
        return
    try:
        import torch

        has_gpu = torch.cuda.is_available()
    except ImportError:
        has_gpu = False
    if not has_gpu:
        skip = pytest.mark.skip(reason="needs a CUDA GPU")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)
