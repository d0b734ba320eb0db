"""VAU-Bench (VAU-R1): video anomaly understanding - multiple choice, temporal localisation of the
anomaly, and free-text reasoning judged by an LLM (GVCLab/VAU-R1).

Layout read::

    VAU-Bench/annotations/test_msad.csv, test_ucf_crime.csv, test_ecva.csv, val.csv
                                           (or the CSVs in the root)
    VAU-Bench/<msad|ucf_crime|ecva>/<Video Name>  (also videos/<split>/ or videos/)

Each CSV row gives four samples: ``<split>/qa/<video>``, ``<split>/tag/<video>``,
``<split>/cls/<video>`` and ``<split>/reasoning/<video>`` (task names ``qa``, ``tag``, ``cls``,
``reasoning``).

Official scoring (src/evaluation/): QA - ``clean_model_answer`` then a case-insensitive match
with the raw "Correct Option" cell over all rows (``evaluate_qa.py`` itself stops on undefined
names; its intent is reproduced); TAG - ``evaluation_tag.py``: ``parse_html``, IoU 0 when the
predicted start equals the end, normal videos (0/0) skipped, rows with -1/-1 kept (IoU 0), mIoU
and R@0.3/0.5/0.7. That script reads columns "start time"/"end time", which its own CSVs call
"Start Time"/"End Time" (it stops with a KeyError); vidllm maps them. Reasoning - a DeepSeek judge
(``evaluate_reasoning_deepseek.py``) scoring five aspects out of 10. Classification -
``evaluation_cls.py``: the first of the 20 classes named (inside <answer> when present); class
accuracy and anomaly-or-not ("binary") accuracy over every ground-truth row.

Data quirks counted: rows whose cells are all "-1" (no question: QA counts them as wrong), a
correct option given as full text ("D. Green trash bin ...") instead of a letter, anomalous rows
with 0/0 times (the official scorer treats them as normal), -1/-1 times, normal rows with times.

Result files read by ``vidllm score``: a CSV of VAU-R1's inference scripts ("Video Name" and
"QA answer", "Temporal Grounding", "CLS answer", or "Description" + "Analysis"), with ``data`` = the
ground-truth CSV.

The official readings and the judge are in ``vau_official``.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from vidllm.errors import PredictionFormatError
from vidllm.eval.benchmarks.base import (
    Benchmark,
    ScoredPairs,
    kind_answer,
    reply,
    seconds,
    span_scores,
)
from vidllm.eval.benchmarks.vau_official import (
    VAU_CLASSES,
    VAU_CLS_PROMPT,
    VAU_CLS_QUESTION,
    VAU_KEYS,
    vau_classes_in,
    vau_cls_correct,
    vau_cls_official,
    vau_parse_glue,
    vau_prompt,
    vau_qa_official,
    vau_scores_official,
    vau_scores_robust,
)
from vidllm.eval.grading import GradeContext, Graded
from vidllm.eval.metrics import accuracy_table, iou, mean
from vidllm.eval.parsers import clean_reply
from vidllm.eval.types import EvalSample, Parsed, Prediction

SPLITS = {"test_msad": "msad", "test_ucf_crime": "ucf_crime", "test_ecva": "ecva", "val": "val", "train": "train"}
OFFICIAL_TAG_COLUMNS = ("start time", "end time")  # what evaluation_tag.py reads
CSV_TAG_COLUMNS = ("Start Time", "End Time")       # what the published CSVs hold

QA_PROMPT = (
    "You are a helpful AI assistant performing video anomaly detection reasoning.\n"
    "Below is a video description and a reasoning process. Based on this, answer the following multiple-choice question correctly.\n\n"
    "### Question:\n{question}\n\n### Options:\n\"A. \"{o1}\n\"B. \"{o2}\n\"C. \"{o3}\n\"D. \"{o4}\n\n"
    "Please only output one option letter (A, B, C, or D). Please do not output other words."
)
TAG_QUESTION = (
    "Is there any anomaly in the video? If yes, output time period as <glue>[start_time, end_time]</glue>, replace start_time "
    "and end_time with the actual time period in seconds. If no anomaly, output <glue>[-1.0, -1.0]</glue>."
)
TAG_PROMPT = (
    f'Answer the question: "{TAG_QUESTION}" according to the content of the video.\n'
    "Provide your answer within the <glue> </glue> tags, present the precise time period in seconds of the video clips on which "
    "you base your answer to this question in the format of [s1, e1].\nFor example: <glue>[5.2, 10.4]</glue>."
)
DESCRIPTION_PROMPT = (
    "You are an advanced anomaly detector assigned to analyze a video. Please identify any unusual or suspicious events that "
    "occur in the scene. Do not focus on any text or watermarks that might appear. Provide a description in five sentences."
)
ANALYSIS_PROMPT = "Explain in detail whether (and how) any anomaly occurs in the video, and the reasoning behind it."


class VAUBench(Benchmark):
    name = "vau"
    title = "VAU-Bench"
    source = "GVCLab/VAU-R1@845c33b src/evaluation/"
    tasks = ("qa", "tag", "reasoning", "cls")
    sampling = {"fps": 1.0, "max_pixels": 768 * 28 * 28}

    def annotation_files(self) -> list[Path]:
        folder = self.root / "annotations" if (self.root / "annotations").is_dir() else self.root
        return sorted(p for p in folder.glob("*.csv") if p.stem in SPLITS and p.stem != "train")

    def video_candidates(self, sample: EvalSample):
        split = sample.extra["split"]
        folders = [split, f"videos/{split}", "videos", ""] if split != "val" else ["val", "videos/val", "videos", "", "msad", "ucf_crime", "ecva"]
        for folder in folders:
            yield self.root / folder / sample.video

    def read(self, files: list[Path], quirks: Counter) -> Iterator[EvalSample]:
        for path in files:
            split = SPLITS[path.stem]
            for row in _csv_rows(path):
                self.items += 1
                yield from self.samples_of_row(split, row, quirks)

    def samples_of_row(self, split: str, row: dict, quirks: Counter) -> Iterator[EvalSample]:
        """The qa, tag and reasoning samples of one CSV row (also used by ``vidllm score``)."""
        name = row["Video Name"].strip()
        if not name.endswith(".mp4"):
            quirks["video_name_without_extension"] += 1
            name += ".mp4"
        base = {"benchmark": self.name, "video": name, "video_path": ""}
        cls = row["Anomaly Class"]
        extra = {"split": split, "anomaly_class": cls}
        no_question = row["Question"].strip() == "-1"
        raw = row["Correct Option"].strip()
        options = tuple(row[f"Option {i}"] for i in range(1, 5))
        letter = raw if raw in ("A", "B", "C", "D") else None
        if no_question:
            quirks["row_without_question"] += 1
        elif letter is None:
            m = re.match(r"^([A-D])\.\s*(.*)$", raw, re.S)
            if m and options["ABCD".index(m.group(1))].strip() == m.group(2).strip():
                quirks["correct_option_as_full_text"] += 1
                letter = m.group(1)
            else:
                quirks["correct_option_unreadable"] += 1
        yield EvalSample(
            **base, doc_id=f"{split}/qa/{name}", task="qa", question=row["Question"], options=options, target=letter,
            kind="choice", prompt=QA_PROMPT.format(question=row["Question"], o1=options[0], o2=options[1], o3=options[2], o4=options[3]),
            extra={**extra, "correct_option_raw": raw, "invalid": letter is None},
        )
        start, end = float(row["Start Time"]), float(row["End Time"])
        normal = start == 0.0 and end == 0.0
        unknown = start < 0 or end < 0
        if normal and cls not in ("Normal",):
            quirks["anomaly_with_0_0_times"] += 1
        if cls == "Normal" and not normal:
            quirks["normal_with_times"] += 1
        if unknown:
            quirks["times_-1"] += 1
        yield EvalSample(
            **base, doc_id=f"{split}/tag/{name}", task="tag", question=TAG_QUESTION,
            target=None if (normal or unknown or end <= start) else (start, end), kind="span", prompt=TAG_PROMPT,
            extra={**extra, "official_gt": (start, end), "normal": normal, "invalid": normal or unknown or end <= start},
        )
        known_class = cls in VAU_CLASSES
        if not known_class:
            quirks["anomaly_class_unknown"] += 1
        yield EvalSample(
            **base, doc_id=f"{split}/cls/{name}", task="cls", question=VAU_CLS_QUESTION, target=cls, kind="text",
            prompt=VAU_CLS_PROMPT, extra={**extra, "invalid": not known_class},
        )
        if not no_question:
            yield EvalSample(
                **base, doc_id=f"{split}/reasoning/{name}", task="reasoning", question=DESCRIPTION_PROMPT,
                target=row["Description"], kind="text", prompt=DESCRIPTION_PROMPT, followups=(ANALYSIS_PROMPT,),
                extra={**extra, "reasoning": row["Reasoning"]},
            )

    # ---------------------------------------------------------------- scoring

    def grade(self, sample: EvalSample, prediction: Prediction, mode: str, ctx: GradeContext) -> Graded:
        if sample.task == "tag":
            return self._grade_tag(sample, prediction, mode)
        if sample.task == "reasoning":
            return self._grade_reasoning(sample, prediction, mode, ctx)
        if sample.task == "cls":
            return self._grade_cls(sample, prediction, mode)
        return super().grade(sample, prediction, mode, ctx)

    def _grade_cls(self, sample: EvalSample, prediction: Prediction, mode: str) -> Graded:
        """Official: the first class named (every row counts); robust: the one class the answer
        names (several, or none: no answer), rows whose class is no class ("-1") left out."""
        if mode == "official":
            value, counted = vau_cls_official(prediction.text), True
        else:
            named = vau_classes_in(clean_reply(prediction.text))
            value, counted = (named[0] if len(named) == 1 else None), not sample.extra["invalid"]
        right, binary = vau_cls_correct(value, sample.target)
        return Graded(sample.doc_id, sample.task, mode, value, {"acc": float(right), "binary_acc": float(binary)}, counted)

    def _grade_tag(self, sample: EvalSample, prediction: Prediction, mode: str) -> Graded:
        if mode == "official":
            gt = tuple(sample.extra["official_gt"])
            try:
                start, end = vau_parse_glue(prediction.text or "")
                note = ""
            except ValueError:
                start, end, note = 0.0, 0.0, "unreadable time (the official script would stop)"
            value = 0.0 if start == end else iou(gt, (start, end))
            return Graded(sample.doc_id, sample.task, mode, [start, end], {"iou": value}, not sample.extra["normal"], note)
        parsed = self.robust_parse(sample, prediction.text)
        return Graded(sample.doc_id, sample.task, mode, parsed.value, {"iou": iou(parsed.value, sample.target)},
                      not sample.extra["invalid"], parsed.note)

    def _grade_reasoning(self, sample: EvalSample, prediction: Prediction, mode: str, ctx: GradeContext) -> Graded:
        if ctx.judge is None:
            return Graded(sample.doc_id, sample.task, mode, None, {}, False, "needs a judge model (--judge)")
        analysis = prediction.turns[0] if prediction.turns else ""
        if not (prediction.text and analysis and sample.target and sample.extra.get("reasoning")):
            return Graded(sample.doc_id, sample.task, mode, None, {}, False, "incomplete input (the official script skips it)")
        system, user = vau_prompt(sample.target, sample.extra["reasoning"], prediction.text, analysis)
        call = ctx.judge.call(user, system)
        scores = vau_scores_official(call.reply) if mode == "official" else vau_scores_robust(call.reply)
        if scores is None:
            return Graded(sample.doc_id, sample.task, mode, None, {}, False, "judge reply not readable", (call.key,))
        return Graded(sample.doc_id, sample.task, mode, scores, {k: float(v) for k, v in scores.items()}, True, "", (call.key,))

    def official_parse(self, sample: EvalSample, text: str) -> Parsed:
        return vau_qa_official(sample, text)

    def aggregate(self, samples, graded, mode: str) -> dict:
        by_split: dict[str, dict] = {}
        split_of = {s.doc_id: s.extra["split"] for s in samples}
        tasks: dict[str, dict] = {}
        qa = [g for g in graded.values() if g.task == "qa" and g.counted]
        if qa:
            table = accuracy_table((split_of[g.doc_id], g.metrics["acc"]) for g in qa)
            tasks["qa"] = {"acc": table["micro"], "n": table["n"]}
            for split, v in table["tasks"].items():
                by_split.setdefault(split, {})["qa_acc"] = v["acc"]
        tag = [g for g in graded.values() if g.task == "tag" and g.counted]
        if tag:
            tasks["tag"] = span_scores(tag)
            for split in sorted({split_of[g.doc_id] for g in tag}):
                by_split.setdefault(split, {})["tag_mIoU"] = span_scores([g for g in tag if split_of[g.doc_id] == split])["mIoU"]
        cls = [g for g in graded.values() if g.task == "cls" and g.counted]
        if cls:
            tasks["cls"] = {"acc": mean(g.metrics["acc"] for g in cls), "binary_acc": mean(g.metrics["binary_acc"] for g in cls),
                            "n": len(cls)}
        reasoning = [g for g in graded.values() if g.task == "reasoning" and g.counted]
        if reasoning:
            tasks["reasoning"] = {k: mean(g.metrics.get(k, 0.0) for g in reasoning) for k in VAU_KEYS}
            tasks["reasoning"]["n"] = len(reasoning)
        overall = {"qa_acc": tasks.get("qa", {}).get("acc"), "tag_mIoU": tasks.get("tag", {}).get("mIoU"),
                   "reasoning_total": tasks.get("reasoning", {}).get("total_score"), "cls_acc": tasks.get("cls", {}).get("acc"),
                   "cls_binary_acc": tasks.get("cls", {}).get("binary_acc")}
        overall = {k: v for k, v in overall.items() if v is not None}
        overall["score"] = overall.get("qa_acc", overall.get("tag_mIoU", overall.get("cls_acc", 0.0)))
        return {"overall": overall, "tasks": tasks, "splits": by_split, "primary": "acc",
                "headline": "QA accuracy; TAG mIoU and R@IoU; reasoning judged out of 50; classification accuracy"}

    def oracle_answer(self, sample: EvalSample) -> tuple[str, tuple[str, ...]]:
        if sample.task == "tag":  # the <glue> form the prompt asks for; -1/-1 for "no anomaly"
            start, end = sample.target or (-1.0, -1.0)
            return f"<glue>[{seconds(start)}, {seconds(end)}]</glue>", ()
        if sample.task == "cls":
            return f"<answer> {sample.target} </answer>", ()
        if sample.task == "reasoning":  # the description, then the reference analysis
            return str(sample.target or ""), tuple(str(sample.extra.get("reasoning", "")) for _ in sample.followups)
        return kind_answer(sample)

    # ---------------------------------------------------------------- result files

    def read_results(self, path: Path, quirks: Counter, *, data=None, answers=None) -> ScoredPairs:
        if data is None or not Path(data).is_file():
            raise PredictionFormatError("VAU predictions are scored against the ground-truth CSV: pass it with --data FILE.csv")
        rows = _csv_rows(path)
        columns = set(rows[0]) if rows else set()
        task = ("qa" if "QA answer" in columns else "tag" if "Temporal Grounding" in columns else "cls" if "CLS answer" in columns
                else "reasoning" if "Description" in columns else None)
        if task is None:
            raise PredictionFormatError(
                f"{path}: expected a 'QA answer', 'Temporal Grounding', 'CLS answer' or 'Description' column, got {sorted(columns)}")
        preds: dict[str, dict] = {}
        for row in rows:
            name = row["Video Name"].strip()
            name = name if name.endswith(".mp4") else name + ".mp4"
            if name in preds:
                quirks["duplicate_prediction_rows"] += 1  # the official scorers keep the first
                continue
            preds[name] = row
        split = SPLITS.get(Path(data).stem, Path(data).stem)
        samples = [s for row in _csv_rows(Path(data)) for s in self.samples_of_row(split, row, quirks) if s.task == task]
        pairs = []
        for s in samples:
            row = preds.get(s.video)
            if row is None:
                if task in ("qa", "cls"):  # evaluate_qa.py and evaluation_cls.py divide by every ground-truth row
                    quirks[f"{task}_rows_without_prediction"] += 1
                    pairs.append((s, reply("")))
                continue
            if task == "qa":
                pairs.append((s, reply(row["QA answer"])))
            elif task == "tag":
                pairs.append((s, reply(row["Temporal Grounding"])))
            elif task == "cls":
                pairs.append((s, reply(row["CLS answer"])))
            else:
                pairs.append((s, reply(row.get("Description"), turns=(row.get("Analysis") or "",))))
        return pairs


def _csv_rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))
