"""``sample_frames``: the one entry point that turns (video, spec) into ``Frames``.

probe the packet index (cached) -> plan target times -> choose real frames -> decode the
needed GOPs -> rotate upright and fit the pixel budget -> store in the frame cache.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil

import numpy as np

from vidllm.errors import SpecError, VideoError
from vidllm.video import scenes
from vidllm.video.cache import FrameCache, MemoryWriter, content_hash
from vidllm.video.decode import decode_frames
from vidllm.video.frames import Frames
from vidllm.video.plan import plan_frames
from vidllm.video.probe import StreamIndex, VideoInfo, check_local_file, scan_index
from vidllm.video.resize import fit_size, rotate_upright

log = logging.getLogger(__name__)

# Refuse to hold more than this many bytes of decoded frames in memory (when the cache is off).
MAX_BATCH_BYTES = 6 * 1024**3


def load_index(path, cache: FrameCache | None, video_hash: str) -> StreamIndex:
    index = cache.get_index(video_hash) if cache else None
    if index is None:
        index = scan_index(path)
        if cache:
            cache.put_index(video_hash, index)
    return index


def load_info(path, cache: FrameCache, video_hash: str, index: StreamIndex | None = None) -> VideoInfo:
    """``VideoInfo``, kept beside the packet index: probing opens the file and decodes a frame
    (for its rotation), which a cache hit should not pay again."""
    info = cache.get_info(video_hash)
    if info is None:
        info = VideoInfo.from_path(path, index if index is not None else load_index(path, cache, video_hash))
        cache.put_info(video_hash, info)
    # the same content may sit under another name: report the path asked about
    return dataclasses.replace(info, path=str(path)) if info.path != str(path) else info


def probe(path, cache: FrameCache | None = None) -> VideoInfo:
    """``VideoInfo`` for ``path``, from the cache when this content was probed before."""
    check_local_file(path)
    cache = cache if cache is not None else FrameCache()
    return load_info(path, cache, content_hash(path))


def sample_frames(path, spec=None, *, cache: FrameCache | None | bool = True, timeout=None) -> Frames:
    """Sample ``path`` as ``spec`` says (default: 8 frames, uniform, exact).

    ``cache=False`` neither reads nor writes sampled frames (the packet index is still kept).
    With the cache, frames are streamed into it as they are decoded and ``Frames.data`` maps
    the cached file (copy-on-write): memory does not grow with the number of frames. Without it,
    they are decoded into one array in memory.

    >>> frames = sample_frames("clip.mp4", SamplingSpec(fps=1, max_frames=32))  # doctest: +SKIP
    >>> frames.timestamps  # doctest: +SKIP
    array([0.5, 1.5, ...])
    """
    from vidllm.video.spec import SamplingSpec

    spec = spec or SamplingSpec()
    check_local_file(path)
    store = FrameCache() if cache is True else (cache or None)
    video_hash = content_hash(path)
    # the packet index is a one-time fact about the file: cached even when frames are not
    index = load_index(path, store or FrameCache(), video_hash)
    info = load_info(path, store or FrameCache(), video_hash, index)
    out_size = _output_size(info, spec)
    key = FrameCache.key(video_hash, spec.key(), out_size)
    if store and (hit := store.get(key)) is not None:
        data, meta = hit
        return Frames(
            data=data, timestamps=np.array(meta["timestamps"]), targets=np.array(meta["targets"]),
            source=str(path), content_hash=video_hash, mode=spec.mode,
            warnings=tuple(meta["warnings"]), decoded_frames=0,
        )
    frames = _decode(path, spec, index, info, out_size, video_hash, timeout, store, key)
    if store:
        store.put_meta(key, {
            "timestamps": frames.timestamps.tolist(), "targets": frames.targets.tolist(),
            "warnings": list(frames.warnings),
        })
    return frames


def _output_size(info: VideoInfo, spec) -> tuple[int, int]:
    """Output (width, height) after rotation, fitted to the spec's pixel budget."""
    return fit_size(
        info.display_width, info.display_height,
        max_pixels=spec.max_pixels, min_pixels=spec.min_pixels, factor=spec.size_factor,
    )


def _decode(path, spec, index: StreamIndex, info: VideoInfo, out_size, video_hash, timeout,
            store: FrameCache | None, key: str) -> Frames:
    duration = index.duration()
    window = spec.clip_range(duration)
    warnings: list[str] = list(index.notes())
    if spec.strategy in ("uniform", "fps") and (every := _every_frame_if_fewer(spec, index, window, warnings)) is not None:
        targets, tolerance = every, 0.0
    elif spec.strategy in ("uniform", "fps"):
        targets = spec.target_times(*window)
        tolerance = spec.default_tolerance(*window) if spec.mode == "fast" else 0.0
    elif spec.strategy == "keyframes":
        key_times = np.sort(index.seconds(index.key_pts))
        targets = key_times[(key_times >= window[0]) & (key_times < window[1])]
        targets = _cap(targets, spec.max_frames)
        tolerance = 0.0
    else:
        targets = scenes.scene_starts(path, index, window, spec.scene_threshold, timeout)
        targets = _cap(targets, spec.max_frames)
        tolerance = 0.0
    if len(targets) == 0:
        raise SpecError(f"{path}: no frames in {window[0]:.3f}-{window[1]:.3f}s for {spec.strategy}")
    plan = plan_frames(index, targets, mode=spec.mode, tolerance=tolerance, window=window)
    if plan.dropped_duplicates:
        warnings.append(
            f"{plan.dropped_duplicates} target times fell on frames already taken "
            f"(the range holds fewer frames than asked); returned {len(plan)} distinct frames"
        )
    turned = info.rotation % 180 != 0
    stored_size = (out_size[1], out_size[0]) if turned else out_size
    need_bytes = len(plan) * out_size[0] * out_size[1] * 3
    room = _room(store) if store else MAX_BATCH_BYTES
    if need_bytes > room:
        held = "free for the frame cache" if store else "allowed in memory (cache off)"
        raise SpecError(
            f"{path}: {len(plan)} frames of {out_size[0]}x{out_size[1]} need {format_bytes(need_bytes)}, "
            f"more than the {format_bytes(room)} {held}; ask for fewer frames or a smaller --max-pixels"
        )
    shape = (len(plan), out_size[1], out_size[0], 3)
    writer = store.writer(key, shape) if store else MemoryWriter(shape)
    row_of = {int(p): i for i, p in enumerate(plan.pts)}

    def put(pts: int, image: np.ndarray) -> None:  # each frame goes out as it is decoded
        writer.write(row_of[pts], rotate_upright(image, info.rotation))

    try:
        result = decode_frames(path, index, plan.pts, decode_size=stored_size, timeout=timeout, sink=put)
        got = np.array([int(p) in result.got for p in plan.pts], dtype=bool)
        if not got.any():
            raise VideoError(path, "no frame could be decoded (the video data is damaged)")
        data = writer.finish(keep=got)
    except BaseException:
        writer.discard()
        raise
    if not got.all():
        missing = index.seconds(plan.pts[~got])
        warnings.append(
            f"skipped {int((~got).sum())} unreadable frames at "
            + ", ".join(f"{t:.2f}s" for t in missing[:8])
            + (" ..." if len(missing) > 8 else "")
        )
    if result.bad_packets:
        warnings.append(f"{result.bad_packets} damaged packets were skipped while decoding")
    return Frames(
        data=data,
        timestamps=index.seconds(plan.pts[got]),
        targets=plan.targets[got],
        source=str(path),
        content_hash=video_hash,
        mode=spec.mode,
        warnings=tuple(warnings),
        decoded_frames=result.decoded_frames,
    )


def format_bytes(count: float) -> str:
    """A size in the largest decimal unit that keeps it at 1 or more (never "0.0 GB").

    >>> format_bytes(512), format_bytes(73_728), format_bytes(999_960), format_bytes(6 * 1024**3)
    ('512 B', '73.7 KB', '1.0 MB', '6.4 GB')
    """
    if count < 1000:
        return f"{count:.0f} B"
    for unit in ("KB", "MB", "GB", "TB"):
        count /= 1000
        if round(count, 1) < 1000 or unit == "TB":
            return f"{count:.1f} {unit}"


def _room(store: FrameCache) -> int:
    """Bytes a new cache entry may take: the disk's free space, within the cache's limit."""
    store.frames_dir.mkdir(parents=True, exist_ok=True)
    return min(shutil.disk_usage(store.frames_dir).free, max(store.max_bytes, MAX_BATCH_BYTES))


def _every_frame_if_fewer(spec, index: StreamIndex, window, warnings: list[str]) -> np.ndarray | None:
    """The times of every frame in ``window`` when the spec asks for as many frames as it holds
    or more (``--fps 1e9`` would otherwise allocate its target times before any frame is chosen;
    at exactly the stream's rate, slice centres fall midway between frames and rounding would
    pick some frames twice); else None."""
    times = index.times
    held = times[(times >= window[0] - 1e-9) & (times < window[1])]
    wanted = spec.frame_count(window[1] - window[0])
    if len(held) == 0 or wanted < len(held):
        return None
    if wanted > len(held):
        asked = f"{spec.fps:g} fps" if spec.fps is not None else f"{spec.nframes} frames"
        warnings.append(f"asked for {asked}, but {window[0]:.2f}-{window[1]:.2f}s holds only {len(held)} distinct "
                        "frames: each is taken once")
    return held


def _cap(times: np.ndarray, max_frames: int | None) -> np.ndarray:
    """Keep at most ``max_frames`` of ``times``, spread evenly."""
    if max_frames is None or len(times) <= max_frames:
        return times
    picks = np.round(np.linspace(0, len(times) - 1, max_frames)).astype(int)
    return times[np.unique(picks)]
