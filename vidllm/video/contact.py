"""Write sampled frames as images, plus a contact sheet with each frame's timestamp."""

from __future__ import annotations

import math
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from vidllm.video.cache import iter_images
from vidllm.video.frames import Frames


def write_frames(frames: Frames, out: Path, *, thumb_width: int = 320) -> list[Path]:
    """One JPEG per frame named ``frame_<index>_<seconds>s.jpg``, then ``contact_sheet.jpg``
    (returned last). Frames are read one at a time (``iter_images``): a long batch mapped from
    the frame cache is never held in memory whole."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    sheet = _Sheet(frames, thumb_width=thumb_width)
    for i, (image, t) in enumerate(zip(iter_images(frames.data), frames.timestamps)):
        path = out / f"frame_{i:04d}_{t:09.3f}s.jpg"
        picture = Image.fromarray(image)
        picture.save(path, quality=92)
        sheet.add(i, picture, float(t))
        paths.append(path)
    paths.append(sheet.save(out / "contact_sheet.jpg"))
    return paths


def contact_sheet(frames: Frames, path: Path, *, thumb_width: int = 320, columns: int | None = None) -> Path:
    sheet = _Sheet(frames, thumb_width=thumb_width, columns=columns)
    for i, (image, t) in enumerate(zip(iter_images(frames.data), frames.timestamps)):
        sheet.add(i, Image.fromarray(image), float(t))
    return sheet.save(path)


MAX_SHEET_WIDTH = 4096


class _Sheet:
    """A grid of thumbnails, each labelled with its frame's index and time."""

    label_h = 22

    def __init__(self, frames: Frames, *, thumb_width: int, columns: int | None = None):
        n = len(frames)
        self.columns = columns or min(n, max(1, math.ceil(math.sqrt(n))))
        rows = math.ceil(n / self.columns)
        # thumbnails shrink as frames are added, so a sheet of thousands stays a few MB
        thumb_width = max(32, min(thumb_width, MAX_SHEET_WIDTH // self.columns))
        scale = thumb_width / frames.width
        self.thumb = (thumb_width, max(1, round(frames.height * scale)))
        self.image = Image.new("RGB", (self.columns * self.thumb[0], rows * (self.thumb[1] + self.label_h)), "white")
        self.draw = ImageDraw.Draw(self.image)
        self.font = ImageFont.load_default(size=16)

    def add(self, i: int, picture: Image.Image, t: float) -> None:
        x, y = (i % self.columns) * self.thumb[0], (i // self.columns) * (self.thumb[1] + self.label_h)
        self.image.paste(picture.resize(self.thumb), (x, y))
        minutes, seconds = divmod(t, 60)
        self.draw.text((x + 4, y + self.thumb[1] + 2), f"#{i}  {int(minutes):02d}:{seconds:06.3f}  ({t:.3f} s)",
                       fill="black", font=self.font)

    def save(self, path: Path) -> Path:
        self.image.save(path, quality=90)
        return path
