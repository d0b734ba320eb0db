"""Which frames of a long video a frame-reading model sees, under its token budget.

The planner (``vidllm.budget``) says how many frames of what size fit; a strategy says which:

- ``uniform``: evenly spread (what every model gets by default);
- ``memory``: the whole video streamed at one frame a second through cheap picture signatures,
  near-duplicates dropped and the most similar neighbours merged until the budget's count is
  left (``vidllm.memory``): each distinct stretch keeps a frame, and a picture shown once
  (a needle) survives, however long the video; memory holds one chunk, never the hour;
- ``retrieve``: the stretches of the perception timeline most relevant to the question, plus
  coverage of the whole video (``vidllm.memory.retrieve``), a frame from each; with an
  image-text embedder (CLIP, SigLIP: ``vidllm.perceive.image_text``), the frames themselves,
  scanned at one frame a second, are compared with the question instead.

Every strategy returns ``Frames`` with their true timestamps and a manifest saying what was
kept, so that the answer records how its frames were chosen.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from vidllm.errors import SpecError
from vidllm.memory import Deduplicator, MergeMemory, retrieve
from vidllm.memory.signature import signatures
from vidllm.registry import Registry
from vidllm.video.frames import Frames
from vidllm.video.sample import probe, sample_frames
from vidllm.video.spec import SamplingSpec


class FrameStrategy:
    """Chooses the times of ``count`` frames; ``times`` returns them and what to record."""

    def times(self, video: str, count: int, spec: SamplingSpec, *, question: str = "",
              timeline=None, image_text=None) -> tuple[np.ndarray, dict]:
        raise NotImplementedError


STRATEGIES: Registry[FrameStrategy] = Registry("frame selection strategy", FrameStrategy)
SCAN_FPS = 1.0  # the memory strategy looks at one frame a second
SCAN_CHUNK_SECONDS = 60.0  # and holds one minute of small frames at a time
SCAN_PIXELS = 64 * 64  # signatures need very little picture


@dataclasses.dataclass(frozen=True)
class Selection:
    frames: Frames
    manifest: dict


def select_frames(video: str, strategy: str, count: int, spec: SamplingSpec, *,
                  question: str = "", timeline=None, image_text=None) -> Selection:
    """``count`` frames of ``video`` chosen by ``strategy``, each decoded as ``spec`` says
    (its size and range; its frame count is replaced by the choice)."""
    if count < 1:
        raise SpecError(f"a frame selection needs at least one frame, got {count}")
    times, manifest = STRATEGIES.get(strategy)().times(video, count, spec, question=question, timeline=timeline,
                                                       image_text=image_text)
    frames = frames_at(video, times, spec)
    return Selection(frames, {"strategy": strategy, "frames": len(frames),
                              "times": [round(float(t), 3) for t in frames.timestamps], **manifest})


class Uniform(FrameStrategy):
    def times(self, video, count, spec, **_):
        return uniform_times(video, count, spec), {}


def uniform_times(video, count, spec) -> np.ndarray:
    start, end = spec.clip_range(probe(video).duration)
    return start + (np.arange(count) + 0.5) * (end - start) / count


class Memory(FrameStrategy):
    def times(self, video, count, spec, **_):
        """Stream the video at ``SCAN_FPS``, dedup and merge to ``count`` items; a frame of each."""
        end = spec.clip_range(probe(video).duration)[1]
        dedup, memory = Deduplicator(), MergeMemory(capacity=count)
        scanned = 0
        for chunk in scan(video, spec, SCAN_PIXELS):
            memory.extend(dedup.push(signatures(chunk.data), chunk.timestamps))
            scanned += len(chunk)
        memory.extend(dedup.finish(end=end))
        times = [_middle_frame(item) for item in memory.items]
        return np.array(times), {"scanned_frames": scanned, "kept_after_dedup": len(dedup.kept),
                                 "spans": [[round(i.start, 3), round(i.end, 3), i.weight] for i in memory.items]}


class Retrieve(FrameStrategy):
    def times(self, video, count, spec, *, question="", timeline=None, image_text=None):
        """The timeline stretches most relevant to ``question``, with coverage; a frame of each
        (or, with ``image_text``, the frames most like the question, with coverage)."""
        from vidllm.perceive.text_embed import default_embedder

        if image_text is not None:
            return self.by_pictures(video, count, spec, question, image_text)
        if timeline is None:
            from vidllm.perceive.analyze import analyze

            timeline = analyze(video)
        info = probe(video)
        start, end = spec.clip_range(info.duration)
        lines = [line for line in timeline.lines(for_model=True) if line.end > start and line.start < end]
        if not lines:  # nothing perceived: nothing to retrieve by
            return uniform_times(video, count, spec), {"retrieved": []}
        embedder = default_embedder()
        vectors = embedder.embed([line.statement() for line in lines])
        spans = np.array([[max(line.start, start), min(line.end, end)] for line in lines])
        picked = retrieve(vectors, spans, embedder.embed([question or "what happens"])[0], count)
        times = sorted({round(float(spans[i].mean()), 3) for i in picked.indices})
        return np.array(times), {"retrieved": [{"start": float(spans[i][0]), "end": float(spans[i][1]),
                                                "line": lines[i].statement(), "relevance": round(float(s), 4)}
                                               for i, s in zip(picked.indices, picked.scores)]}


    @staticmethod
    def by_pictures(video, count, spec, question, image_text):
        """Frames at ``SCAN_FPS`` embedded a chunk at a time (only their vectors are kept),
        then the ``count`` most like ``question``, with coverage."""
        end = spec.clip_range(probe(video).duration)[1]
        vectors, times = [], []
        for chunk in scan(video, spec, 224 * 224):
            vectors.append(image_text.embed_images(chunk.data))
            times.append(chunk.timestamps)
        times = np.concatenate(times)
        spans = np.stack([times, np.append(times[1:], end)], axis=1)
        picked = retrieve(np.concatenate(vectors), spans, image_text.embed_texts([question or "what happens"])[0],
                          count)
        return times[picked.indices], {"scanned_frames": len(times), **image_text.manifest(),
                                       "scores": [round(float(v), 4) for v in picked.scores]}


STRATEGIES.register("uniform", Uniform)
STRATEGIES.register("memory", Memory)
STRATEGIES.register("retrieve", Retrieve)


def scan(video: str, spec: SamplingSpec, max_pixels: int):
    """The range ``spec`` covers at ``SCAN_FPS``, ``SCAN_CHUNK_SECONDS`` of small frames at a
    time: what a strategy that looks at the whole video holds in memory."""
    start, end = spec.clip_range(probe(video).duration)
    for a in np.arange(start, end, SCAN_CHUNK_SECONDS):
        b = min(end, a + SCAN_CHUNK_SECONDS)
        if b - a >= 1e-3:
            yield sample_frames(video, SamplingSpec(fps=SCAN_FPS, start=float(a), end=float(b),
                                                    max_pixels=max_pixels), cache=False)


def _middle_frame(item) -> float:
    """The frame an item still holds nearest the middle of its stretch (its span's middle
    when it holds none)."""
    middle = (item.start + item.end) / 2
    if not item.frame_times:
        return middle
    return min(item.frame_times, key=lambda t: abs(t - middle))


def frames_at(video: str, times, spec: SamplingSpec) -> Frames:
    """One decoded frame at (or nearest) each of ``times``, sized as ``spec`` says."""
    info = probe(video)
    times = np.unique(np.clip(np.asarray(times, dtype=np.float64), 0.0, max(0.0, info.duration - 1e-3)))
    pieces = []
    sizing = {k: v for k, v in spec.to_dict().items() if k in ("max_pixels", "min_pixels", "size_factor", "mode")}
    for t in times:
        half = 0.25
        window = SamplingSpec.from_fields(sizing, nframes=1, start=max(0.0, float(t) - half),
                                          end=min(info.duration, float(t) + half))
        pieces.append(sample_frames(video, window, cache=False))
    first = pieces[0]
    return dataclasses.replace(
        first,
        data=np.concatenate([p.data for p in pieces]),
        timestamps=np.concatenate([p.timestamps for p in pieces]),
        targets=np.concatenate([p.targets for p in pieces]),
        warnings=tuple(w for p in pieces for w in p.warnings),
        decoded_frames=sum(p.decoded_frames for p in pieces),
    )
