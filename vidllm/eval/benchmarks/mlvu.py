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

Result files read by ``vidllm score``: the JSON ``choice_bench.py`` writes ({"acc_dict",
"res_list": [{pred, gt, question, question_type, video}]}), and the test-server format
([{question_id, question_type, option}]) with an answer key (``answers``: a JSON list or map of
question_id -> letter), as the test set's ground truth is not public.

>>> s = EvalSample(doc_id="d", benchmark="mlvu", task="count", video="v.mp4", video_path="", question="?",
...                options=("one", "two"), target="B", kind="choice", prompt="?", extra={"official_gt": "(B) two"})
>>> mlvu_official(s, "B.").correct, mlvu_official(s, "B) two").correct   # no ")": the whole reply must be "B"
(False, True)
>>> mlvu_scores_official("{'score_accuracy': 4, 'score_relevance': 5, 'total_score': 9}", MLVU_KEYS["sub_scene"])
[4.0, 5.0]
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from vidllm.errors import PredictionFormatError
from vidllm.eval.benchmarks.base import (
    Benchmark,
    ScoredPairs,
    letter_options,
    official_gt,
    official_gt_counted,
    reply,
)
from vidllm.eval.grading import GradeContext, Graded
from vidllm.eval.judge import prompt_block
from vidllm.eval.metrics import accuracy_table, mean
from vidllm.eval.types import EvalSample, Parsed, Prediction

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

    def official_parse(self, sample: EvalSample, text: str) -> Parsed:
        return mlvu_official(sample, text)

    def grade(self, sample: EvalSample, prediction: Prediction, mode: str, ctx: GradeContext) -> Graded:
        if sample.kind == "choice":
            return super().grade(sample, prediction, mode, ctx)
        if ctx.judge is None:
            return Graded(sample.doc_id, sample.task, mode, None, {}, False, "needs a judge model (--judge)")
        system, user = mlvu_prompt(
            sample.task, sample.question, sample.target, sample.extra.get("scoring_points"), prediction.text
        )
        call = ctx.judge.call(user, system)
        keys = MLVU_KEYS[sample.task]
        if mode == "official":
            try:
                scores = mlvu_scores_official(call.reply, keys)
                note = ""
            except ValueError:
                scores, note = [], "the official score reader cannot read this reply (the script would stop)"
            values = {keys[0]: scores[0] if scores else 0.0, keys[1]: scores[1] if len(scores) > 1 else 0.0}
            return Graded(sample.doc_id, sample.task, mode, scores, values, True, note, (call.key,))
        scores = mlvu_scores_robust(call.reply, keys)
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
            keys = MLVU_KEYS[task]
            first, second = mean(g.metrics.get(keys[0], 0.0) for g in rows), mean(g.metrics.get(keys[1], 0.0) for g in rows)
            tasks[task] = {keys[0]: first, keys[1]: second, "total": first + second, "n": len(rows)}
            open_scores.append(first + second)
        overall = {"M-Avg": table["macro"], "micro": table["micro"], "n": table["n"], "score": table["macro"]}
        if open_scores:
            overall["G-Avg"] = mean(open_scores)
        return {"overall": overall, "tasks": tasks, "primary": "acc", "headline": "M-Avg: mean of the 7 task accuracies"}

    # ---------------------------------------------------------------- result files

    def read_results(self, path: Path, quirks: Counter, *, data=None, answers=None) -> ScoredPairs:
        content = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(content, dict) and "res_list" in content:
            return self._choice_bench_results(content["res_list"])
        if isinstance(content, list) and content and "question_id" in content[0] and "option" in content[0]:
            return self._test_server_results(path, content, answers, quirks)
        raise PredictionFormatError(f"{path}: neither MLVU's choice_bench output nor its test-server format")

    def _choice_bench_results(self, rows: list[dict]) -> ScoredPairs:
        tasks = set(FILES.values())
        pairs = []
        for i, row in enumerate(rows):
            options = tuple(m.group(2) for m in re.finditer(r"^\(([A-Z])\) (.*)$", row["question"], re.M))
            answer = row["gt"].split(") ", 1)[1] if ") " in row["gt"] else ""
            letter = official_gt(options, answer)[1] if options else row["gt"][1:2]
            task = row["question_type"] if row["question_type"] in tasks else "needle" if row["question_type"] == "findNeedle" else row["question_type"]
            sample = EvalSample(
                doc_id=f"{task}/{i}", benchmark=self.name, task=task, video=row.get("video", ""), video_path="",
                question=row["question"], options=options, target=row["gt"][1:2], kind="choice", prompt=row["question"],
                system=SYSTEM, extra={"official_gt": row["gt"], "answer_text": answer, "invalid": letter is None and bool(options)},
            )
            pairs.append((sample, reply(row["pred"])))
        return pairs

    def _test_server_results(self, path: Path, rows: list[dict], answers, quirks: Counter) -> ScoredPairs:
        if answers is None:
            raise PredictionFormatError(
                f"{path} is in MLVU's test-server format; its ground truth is not public - pass the answer key with --answers FILE"
            )
        key = json.loads(Path(answers).read_text(encoding="utf-8"))
        if isinstance(key, list):
            key = {k["question_id"]: k.get("answer", k.get("option")) for k in key}
        pairs = []
        for row in rows:
            if row["question_id"] not in key:
                quirks["no_answer_for_question"] += 1
                continue
            sample = EvalSample(
                doc_id=row["question_id"], benchmark=self.name, task=row["question_type"], video="", video_path="", question="",
                options=("", "", "", "", "", ""), target=key[row["question_id"]], kind="choice", prompt="",
                extra={"official_gt": f"({key[row['question_id']]}) "},
            )
            pairs.append((sample, reply(row["option"])))
        return pairs


# -------------------------------------------------------------------------- official reading


def mlvu_official(sample: EvalSample, text: str) -> Parsed:
    """MLVU (JUNJIE99/MLVU evaluation/multiple_choice_evaluation/choice_bench.py ``check_ans``):
    the character before the first ")" (the whole reply when there is none) must equal the letter.

    Quirks: "A." and "The answer is A" fail (no ")"); "B (not A)" reads "A"; ")" alone reads "".
    """
    pred = text or ""
    if ")" in pred:
        i = pred.index(")")
        pred = pred[i - 1 : i]
    gt = sample.extra.get("official_gt") or f"({sample.target}) "
    gt_option = gt[gt.index("(") + 1 : gt.index(")")]
    return Parsed(pred, correct=pred == gt_option)


# -------------------------------------------------------------------------- judge
# JUNJIE99/MLVU evaluation/generation_evaluation/evaluate_ssc.py and evaluate_summary.py
# (gpt-4-turbo, temperature 0); scores read by calculate.py / calculate_sum.py.

MLVU_KEYS = {"sub_scene": ("score_accuracy", "score_relevance"), "summary": ("score_completeness", "score_reliability")}

MLVU_SSC_SYSTEM = prompt_block("""
    ##TASK DESCRIPTION:
    You are required to evaluate a respondent's answer based on a provided question, some scoring points, and the respondent's answer. You should provide two scores. The first is the accuracy score, which should range from 1 to 5. The second is the relevance score, which should also range from 1 to 5. Below are the criteria for each scoring category.
    ##ACCURACY Scoring Criteria:
    Evaluate the respondent's answer against specific scoring points as follows:
    Score 1: The response completely misses the scoring point.
    Score 3: The response mentions content related to the scoring point but is not entirely correct.
    Score 5: The response accurately addresses the scoring point.
    Calculate the average score across all scoring points to determine the final accuracy score.
    ##RELEVANCE Scoring Criteria:
    Assess how the respondent's answer relates to the original question:
    Score 1: The response is completely off-topic from the question.
    Score 2: The response is partially related to the question but contains a significant amount of irrelevant content.
    Score 3: The response primarily addresses the question, but the respondent seems uncertain about their own answer.
    Score 4: The response mostly addresses the question and the respondent appears confident in their answer.
    Score 5: The response is fully focused on addressing the question with no irrelevant content and demonstrates complete certainty.
    ----
    ##INSTRUCTION:
    1. Evaluate Accuracy: First, assess and score each scoring point based on the respondent's answer. Calculate the average of these scores to establish the final accuracy score. Provide a detailed rationale before assigning your score.
    2. Evaluate RELEVANCE: Assess the relevance of the respondent's answer to the question. Note that when evaluating relevance, the correctness of the answer is not considered; focus solely on how relevant the answer is to the question. Provide a comprehensive rationale before assigning your score.
    3. Output Scores in JSON Format: Present the scores in JSON format as follows:
    {'score_accuracy': score_acc, 'score_relevance': score_rele, 'total_score': score_acc + score_rele}
""")

MLVU_SUMMARY_SYSTEM = prompt_block("""
    ##TASK DESCRIPTION:
    You are required to evaluate the performance of the respondent in the video summarization task based on the standard answer and the respondent's answer. You should provide two scores. The first is the COMPLETENESS score, which should range from 1 to 5. The second is the RELIABILITY score, which should also range from 1 to 5. Below are the criteria for each scoring category:
    ##COMPLETENESS Scoring Criteria:
    The completeness score focuses on whether the summary covers all key points and main information from the video.
    Score 1: The summary hardly covers any of the main content or key points of the video.
    Score 2: The summary covers some of the main content and key points but misses many.
    Score 3: The summary covers most of the main content and key points.
    Score 4: The summary is very comprehensive, covering most to nearly all of the main content and key points.
    Score 5: The summary completely covers all the main content and key points of the video.
    ##RELIABILITY Scoring Criteria:
    The reliability score evaluates the correctness and clarity of the video summary. It checks for factual errors, misleading statements, and contradictions with the video content. If the respondent's answer includes details that are not present in the standard answer, as long as these details do not conflict with the correct answer and are reasonable, points should not be deducted.
    Score 1: Contains multiple factual errors and contradictions; presentation is confusing.
    Score 2: Includes several errors and some contradictions; needs clearer presentation.
    Score 3: Generally accurate with minor errors; minimal contradictions; reasonably clear presentation.
    Score 4: Very accurate with negligible inaccuracies; no contradictions; clear and fluent presentation.
    Score 5: Completely accurate with no errors or contradictions; presentation is clear and easy to understand.
    ----
    ##INSTRUCTION:
    1. Evaluate COMPLETENESS: First, analyze the respondent's answer according to the scoring criteria, then provide an integer score between 1 and 5 based on sufficient evidence.
    2. Evaluate RELIABILITY: First, analyze the respondent's answer according to the scoring criteria, then provide an integer score between 1 and 5 based on sufficient evidence.
    3. Output Scores in JSON Format: Present the scores in JSON format as follows:
    {'score_completeness': score_comp, 'score_reliability': score_reli, 'total_score': score_comp + score_reli}
""")


def mlvu_prompt(task: str, question: str, reference: str, scoring_points, response: str) -> tuple[str, str]:
    """(system, user) for an MLVU open-ended item (``sub_scene`` or ``summary``)."""
    if task == "sub_scene":
        user = (
            "Please score the respondent's answer according to the steps in the Instructions. You must end with a JSON dict to store the scores.\n"
            f"Question: {question.replace(chr(10), '')}\nScoring Points: {scoring_points}\nRespondent's Answer: {response}"
        )
        return MLVU_SSC_SYSTEM, user
    user = (
        "Please score the respondent's answer according to the steps in the Instructions. You must end with a JSON dict to store the scores.\n"
        f"Standard Answer: {reference}\nRespondent's Answer: {response}"
    )
    return MLVU_SUMMARY_SYSTEM, user


def mlvu_scores_official(text: str, keys) -> list[float]:
    """calculate.py's ``extract_scores``: after the first occurrence of each key, skip ":" and one
    character, read up to the next ",". Raises ValueError where the official script crashes
    (no space after the colon, or the score is the last field)."""
    scores = []
    for key in keys:
        start = text.find(key)
        if start == -1:
            continue
        number_start = text.find(":", start) + 2
        number_end = text.find(",", number_start)
        scores.append(float(text[number_start:number_end]))
    return scores


def mlvu_scores_robust(text: str, keys) -> list[float | None]:
    """The last value given for each key (the final JSON dict), wherever the spaces are."""
    out = []
    for key in keys:
        found = re.findall(rf"['\"]?{key}['\"]?\s*[:=]\s*['\"]?(\d+(?:\.\d+)?)", text)
        out.append(float(found[-1]) if found else None)
    return out
