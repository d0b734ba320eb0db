"""The common path of every benchmark: find the annotation files, read them into ``EvalSample``s,
find the videos, count data quirks, filter tasks, and the default grading, aggregation and
oracle answer.

A benchmark module adds only what truly differs: where its files are, how one entry becomes a
sample (with the official prompt), its official reading of replies, its official aggregation,
the result files its own tools write (for ``vidllm score``) and, where the answer kind does not
say it, how a perfect answer is written (for the ``oracle:`` baseline).
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import logging
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from vidllm.errors import BenchmarkDataError, MissingVideosError, PredictionFormatError
from vidllm.eval import parsers
from vidllm.eval.grading import GradeContext, Graded
from vidllm.eval.metrics import accuracy_table, iou, recall_at
from vidllm.eval.runner import merge_sampling
from vidllm.eval.types import EvalSample, LoadReport, Parsed, Prediction

#: What a result-file reader returns: each sample with the reply the file holds for it.
ScoredPairs = list[tuple[EvalSample, Prediction]]

log = logging.getLogger(__name__)


class Benchmark:
    """Base class of the benchmarks. Subclasses set the class attributes and implement
    ``annotation_files``, ``read`` and ``official_parse`` (or a ``grade`` that needs none); they
    override ``grade`` and ``aggregate`` only where the official scorer differs from the default,
    ``read_results`` where the benchmark's own tools write a result file, and ``oracle_answer``
    where the answer kind alone does not say how a perfect reply is written."""

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    #: where the official scorer lives: "owner/repo@commit path"
    source: ClassVar[str] = ""
    tasks: ClassVar[tuple[str, ...]] = ()
    #: frame sampling as the benchmark's paper or official code sets it (SamplingSpec fields)
    sampling: ClassVar[dict[str, Any]] = {"nframes": 16}
    #: folders (relative to the benchmark root) searched for a sample's video
    video_dirs: ClassVar[tuple[str, ...]] = ("", "videos", "video", "data")
    #: the headline aggregate of accuracy benchmarks: "micro" or "macro"
    overall: ClassVar[str] = "micro"
    online: ClassVar[bool] = False  # questions carry stream times (`vidllm eval --online` replays videos as streams)

    def __init__(self, root: str | Path | None = None):
        """``root`` is the benchmark folder; None gives a scorer only (``vidllm score``)."""
        self.root = Path(root).expanduser().resolve() if root is not None else None
        if self.root is not None and not self.root.is_dir():
            raise BenchmarkDataError(f"{self.name}: benchmark folder {self.root} does not exist")
        self.items = 0  # annotation entries read, set by ``read``
        self.counts: dict[str, int] = {}  # other counts a benchmark reports (prompts, videos, ...)

    # ------------------------------------------------------------------ to implement

    def annotation_files(self) -> list[Path]:
        raise NotImplementedError

    def read(self, files: list[Path], quirks: Counter) -> Iterator[EvalSample]:
        """Yield the samples of ``files`` (``video_path`` left empty), counting entries in
        ``self.items`` and data quirks in ``quirks``."""
        raise NotImplementedError

    # ------------------------------------------------------------------ loading

    def load(
        self,
        *,
        tasks: Sequence[str] | None = None,
        limit: int | None = None,
        skip_missing: bool = False,
        require_videos: bool = True,
        sampling: Mapping[str, Any] | None = None,
    ) -> LoadReport:
        """Read the benchmark folder.

        ``tasks`` keeps only those tasks; ``limit`` keeps the first N samples of each task.
        Missing videos raise ``MissingVideosError`` listing them, unless ``skip_missing`` (drop
        those samples) or ``require_videos=False`` (keep them, for annotation-only use).
        ``sampling`` overrides the benchmark's frame sampling fields.
        """
        if self.root is None:
            raise BenchmarkDataError(f"{self.name}: no benchmark folder given (--data DIR)")
        files = self.annotation_files()
        if not files:
            raise BenchmarkDataError(
                f"{self.name}: no annotation files found under {self.root} - expected the layout {self.title} publishes"
                f" (see `vidllm.eval.benchmarks.{self.name}` docs)"
            )
        wanted = self._check_tasks(tasks)
        quirks: Counter = Counter()
        self.items = 0
        try:
            samples = list(self.read(files, quirks))
        except (KeyError, TypeError, AttributeError, ValueError, IndexError) as exc:
            # a file not in the published layout (a null, a missing field, a number that is not
            # one): one line naming the benchmark and what was wrong, never a traceback
            where = f" (after {self.items} items)" if self.items else ""
            raise BenchmarkDataError(f"{self.name}: an annotation file is not in {self.title}'s published format"
                                     f"{where}: {type(exc).__name__}: {exc}") from None
        ids = Counter(s.doc_id for s in samples)
        if dupes := [d for d, n in ids.items() if n > 1]:
            raise BenchmarkDataError(f"{self.name}: duplicate doc_ids {dupes[:5]}")
        if wanted:
            samples = [s for s in samples if s.task in wanted]
        if limit is not None:
            per_task: Counter = Counter()
            kept = []
            for s in samples:
                if per_task[s.task] < limit:
                    per_task[s.task] += 1
                    kept.append(s)
            samples = kept
        merged = merge_sampling(self.sampling, sampling or {})
        resolved, missing = [], []
        seen_missing: set[str] = set()
        for s in samples:
            path = self.find_video(s)
            if path is None and s.video:
                if s.video not in seen_missing:
                    seen_missing.add(s.video)
                    missing.append(s.video)
            resolved.append(dataclasses.replace(s, video_path=str(path) if path else "", sampling=merged))
        skipped = 0
        if missing and require_videos:
            if not skip_missing:
                raise MissingVideosError(missing, len(resolved))
            before = len(resolved)
            resolved = [s for s in resolved if s.video_path or not s.video]
            skipped = before - len(resolved)
            log.warning("%s: skipping %d samples whose %d videos are missing", self.name, skipped, len(missing))
        return LoadReport(
            benchmark=self.name, root=str(self.root), samples=resolved,
            files=[str(f.relative_to(self.root)) for f in files], items=self.items,
            quirks=dict(quirks), missing=missing, skipped_missing=skipped, counts=dict(self.counts),
        )

    def _check_tasks(self, tasks: Sequence[str] | None) -> set[str]:
        if not tasks:
            return set()
        unknown = [t for t in tasks if t not in self.tasks]
        if unknown:
            hints = {t: difflib.get_close_matches(t, self.tasks, n=1) for t in unknown}
            said = ", ".join(f"{t!r}" + (f" (did you mean {h[0]!r}?)" if h else "") for t, h in hints.items())
            raise BenchmarkDataError(f"{self.name}: unknown task {said}; known: {', '.join(self.tasks)}")
        return set(tasks)

    def video_candidates(self, sample: EvalSample) -> Iterable[Path]:
        for folder in self.video_dirs:
            yield self.root / folder / sample.video

    def find_video(self, sample: EvalSample) -> Path | None:
        if not sample.video:
            return None
        for candidate in self.video_candidates(sample):
            if candidate.exists():
                return candidate
        return None

    def data_hashes(self, files: Sequence[str]) -> dict[str, str]:
        """sha256 of each annotation file (relative path -> hex digest), for the manifest."""
        out = {}
        for rel in files:
            digest = hashlib.sha256()
            with open(self.root / rel, "rb") as f:
                while chunk := f.read(1 << 20):
                    digest.update(chunk)
            out[rel] = digest.hexdigest()
        return out

    # ------------------------------------------------------------------ scoring

    def official_parse(self, sample: EvalSample, text: str) -> Parsed:
        """The benchmark's official reading of a reply, as its own scoring code reads it."""
        raise NotImplementedError(f"{self.name}: the benchmark defines no official reading of replies")

    def robust_parse(self, sample: EvalSample, text: str) -> Parsed:
        return parsers.robust(sample, text)

    def grade(self, sample: EvalSample, prediction: Prediction, mode: str, ctx: GradeContext) -> Graded:
        """Default grading by answer kind: choice, yes-no and count by equality, a span by IoU.

        Robust multiple choice compares the chosen option's text with the answer where the loader
        kept it (``extra["answer_text"]``), so an answer listed twice is right under either letter;
        samples marked ``extra["invalid"]`` (no usable ground truth) are left out of robust scores.
        """
        official = mode == "official"
        parsed = self.official_parse(sample, prediction.text) if official else self.robust_parse(sample, prediction.text)
        counted = parsed.answered if official else not sample.extra.get("invalid", False)
        if sample.kind == "span":
            value = iou(parsed.value, sample.target)
            return Graded(sample.doc_id, sample.task, mode, parsed.value, {"iou": value}, counted, parsed.note)
        if parsed.correct is not None:
            correct = parsed.correct
        elif not official and sample.kind == "choice" and parsed.value and "answer_text" in sample.extra:
            correct = sample.options[ord(parsed.value) - ord("A")] == sample.extra["answer_text"]
        else:
            correct = parsed.value is not None and parsed.value == sample.target
        return Graded(sample.doc_id, sample.task, mode, parsed.value, {"acc": float(bool(correct))}, counted, parsed.note)

    def aggregate(self, samples: Sequence[EvalSample], graded: Mapping[str, Graded], mode: str) -> dict:
        """Accuracy per task; the headline is micro or macro as the benchmark defines it."""
        table = accuracy_table((g.task, g.metrics["acc"]) for g in graded.values() if g.counted)
        overall = {"micro": table["micro"], "macro": table["macro"], "n": table["n"]}
        overall["score"] = overall[self.overall]
        return {"overall": overall, "tasks": table["tasks"], "primary": "acc", "headline": f"accuracy ({self.overall})"}

    # ------------------------------------------------------------------ result files and oracle

    def read_results(self, path: Path, quirks: Counter, *, data: Path | None = None,
                     answers: Path | None = None) -> ScoredPairs:
        """The samples and replies of a result file written by the benchmark's own tools
        (``vidllm score``); ``data`` and ``answers`` carry ground truth the format lacks."""
        raise PredictionFormatError(
            f"no official result format known for {self.name}; score its vidllm samples.jsonl instead")

    def samples_of(self, data: Path | None, quirks: Counter | None = None) -> dict[str, EvalSample]:
        """The samples of the benchmark folder ``data`` by doc_id (their videos not needed), its
        load quirks added to ``quirks``: the questions a result file's replies are scored
        against. Empty without a folder."""
        if data is None:
            return {}
        loaded = type(self)(data).load(require_videos=False)
        if quirks is not None:
            quirks.update(loaded.quirks)
        return {s.doc_id: s for s in loaded.samples}

    def task_from_lmms(self, lmms_task: str) -> str:
        """vidllm's task of an lmms-eval task name (``<bench>_<task>``, or the benchmark's name
        when it has one task)."""
        prefix = f"{self.name}_"
        task = lmms_task[len(prefix):] if lmms_task.startswith(prefix) else lmms_task
        if task in self.tasks:
            return task
        if lmms_task == self.name and len(self.tasks) == 1:
            return self.tasks[0]
        raise PredictionFormatError(f"{self.name}: lmms-eval task {lmms_task!r} is none of {', '.join(self.tasks)}")

    def sample_from_lmms(self, lmms_task: str, index: int, doc: Mapping[str, Any], quirks: Counter) -> EvalSample:
        """The sample of one lmms-eval ``doc`` (the dataset's row): by default a multiple-choice
        question with ``question``, ``candidates`` or ``options`` and ``answer`` (a letter or the
        right option's text). Benchmarks whose rows say more override it with their own reader."""
        from vidllm.choices import normalise_options

        options = doc.get("candidates", doc.get("options"))
        if "question" not in doc or not isinstance(options, list):
            raise PredictionFormatError(
                f"{self.name}: cannot read lmms-eval doc {index} of {lmms_task} (no question and options); "
                "give the benchmark folder (--data DIR)")
        pairs = normalise_options([str(o) for o in options])
        answer = str(doc.get("answer", ""))
        letters = [p[0] for p in pairs]
        texts = [p[1] for p in pairs]
        target = answer if answer in letters else next((letters[i] for i in reversed(range(len(texts))) if texts[i] == answer), None)
        if target is None:
            quirks["answer_not_in_candidates"] += 1
        return EvalSample(
            doc_id=f"{lmms_task}/{index}", benchmark=self.name, task=self.task_from_lmms(lmms_task), video=str(doc.get("video", "")),
            video_path="", question=doc["question"], options=tuple(texts), target=target, kind="choice", prompt=doc["question"],
            extra={"invalid": target is None},
        )

    def oracle_answer(self, sample: EvalSample) -> tuple[str, tuple[str, ...]]:
        """(reply, follow-up replies) stating the ground truth in the form the prompt asks for:
        what the ``oracle:`` baseline answers. By default written from the answer kind."""
        return kind_answer(sample)


# ---------------------------------------------------------------------- helpers for subclasses


def seconds(t: float) -> str:
    """A time as the oracle writes it: one decimal."""
    return f"{float(t):.1f}"


def kind_answer(sample: EvalSample) -> tuple[str, tuple[str, ...]]:
    """The ground truth of ``sample`` written as its answer kind expects (follow-ups: "").

    >>> s = EvalSample(doc_id="d", benchmark="demo", task="t", video="v.mp4", video_path="", question="?",
    ...                target=(2.0, 4.5), kind="span", prompt="?")
    >>> kind_answer(s)
    ('The event happens in 2.0 - 4.5 seconds.', ())
    """
    kind, target = sample.kind, sample.target
    turns = tuple("" for _ in sample.followups)
    if kind == "span":
        return (f"The event happens in {seconds(target[0])} - {seconds(target[1])} seconds." if target else ""), turns
    if kind == "spans":
        return "The events happen in " + ", ".join(f"{seconds(s)} - {seconds(e)}" for s, e in target) + " seconds.", turns
    if kind == "point":
        spans = target[0] if target and isinstance(target[0][0], (list, tuple)) else target
        s, e = spans[0]
        return f"The highlight is at {seconds((s + e) / 2)} seconds.", turns
    if kind == "rating":
        return (f"video: {round(target)}, because it matches the human ratings." if target is not None else ""), turns
    if kind == "captions":
        return "\n".join(f"{seconds(s)} - {seconds(e)} seconds" for s, e in target), turns
    if kind == "choice_span":
        letter, span = target
        return f"({letter}) The answer happens in {seconds(span[0])} - {seconds(span[1])} seconds.", turns
    # choice, count, yesno, text: the target itself
    return ("" if target is None else str(target)), turns


def reply(text: Any, turns: Sequence[str] = ()) -> Prediction:
    """The ``Prediction`` of a reply read from a result file (None: no reply, "")."""
    return Prediction(text="" if text is None else str(text), turns=tuple(turns))


def span_scores(rows: Iterable[Graded], thresholds=(0.3, 0.5, 0.7), total: int | None = None) -> dict:
    """mIoU and R@thresholds over graded span rows (each with metrics["iou"])."""
    ious = [g.metrics["iou"] for g in rows]
    n = total if total is not None else len(ious)
    out = {"mIoU": (sum(ious) / n if n else 0.0), "n": n}
    out.update(recall_at(ious, thresholds, total=n))
    return out


def letter_options(options: Sequence[str]) -> str:
    """"(A) x\\n(B) y" - the option block MVBench and MLVU put in their prompts."""
    return "\n".join(f"({chr(ord('A') + i)}) {c}" for i, c in enumerate(options))


def official_gt(options: Sequence[str], answer: str) -> tuple[str, str | None]:
    """("(X) answer", letter) as MVBench/MLVU ``qa_template`` builds the ground truth: the LAST
    option equal to the answer wins, and an answer that is no option gives "(@) answer"."""
    index = -1
    for i, option in enumerate(options):
        if option == answer:
            index = i
    letter = chr(ord("A") + index)
    return f"({letter}) {answer}", (letter if index >= 0 else None)


def official_gt_counted(options: Sequence[str], answer: str, quirks: Counter) -> tuple[str, str | None]:
    """``official_gt``, counting the answer quirks MVBench and MLVU data hold."""
    gt, letter = official_gt(options, answer)
    if letter is None:
        quirks["answer_not_in_candidates"] += 1
    if list(options).count(answer) > 1:
        quirks["answer_listed_twice"] += 1
    return gt, letter


def read_json_lenient(path: Path, quirks: Counter) -> Any:
    """JSON, or JSON with trailing commas before } or ] (counted as the quirk "json_trailing_commas")."""
    text = path.read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        fixed, n = re.subn(r",(\s*[}\]])", r"\1", text)
        try:
            data = json.loads(fixed)
        except json.JSONDecodeError as exc:
            raise BenchmarkDataError(f"{path}: not JSON even without trailing commas: {exc}") from None
        quirks["json_trailing_commas"] += n
        log.warning("%s is not valid JSON (%d trailing commas); read it leniently", path, n)
        return data


__all__ = [
    "Benchmark", "ScoredPairs", "kind_answer", "letter_options", "official_gt", "official_gt_counted", "read_json_lenient",
    "reply", "seconds", "span_scores",
]
