"""Video-MME: 900 videos (short, medium, long) x 3 multiple-choice questions.

Layout read (lmms-lab/Video-MME on the hub)::

    Video-MME/videomme/test-00000-of-00001.parquet   (video_id, duration, domain, sub_category,
                                                      videoID, question_id, task_type, question,
                                                      options, answer)
    Video-MME/data/<videoID>.mp4

It also reads annotations in the shape of the official result template (a JSON list of videos
with their questions), including the template as published in BradyFU/Video-MME, which is not
valid JSON (trailing commas: counted as the quirk "json_trailing_commas").

Official scoring: ``evaluation/eval_your_results.py`` (last at 4e7566d, since removed from the
repository): ``extract_characters_regex`` and accuracy = correct / answered, where replies with
no A-D are not "answered" and leave the denominator. Robust scoring counts them as wrong.

``videomme_sub`` is the same benchmark with subtitles (``subtitle/<videoID>.srt``) put in the
prompt as the official README writes it.

Result file read by ``vidllm score``: the official template filled in (videos with questions
holding "answer" and "response"; trailing commas and both key sets accepted).

>>> s = EvalSample(doc_id="d", benchmark="videomme", task="short", video="v.mp4", video_path="", question="?",
...                options=("A. w", "B. x", "C. y", "D. z"), target="D", kind="choice", prompt="?")
>>> videomme_official(s, "Best answer: D").value   # the prefix list lacks commas: reads "B"
'B'
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from vidllm.errors import MissingDependencyError, PredictionFormatError
from vidllm.eval.benchmarks.base import Benchmark, ScoredPairs, read_json_lenient, reply
from vidllm.eval.metrics import accuracy_table
from vidllm.eval.types import EvalSample, Parsed

PROMPT = (
    "Select the best answer to the following multiple-choice question based on the video. "
    "Respond with only the letter (A, B, C, or D) of the correct option.\n{question}\n{options}\nThe best answer is:"
)


#: BradyFU/Video-MME README, "Evaluation Pipeline": the subtitles go before the common prompt
SUBTITLE_PROMPT = "This video's subtitles are listed below:\n{subtitles}\n"


class VideoMME(Benchmark):
    name = "videomme"
    title = "Video-MME"
    source = "BradyFU/Video-MME@4e7566d evaluation/eval_your_results.py"
    tasks = ("short", "medium", "long")
    sampling = {"nframes": 32}
    overall = "micro"

    def annotation_files(self) -> list[Path]:
        parquet = sorted((self.root / "videomme").glob("*.parquet")) + sorted(self.root.glob("*.parquet"))
        if parquet:
            return parquet
        return sorted(p for p in self.root.glob("*.json"))

    def video_candidates(self, sample: EvalSample):
        for folder in ("data", "videos", "video", ""):
            yield self.root / folder / sample.video

    def read(self, files: list[Path], quirks: Counter) -> Iterator[EvalSample]:
        for path in files:
            rows = _parquet_rows(path) if path.suffix == ".parquet" else _template_rows(path, quirks)
            for row in rows:
                self.items += 1
                yield self.row_sample(row, quirks)

    def row_sample(self, row: dict, quirks: Counter) -> EvalSample:
        """The sample of one row of the parquet (or template) annotations."""
        options = tuple(row["options"])
        if [o[:1] for o in options] != list("ABCD")[: len(options)]:
            quirks["options_without_letters"] += 1
        answer = row.get("answer")
        if answer not in ("A", "B", "C", "D"):
            quirks["answer_not_a_letter"] += 1
            answer = None
        return EvalSample(
            doc_id=str(row["question_id"]), benchmark=self.name, task=row["duration"],
            video=f"{row['videoID']}.mp4", video_path="", question=row["question"], options=options,
            target=answer, kind="choice",
            prompt=self.subtitle_text(row["videoID"], quirks) + PROMPT.format(question=row["question"], options="\n".join(options)),
            extra={
                "video_id": row["video_id"], "domain": row["domain"], "sub_category": row["sub_category"],
                "task_type": row["task_type"], "invalid": answer is None,
            },
        )

    def subtitle_text(self, video: str, quirks: Counter) -> str:
        """What goes before the prompt: nothing here; the subtitles in ``videomme_sub``."""
        return ""

    def task_from_lmms(self, lmms_task: str) -> str:
        if lmms_task.startswith(self.name):  # lmms-eval's "videomme" spans the three durations
            return ""
        return super().task_from_lmms(lmms_task)

    def sample_from_lmms(self, lmms_task: str, index: int, doc, quirks: Counter) -> EvalSample:
        # lmms-eval's Video-MME docs are the parquet's rows
        return self.row_sample({**doc, "options": list(doc["options"])}, quirks)

    def official_parse(self, sample: EvalSample, text: str) -> Parsed:
        return videomme_official(sample, text)

    def aggregate(self, samples, graded, mode: str) -> dict:
        by_id = {s.doc_id: s for s in samples}
        counted = [g for g in graded.values() if g.counted]
        durations = accuracy_table((g.task, g.metrics["acc"]) for g in counted)
        overall = {"acc": durations["micro"], "n": durations["n"], "score": durations["micro"],
                   "unanswered": sum(1 for g in graded.values() if not g.counted)}
        breakdown = {}
        for key in ("task_type", "domain", "sub_category"):
            table = accuracy_table((by_id[g.doc_id].extra[key], g.metrics["acc"]) for g in counted)
            breakdown[key] = {k: v["acc"] for k, v in table["tasks"].items()}
        return {"overall": overall, "tasks": durations["tasks"], "breakdown": breakdown, "primary": "acc",
                "headline": "accuracy = correct / answered (official) or / all (robust)"}

    def read_results(self, path: Path, quirks: Counter, *, data=None, answers=None) -> ScoredPairs:
        pairs = []
        videos = read_json_lenient(path, quirks)
        responses = {q["question_id"]: q.get("response") for v in videos for q in v.get("questions", [])}
        for row in template_rows(videos, quirks):
            sample = EvalSample(
                doc_id=str(row["question_id"]), benchmark=self.name, task=row["duration"], video=f"{row['videoID']}.mp4",
                video_path="", question=row["question"], options=tuple(row["options"]), target=row["answer"], kind="choice",
                prompt=row["question"],
                extra={"video_id": row["video_id"], "domain": row["domain"], "sub_category": row["sub_category"], "task_type": row["task_type"]},
            )
            pairs.append((sample, reply(responses[row["question_id"]])))
        if not pairs:
            raise PredictionFormatError(f"{path}: no Video-MME questions found")
        return pairs


_VIDEOMME_PREFIXES = (
    "The best answer is",
    "The correct answer is",
    "The answer is",
    "The answer",
    "The best option is" "The correct option is",  # noqa: ISC001, ISC004 - the official list lacks this comma
    "Best answer:" "Best option:",  # noqa: ISC001, ISC004 - and this one
)


def videomme_official(sample: EvalSample, text: str) -> Parsed:
    """Video-MME (BradyFU/Video-MME evaluation/eval_your_results.py ``extract_characters_regex``,
    last version at 4e7566d): strip the prefixes, then the first capital A-D anywhere.

    Quirks: two pairs of prefixes lack a comma and fuse, so "Best answer: D" keeps its prefix and
    reads "B" (of "Best"); "Answer: C" reads "A"; a reply with no A-D (or over 10 words without)
    is not "answered" and leaves the denominator.
    """
    s = (text or "").strip()
    for prefix in _VIDEOMME_PREFIXES:
        s = s.replace(prefix, "")
    if len(s.split()) > 10 and not re.search("[ABCD]", s):
        return Parsed("", answered=False, note="unanswered: over 10 words and no A-D")
    m = re.search(r"[ABCD]", s)
    if m is None:
        return Parsed("", answered=False, note="unanswered: no A-D")
    return Parsed(m.group(0))


def _parquet_rows(path: Path) -> list[dict]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise MissingDependencyError("reading Video-MME's parquet annotations needs: pip install pyarrow") from None
    rows = pq.read_table(path).to_pylist()
    for row in rows:
        row["options"] = list(row["options"])
    return rows


def _template_rows(path: Path, quirks: Counter) -> Iterator[dict]:
    """Rows from the result-template shape; both key sets (template and scorer) are accepted."""
    yield from template_rows(read_json_lenient(path, quirks), quirks)


def template_rows(videos: list, quirks: Counter) -> Iterator[dict]:
    for video in videos:
        if "questions" not in video:
            continue
        if "duration" in video and "duration_category" not in video:
            # eval_your_results.py reads duration_category / video_category / video_subcategory
            quirks["template_keys_unknown_to_official_scorer"] += 1
        for q in video["questions"]:
            options = q.get("options", q.get("choices"))
            if "choices" in q and "options" not in q:
                quirks["template_key_choices"] += 1
            yield {
                "video_id": video["video_id"],
                "videoID": video.get("videoID", video["video_id"]),
                "duration": video.get("duration", video.get("duration_category")),
                "domain": video.get("domain", video.get("video_category")),
                "sub_category": video.get("sub_category", video.get("video_subcategory")),
                "question_id": q["question_id"], "task_type": q["task_type"], "question": q["question"],
                "options": options, "answer": q.get("answer"),
            }


class VideoMMESubtitles(VideoMME):
    """Video-MME with subtitles: ``subtitle/<videoID>.srt`` (the dataset's subtitle.zip) read with
    the ``srt`` package, the lines' text (markup removed) in order, one a line, in the official
    subtitle prompt. A video without a subtitle file (some have no speech) gets an empty list and
    is counted as the quirk "no_subtitle_file"."""

    name = "videomme_sub"
    title = "Video-MME (with subtitles)"
    subtitle_dirs = ("subtitle", "subtitles", "data")

    def subtitle_text(self, video: str, quirks: Counter) -> str:
        cache = self.__dict__.setdefault("_subtitles", {})
        if video not in cache:
            path = next((p for d in self.subtitle_dirs if self.root and (p := self.root / d / f"{video}.srt").is_file()), None)
            if path is None:
                quirks["no_subtitle_file"] += 1
            cache[video] = read_srt_text(path) if path else ""
        return SUBTITLE_PROMPT.format(subtitles=cache[video])


def read_srt_text(path: Path) -> str:
    """The text of a .srt file, one subtitle a line, tags such as <font> removed."""
    try:
        import srt
    except ImportError:
        raise MissingDependencyError("reading Video-MME's subtitles needs: pip install srt") from None
    raw = path.read_bytes().decode("utf-8-sig", errors="replace")
    try:
        subtitles = list(srt.parse(raw, ignore_errors=True))
    except srt.SRTParseError as exc:
        raise PredictionFormatError(f"{path}: not a subtitle file ({exc})") from None
    lines = (" ".join(re.sub(r"<[^>]+>", "", s.content).split()) for s in subtitles)
    return "\n".join(line for line in lines if line)
