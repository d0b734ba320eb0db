"""Write sampled frames as images, plus a contact sheet with each frame's timestamp."""

from __future__ import annotations

import math
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from vidllm.video.frames import Frames


def write_frames(frames: Frames, out: Path, *, thumb_width: int = 320) -> list[Path]:
    """One JPEG per frame named ``frame_<index>_<seconds>s.jpg``, then ``contact_sheet.jpg``
    (returned last)."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, (image, t) in enumerate(zip(frames.data, frames.timestamps)):
        path = out / f"frame_{i:04d}_{t:09.3f}s.jpg"
        Image.fromarray(image).save(path, quality=92)
        paths.append(path)
    paths.append(contact_sheet(frames, out / "contact_sheet.jpg", thumb_width=thumb_width))
    return paths


def contact_sheet(frames: Frames, path: Path, *, thumb_width: int = 320, columns: int | None = None) -> Path:
    n = len(frames)
    columns = columns or min(n, max(1, math.ceil(math.sqrt(n))))
    rows = math.ceil(n / columns)
    scale = thumb_width / frames.width
    thumb = (thumb_width, max(1, round(frames.height * scale)))
    label_h = 22
    sheet = Image.new("RGB", (columns * thumb[0], rows * (thumb[1] + label_h)), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=16)
    for i, (image, t) in enumerate(zip(frames.data, frames.timestamps)):
        x, y = (i % columns) * thumb[0], (i // columns) * (thumb[1] + label_h)
        sheet.paste(Image.fromarray(image).resize(thumb), (x, y))
        minutes, seconds = divmod(float(t), 60)
        draw.text((x + 4, y + thumb[1] + 2), f"#{i}  {int(minutes):02d}:{seconds:06.3f}  ({t:.3f} s)", fill="black", font=font)
    sheet.save(path, quality=90)
    return path
