"""Charades-STA: find the moment a sentence describes (Gao et al., TALL).

Layout read (as the annotation is published)::

    Charades-STA/charades_sta_test.txt     lines "VIDEO_ID start end##sentence"
    Charades-STA/Charades_v1_480/<VIDEO_ID>.mp4   (or videos/)

Official scoring for text-answering models: lmms-eval ``lmms_eval/tasks/charades_sta/eval_tvg.py``
(the TimeChat script): ``extract_time``, a reply with no time range replaced by
[end + 10, end + 20] (IoU 0), R@0.3/0.5/0.7 and mIoU over all samples. lmms-eval itself only
writes a submission file; vidllm reports R@1 at IoU 0.3/0.5/0.7 and mIoU in the run's results,
with the replies it could not read counted in "failed" (``vidllm.eval.temporal.span_summary``).

Data quirks counted: a line whose end precedes its start (the span is sorted, as E.T. Chat's
loader does), lines that cannot be read.

Result file read by ``vidllm score``: lmms-eval's ``{"vid>>>caption>>>[s, e]": reply}`` JSON.

>>> charades_extract_time("The moment is 5.2 - 8.1 seconds.")  # no keyword in the sentence
[]
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from vidllm.choices import clean_reply
from vidllm.errors import PredictionFormatError
from vidllm.eval import temporal as T
from vidllm.eval.benchmarks.base import Benchmark, ScoredPairs, reply
from vidllm.eval.grading import GradeContext, Graded
from vidllm.eval.parsers import TIMECHAT_KEYWORDS
from vidllm.eval.types import EvalSample, Prediction
from vidllm.timeparse import read_times

PROMPT = (
    "Find the moment in the video that the following sentence describes and give its start and end time in seconds, "
    "in the form 'The event happens in the start time - end time'. Sentence: {sentence}."
)


class CharadesSTA(Benchmark):
    name = "charades_sta"
    title = "Charades-STA"
    source = "EvolvingLMMs-Lab/lmms-eval@75571cf lmms_eval/tasks/charades_sta/eval_tvg.py"
    tasks = ("test",)
    sampling = {"nframes": 32}
    video_dirs = ("Charades_v1_480", "videos", "")

    def annotation_files(self) -> list[Path]:
        return sorted(self.root.glob("charades_sta_test.txt")) or sorted(self.root.glob("charades_sta_*.txt"))

    def read(self, files: list[Path], quirks: Counter) -> Iterator[EvalSample]:
        for path in files:
            split = path.stem.replace("charades_sta_", "") or "test"
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
                if not line.strip():
                    continue
                self.items += 1
                try:
                    head, sentence = line.split("##", 1)
                    vid, start, end = head.split()
                    start, end = float(start), float(end)
                except ValueError:
                    quirks["unreadable_line"] += 1
                    continue
                if end < start:
                    quirks["end_before_start"] += 1
                    start, end = end, start
                if end == start:
                    quirks["empty_span"] += 1
                sentence = sentence.strip()
                yield EvalSample(
                    doc_id=f"{split}/{n}", benchmark=self.name, task=split if split in self.tasks else "test",
                    video=f"{vid}.mp4", video_path="", question=sentence, target=(start, end), kind="span",
                    prompt=PROMPT.format(sentence=sentence.strip(".").strip()),
                )

    def grade(self, sample: EvalSample, prediction: Prediction, mode: str, ctx: GradeContext) -> Graded:
        """One span per reply (R@1). "read" is 0 where no range was read: officially the reply is
        then scored as the script does (a span [end+10, end+20], IoU 0), robustly it has no IoU
        at all and counts as a miss in R@t and mIoU and apart in "failed"."""
        if mode == "official":
            found = charades_extract_time(prediction.text or "")
            read = len(found) == 1
            if not read:
                found = [[sample.target[1] + 10, sample.target[1] + 20]]
            note = "" if read else "no time range: replaced by [end+10, end+20]"
            metrics = {"iou": timechat_iou(sample.target, found[0]), "read": float(read)}
            return Graded(sample.doc_id, sample.task, mode, found[0], metrics, True, note)
        span = self.robust_parse(sample, prediction.text).value
        if span is None:   # say why: no time at all, a single moment, frames without an fps ...
            reason = read_times(clean_reply(prediction.text or "")).reason
            return Graded(sample.doc_id, sample.task, mode, None, {"read": 0.0}, True, reason)
        return Graded(sample.doc_id, sample.task, mode, span, {"iou": T.iou(span, sample.target), "read": 1.0}, True)

    def aggregate(self, samples, graded, mode: str) -> dict:
        rows = list(graded.values())

        def summary(rows: list[Graded]) -> dict:
            # an unread reply is a miss (officially its stand-in span [end+10, end+20] has IoU 0)
            return T.span_summary([r.metrics["iou"] if r.metrics["read"] else None for r in rows], T.GROUNDING_THRESHOLDS)

        overall = summary(rows)
        overall["score"] = overall["R@0.5"]
        tasks = {t: summary([r for r in rows if r.task == t]) for t in sorted({r.task for r in rows})}
        return {"overall": overall, "tasks": tasks, "primary": "mIoU",
                "headline": "R@1 at IoU 0.5 (also IoU 0.3, 0.7, mIoU; unreadable replies in 'failed', counted as misses)"}

    def read_results(self, path: Path, quirks: Counter, *, data=None, answers=None) -> ScoredPairs:
        pairs = []
        for n, (key, text) in enumerate(json.loads(path.read_text(encoding="utf-8")).items()):
            try:
                vid, caption, gt = key.split(">>>")
                start, end = json.loads(gt)
            except ValueError:
                raise PredictionFormatError(f"{path}: key {key!r} is not 'video>>>caption>>>[start, end]'") from None
            sample = EvalSample(doc_id=f"test/{n}", benchmark=self.name, task="test", video=vid, video_path="", question=caption,
                                target=(float(start), float(end)), kind="span", prompt=caption)
            pairs.append((sample, reply(text)))
        return pairs


# -------------------------------------------------------------------------- official reading
# lmms-eval lmms_eval/tasks/charades_sta/eval_tvg.py (the TimeChat script)


def timechat_iou(a, b) -> float:
    """The script's IoU: intersection over the hull, spans as written (0 where the hull is empty;
    the script divides by zero there)."""
    hull = max(a[1], b[1]) - min(a[0], b[0])
    return max(min(a[1], b[1]) - max(a[0], b[0]), 0) / hull if hull > 0 else 0.0


_CH_MAIN = re.compile(r"(\d+(?:\.\d+)?)\s*[–-]\s*(\d+(?:\.\d+)?)")
_CH_NUMBER = re.compile(r"\b(\d+(?:\.\d+)?)\b")
_CH_CLOCK = re.compile(r"\b(\d{1,2}:\d{2}:\d{2})\b")
_CH_FALLBACK = re.compile(r"(\d+(?:\.\d+)?)\s*s?\s*[–-]\s*(\d+(?:\.\d+)?)\s*s?")


def charades_extract_time(paragraph: str) -> list[list[float]]:
    """``extract_time`` of the Charades-STA scorer: at most one [start, end], [] when none.

    Quirks kept: every "to" becomes "-" (so "tomato" is "-ma-"); only sentences holding one of
    the keywords (start, end, happen, ...; "friends" counts, "moment" does not) are read, so
    "The moment is 5.2 - 8.1 seconds." gives nothing.
    """
    example = "A specific example is : 20.8 - 30.0 seconds".lower()
    paragraph = paragraph.lower().replace(example, "").replace("to", "-")
    sentences = re.split(r"[!?\n]", paragraph)
    candidates = [s for s in sentences if any(k in s for k in TIMECHAT_KEYWORDS)]
    timestamps: list = []
    for sentence in candidates:
        found = _CH_MAIN.findall(sentence)
        if found:
            timestamps = [[float(a), float(b)] for a, b in found]
            break
    if not timestamps:
        times = [float(n[0]) for n in (_CH_NUMBER.findall(s) for s in candidates) if n]
        times = times[: len(times) // 2 * 2]
        timestamps = [[times[i], times[i + 1]] for i in range(0, len(times), 2)]
    if not timestamps:
        times = []
        for sentence in candidates:
            clocks = _CH_CLOCK.findall(sentence)
            if clocks:
                h, m, s = (int(x) for x in clocks[0].split(":"))
                times.append(h * 3600 + m * 60 + s)
        times = times[: len(times) // 2 * 2]
        timestamps = [[times[i], times[i + 1]] for i in range(0, len(times), 2)]
    if not timestamps:
        for sentence in candidates:
            found = _CH_FALLBACK.findall(sentence)
            if found:
                timestamps = [[float(a), float(b)] for a, b in found]
                break
    results = [[a, b] if b > a else [b, a] for a, b in timestamps]
    return results[:1]
