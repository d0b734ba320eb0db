"""``visual``: where a moving thing goes, shots, motion and colours, from pixels alone."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import DISC_TRAVEL, perception_input

from vidllm.perceive.tools import imageops
from vidllm.perceive.tools.visual import VisualSummaryTool


def run(path, **options):
    tool = VisualSummaryTool(**options)
    return tool.run(perception_input(path, tool))


def test_red_disc_moves_left_to_right(disc_clip):
    observations = run(disc_clip)
    tracks = [o for o in observations if o.kind == "track"]
    assert len(tracks) == 1, [o.text for o in tracks]
    track = tracks[0]
    assert "red" in track.text and "moves right" in track.text, track.text
    assert track.start <= DISC_TRAVEL[0] + 0.5 and track.end >= DISC_TRAVEL[1] - 0.5
    xs = [p["x"] for p in track.payload["path"]]
    assert xs == sorted(xs) and xs[0] < 0.3 and xs[-1] > 0.7
    assert all(abs(p["y"] - 0.5) < 0.05 for p in track.payload["path"])


def test_blue_disc_moves_right_to_left(disc_clip_leftwards):
    tracks = [o for o in run(disc_clip_leftwards) if o.kind == "track"]
    assert len(tracks) == 1 and "blue" in tracks[0].text and "moves left" in tracks[0].text, tracks


def test_still_picture_has_no_track_and_one_shot(sign_clip):
    observations = run(sign_clip)
    assert not [o for o in observations if o.kind == "track"]
    assert [o.text for o in observations if o.kind == "shot"] == ["shot 1 of 1"]


def test_cuts_of_bikes_match_a_full_rate_scan(bikes):
    """A scan of every frame of bikes.mp4 (vidllm.video.scenes) puts its cuts at 1.20, 3.04,
    5.48, 7.48 and 9.68 s; 2 fps sampling must find each within one sampling step."""
    shots = [o for o in run(bikes) if o.kind == "shot"]
    starts = [o.start for o in shots[1:]]
    assert len(starts) == 5, [(o.start, o.end) for o in shots]
    assert starts == pytest.approx([1.20, 3.04, 5.48, 7.48, 9.68], abs=0.5)


def test_motion_and_colour_spans_tile_the_video(disc_clip):
    observations = run(disc_clip)
    for kind in ("motion", "colour"):
        spans = sorted((o.start, o.end) for o in observations if o.kind == kind)
        assert spans[0][0] == 0.0 and spans[-1][1] == pytest.approx(4.0)
        assert all(a[1] == pytest.approx(b[0]) for a, b in zip(spans, spans[1:]))
    colours = [o.text for o in observations if o.kind == "colour"]
    assert colours == ["mostly white"]  # light grey background, the disc is under 2% of it


@pytest.mark.parametrize("rgb, name", [
    ((220, 20, 20), "red"), ((30, 40, 210), "blue"), ((40, 170, 60), "green"), ((240, 220, 30), "yellow"),
    ((245, 245, 245), "white"), ((128, 128, 128), "grey"), ((10, 10, 10), "black"), ((250, 140, 20), "orange"),
    ((120, 70, 30), "brown"), ((250, 170, 190), "pink"), ((130, 40, 180), "purple"),
])
def test_colour_names(rgb, name):
    assert imageops.COLOURS[int(imageops.colour_index(np.array(rgb, dtype=np.float32)))] == name


def test_regions_are_labelled_separately():
    mask = np.zeros((20, 30), bool)
    mask[2:6, 2:8] = True
    mask[10:18, 5:7] = True
    mask[10:12, 5:25] = True  # joins the vertical bar: one L shape
    labels = imageops.label_regions(mask)
    assert len(np.unique(labels[labels > 0])) == 2
    assert (labels[mask] > 0).all() and (labels[~mask] == 0).all()


def test_global_shift_finds_a_pan():
    rng = np.random.default_rng(1)
    image = rng.uniform(0, 255, (90, 170))
    dx, dy, strength = imageops.global_shift(image[:, 10:170], image[:, 4:164])
    assert (dx, dy) == (6.0, 0.0) and strength > 0.3
