"""MLVU (dev set): 7 multiple-choice tasks and 2 open-ended ones, from JUNJIE99/MLVU.

Layout read (as the dataset publishes it)::

    MLVU/json/1_plotQA.json ... 9_summary.json      (or the JSON files directly in the root)
    MLVU/video/1_plotQA/<video>.mp4 ...             (also video/<task>/ or video/)

Official scoring: ``evaluation/multiple_choice_evaluation/choice_bench.py`` (``check_ans``; the
headline "Avg" is the mean of the 7 task accuracies) and, for the open-ended tasks, a GPT-4 judge
(``evaluation/generation_evaluation/evaluate_ssc.py`` / ``evaluate_summary.py``, scores read by
``calculate.py``: mean accuracy + mean relevance, resp. completeness + reliability).

Data quirks counted: an answer that is none of the candidates (the official ground truth becomes
"(@) answer": nobody can score it), an answer listed twice (the official scorer takes the last
copy), duplicate candidates, questions with surrounding whitespace or line breaks.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from vidllm.eval import judge as judging
from vidllm.eval.benchmarks.base import Benchmark, letter_options, official_gt_counted
from vidllm.eval.grading import GradeContext, Graded
from vidllm.eval.metrics import accuracy_table, mean
from vidllm.eval.types import EvalSample, Prediction

FILES = {
    "1_plotQA": "plotQA", "2_needle": "needle", "3_ego": "ego", "4_count": "count", "5_order": "order",
    "6_anomaly_reco": "anomaly_reco", "7_topic_reasoning": "topic_reasoning",
    "8_sub_scene": "sub_scene", "9_summary": "summary",
}
CHOICE_TASKS = tuple(t for t in FILES.values() if t not in ("sub_scene", "summary"))
SYSTEM = (
    "Carefully watch this video and pay attention to every detail. Based on your observations, select the best option "
    "that accurately addresses the question."
)


class MLVU(Benchmark):
    name = "mlvu"
    title = "MLVU"
    source = "JUNJIE99/MLVU@fd060c1 evaluation/multiple_choice_evaluation/choice_bench.py"
    tasks = tuple(FILES.values())
    sampling = {"nframes": 16}
    overall = "macro"

    def annotation_files(self) -> list[Path]:
        found = []
        for folder in (self.root / "json", self.root):
            for stem in FILES:
                path = folder / f"{stem}.json"
                if path.exists() and not any(f.name == path.name for f in found):
                    found.append(path)
        return found

    def video_candidates(self, sample: EvalSample):
        stem = sample.extra["file"]
        for folder in (f"video/{stem}", f"video/{sample.task}", "video", stem, sample.task, ""):
            yield self.root / folder / sample.video

    def read(self, files: list[Path], quirks: Counter) -> Iterator[EvalSample]:
        for path in files:
            stem = path.stem
            task = FILES[stem]
            entries = json.loads(path.read_text(encoding="utf-8"))
            seen = set()
            for i, entry in enumerate(entries):
                self.items += 1
                question = entry["question"]
                if question != question.strip():
                    quirks["question_whitespace"] += 1
                if "\n" in question:
                    quirks["question_line_break"] += 1
                if (entry["video"], question) in seen:
                    quirks["duplicate_question"] += 1
                seen.add((entry["video"], question))
                extra = {"file": stem, "duration": entry.get("duration"), "question_type": entry.get("question_type")}
                if task in CHOICE_TASKS:
                    yield self._choice(task, i, entry, extra, quirks)
                else:
                    extra["scoring_points"] = entry.get("scoring_points")
                    yield EvalSample(
                        doc_id=f"{stem}/{i}", benchmark=self.name, task=task, video=entry["video"], video_path="",
                        question=question, target=entry["answer"], kind="text", prompt=question, extra=extra,
                    )

    def _choice(self, task: str, i: int, entry: dict, extra: dict, quirks: Counter) -> EvalSample:
        options = tuple(entry["candidates"])
        gt, letter = official_gt_counted(options, entry["answer"], quirks)
        if len(set(options)) != len(options):
            quirks["duplicate_candidates"] += 1
        prompt = f"Question: {entry['question']}\nOptions:\n{letter_options(options)}\nOnly give the best option."
        return EvalSample(
            doc_id=f"{extra['file']}/{i}", benchmark=self.name, task=task, video=entry["video"], video_path="",
            question=entry["question"], options=options, target=letter, kind="choice", prompt=prompt,
            system=SYSTEM, answer_prefix="Best Option: (",
            extra={**extra, "official_gt": gt, "answer_text": entry["answer"], "invalid": letter is None},
        )

    # ---------------------------------------------------------------- scoring

    def grade(self, sample: EvalSample, prediction: Prediction, mode: str, ctx: GradeContext) -> Graded:
        if sample.kind == "choice":
            return super().grade(sample, prediction, mode, ctx)
        if ctx.judge is None:
            return Graded(sample.doc_id, sample.task, mode, None, {}, False, "needs a judge model (--judge)")
        system, user = judging.mlvu_prompt(
            sample.task, sample.question, sample.target, sample.extra.get("scoring_points"), prediction.text
        )
        call = ctx.judge.call(user, system)
        keys = judging.MLVU_KEYS[sample.task]
        if mode == "official":
            try:
                scores = judging.mlvu_scores_official(call.reply, keys)
                note = ""
            except ValueError:
                scores, note = [], "the official score reader cannot read this reply (the script would stop)"
            values = {keys[0]: scores[0] if scores else 0.0, keys[1]: scores[1] if len(scores) > 1 else 0.0}
            return Graded(sample.doc_id, sample.task, mode, scores, values, True, note, (call.key,))
        scores = judging.mlvu_scores_robust(call.reply, keys)
        ok = all(s is not None for s in scores)
        values = {k: v for k, v in zip(keys, scores) if v is not None}
        return Graded(sample.doc_id, sample.task, mode, scores, values, ok, "" if ok else "judge gave no score", (call.key,))

    def aggregate(self, samples, graded, mode: str) -> dict:
        choice = [g for g in graded.values() if g.task in CHOICE_TASKS and g.counted]
        table = accuracy_table((g.task, g.metrics["acc"]) for g in choice)
        tasks = dict(table["tasks"])
        open_scores = []
        for task in ("sub_scene", "summary"):
            rows = [g for g in graded.values() if g.task == task and g.counted]
            if not rows:
                continue
            keys = judging.MLVU_KEYS[task]
            first, second = mean(g.metrics.get(keys[0], 0.0) for g in rows), mean(g.metrics.get(keys[1], 0.0) for g in rows)
            tasks[task] = {keys[0]: first, keys[1]: second, "total": first + second, "n": len(rows)}
            open_scores.append(first + second)
        overall = {"M-Avg": table["macro"], "micro": table["micro"], "n": table["n"], "score": table["macro"]}
        if open_scores:
            overall["G-Avg"] = mean(open_scores)
        return {"overall": overall, "tasks": tasks, "primary": "acc", "headline": "M-Avg: mean of the 7 task accuracies"}

