"""Audio as speech models want it: 16 kHz mono float32, on the video's clock.

``extract_audio(path, start=, end=)`` decodes the first audio stream with PyAV and converts it
with FFmpeg's resampler (any layout is mixed down to mono; ~1000x real time on one core).
Times are seconds on the same clock as ``Frames.timestamps``: from the start of the *video*
stream, so speech found at 2.0 s lines up with the frame shown at 2.0 s even when the audio
stream starts earlier or later (AAC priming, edited MP4s). An audio-only file uses its audio
stream's start.

A file without an audio stream raises ``NoAudioError`` (a ``VideoError``): asking a silent
video for its audio is a caller's mistake worth a clear message; callers that handle silent
videos check ``VideoInfo.has_audio`` first (the speech tool does, and returns no observations).

>>> audio = extract_audio("talk.mp4", start=10, end=20)  # doctest: +SKIP
>>> audio  # doctest: +SKIP
Audio(samples=160000, rate=16000, 10.000-20.000s, source='talk.mp4')
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import av
import numpy as np

from vidllm.errors import NoAudioError, SpecError
from vidllm.video.probe import Deadline, open_container

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000




@dataclass(frozen=True, eq=False)
class Audio:
    """Mono float32 samples in [-1, 1]; ``start`` is the time of ``samples[0]`` in seconds."""

    samples: np.ndarray
    sample_rate: int
    start: float
    source: str
    bad_packets: int = 0

    def __post_init__(self) -> None:
        if self.samples.dtype != np.float32 or self.samples.ndim != 1:
            raise ValueError(f"Audio.samples must be float32 (n,), got {self.samples.dtype} {self.samples.shape}")

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate

    @property
    def end(self) -> float:
        return self.start + self.duration

    def __len__(self) -> int:
        return len(self.samples)

    def __repr__(self) -> str:
        return (f"Audio(samples={len(self.samples)}, rate={self.sample_rate}, "
                f"{self.start:.3f}-{self.end:.3f}s, source={self.source!r})")


def extract_audio(path, *, start: float = 0.0, end: float | None = None,
                  sample_rate: int = SAMPLE_RATE, stream: int = 0, timeout: float | None = None) -> Audio:
    """Decode audio stream ``stream`` of ``path`` in the half-open range [start, end) seconds.

    Damaged packets are skipped (counted in ``bad_packets``) instead of ending the read; a file
    cut short ends it where the data ends; the read stops with ``DecodeTimeoutError`` after
    ``timeout`` seconds (default ``$VIDLLM_DECODE_TIMEOUT``).
    Returns an empty ``Audio`` when the range holds no samples.
    """
    deadline = Deadline(path, timeout)
    if start < 0 or not math.isfinite(start):
        raise SpecError(f"audio start must be >= 0 seconds, got {start}")
    if end is not None and end <= start:
        raise SpecError(f"audio end ({end}s) must be after start ({start}s)")
    if sample_rate < 1000:
        raise SpecError(f"sample_rate must be at least 1000 Hz, got {sample_rate}")
    with open_container(path) as container:
        if len(container.streams.audio) <= stream:
            kinds = sorted({s.type for s in container.streams}) or ["no streams"]
            raise NoAudioError(path, f"has no audio stream #{stream} (found: {', '.join(kinds)})")
        audio = container.streams.audio[stream]
        origin = _clock_origin(container, audio)
        if start > 1.0:  # seek near the start (container seeks land at or before it)
            container.seek(int((start + origin - 1.0) * av.time_base), backward=True, any_frame=False)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        chunks: list[np.ndarray] = []
        first_time: float | None = None
        bad = 0
        for packet in _packets(container.demux(audio), path):
            deadline.check()
            try:
                decoded = packet.decode()
            except (av.error.InvalidDataError, av.error.UndefinedError, ValueError):
                bad += 1
                continue
            stop = False
            for frame in decoded:
                if frame.pts is not None and frame.time_base is not None:
                    t = float(frame.pts * frame.time_base) - origin
                    if end is not None and t >= end:
                        stop = True
                        break
                    if first_time is None:
                        first_time = t
                elif first_time is None:
                    first_time = 0.0
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            if stop:
                break
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    samples = np.concatenate(chunks).astype(np.float32, copy=False) if chunks else np.zeros(0, np.float32)
    first_time = first_time if first_time is not None else start
    # cut to [start, end) on the sample grid that begins at first_time
    skip = max(0, int(round((start - first_time) * sample_rate)))
    samples = samples[skip:]
    begins = first_time + skip / sample_rate
    if end is not None:
        samples = samples[: max(0, int(round((end - begins) * sample_rate)))]
    if bad:
        log.warning("%s: skipped %d damaged audio packets", path, bad)
    return Audio(np.ascontiguousarray(samples), sample_rate, float(begins), str(path), bad)


def _packets(demux, path):
    """The demuxer's packets, ending quietly where a truncated or damaged file stops."""
    try:
        yield from demux
    except av.error.FFmpegError as exc:
        log.warning("%s: audio read stopped early: %s", path, exc)


def _clock_origin(container, audio) -> float:
    """Seconds to subtract from audio times: the video stream's start (the frames' clock)."""
    reference = container.streams.video[0] if container.streams.video else audio
    if reference.start_time is None:
        return 0.0
    return float(reference.start_time * reference.time_base)
