"""The registry, shared sampling, manifests and option checks of every built-in tool."""

from __future__ import annotations

import json
import re

import pytest

import vidllm.perceive.tools  # noqa: F401  (registers the built-in tools)
from vidllm.errors import RegistryError, SpecError
from vidllm.perceive.base import TOOLS, PerceptionTool
from vidllm.perceive.tools.common import frame_spans, runs, thin

NAMES = ["ocr", "speech", "tags", "visual"]


def test_every_tool_is_registered_and_a_perception_tool():
    assert set(NAMES) <= set(TOOLS.names())
    for name in NAMES:
        cls = TOOLS.get(name)
        assert issubclass(cls, PerceptionTool) and cls.name == name and cls.kinds


def test_a_typo_suggests_the_right_name():
    with pytest.raises(RegistryError, match="did you mean ocr"):
        TOOLS.get("ocrr")


def test_visual_tools_share_one_sampling_so_the_video_is_decoded_once():
    specs = {TOOLS.get(name)().sampling(60.0).key() for name in ("tags", "ocr", "visual")}
    assert len(specs) == 1
    assert TOOLS.get("speech")().sampling(60.0) is None


def test_sampling_can_be_set_per_tool():
    spec = TOOLS.get("tags")(fps=0.5, max_pixels=224 * 224).sampling(60.0)
    assert spec.fps == 0.5 and spec.max_pixels == 224 * 224
    assert TOOLS.get("tags")().sampling(60.0).fps == 2.0  # the class default is untouched


# the model files each tool's manifest must name and hash (visual reads pixels only)
WEIGHTS = {"tags": "efficientnet-lite0", "ocr": "pp-ocrv4", "speech": "whisper-tiny.en", "visual": None}


@pytest.mark.parametrize("name", NAMES)
def test_manifest_names_settings_and_weight_hashes(name):
    tool = TOOLS.get(name)()
    tool.check_available()
    manifest = tool.manifest()
    json.dumps(manifest)
    assert manifest["name"] == name and manifest["version"]
    assert manifest["settings"]
    if WEIGHTS[name] is None:
        assert "weights" not in manifest
        return
    assert manifest["weights"]["model"] == WEIGHTS[name]
    assert manifest["weights"]["packages"] and all(manifest["weights"]["packages"].values())
    hashes = manifest["weights"]["files"]
    assert hashes, f"{name}: no weight file hashed"
    for file_name, file_hash in hashes.items():
        assert re.fullmatch(r"[0-9a-f]{64}", file_hash), (file_name, file_hash)


@pytest.mark.parametrize("name, options", [
    ("tags", {"top_k": 0}), ("tags", {"crop": "zoom"}), ("tags", {"fps": -1.0}),
    ("ocr", {"similarity": 1.5}), ("ocr", {"max_side": 8}),
    ("visual", {"min_area": 0.5, "max_area": 0.1}), ("visual", {"cut_threshold": 0.0}),
])
def test_bad_options_fail_at_construction(name, options):
    with pytest.raises(SpecError):
        TOOLS.get(name)(**options)


def test_frame_spans_tile_from_start_to_end():
    starts, ends = frame_spans([0.25, 0.75, 1.25, 1.75], duration=2.0)
    assert starts.tolist() == [0.0, 0.5, 1.0, 1.5] and ends.tolist() == [0.5, 1.0, 1.5, 2.0]
    starts, ends = frame_spans([3.0], duration=10.0)
    assert starts[0] <= 3.0 < ends[0]


def test_runs_and_thin():
    assert runs([1, 1, 2, 2, 2, 1]) == [(0, 2), (2, 5), (5, 6)]
    assert runs([]) == []
    assert thin([0.25, 0.75, 1.25, 1.75, 2.25], 1.0).tolist() == [0, 2, 4]


@pytest.mark.parametrize("name", ["tags", "ocr", "visual"])
def test_one_frame_or_none(name, sign_clip):
    from vidllm.perceive.base import PerceptionInput
    from vidllm.video.sample import probe, sample_frames
    from vidllm.video.spec import SamplingSpec

    tool = TOOLS.get(name)()
    info = probe(sign_clip)
    one = sample_frames(sign_clip, SamplingSpec(nframes=1, max_pixels=tool.max_pixels))
    observations = tool.run(PerceptionInput(one, sign_clip, info.duration, info.has_audio))
    for o in observations:
        assert 0.0 <= o.start < o.end <= info.duration + 1e-6
    if name == "ocr":  # the single frame is the middle one, 4.0 s: the sign is up
        assert [o.payload["text"] for o in observations] == ["EXIT 42"]
    assert tool.run(PerceptionInput(None, sign_clip, info.duration, info.has_audio)) == []
