"""``ocr``: text on screen, one observation per line of text and the time it stays visible.

PP-OCRv4 detection + recognition (ONNX, PyPI ``rapidocr-onnxruntime``). Reading every sampled
frame would dominate the cost of perception, so the tool

1. reads about one frame per ``min_interval`` seconds,
2. skips a frame whose picture barely changed since the last frame it read (the previous
   result is reused): a still slide or a talking head costs one read, not sixty,
3. where two read frames disagree, reads the sampled frames between them (bisecting), so the
   time a caption appears or disappears is as exact as the sampling, at the cost of a few reads
   per change,
4. follows each line across frames, merging near-identical readings ("EXIT 42" / "EXIT 4Z"),
   and reports it once with its span:

    [00:03.0-00:05.0] on-screen text: "EXIT 42"

   Readings that differ only in their numbers ("COUNT 1" / "COUNT 2", "12:05" / "12:06") are
   different lines however alike they look: a counter, a score or a clock changed.

The recogniser often runs an English word into the number beside it ("ROOM305", "OPEN24HOURS",
"50%OFF") and reads O as 0 inside words ("R00M"): measured on signs rendered in five fonts at
three sizes, 30 of 180 readings were wrong, 15 of them by spacing alone. ``english`` (on by
default) repairs both from the text alone (``english_spacing``); what it cannot see is a
letter run into a word ("GATEB7"), which needs the picture.
"""

from __future__ import annotations

import difflib
import functools
import logging
import re

import numpy as np
from pydantic import Field

from vidllm import weights
from vidllm.perceive.base import Observation, PerceptionInput
from vidllm.perceive.tools.common import (
    SamplingOptions,
    VisualTool,
    frame_spans,
    grey,
    thin,
    thumbnails,
)

log = logging.getLogger(__name__)


class OcrOptions(SamplingOptions):
    min_interval: float = Field(1.0, ge=0, description="Seconds between regularly read frames.")
    min_score: float = Field(0.6, ge=0, le=1, description="Recognition confidence to keep a line.")
    similarity: float = Field(0.8, ge=0, le=1, description="How alike two readings must be (0-1) to "
                                                         "count as the same line.")
    change_threshold: float = Field(0.002, ge=0, le=1, description="Share of a frame's pixels that must "
                                                                 "change for it to be read again.")
    max_side: int = Field(960, ge=32, description="Longest side given to the detector (frames are shrunk "
                                                  "to it, never enlarged).")
    max_gap: float = Field(1.0, ge=0, description="Seconds a line may be missing and still continue its "
                                                  "span (one unread flicker).")
    english: bool = Field(True, description="Repair English readings: a space between a word and the "
                                            "number run into it (ROOM305 -> ROOM 305), O read as 0 inside "
                                            "words (R00M -> ROOM).")
    threads: int = Field(1, ge=1, exclude=True, description="ONNX Runtime threads per session.")


class OcrTool(VisualTool):
    """On-screen text with spans; settings in ``OcrOptions``."""

    name = "ocr"
    kinds = ("ocr",)
    requires = ("rapidocr-onnxruntime",)
    # 2: english spacing; readings that differ in their numbers are different lines
    version = "2"
    Options = OcrOptions

    def __init__(self, **options):
        super().__init__(**options)
        self.reads = 0  # OCR passes in the last run (for logs and benchmarks)

    def check_available(self) -> None:
        weights.require("rapidocr-onnxruntime", "rapidocr_onnxruntime", purpose="the ocr tool")

    def weights_model(self) -> str:
        return "pp-ocrv4"

    def run(self, source: PerceptionInput) -> list[Observation]:
        frames = self._frames(source)
        if frames is None:
            return []
        engine = _engine(self.threads, self.max_side)
        thumbs = grey(thumbnails(frames.data, 160))
        results: dict[int, list[tuple[str, float, list[float]]]] = {}
        read_from: dict[int, int] = {}  # frame -> the frame really read for it
        self.reads = 0

        def read(i: int, like: int | None) -> None:
            if i in results:
                return
            # compare with the frame actually read, not with a copy of it: slow drift adds up
            if like is not None and self._unchanged(thumbs[i], thumbs[read_from[like]]):
                results[i], read_from[i] = results[like], read_from[like]
                return
            results[i], read_from[i] = self._read(engine, frames.data[i]), i
            self.reads += 1

        regular = thin(frames.timestamps, self.min_interval).tolist()
        previous = None
        for i in regular:
            read(i, previous)
            previous = i
        # bisect between read frames that disagree, so changes are timed to the sampling
        todo = list(zip(regular, regular[1:]))
        while todo:
            a, b = todo.pop()
            if b - a < 2 or _texts(results[a]) == _texts(results[b]):
                continue
            mid = (a + b) // 2
            read(mid, a)
            todo += [(a, mid), (mid, b)]
        order = sorted(results)
        times = frames.timestamps[order]
        starts, ends = frame_spans(times, source.duration)
        return self._tracks([results[i] for i in order], times, starts, ends, frames.width, frames.height)

    def _unchanged(self, a: np.ndarray, b: np.ndarray) -> bool:
        return float((np.abs(a - b) > 20).mean()) < self.change_threshold

    def _read(self, engine, image: np.ndarray) -> list[tuple[str, float, list[float]]]:
        h, w = image.shape[:2]
        scale = min(1.0, self.max_side / max(h, w))
        if scale < 1.0:
            from PIL import Image

            image = np.asarray(Image.fromarray(image).resize((round(w * scale), round(h * scale)), Image.BILINEAR))
        bgr = np.ascontiguousarray(image[..., ::-1])  # the models were trained on OpenCV's BGR
        found, _ = engine(bgr, use_cls=False)
        lines = []
        for box, text, score in found or []:
            text = " ".join(str(text).split())
            if self.english:
                text = english_spacing(text)
            if float(score) < self.min_score or not re.search(r"\w", text):
                continue
            pts = np.asarray(box, dtype=np.float64) / scale
            rel = [pts[:, 0].min() / w, pts[:, 1].min() / h, pts[:, 0].max() / w, pts[:, 1].max() / h]
            lines.append((text, float(score), [round(float(v), 4) for v in rel]))
        return lines

    def _tracks(self, per_frame, times, starts, ends, width, height) -> list[Observation]:
        """Follow each line across frames; a line continues while a similar reading reappears
        within ``max_gap`` seconds."""
        open_tracks: list[dict] = []
        done: list[dict] = []
        for k, lines in enumerate(per_frame):
            for track in [t for t in open_tracks if starts[k] - t["end"] > self.max_gap + 1e-9]:
                open_tracks.remove(track)
                done.append(track)
            used: set[int] = set()
            for text, score, box in lines:
                best, best_sim = None, self.similarity
                for n, track in enumerate(open_tracks):
                    if n in used:
                        continue
                    sim = _similar(text, track["key"]) if not _numbers_differ(text, track["key"]) else 0.0
                    if sim >= best_sim:
                        best, best_sim = n, sim
                if best is None:
                    open_tracks.append({"key": _norm(text), "readings": {}, "start": starts[k], "end": ends[k],
                                        "times": [], "scores": [], "box": box})
                    best = len(open_tracks) - 1
                track = open_tracks[best]
                used.add(best)
                track["readings"][text] = track["readings"].get(text, 0.0) + score
                track["end"] = ends[k]
                track["times"].append(float(times[k]))
                track["scores"].append(score)
        done += open_tracks
        observations = []
        for track in sorted(done, key=lambda t: (t["start"], t["box"][1], t["box"][0])):
            text = max(track["readings"].items(), key=lambda kv: kv[1])[0]
            observations.append(Observation(
                start=float(track["start"]), end=float(track["end"]), kind="ocr", text=f'"{text}"',
                score=round(float(np.mean(track["scores"])), 4),
                payload={"text": text, "box": track["box"], "times": track["times"],
                         "variants": sorted(track["readings"], key=track["readings"].get, reverse=True)[:5]},
            ))
        return observations


# a word of three letters or more next to a number; "%" closing a number before a word
_ZEROS_IN_WORD = re.compile(r"(?<=[A-Za-z])0+(?=[A-Za-z])")
_WORD_THEN_NUMBER = re.compile(r"(?<=[A-Za-z]{3})(?=\d)|(?<=\d)(?=[A-Za-z]{3})|(?<=\d%)(?=[A-Za-z])")


def english_spacing(text: str) -> str:
    """``text`` with the spaces and letters the recogniser commonly loses in English restored:
    a word and a number run together are parted; a 0 inside a word of letters is an O.

    Short letter runs stay attached, since they are usually part of the number or a code
    ("MP3", "10AM", "B7", "2nd", "A0").

    >>> english_spacing("ROOM305"), english_spacing("OPEN24HOURS"), english_spacing("SALE 50%OFF")
    ('ROOM 305', 'OPEN 24 HOURS', 'SALE 50% OFF')
    >>> english_spacing("R00M 305"), english_spacing("PLATF0RM9"), english_spacing("MP3 B7 10AM 2nd A0 1080")
    ('ROOM 305', 'PLATFORM 9', 'MP3 B7 10AM 2nd A0 1080')
    """
    # the O first ("PLATF0RM9"), so the word ends where the 9 starts
    text = _ZEROS_IN_WORD.sub(lambda m: ("O" if m.string[m.start() - 1].isupper() else "o") * len(m.group()), text)
    text = " ".join(_zero_as_letter(token) for token in text.split(" "))
    return _WORD_THEN_NUMBER.sub(" ", text)


def _zero_as_letter(token: str) -> str:
    """"0FF" -> "OFF": a token of letters and zeros, with at least two letters, is a word."""
    letters = [c for c in token if c.isalpha()]
    if "0" not in token or len(letters) < 2 or not re.fullmatch(r"[A-Za-z0]+", token):
        return token
    return token.replace("0", "O" if all(c.isupper() for c in letters) else "o")


def _numbers_differ(a: str, b: str) -> bool:
    """Two readings alike but for their numbers ("COUNT 1" / "COUNT 2"): a change, not a misread.
    A misread turns a digit into a letter ("4Z") and changes the shape around the numbers."""
    numbers_a, numbers_b = re.findall(r"\d+", a), re.findall(r"\d+", b)
    if not numbers_a or numbers_a == numbers_b:
        return False
    return re.sub(r"\d+", "#", _norm(a)) == re.sub(r"\d+", "#", _norm(b))


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _texts(lines) -> frozenset[str]:
    return frozenset(_norm(text) for text, _, _ in lines)


def _similar(text: str, key: str) -> float:
    return difflib.SequenceMatcher(None, _norm(text), key, autojunk=False).ratio()


@functools.lru_cache(maxsize=2)
def _engine(threads: int, max_side: int):
    """One RapidOCR engine per setting (loading its ONNX sessions takes ~0.3 s)."""
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as exc:  # the package is there (check_available) but a dependency is not
        from vidllm.errors import MissingDependencyError

        raise MissingDependencyError(f"the ocr tool could not import rapidocr_onnxruntime ({exc}): "
                                     "pip install rapidocr-onnxruntime") from None
    # det_limit_type="max": shrink only images above max_side (the package default, "min" 736,
    # enlarges a 640x360 frame to 1308x736: four times the work for no gain in reading)
    return RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=1, det_limit_type="max",
                    det_limit_side_len=max_side, use_cls=False, print_verbose=False)
