"""OVO-Bench: online video understanding in three modes (JoeLeelyf/OVO-Bench).

Layout read::

    OVO-Bench/data/ovo_bench_new.json     (or ovo_bench_new.json in the root)
    OVO-Bench/data/src_videos/<video>     (the model sees [0, ceil(realtime)) of it)

Backward tracing (EPM, ASI, HLD) and real-time perception (OCR, ACR, ATR, STU, FPD, OJR) are
multiple choice asked at a ``realtime`` second. Forward active responding (REC, SSR, CRR) is
asked again at each ``test_info`` checkpoint; each checkpoint is one sample (doc_id "id/k"),
exactly as the official scorer counts them.

Official scoring: ``utils/OVOBenchScore.py`` (letter anywhere in the reply; REC digits joined;
Yes/No substrings); task accuracy, mode = mean of its tasks, total = mean of the three modes.

Result files read by ``vidllm score``: the results JSON of OVO-Bench's ``inference.py``
({"backward": [...], "realtime": [...], "forward": [...]}), or a folder of them (as its
``score.py`` reads); ``data`` (the benchmark folder) adds the options and prompts.

>>> s = EvalSample(doc_id="d", benchmark="ovobench", task="EPM", video="v.mp4", video_path="", question="?",
...                options=("a cat", "a dog"), target="B", kind="choice", prompt="?")
>>> ovo_official(s, "Based on the video, A.").correct   # "B" of "Based"
True
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from vidllm.errors import PredictionFormatError
from vidllm.eval.benchmarks.base import Benchmark, ScoredPairs, reply
from vidllm.eval.metrics import mean, three_mode_average
from vidllm.eval.types import Checkpoint, EvalSample, Parsed, Prediction

MODES = {"backward": ("EPM", "ASI", "HLD"), "realtime": ("OCR", "ACR", "ATR", "STU", "FPD", "OJR"), "forward": ("REC", "SSR", "CRR")}
TASK_MODE = {t: m for m, ts in MODES.items() for t in ts}

CHOICE_PROMPT = (
    "\nQuestion: {question}\nOptions:\n{options}\n\nRespond only with the letter corresponding to your chosen option "
    "(e.g., A, B, C). \nDo not include any additional text or explanation in your response.\n"
)
REC_PROMPT = (
    "\nYou're watching a video in which people may perform a certain type of action repetively. \nThe person performing this "
    "kind of action are referred to as 'they' in the following statement.\nYou're task is to count how many times have "
    "different people in the video perform this kind of action in total.\nOne complete motion counts as one. \nNow, answer "
    "the following question: {question}\nProvide your answer as a single number (e.g., 0, 1, 2, 3…) indicating the total "
    "count.\nDo not include any additional text or explanation in your response.\n"
)
SSR_PROMPT = (
    "\nYou're watching a tutorial video which contain a sequential of steps. \nThe following is one step from the whole "
    "procedures: \n{step}\nYour task is to determine if the man or woman in the video is currently performing this step.\n"
    "Answer only with “Yes” or “No”.\nDo not include any additional text or explanation in your response.\n"
)
CRR_PROMPT = (
    "\nYou're responsible of answering questions based on the video content. \nThe following question are relevant to the "
    "latest frames, i.e. the end of the video.\n{question}\nDecide whether existing visual content, especially latest frames, "
    "i.e. frames that near the end of the video, provide enough information for answering the question.\nAnswer only with "
    "“Yes” or “No”.\nDo not include any additional text or explanation in your response.\n"
)


class OVOBench(Benchmark):
    name = "ovobench"
    online = True
    title = "OVO-Bench"
    source = "JoeLeelyf/OVO-Bench@c34093f utils/OVOBenchScore.py"
    tasks = tuple(t for ts in MODES.values() for t in ts)
    sampling = {"fps": 1.0, "max_frames": 64}
    video_dirs = ("src_videos", "data/src_videos", "videos", "")

    def annotation_files(self) -> list[Path]:
        return [p for p in (self.root / "data" / "ovo_bench_new.json", self.root / "ovo_bench_new.json") if p.exists()][:1]

    def read(self, files: list[Path], quirks: Counter) -> Iterator[EvalSample]:
        for entry in json.loads(files[0].read_text(encoding="utf-8")):
            self.items += 1
            task = entry["task"]
            base = {"doc_id": str(entry["id"]), "benchmark": self.name, "task": task, "video": entry["video"], "video_path": ""}
            extra = {"mode": TASK_MODE[task], "id": entry["id"]}
            if TASK_MODE[task] != "forward":
                options = tuple(entry["options"])
                letter = chr(65 + entry["gt"])
                if options[entry["gt"]] != entry.get("answer"):
                    quirks["answer_text_differs_from_gt_option"] += 1
                formatted = "; ".join(f"{chr(65 + i)}. {o}" for i, o in enumerate(options)) + ";"
                realtime = float(entry["realtime"])
                yield EvalSample(
                    **base, question=entry["question"], options=options, target=letter, kind="choice",
                    prompt=CHOICE_PROMPT.format(question=entry["question"], options=formatted),
                    realtime=realtime, time_range=(0.0, float(max(1, math.ceil(realtime)))), extra=extra,
                )
                continue
            checkpoints = tuple(self._checkpoint(task, info) for info in entry["test_info"])
            for k, (info, point) in enumerate(zip(entry["test_info"], checkpoints)):
                realtime = float(info["realtime"])
                if task == "REC":
                    question = f"How many times did they {entry['activity']}?"
                    prompt, kind = REC_PROMPT.format(question=question), "count"
                elif task == "SSR":
                    question = info["step"]
                    prompt, kind = SSR_PROMPT.format(step=question), "yesno"
                else:
                    question = entry["question"]
                    prompt, kind = CRR_PROMPT.format(question=question), "yesno"
                yield EvalSample(
                    **{**base, "doc_id": f"{entry['id']}/{k}"}, question=question, target=point.target, kind=kind,
                    prompt=prompt, realtime=realtime, time_range=(0.0, float(max(1, math.ceil(realtime)))),
                    checkpoints=checkpoints, extra={**extra, "checkpoint": k, "evidence": evidence_times(entry, info)},
                )

    @staticmethod
    def _checkpoint(task: str, info: dict) -> Checkpoint:
        if task == "REC":
            return Checkpoint(float(info["realtime"]), int(info["count"]))
        return Checkpoint(float(info["realtime"]), "Yes" if info["type"] == 1 else "No")

    def aggregate(self, samples, graded, mode: str) -> dict:
        by_task: dict[str, list[float]] = {}
        for g in graded.values():
            if g.counted:
                by_task.setdefault(g.task, []).append(g.metrics["acc"])
        tasks = {t: {"acc": mean(v), "n": len(v)} for t, v in sorted(by_task.items(), key=lambda kv: self.tasks.index(kv[0]))}
        modes = three_mode_average({t: v["acc"] for t, v in tasks.items()}, MODES)
        overall = {**{f"{m}_avg": modes[m] for m in MODES if m in modes}, "score": modes["overall"]}
        return {"overall": overall, "tasks": tasks, "primary": "acc",
                "headline": "mean of the backward, real-time and forward averages (each the mean of its tasks)"}

    def official_parse(self, sample: EvalSample, text: str) -> Parsed:
        return ovo_official(sample, text)

    def read_results(self, path: Path, quirks: Counter, *, data=None, answers=None) -> ScoredPairs:
        files = sorted(path.glob("*.json")) if path.is_dir() else [path]
        known = self.samples_of(data)
        pairs = []
        for file in files:
            result = json.loads(file.read_text(encoding="utf-8"))
            if not isinstance(result, dict) or not {"backward", "realtime", "forward"} <= set(result):
                raise PredictionFormatError(f"{file}: not an OVO-Bench results file (needs backward, realtime, forward)")
            pairs += self._offline_results(result["backward"] + result["realtime"], known)
            pairs += self._forward_results(result["forward"])
        missing = sum(1 for _, p in pairs if p is None)
        if missing:
            quirks["response_none"] += missing  # the official scorer counts these as wrong
            pairs = [(s, p or Prediction(text="", error="response was None")) for s, p in pairs]
        return pairs

    def _offline_results(self, entries: list[dict], known: dict[str, EvalSample]) -> list:
        pairs = []
        for entry in entries:
            sample = known.get(str(entry["id"]))
            pairs.append((EvalSample(
                doc_id=str(entry["id"]), benchmark=self.name, task=entry["task"], video=entry.get("video", ""), video_path="",
                question=entry.get("question", ""), options=sample.options if sample else (), target=entry["ground_truth"],
                kind="choice", prompt=sample.prompt if sample else entry.get("question", ""), extra={"mode": TASK_MODE[entry["task"]]},
            ), None if entry.get("response") is None else reply(entry["response"])))
        return pairs

    def _forward_results(self, entries: list[dict]) -> ScoredPairs:
        pairs = []
        for entry in entries:
            task = entry["task"]
            for k, info in enumerate(entry["test_info"]):
                target = int(info["count"]) if task == "REC" else ("Yes" if info["type"] == 1 else "No")
                sample = EvalSample(
                    doc_id=f"{entry['id']}/{k}", benchmark=self.name, task=task, video=entry.get("video", ""), video_path="",
                    question=entry.get("question", info.get("step", "")), target=target,
                    kind="count" if task == "REC" else "yesno", prompt="", realtime=float(info["realtime"]),
                    extra={"mode": "forward"},
                )
                pairs.append((sample, reply(info.get("response"))))
        return pairs


def evidence_times(entry: dict, info: dict) -> list[float]:
    """When a forward question's evidence appears, for the online mode's delays (never scored):
    REC, the end of each repetition (``end_times``); SSR, the start of the probed step (its
    ``start_time``; several when a step recurs); CRR, the ``clue_time``.

    >>> evidence_times({"task": "REC", "end_times": [17, 9]}, {"count": 2})
    [9.0, 17.0]
    >>> evidence_times({"task": "SSR", "all_steps": ["a", "b"], "start_time": [3, 8]}, {"step": "b"})
    [8.0]
    """
    task = entry["task"]
    if task == "REC":
        return sorted(float(t) for t in entry.get("end_times", []))
    if task == "SSR":
        return [float(start) for step, start in zip(entry.get("all_steps", []), entry.get("start_time", []))
                if step == info.get("step")]
    return [float(entry["clue_time"])] if "clue_time" in entry else []


def ovo_official(sample: EvalSample, text: str | None) -> Parsed:
    """OVO-Bench (JoeLeelyf/OVO-Bench utils/OVOBenchScore.py ``OVOBenchOfflineScore``).

    Backward/real-time: correct when the letter occurs anywhere in the reply ("Based on ..." holds
    "B"). REC: all digits of the reply joined must equal the count ("3 of 10" reads 310). SSR/CRR:
    "Yes"/"No" anywhere ("Not sure" holds "No"), or exactly "Y"/"N".
    """
    if text is None:
        return Parsed(None, correct=False, note="no response")
    if sample.kind == "choice":
        return Parsed(sample.target if sample.target in text else None, correct=sample.target in text)
    if sample.kind == "count":
        digits = "".join(re.findall(r"\d+", text))
        return Parsed(digits, correct=digits == str(sample.target))
    if (text == "N" and sample.target == "No") or (text == "Y" and sample.target == "Yes"):
        return Parsed(sample.target, correct=True)
    return Parsed(sample.target if sample.target in text else None, correct=sample.target in text)
