"""The spatio-temporal list a reasoning step is shown: who or what, when, where, moving which way.

Built from the perception timeline: the ``visual`` tool's moving-region tracks (colour,
direction, where the path begins and ends, its boxes over time), on-screen text spans (OCR),
speech and object tags, each with its time span. The entries most relevant to the question's
targets come first (all-MiniLM-L6-v2 cosine plus the share of the targets' words an entry
states); every track is kept whatever its relevance, since the question may name an object
by a word no tool uses ("ball" for "a red object").

>>> entry = TrackEntry("track", 0.0, 3.0, "red object", "a red object moves right (from the left to the right)",
...                    direction="right", origin="left", destination="right")
>>> entry.render()
'- red object [00:00.0-00:03.0]: moves right, from the left to the right'
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from vidllm.perceive.timeline import KIND_LABELS, Timeline, prompt_text
from vidllm.tasks.reason.common import relevance, span_text

_TRACK = re.compile(r"moves (?P<direction>[a-z]+(?: and [a-z]+)?) \(from the (?P<origin>[a-z ]+) to the (?P<dest>[a-z ]+)\)")
EVIDENCE_KINDS = ("track", "ocr", "speech", "tags")


@dataclass(frozen=True)
class TrackEntry:
    kind: str  # "track", "ocr", "speech", "tags", or "model" (a frame-reading model's description)
    start: float
    end: float
    what: str  # "red object", 'text "EXIT 42"', "speech", "objects"
    text: str  # the observation as the tool wrote it
    direction: str | None = None  # tracks: "right", "down", "left and up"
    origin: str | None = None  # tracks: where the path begins ("top left")
    destination: str | None = None
    path: list = field(default_factory=list)  # tracks: [{"time", "x", "y", "box"}] (x, y in 0-1)
    relevance: float = 0.0

    def render(self) -> str:
        when = span_text(self.start, self.end)
        if self.kind == "track" and self.direction:
            return f"- {self.what} [{when}]: moves {self.direction}, from the {self.origin} to the {self.destination}"
        if self.kind in ("ocr", "model"):
            return f"- {self.what} [{when}]" if self.kind == "ocr" else f"- seen [{when}]: {self.text}"
        return f"- {self.what} [{when}]: {self.text}"

    def to_dict(self) -> dict:
        return asdict(self)

    def statement(self) -> str:
        """The entry as one line of evidence, for matching answers against it."""
        return self.text if self.kind != "ocr" else f"on-screen text {self.text}"


def track_entries(timeline: Timeline, query: str, limit: int = 8) -> list[TrackEntry]:
    """The evidence entries for ``query`` (the question and its targets): every track, then the
    most relevant other entries, up to ``limit``; in time order."""
    entries = []
    for o in timeline.observations:
        if o.kind not in EVIDENCE_KINDS:
            continue
        text = prompt_text(o)
        if not text:
            continue
        if o.kind == "track":
            m = _TRACK.search(text)
            colour = o.payload.get("colour")
            entries.append(TrackEntry(
                "track", o.start, o.end, f"{colour} object" if colour else "moving object", text,
                direction=m["direction"] if m else None, origin=m["origin"] if m else None,
                destination=m["dest"] if m else None, path=list(o.payload.get("path") or [])))
        elif o.kind == "ocr":
            entries.append(TrackEntry("ocr", o.start, o.end, f"on-screen text {text}", text))
        else:
            entries.append(TrackEntry(o.kind, o.start, o.end, KIND_LABELS.get(o.kind, o.kind), text))
    entries = _merge_repeats(entries)
    if not entries:
        return []
    scores = relevance([f"{e.what}: {e.text}" for e in entries], query)
    ranked = sorted(range(len(entries)), key=lambda i: (entries[i].kind != "track", -scores[i], entries[i].start))
    kept = [TrackEntry(**{**asdict(entries[i]), "relevance": round(float(scores[i]), 4)}) for i in ranked[:limit]]
    return sorted(kept, key=lambda e: (e.start, e.kind))


def _merge_repeats(entries: list[TrackEntry]) -> list[TrackEntry]:
    """Neighbouring observations with the same kind and text (tags frame after frame) as one."""
    merged: list[TrackEntry] = []
    for e in sorted(entries, key=lambda e: (e.kind, e.text, e.start)):
        last = merged[-1] if merged else None
        if last and last.kind == e.kind and last.text == e.text and e.start <= last.end + 1e-6 and e.kind != "track":
            merged[-1] = TrackEntry(**{**asdict(last), "end": max(last.end, e.end)})
        else:
            merged.append(e)
    return merged


def render_entries(entries: list[TrackEntry]) -> str:
    return "\n".join(e.render() for e in entries) or "(no tracks, text or objects were observed)"
