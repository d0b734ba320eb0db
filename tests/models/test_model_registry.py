"""Model URIs, ``load_model`` errors (one line each), ``available_backends`` and ``vidllm models``."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from vidllm.cli.models import models
from vidllm.cli.options import options_from_pairs
from vidllm.errors import (
    BackendOptionError,
    MissingDependencyError,
    ModelNotFoundError,
    ModelURIError,
    RegistryError,
    VidllmError,
)
from vidllm.models import (
    BACKENDS,
    Backend,
    Generation,
    Output,
    Request,
    Turn,
    available_backends,
    load_model,
    parse_uri,
)


@pytest.mark.parametrize("uri, expected", [
    ("hf:Qwen/Qwen2.5-VL-3B-Instruct", ("hf", "Qwen/Qwen2.5-VL-3B-Instruct")),
    ("hf:/models/qwen", ("hf", "/models/qwen")),
    ("vllm:llava-hf/LLaVA-NeXT-Video-7B-hf", ("vllm", "llava-hf/LLaVA-NeXT-Video-7B-hf")),
    ("openai:http://127.0.0.1:8000/v1#Qwen/Qwen2.5-VL-7B", ("openai", "http://127.0.0.1:8000/v1#Qwen/Qwen2.5-VL-7B")),
    ("llamacpp:/m/smollm2.gguf", ("llamacpp", "/m/smollm2.gguf")),
    ("timeline", ("timeline", "")),
    ("  hf:x/y ", ("hf", "x/y")),
])
def test_parse_uri(uri, expected):
    assert parse_uri(uri) == expected


@pytest.mark.parametrize("uri, words", [
    ("", ["a model URI is needed", "hf:<id or folder>"]),
    ("hff:Qwen/Qwen2.5-VL", ["did you mean hf", "hf:<id or folder>"]),
    ("/models/qwen", ["is not a model URI"]),
    ("gpt4", ["is not a model URI"]),
])
def test_bad_uris(uri, words):
    with pytest.raises(ModelURIError) as info:
        parse_uri(uri)
    assert "\n" not in str(info.value)
    for word in words:
        assert word in str(info.value)


@pytest.fixture
def not_a_model(tmp_path):
    folder = tmp_path / "empty-folder"
    folder.mkdir()
    text = tmp_path / "notes.gguf"
    text.write_text("not a model")
    return folder, text


@pytest.mark.parametrize("uri, options, error, words", [
    ("hf:/no/such/model", {}, ModelNotFoundError, ["hf:/no/such/model: no such model folder"]),
    ("hf:{folder}", {}, ModelNotFoundError, ["not a model folder (no config.json in it)"]),
    ("hf:", {}, ModelURIError, ["hf: needs a model id or a local folder"]),
    ("hf:/no/such/model", {"dtype": "float8"}, BackendOptionError, ["option dtype='float8'"]),
    ("hf:/no/such/model", {"devcie": "cpu"}, BackendOptionError, ["unknown option 'devcie'", "device"]),
    ("llamacpp:/no/such.gguf", {}, ModelNotFoundError, ["llamacpp:/no/such.gguf: no such file"]),
    ("llamacpp:{text}", {}, ModelNotFoundError, ["not a GGUF file"]),
    ("llamacpp:{folder}", {}, ModelNotFoundError, ["is a folder"]),
    ("llamacpp:/m.gguf", {"n_threads": 0}, BackendOptionError, ["n_threads=0"]),
    ("vllm:/no/such/model", {"tensor_parallel_size": 0}, BackendOptionError, ["tensor_parallel_size=0"]),
])
def test_load_model_errors_are_one_line(uri, options, error, words, not_a_model):
    folder, text = not_a_model
    with pytest.raises(error) as info:
        load_model(uri.format(folder=folder, text=text), **options)
    message = str(info.value)
    assert "\n" not in message and isinstance(info.value, VidllmError)
    for word in words:
        assert word in message


class EchoBackend(Backend):
    """A backend from a plugin: the shared path (sampling, budget, manifest) comes for free."""

    scheme = "echo"
    description = "repeats the question"

    def _generate(self, batch):
        return [Output(text=p.request.turns[-1].text, prompt_tokens=1, generated_tokens=1) for p in batch]


class NeedsPackage(EchoBackend):
    scheme = "needy"
    requires = ("surely_not_installed_pkg",)
    install = "pip install surely-not-installed"


@pytest.fixture
def plugin_backends(monkeypatch):
    monkeypatch.setitem(BACKENDS._entries, "echo", EchoBackend)
    monkeypatch.setitem(BACKENDS._entries, "needy", NeedsPackage)


def test_a_missing_package_is_one_line(plugin_backends):
    with pytest.raises(MissingDependencyError) as info:
        load_model("needy:x")
    assert str(info.value) == "the needy backend needs surely_not_installed_pkg: pip install surely-not-installed"


def test_a_plugin_backend_gets_the_shared_path(plugin_backends, clip_cfr):
    model = load_model("echo", batch_size=2)
    second = Request((Turn("user", "second?"),), Generation(stop=("ond",)))
    out = model.generate([Request.ask(clip_cfr, "first?"), second])
    assert [r.text for r in out] == ["first?", "sec"]
    assert out[1].finish_reason == "stop"
    video = out[0].manifest["videos"][0]
    # sampled by the base with the named default, 1 fps: one frame in each second of the 10 s clip
    assert video["frames"] == 10 and [int(t) for t in video["timestamps"]] == list(range(10))
    assert out[0].manifest["model"] == "echo" and out[0].manifest["versions"]["vidllm"]


def test_a_backend_class_that_is_not_a_backend_is_refused(monkeypatch):
    monkeypatch.setitem(BACKENDS._entries, "bad", "builtins:dict")
    with pytest.raises(RegistryError, match="is not a Backend"):
        load_model("bad")


def test_available_backends_say_what_is_missing():
    rows = {r["scheme"]: r for r in available_backends()}
    assert {"hf", "vllm", "openai", "llamacpp", "timeline"} <= set(rows)
    assert rows["openai"]["available"] and rows["openai"]["missing"] == []
    assert "max_concurrency" in rows["openai"]["options"]
    assert rows["openai"]["options"]["extra_body"]["default"] == {}
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        assert not rows["vllm"]["available"] and "package vllm" in rows["vllm"]["missing"]
    from vidllm.models.base import has_cuda

    if not has_cuda():
        assert "a CUDA GPU" in rows["vllm"]["missing"]


def test_models_command():
    runner = CliRunner()
    result = runner.invoke(models, ["--json"])
    assert result.exit_code == 0
    assert {r["scheme"] for r in json.loads(result.output)} >= {"hf", "vllm", "openai", "llamacpp", "timeline"}
    result = runner.invoke(models, ["--options"])
    assert result.exit_code == 0
    assert "openai" in result.output and "-o max_concurrency 4" in result.output
    assert "model URIs: hf:<id or folder>" in result.output


def test_options_from_pairs():
    assert options_from_pairs([("max_concurrency", "8"), ("dtype", "bfloat16"), ("cache", "false"),
                               ("extra_body", '{"top_k": 5}'), ("timeout", "2.5")]) == {
        "max_concurrency": 8, "dtype": "bfloat16", "cache": False, "extra_body": {"top_k": 5}, "timeout": 2.5}


def test_a_folder_that_is_not_a_video_model(tmp_path):
    """A config with no processor files (a text LLM, a half-copied folder): one line, no traceback."""
    pytest.importorskip("transformers")
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama", "vocab_size": 10}))
    with pytest.raises(VidllmError) as info:
        load_model(f"hf:{tmp_path}")
    assert "\n" not in str(info.value) and str(tmp_path) in str(info.value)


def test_a_remote_video_for_a_sampling_backend_is_refused_clearly(plugin_backends):
    from vidllm.errors import UnsupportedInputError

    with pytest.raises(UnsupportedInputError, match="download the video first"):
        load_model("echo").generate([Request.ask("https://example.com/a.mp4", "?")])
