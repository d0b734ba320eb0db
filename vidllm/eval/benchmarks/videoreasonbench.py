"""VideoReasonBench: vision-centric reasoning over 6 kinds of synthetic puzzle videos, 3 levels
(recall, infer, predict) of 6 question dimensions (llyx97/video_reason_bench).

Layout read::

    video_reason_bench/questions/{card,chip,cup,file_sys,grid,hrd}.json  (or the files in the root)
    video_reason_bench/videos/<kind>/<name>.mp4                           (the "video" field)

Result file read by ``vidllm score``: eval_api.py's ``predictions/<prefix>.json`` (each
question with its ``prediction`` and the judge's ``rating``; the official score is the ratings').

Official scoring (``eval_api.py``, ``utils/eval_utils.py``, ``utils/show_results.py``): the text
after "Final Answer" is judged "Correct"/"Incorrect" by gpt-4o against the reference; for
``prediction_operation`` items (no reference) an LLM lists the proposed moves and they are
simulated (``videoreasonbench_sim``). Summary: overall and per-dimension accuracy, order/counting
state merged into "infer_state". Without a judge, the official reading of judged items cannot be
computed; the robust score then compares normalised answers item by item, and the move lists are
read by a deterministic extractor.

>>> vrb_final_answer_official("So... Final Answer: up, left"), vrb_final_answer_official("final answer: up")
(': up, left', None)
"""

from __future__ import annotations

import ast
import dataclasses
import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from vidllm.errors import PredictionFormatError
from vidllm.eval.benchmarks import videoreasonbench_sim as simulate
from vidllm.eval.benchmarks.base import Benchmark, ScoredPairs, read_json_lenient, reply
from vidllm.eval.grading import GradeContext, Graded
from vidllm.eval.metrics import accuracy_table
from vidllm.eval.parsers import clean_reply
from vidllm.eval.types import EvalSample, Prediction

DIMS = ("order_operation", "counting_operation", "order_state", "counting_state", "comparison_state",
        "prediction_state", "prediction_operation")
LEVEL = {"order_operation": "recall", "counting_operation": "recall", "order_state": "infer", "counting_state": "infer",
         "comparison_state": "infer", "prediction_state": "predict", "prediction_operation": "predict"}
STATE_SIZE = {1: 1, 2: 2, 3: 1, 4: 2}  # show_results.py: state_size_map


class VideoReasonBench(Benchmark):
    name = "videoreasonbench"
    title = "VideoReasonBench"
    source = "llyx97/video_reason_bench@2524387 eval_api.py, utils/eval_utils.py"
    tasks = DIMS
    sampling = {"fps": 1.0, "max_frames": 128, "max_pixels": 448 * 448}

    def annotation_files(self) -> list[Path]:
        folder = self.root / "questions" if (self.root / "questions").is_dir() else self.root
        return [folder / f"{k}.json" for k in simulate.KINDS if (folder / f"{k}.json").exists()]

    def video_candidates(self, sample: EvalSample):
        for base in (self.root, self.root.parent):
            yield base / sample.video

    def read(self, files: list[Path], quirks: Counter) -> Iterator[EvalSample]:
        for path in files:
            kind = path.stem
            for key, item in json.loads(path.read_text(encoding="utf-8")).items():
                self.items += 1
                yield self.item_sample(f"{kind}_{key}", kind, item, quirks)

    def item_sample(self, doc_id: str, kind: str, item: dict, quirks: Counter) -> EvalSample:
        """The sample of one question entry (``doc_id`` is eval_api.py's key, ``<kind>_<key>``)."""
        dim = item["dim"]
        if (item["answer"] is None) != (dim == "prediction_operation"):
            quirks["answer_presence_unexpected"] += 1
        state = {k: item[k] for k in ("states", "moves", "coords", "commands", "actions") if k in item}
        return EvalSample(
            doc_id=doc_id, benchmark=self.name, task=dim, video=item["video"], video_path="",
            question=item["question"], target=item["answer"],
            kind="operation" if dim == "prediction_operation" else "text", prompt=item["question"],
            extra={"kind": kind, "level": LEVEL[dim], "num_state": item["num_state"],
                   "num_operation": item["num_operation"], "visible_time": item["visible_time"], **state},
        )

    def read_results(self, path: Path, quirks: Counter, *, data=None, answers=None) -> ScoredPairs:
        """eval_api.py's result file: ``{"<kind>_<key>": {question fields..., "demo", "prediction",
        "rating"}}``, where ``rating`` is the official judge's verdict (or the simulation's, for
        ``prediction_operation``); the script drops the states and moves, so those items are
        simulated robustly only with ``data`` (the questions folder)."""
        content = read_json_lenient(path, quirks)
        if not isinstance(content, dict) or not all(isinstance(v, dict) and "prediction" in v for v in content.values()):
            raise PredictionFormatError(f"{path}: expected eval_api.py's {{id: {{..., \"prediction\", \"rating\"}}}}")
        known = self.samples_of(data, quirks)
        pairs = []
        for doc_id, item in content.items():
            sample = known.get(doc_id) or self.item_sample(doc_id, item.get("demo") or doc_id.split("_")[0], item, quirks)
            if isinstance(item.get("rating"), bool):
                sample = dataclasses.replace(sample, extra={**sample.extra, "official_rating": item["rating"]})
            else:
                quirks["no_rating"] += 1
            pairs.append((sample, reply(item.get("prediction"))))
        return pairs

    def grade(self, sample: EvalSample, prediction: Prediction, mode: str, ctx: GradeContext) -> Graded:
        official = mode == "official"
        if official and "official_rating" in sample.extra:  # a result file's own judge verdict
            value = vrb_final_answer_official(prediction.text)
            return Graded(sample.doc_id, sample.task, mode, value, {"acc": float(sample.extra["official_rating"])}, True,
                          "the result file's rating")
        final = vrb_final_answer_official(prediction.text) if official else (clean_reply(prediction.text) or None)
        if final is None:
            return Graded(sample.doc_id, sample.task, mode, None, {"acc": 0.0}, True, "no final answer")
        if sample.kind == "operation":
            return self._grade_operation(sample, final, mode, ctx)
        if ctx.judge is None:
            if official:
                return Graded(sample.doc_id, sample.task, mode, final, {}, False, "needs a judge model (--judge)")
            correct = same_answer(final, sample.target)
            return Graded(sample.doc_id, sample.task, mode, final, {"acc": float(correct)}, True, "deterministic match")
        call = ctx.judge.call(vrb_judge_prompt(sample.question, final, sample.target))
        verdict = vrb_verdict_official(call.reply) if official else vrb_verdict_robust(call.reply)
        return Graded(sample.doc_id, sample.task, mode, final, {"acc": float(verdict)}, True, "", (call.key,))

    def _grade_operation(self, sample: EvalSample, final: str, mode: str, ctx: GradeContext) -> Graded:
        kind = sample.extra["kind"]
        if "states" not in sample.extra:  # a result file without the questions' states
            return Graded(sample.doc_id, sample.task, mode, None, {}, False, "needs the questions to simulate (--data)")
        calls: tuple[str, ...] = ()
        if ctx.judge is not None:
            call = ctx.judge.call(vrb_extract_prompt(kind, final))
            moves, calls, how = vrb_moves_from_judge(kind, call.reply), (call.key,), "moves listed by the judge"
        else:
            moves, how = simulate.extract_moves(kind, final), "moves read by vidllm's extractor (official: an LLM)"
        item = {**sample.extra, "question": sample.question}
        try:
            ok = simulate.check(kind, item, moves, strict=mode == "official")
        except ValueError as exc:
            return Graded(sample.doc_id, sample.task, mode, None, {"acc": 0.0}, True, f"cannot simulate: {exc}", calls)
        value = moves if moves is not False else None
        return Graded(sample.doc_id, sample.task, mode, value, {"acc": float(ok)}, True, how, calls)

    def oracle_answer(self, sample: EvalSample) -> tuple[str, tuple[str, ...]]:
        """"Final Answer: " and the reference, or for ``prediction_operation`` items (no
        reference) a move list found by search that the simulation accepts."""
        if sample.kind == "operation":
            solution = simulate.solve(sample.extra["kind"], {**sample.extra, "question": sample.question})
            return (f"Final Answer: {solution}" if solution else ""), ()
        return f"Final Answer: {sample.target}", ()

    def aggregate(self, samples, graded, mode: str) -> dict:
        by_id = {s.doc_id: s for s in samples}
        counted = [g for g in graded.values() if g.counted]

        def table(key):
            return {k: v["acc"] for k, v in accuracy_table((key(by_id[g.doc_id], g), g.metrics["acc"]) for g in counted)["tasks"].items()}

        dims = accuracy_table((g.task, g.metrics["acc"]) for g in counted)
        merged = table(lambda s, g: "infer_state" if g.task in ("order_state", "counting_state") else g.task)
        overall = {"acc": dims["micro"], "n": dims["n"], "score": dims["micro"],
                   "not_scored": sum(1 for g in graded.values() if not g.counted)}
        return {
            "overall": overall, "tasks": dims["tasks"], "primary": "acc", "headline": "accuracy over all questions",
            "breakdown": {
                "dimension": merged,
                "level": table(lambda s, g: s.extra["level"]),
                "kind": table(lambda s, g: s.extra["kind"]),
                "state": table(lambda s, g: f"state_{STATE_SIZE[int(s.extra['num_state'])]}"),
                "operations": table(lambda s, g: "num_op_5_9" if int(s.extra["num_operation"]) < 10 else "num_op_10_14"),
            },
        }


def _items(text: str) -> list[str]:
    text = text.lower().replace("`", "")
    text = re.sub(r"\(\s*([a-e])\s*,\s*(\d)\s*\)", r"(\1,\2)", text)
    text = re.sub(r"\b(\d+)(?:st|nd|rd|th)\b\s*:", r"\1:", text)
    parts = re.split(r"[\n;]+|,\s*(?![^{]*\})(?![^(]*\))", text)
    return [" ".join(re.sub(r"[^\w{}(),:./-]+", " ", p).split()).strip(" .") for p in parts if p.strip(" .")]


def same_answer(reply: str, reference: str) -> bool:
    """Deterministic stand-in for the judge: the reply's items equal the reference's, in order
    (case, spacing, backticks, markdown and "1st:"-style ordinals ignored)."""
    return _items(reply) == _items(reference)


# -------------------------------------------------------------------------- official reading


def vrb_final_answer_official(text: str) -> str | None:
    """VideoReasonBench (llyx97/video_reason_bench utils/eval_utils.py ``extract_final_answer``):
    the text after "Final Answer" (case-sensitive; the colon stays in), None when absent."""
    if not text:
        return None
    if "\u25c1/think\u25b7" in text:
        text = text.split("\u25c1/think\u25b7")[1]
    m = re.search(r"Final Answer\s*(.*?)\s*$", text, re.S)
    return m.group(1) if m else None


# -------------------------------------------------------------------------- judge
# llyx97/video_reason_bench utils/eval_utils.py (judge gpt-4o-2024-11-20)


def vrb_judge_prompt(question: str, response: str, ground_truth: str) -> str:
    return (
        "You will be given a question, a model response and a ground-truth answer. Your task is to determine whether the "
        "model response is correct based on the ground-truth answer. The model response should contain all information in "
        f"the ground-truth answer.\n\nQuestion: {question}\n\nModel Response: {response}\n\nGround-Truth Answer: {ground_truth}\n\n"
        'Directly output "Correct" or "Incorrect":\n'
    )


def vrb_verdict_official(reply: str) -> bool:
    """Only the exact reply "Correct" counts ("Correct." does not)."""
    return reply == "Correct"


def vrb_verdict_robust(reply: str) -> bool:
    return bool(re.match(r"\W*correct\b", reply.strip(), re.I))


_VRB_EXTRACT = {
    "hrd": (
        "You will be given a model-generated response describing a sequence of movements. Your task is to extract the movements "
        "in the order they appear and return them as a list (e.g., ['left', 'up', 'down', 'right']).\n\n"
        "Model Response: {response}\n\nExtracted Movements:\n"
    ),
    "cup": (
        "You will be given a model-generated response describing a sequence of cup swaps. Each swap is represented as a pair of "
        "coordinates—for example, (a1, b2)—indicating the two positions being swapped. \n\nYour task:\nExtract all coordinate "
        "pairs from the response in the exact order they appear, and return them as a list of tuples.\n\nFormat your answer like "
        "this:\n[('a1', 'b2'), ('c1', 'b1'), ('a3', 'b2')]\n\nModel Response:\n{response}\n\nExtracted Swaps:\n"
    ),
    "file_sys": (
        "You will be given a model-generated response regarding a file operation command in Linux system.\n\nYour task:\n"
        "Identify and extract only the actual command from the model response, removing any irrelevant or descriptive text.\n\n"
        "Model Response:\n{response}\n\nExtracted Command:\n"
    ),
    "card": (
        "You will be given a model-generated response describing a sequence of operations performed to cards. Each operation "
        "either adds or removes a card from pile0 or pile1.\n\nYour task:\n- Extract all valid operations and return them as a list "
        "of strings.\n\n- Each operation must involve either adding or removing a card to or from pile0 or pile1.\n\n- If no valid "
        "operations are found, return an empty list ([]).\n\nFormat your answer like this:\n['add 6 of Hearts to pile0', 'remove King "
        "of Clubs from pile0']\n\nModel Response:\n{response}\n\nExtracted Operations:\n"
    ),
    "chip": (
        "You will be given a model-generated response describing a sequence of operations involving chips and cups. Each operation "
        "either adds or removes a chip from cup0 or cup1.\n\nYour task:\n- Extract all valid operations and return them as a list of "
        "strings.\n\n- Each operation must involve either adding or removing a chip to or from cup0 or cup1.\n\n- If no valid operations "
        "are found, return an empty list ([]).\n\n\nFormat your answer like this:\n['add 20 to cup0', 'remove 50 cup0']\n\nModel Response:\n"
        "{response}\n\nExtracted Operations:\n"
    ),
}

_VRB_EXTRACT["grid"] = _VRB_EXTRACT["hrd"]


def vrb_extract_prompt(kind: str, response: str) -> str:
    return _VRB_EXTRACT[kind].format(response=response)


def vrb_moves_from_judge(kind: str, reply: str):
    """The official reading of the extraction reply: a Python literal (the official code calls
    ``eval``; ``ast.literal_eval`` reads the same literals safely); the file commands are split on
    " & ". False when it cannot be read."""
    if kind == "file_sys":
        return reply.strip("`").replace("bash\n", "").split(" & ")
    try:
        moves = ast.literal_eval(reply.strip())
    except (ValueError, SyntaxError):
        return False
    if kind in ("hrd", "grid"):
        try:
            return [m.lower() for m in moves]
        except (AttributeError, TypeError):
            return False
    return moves
