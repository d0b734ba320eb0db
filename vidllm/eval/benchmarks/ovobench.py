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
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from vidllm.eval.benchmarks.base import Benchmark
from vidllm.eval.metrics import mean, three_mode_average
from vidllm.eval.types import Checkpoint, EvalSample

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
                    checkpoints=checkpoints, extra={**extra, "checkpoint": k},
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
