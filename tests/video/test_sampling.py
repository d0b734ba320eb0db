"""Sampling returns the frames it says it returns, at their true times."""

from __future__ import annotations

import numpy as np
import pytest

from vidllm.video.cache import FrameCache
from vidllm.video.sample import probe, sample_frames
from vidllm.video.spec import SamplingSpec
from vidllm.video.synthetic import make_clip, read_frame_index


def drawn_indices(frames) -> list[int]:
    return [read_frame_index(image) for image in frames.data]


@pytest.mark.parametrize("mode", ["exact", "fast"])
@pytest.mark.parametrize(
    "spec",
    [
        SamplingSpec(nframes=8),
        SamplingSpec(nframes=32),
        SamplingSpec(fps=2.0),
        SamplingSpec(fps=1.0, start=2.5, end=7.5),
        SamplingSpec(nframes=5, max_pixels=100 * 100, size_factor=28),
    ],
    ids=["n8", "n32", "fps2", "range", "resized"],
)
def test_timestamps_are_the_true_frame_times_cfr(clip_cfr, spec, mode):
    spec = spec.replace(mode=mode)
    frames = sample_frames(clip_cfr, spec, cache=False)
    truth = np.array(drawn_indices(frames)) / 25.0  # frame i is shown at i/25 s
    np.testing.assert_allclose(frames.timestamps, truth, atol=1e-9)
    tolerance = spec.default_tolerance(*spec.clip_range(10.0)) if mode == "fast" else 1 / 50 + 1e-9
    assert np.all(np.abs(frames.timestamps - frames.targets) <= tolerance + 1e-9)
    assert np.all(frames.timestamps >= spec.start) and np.all(frames.timestamps < (spec.end or 10.0))


def test_fast_mode_prefers_keyframes_and_decodes_less(clip_cfr):
    exact = sample_frames(clip_cfr, SamplingSpec(nframes=5, mode="exact"), cache=False)
    fast = sample_frames(clip_cfr, SamplingSpec(nframes=5, mode="fast"), cache=False)
    # 5 targets at 1, 3, 5, 7, 9 s; keyframes every 2 s: tolerance 1 s reaches a keyframe each time
    assert set(fast.timestamps) <= {0.0, 2.0, 4.0, 6.0, 8.0}
    assert fast.decoded_frames < exact.decoded_frames


def test_fast_mode_respects_a_custom_tolerance(clip_cfr):
    frames = sample_frames(clip_cfr, SamplingSpec(nframes=5, mode="fast", tolerance=0.1), cache=False)
    assert np.all(np.abs(frames.timestamps - frames.targets) <= 0.1 + 1e-9)
    np.testing.assert_allclose(frames.timestamps, np.array(drawn_indices(frames)) / 25.0)


@pytest.mark.parametrize("mode", ["exact", "fast"])
def test_variable_frame_rate_timestamps_come_from_pts(clip_vfr, mode):
    truth = np.array(clip_vfr.timestamps)
    frames = sample_frames(clip_vfr.path, SamplingSpec(nframes=6, mode=mode), cache=False)
    np.testing.assert_allclose(frames.timestamps, truth[drawn_indices(frames)], atol=1e-6)
    # exact: every returned frame is the one nearest its target
    if mode == "exact":
        for t, target in zip(frames.timestamps, frames.targets):
            assert abs(t - target) == pytest.approx(np.min(np.abs(truth - target)), abs=1e-6)


def test_vfr_info_reports_average_rate_from_the_scan(clip_vfr):
    info = probe(clip_vfr.path)
    assert info.frame_count == len(clip_vfr.timestamps)
    assert info.frame_count_source == "scan"


@pytest.mark.parametrize(
    "spec, low, high",
    [
        (SamplingSpec(fps=1.0, min_frames=16), 16, 16),  # 10 s at 1 fps = 10 < 16
        (SamplingSpec(fps=10.0, max_frames=12), 12, 12),  # 100 > 12
        (SamplingSpec(fps=2.0, min_frames=4, max_frames=64), 20, 20),  # within bounds
    ],
)
def test_fps_with_caps_honours_both_bounds(clip_cfr, spec, low, high):
    frames = sample_frames(clip_cfr, spec, cache=False)
    assert low <= len(frames) <= high
    gaps = np.diff(frames.timestamps)
    assert np.allclose(gaps, gaps.mean(), atol=0.041)  # evenly spread, within a frame period


def test_keyframes_strategy_returns_every_keyframe(clip_cfr):
    frames = sample_frames(clip_cfr, SamplingSpec(keyframes=True), cache=False)
    np.testing.assert_allclose(frames.timestamps, [0, 2, 4, 6, 8])
    capped = sample_frames(clip_cfr, SamplingSpec(keyframes=True, max_frames=3), cache=False)
    assert len(capped) == 3


def test_scene_changes_are_found_where_the_picture_changes(media_dir):
    colours = [(200, 30, 30), (30, 200, 30), (30, 30, 200)]

    def draw(i, t, w, h):
        return np.full((h, w, 3), colours[int(t // 2)], np.uint8)

    path = make_clip(media_dir / "scenes.mp4", nframes=150, fps=25, size=(96, 64), gop=30, draw=draw)
    frames = sample_frames(path, SamplingSpec(scene_threshold=0.2), cache=False)
    np.testing.assert_allclose(frames.timestamps, [0.0, 2.0, 4.0])


def test_resize_keeps_aspect_and_factor(clip_cfr):
    frames = sample_frames(clip_cfr, SamplingSpec(nframes=2, max_pixels=112 * 84, size_factor=28), cache=False)
    assert frames.width % 28 == 0 and frames.height % 28 == 0
    assert frames.width * frames.height <= 112 * 84
    assert frames.width / frames.height == pytest.approx(320 / 240, rel=0.35)


def test_rotation_is_applied(media_dir):
    path = make_clip(media_dir / "rotated.mp4", nframes=10, fps=10, size=(160, 96), rotation=90)
    info = probe(path)
    assert info.rotation == 90 and (info.display_width, info.display_height) == (96, 160)
    frames = sample_frames(path, SamplingSpec(nframes=2), cache=False)
    assert (frames.width, frames.height) == (96, 160)
    # the code band was drawn along the top of the stored picture; turned 90° counter-clockwise
    # it runs down the left side, read top to bottom from the stored picture's right end
    unrotated = np.rot90(frames.data[0], k=-1)
    assert read_frame_index(unrotated) == round(frames.timestamps[0] * 10)


def test_second_identical_sampling_does_not_decode(clip_cfr):
    spec = SamplingSpec(nframes=6, max_pixels=160 * 120)
    first = sample_frames(clip_cfr, spec)
    second = sample_frames(clip_cfr, spec)
    assert first.decoded_frames > 0 and second.decoded_frames == 0
    np.testing.assert_array_equal(first.data, second.data)
    np.testing.assert_array_equal(first.timestamps, second.timestamps)
    assert FrameCache().info().entries == 1
    other = sample_frames(clip_cfr, spec.replace(nframes=7))
    assert other.decoded_frames > 0 and FrameCache().info().entries == 2


def test_cache_follows_content_not_name(clip_cfr, tmp_path):
    import shutil

    copy = tmp_path / "renamed.mp4"
    shutil.copy(clip_cfr, copy)
    spec = SamplingSpec(nframes=3)
    assert sample_frames(clip_cfr, spec).decoded_frames > 0
    assert sample_frames(copy, spec).decoded_frames == 0


def test_real_clip_bikes(bikes):
    info = probe(bikes)
    assert (info.width, info.height, info.frame_count) == (640, 272, 250)
    assert info.duration == pytest.approx(10.0)
    frames = sample_frames(bikes, SamplingSpec(fps=1.0, max_frames=8, mode="fast"))
    assert len(frames) == 8 and frames.data.shape[1:] == (272, 640, 3)


def test_real_mpeg_ps_without_frame_count(media_dir):
    from vidllm.video.samples import sample_path

    path = sample_path("city")
    info = probe(path)
    assert info.header_frame_count == 0 and info.frame_count == 190
    frames = sample_frames(path, SamplingSpec(nframes=6), cache=False)
    assert len(frames) == 6


@pytest.mark.parametrize("ext, codec", [("mkv", "libx264"), ("webm", "libvpx-vp9"), ("avi", "mpeg4"), ("ts", "libx264"), ("mpg", "mpeg2video")])
def test_other_containers_give_true_timestamps(media_dir, ext, codec):
    path = make_clip(media_dir / f"fmt.{ext}", nframes=100, fps=25, size=(128, 96), codec=codec, gop=25,
                     bframes=2 if codec == "libx264" else 0)
    for mode in ("exact", "fast"):
        frames = sample_frames(path, SamplingSpec(nframes=7, mode=mode), cache=False)
        np.testing.assert_allclose(frames.timestamps, np.array(drawn_indices(frames)) / 25.0, atol=1e-6)
