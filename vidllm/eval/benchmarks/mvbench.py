"""MVBench: 20 temporal-understanding tasks of multiple choice (OpenGVLab/MVBench on the hub).

Layout read (as the dataset publishes it)::

    MVBench/json/action_sequence.json ...     20 files of {video, question, candidates, answer[, start, end]}
    MVBench/video/star/Charades_v1_480/...    the source datasets' videos, one folder each

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

from vidllm.eval.benchmarks.base import Benchmark, letter_options, official_gt_counted
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
            _, _, bounded, frames_dir = TASKS[task]
            for i, entry in enumerate(json.loads(path.read_text(encoding="utf-8"))):
                self.items += 1
                options = tuple(entry["candidates"])
                gt, letter = official_gt_counted(options, entry["answer"], quirks)
                time_range = None
                if bounded and "start" in entry and "end" in entry:
                    start, end = float(entry["start"]), float(entry["end"])
                    if end > start >= 0:
                        time_range = (start, end)
                    else:
                        quirks["bad_clip_bound"] += 1
                prompt = (
                    f"{SYSTEM}Question: {entry['question']}\nOptions:\n{letter_options(options)}\nOnly give the best option."
                )
                yield EvalSample(
                    doc_id=f"{task}/{i}", benchmark=self.name, task=task, video=entry["video"], video_path="",
                    question=entry["question"], options=options, target=letter, kind="choice", prompt=prompt,
                    system=SYSTEM, answer_prefix="Best option:(", time_range=time_range,
                    extra={
                        "official_gt": gt, "answer_text": entry["answer"], "invalid": letter is None,
                        # episodic_reasoning is a folder of frames at 3 fps, numbered from 1
                        **({"frames_dir": True, "frames_fps": 3.0} if frames_dir else {}),
                    },
                )

    def official_parse(self, sample: EvalSample, text: str) -> Parsed:
        return mvbench_official(sample, text)


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
