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

import numpy as np
from tqdm.auto import tqdm

import vidllm.perceive.tools  # noqa: F401  (registers the built-in tools)
from vidllm.errors import OptionError
from vidllm.perceive.base import TOOLS, Observation, PerceptionInput, PerceptionTool
from vidllm.perceive.store import ObservationStore
from vidllm.perceive.timeline import Timeline, clock
from vidllm.perceive.tools.common import LONG_VIDEO_SECONDS
from vidllm.video.cache import content_hash
from vidllm.video.sample import probe, sample_frames
from vidllm.video.spec import SamplingSpec

log = logging.getLogger(__name__)

DEFAULT_TOOLS = ("tags", "ocr", "speech", "visual")
CHUNK_SECONDS = 120.0  # a long video is perceived this many seconds at a time


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


def chunks(duration: float) -> list[tuple[float, float | None]]:
    """The stretches a video is perceived in: the whole of a short video (``end`` None), or
    ``CHUNK_SECONDS`` at a time for a long one, so memory holds one chunk's frames.

    >>> chunks(60.0)
    [(0.0, None)]
    >>> chunks(300.0)
    [(0.0, 120.0), (120.0, 240.0), (240.0, 300.0)]
    """
    if duration <= LONG_VIDEO_SECONDS:
        return [(0.0, None)]
    edges = np.arange(0.0, duration, CHUNK_SECONDS).tolist() + [duration]
    return [(float(a), float(b)) for a, b in zip(edges[:-1], edges[1:]) if b - a > 1e-3]


def analyze(path, tools: list[PerceptionTool] | None = None, *, store: ObservationStore | None = None,
            progress: bool | None = None) -> Timeline:
    """The timeline of ``path``: stored results where they exist, the missing tools run now.

    A long video is perceived chunk by chunk (``chunks``): each chunk's frames are decoded once
    for every visual tool that wants them, each tool's observations for the chunk are stored
    the moment it finishes (an interrupted hour resumes at its chunk), and the frames are
    dropped before the next chunk, so peak memory does not grow with the video's length.
    """
    tools = tools if tools is not None else make_tools()
    store = store or ObservationStore()
    info = probe(path)
    video_hash = content_hash(path)
    windows = chunks(info.duration)
    specs = {tool.name: tool_sampling(tool, info.duration) for tool in tools}
    keys = {tool.name: config_key(tool, specs[tool.name]) for tool in tools}
    observations: list[Observation] = []
    timings = {tool.name: 0.0 for tool in tools}
    bar = tqdm(total=len(windows) * len(tools), desc="perceiving", unit="step", leave=False,
               disable=None if progress is None else not progress)
    for start, end in windows:
        frames_by_spec = {}  # one decode per distinct sampling, for this chunk only
        for tool in tools:
            spec, key = specs[tool.name], keys[tool.name]
            if end is not None:  # a chunk of a long video: its own stored run
                key = f"{key}@{start:.3f}-{end:.3f}"
                spec = spec.replace(start=start, end=end) if spec is not None else None
            found = store.load(video_hash, tool.name, key)
            if found is None:
                bar.set_description(f"perceiving {clock(start)}/{clock(info.duration)} {tool.name}")
                began = time.perf_counter()
                if spec is not None and spec.key() not in frames_by_spec:
                    frames_by_spec[spec.key()] = sample_frames(path, spec, cache=end is None)
                frames = frames_by_spec.get(spec.key()) if spec is not None else None
                source = PerceptionInput(frames=frames, video_path=str(path), duration=info.duration,
                                         has_audio=info.has_audio, start=start, end=end)
                found = tool.run(source)
                seconds = time.perf_counter() - began
                store.save(video_hash, tool.name, key, tool.manifest(), found, seconds)
                timings[tool.name] += seconds
                log.info("%s %s-%s: %s found %d observations in %.2fs", path, start, end, tool.name,
                         len(found), seconds)
            observations.extend(found)
            bar.update(1)
    bar.close()
    manifests = [{**tool.manifest(), "sampling": specs[tool.name].to_dict() if specs[tool.name] else None,
                  "run": keys[tool.name]} for tool in tools]
    return Timeline(
        video_hash=video_hash,
        duration=info.duration,
        observations=observations,
        manifest={"tools": manifests, "perception_seconds": {k: round(v, 3) for k, v in timings.items()},
                  "chunks": len(windows), "chunk_seconds": CHUNK_SECONDS if len(windows) > 1 else None,
                  "video": info.to_dict()},
    )
