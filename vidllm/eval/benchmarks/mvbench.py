"""MVBench: 20 temporal-understanding tasks of multiple choice (OpenGVLab/MVBench on the hub).

Layout read (as the dataset publishes it)::

    MVBench/json/action_sequence.json ...     20 files of {video, question, candidates, answer[, start, end]}
    MVBench/video/star/Charades_v1_480/...    the source datasets' videos, one folder each

Result file read by ``vidllm score``: the notebook's ``{"acc_dict", "res_list"}`` JSON.

Official scoring: OpenGVLab/Ask-Anything ``video_chat2/mvbench.ipynb``: 16 frames at 224 px,
the prompt below with "Best option:(" starting the answer, ``check_ans`` on "(" + the reply's
first line, headline = all correct / all questions (micro).

Data quirks counted: an answer that is none of the candidates, an answer listed twice (the
official ground truth takes the last copy), a clip bound with end <= start.

>>> s = EvalSample(doc_id="d", benchmark="mvbench", task="t", video="v.mp4", video_path="", question="?",
...                options=("sits", "stands"), target="B", kind="choice", prompt="?", extra={"official_gt": "(B) stands"})
>>> mvbench_official(s, "").correct               # "(" is a substring of "(b)"
True
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from vidllm.errors import PredictionFormatError
from vidllm.eval.benchmarks.base import (
    Benchmark,
    ScoredPairs,
    letter_options,
    official_gt_counted,
    read_json_lenient,
    reply,
)
from vidllm.eval.types import EvalSample, Parsed

#: task -> (json file, video folder under video/, whether entries carry start/end, frames folder)
TASKS = {
    "action_sequence": ("action_sequence.json", "star/Charades_v1_480", True, False),
    "action_prediction": ("action_prediction.json", "star/Charades_v1_480", True, False),
    "action_antonym": ("action_antonym.json", "ssv2_video", False, False),
    "fine_grained_action": ("fine_grained_action.json", "Moments_in_Time_Raw/videos", False, False),
    "unexpected_action": ("unexpected_action.json", "FunQA_test/test", False, False),
    "object_existence": ("object_existence.json", "clevrer/video_validation", False, False),
    "object_interaction": ("object_interaction.json", "star/Charades_v1_480", True, False),
    "object_shuffle": ("object_shuffle.json", "perception/videos", False, False),
    "moving_direction": ("moving_direction.json", "clevrer/video_validation", False, False),
    "action_localization": ("action_localization.json", "sta/sta_video", True, False),
    "scene_transition": ("scene_transition.json", "scene_qa/video", False, False),
    "action_count": ("action_count.json", "perception/videos", False, False),
    "moving_count": ("moving_count.json", "clevrer/video_validation", False, False),
    "moving_attribute": ("moving_attribute.json", "clevrer/video_validation", False, False),
    "state_change": ("state_change.json", "perception/videos", False, False),
    "fine_grained_pose": ("fine_grained_pose.json", "nturgbd", False, False),
    "character_order": ("character_order.json", "perception/videos", False, False),
    "egocentric_navigation": ("egocentric_navigation.json", "vlnqa", False, False),
    "episodic_reasoning": ("episodic_reasoning.json", "tvqa/frames_fps3_hq", True, True),
    "counterfactual_inference": ("counterfactual_inference.json", "clevrer/video_validation", False, False),
}
SYSTEM = (
    "Carefully watch the video and pay attention to the cause and sequence of events, the detail and movement of objects, "
    "and the action and pose of persons. Based on your observations, select the best option that accurately addresses the question.\n"
)


class MVBench(Benchmark):
    name = "mvbench"
    title = "MVBench"
    source = "OpenGVLab/Ask-Anything@4dd8210 video_chat2/mvbench.ipynb"
    tasks = tuple(TASKS)
    sampling = {"nframes": 16, "max_pixels": 224 * 224}
    overall = "micro"

    def annotation_files(self) -> list[Path]:
        folder = self.root / "json" if (self.root / "json").is_dir() else self.root
        return [folder / spec[0] for spec in TASKS.values() if (folder / spec[0]).exists()]

    def video_candidates(self, sample: EvalSample):
        folder = TASKS[sample.task][1]
        for base in (self.root / "video" / folder, self.root / folder, self.root / "video"):
            yield base / sample.video

    def read(self, files: list[Path], quirks: Counter) -> Iterator[EvalSample]:
        by_file = {spec[0]: task for task, spec in TASKS.items()}
        for path in files:
            task = by_file[path.name]
            for i, entry in enumerate(json.loads(path.read_text(encoding="utf-8"))):
                self.items += 1
                yield self.entry_sample(task, i, entry, quirks)

    def entry_sample(self, task: str, index: int, entry: dict, quirks: Counter) -> EvalSample:
        """The sample of one annotation entry ``{video, question, candidates, answer[, start, end]}``."""
        _, _, bounded, frames_dir = TASKS[task]
        options = tuple(entry["candidates"])
        gt, letter = official_gt_counted(options, entry["answer"], quirks)
        time_range = None
        if bounded and "start" in entry and "end" in entry:
            start, end = float(entry["start"]), float(entry["end"])
            if end > start >= 0:
                time_range = (start, end)
            else:
                quirks["bad_clip_bound"] += 1
        prompt = f"{SYSTEM}Question: {entry['question']}\nOptions:\n{letter_options(options)}\nOnly give the best option."
        return EvalSample(
            doc_id=f"{task}/{index}", benchmark=self.name, task=task, video=entry["video"], video_path="",
            question=entry["question"], options=options, target=letter, kind="choice", prompt=prompt,
            system=SYSTEM, answer_prefix="Best option:(", time_range=time_range,
            extra={
                "official_gt": gt, "answer_text": entry["answer"], "invalid": letter is None,
                # episodic_reasoning is a folder of frames at 3 fps, numbered from 1
                **({"frames_dir": True, "frames_fps": 3.0} if frames_dir else {}),
            },
        )

    def sample_from_lmms(self, lmms_task: str, index: int, doc, quirks: Counter) -> EvalSample:
        # lmms-eval's MVBench docs are the dataset's own entries, in the JSON files' order
        return self.entry_sample(self.task_from_lmms(lmms_task), index, dict(doc), quirks)

    def official_parse(self, sample: EvalSample, text: str) -> Parsed:
        return mvbench_official(sample, text)

    def read_results(self, path: Path, quirks: Counter, *, data=None, answers=None) -> ScoredPairs:
        """The notebook's result file ``{"acc_dict": {task: [correct, total(, acc)]}, "res_list":
        [{"pred", "gt"}]}``. ``res_list`` is in the dataset's order, task after task as
        ``acc_dict`` lists them; each ``pred`` already starts with the "(" of "Best option:(" and
        ``gt`` is "(X) answer". With ``data`` (the MVBench folder) each entry is matched to its
        question and options, else the options are unknown and only letters are read."""
        content = read_json_lenient(path, quirks)
        if not (isinstance(content, dict) and isinstance(content.get("acc_dict"), dict) and isinstance(content.get("res_list"), list)):
            raise PredictionFormatError(f"{path}: expected MVBench's {{\"acc_dict\": ..., \"res_list\": [...]}}")
        results = content["res_list"]
        counts = [(mvbench_task(name), int(v[1])) for name, v in content["acc_dict"].items()]
        if sum(n for _, n in counts) != len(results):
            raise PredictionFormatError(f"{path}: acc_dict counts {sum(n for _, n in counts)} answers, res_list holds {len(results)}")
        known = self.samples_of(data, quirks)
        pairs, at = [], 0
        for task, n in counts:
            correct = 0
            for index in range(n):
                entry = results[at]
                at += 1
                sample = known.get(f"{task}/{index}") or _sample_from_gt(task, index, str(entry["gt"]), quirks)
                if sample.extra.get("official_gt") != entry["gt"]:
                    quirks["gt_differs_from_data"] += 1
                pred = str(entry.get("pred") or "")
                text = pred[1:] if pred.startswith("(") else pred  # the notebook stored "(" + the reply
                correct += bool(mvbench_official(sample, text).correct)
                pairs.append((sample, reply(text)))
            stored = content["acc_dict"][next(k for k in content["acc_dict"] if mvbench_task(k) == task)][0]
            if stored != correct:
                quirks["acc_dict_differs_from_res_list"] += 1
        return pairs


def mvbench_official(sample: EvalSample, text: str) -> Parsed:
    """MVBench (OpenGVLab/Ask-Anything video_chat2/mvbench.ipynb): the reply's first line after
    the "(" that ends "Best option:(", then ``check_ans``: correct when the first word (dots
    removed) is a substring of "(x)" or "(x)" is a substring of it.

    Quirks: "" and "(" are substrings of every "(x)", so an empty reply is correct; "(A)(B)(C)(D)"
    contains every "(x)", so listing all options is correct too.
    """
    first_line = (text or "").strip().split("\n")[0]
    pred = "(" + first_line
    gt = sample.extra.get("official_gt") or f"({sample.target}) "
    pred_option = pred.lower().split(" ")[0]
    gt_option = gt.lower().split(" ")[0]
    correct = pred_option.replace(".", "") in gt_option or gt_option in pred_option
    return Parsed(pred_option, correct=correct)


def mvbench_task(name: str) -> str:
    """vidllm's task name of the notebook's ("Fine-grained Action" -> "fine_grained_action")."""
    task = name.strip().lower().replace("-", "_").replace(" ", "_")
    if task not in TASKS:
        raise PredictionFormatError(f"MVBench task {name!r} is none of {', '.join(TASKS)}")
    return task


def _sample_from_gt(task: str, index: int, gt: str, quirks: Counter) -> EvalSample:
    """A sample known only by the notebook's ground truth "(X) answer" ("(@) answer" when the
    answer was no option): the letter, no option texts."""
    letter = gt[1:2] if gt[:1] == "(" and gt[2:3] == ")" else ""
    target = letter if letter.isalpha() and letter.isupper() else None
    if target is None:
        quirks["answer_not_in_candidates"] += 1
    width = max(4, ord(target) - ord("A") + 1) if target else 4
    return EvalSample(
        doc_id=f"{task}/{index}", benchmark="mvbench", task=task, video="", video_path="", question="",
        options=tuple("" for _ in range(width)), target=target, kind="choice", prompt="", answer_prefix="Best option:(",
        extra={"official_gt": gt, "invalid": target is None},
    )
