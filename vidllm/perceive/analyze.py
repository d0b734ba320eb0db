"""Run perception tools over a video once, and keep what they found.

Frames are sampled once per distinct sampling the tools prefer (through the shared frame
cache); each tool's observations are stored the moment it finishes (``store.py``), so an
interrupted analysis resumes with the tools that had not finished, and every later question
reuses the stored timeline.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Mapping

from tqdm.auto import tqdm

import vidllm.perceive.tools  # noqa: F401  (registers the built-in tools)
from vidllm.errors import OptionError
from vidllm.perceive.base import TOOLS, PerceptionInput, PerceptionTool
from vidllm.perceive.store import ObservationStore
from vidllm.perceive.timeline import Timeline
from vidllm.video.cache import content_hash
from vidllm.video.sample import probe, sample_frames
from vidllm.video.spec import SamplingSpec

log = logging.getLogger(__name__)

DEFAULT_TOOLS = ("tags", "ocr", "speech", "visual")


def tool_sampling(tool: PerceptionTool, duration: float) -> SamplingSpec | None:
    """The frames a tool wants (None for tools that only read audio)."""
    spec = getattr(tool, "sampling", None)
    if callable(spec):
        return spec(duration)
    return spec


def config_key(tool: PerceptionTool, spec: SamplingSpec | None) -> str:
    """Identifies a run: the tool's manifest (name, version, settings, weights) + its sampling."""
    text = json.dumps([tool.manifest(), spec.key() if spec else None], sort_keys=True, default=str)
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def make_tools(names=DEFAULT_TOOLS, options: dict[str, dict] | None = None) -> list[PerceptionTool]:
    """The tools ``names``, each built with its entry of ``options`` (``{"ocr": {"min_interval":
    2.0}}``) and checked for its packages; no model is loaded until a tool runs.

    An unknown tool is a ``RegistryError``, an unknown or malformed option an ``OptionError``,
    a value out of bounds a ``SpecError``: each one line naming it and what is allowed.

    >>> [tool.name for tool in make_tools(["visual"], {"visual": {"max_tracks": 1}})]
    ['visual']
    >>> make_tools(["visual"], {"visual": {"max_track": 1}})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    vidllm.errors.OptionError: perception tool 'visual' has no option 'max_track' - did you mean max_tracks, max_frames? (options: colour_share, ..., thumb_width)
    """
    names = list(names)
    options = dict(options or {})
    for name in options:
        if name not in names:
            TOOLS.get(name)  # an unknown name: RegistryError with the known ones
            raise OptionError(f"options given for perception tool {name!r}, which is not among the chosen "
                              f"tools ({', '.join(names) or 'none'})")
    tools = [TOOLS.get(name)(**_options_of(name, options)) for name in names]
    for tool in tools:
        tool.check_available()
    return tools


def _options_of(name: str, options: dict) -> dict:
    given = options.get(name) or {}
    if not isinstance(given, Mapping):
        raise OptionError(f"options of perception tool {name!r} must be a mapping of names to values, "
                          f"got {type(given).__name__}")
    return dict(given)


def analyze(path, tools: list[PerceptionTool] | None = None, *, store: ObservationStore | None = None,
            progress: bool | None = None) -> Timeline:
    """The timeline of ``path``: stored results where they exist, the missing tools run now."""
    tools = tools if tools is not None else make_tools()
    store = store or ObservationStore()
    info = probe(path)
    video_hash = content_hash(path)
    observations, manifests, timings = [], [], {}
    frames_by_spec = {}
    bar = tqdm(tools, desc="perceiving", unit="tool", disable=None if progress is None else not progress,
               leave=False)
    for tool in bar:
        spec = tool_sampling(tool, info.duration)
        key = config_key(tool, spec)
        found = store.load(video_hash, tool.name, key)
        if found is None:
            bar.set_description(f"perceiving: {tool.name}")
            began = time.perf_counter()
            if spec is not None and spec.key() not in frames_by_spec:
                frames_by_spec[spec.key()] = sample_frames(path, spec)
            frames = frames_by_spec.get(spec.key()) if spec is not None else None
            source = PerceptionInput(frames=frames, video_path=str(path), duration=info.duration,
                                     has_audio=info.has_audio)
            found = tool.run(source)
            seconds = time.perf_counter() - began
            store.save(video_hash, tool.name, key, tool.manifest(), found, seconds)
            timings[tool.name] = round(seconds, 3)
            log.info("%s: %s found %d observations in %.2fs", path, tool.name, len(found), seconds)
        else:
            timings[tool.name] = 0.0
        observations.extend(found)
        manifests.append({**tool.manifest(), "sampling": spec.to_dict() if spec else None, "run": key})
    bar.close()
    return Timeline(
        video_hash=video_hash,
        duration=info.duration,
        observations=observations,
        manifest={"tools": manifests, "perception_seconds": timings, "video": info.to_dict()},
    )
