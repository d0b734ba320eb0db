"""Fixtures of the evaluation tests: the shared real annotation files, and small benchmark folders
built in the published formats of the benchmarks whose annotations are not shared here."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from vidllm.video.synthetic import make_clip

HERE = Path(__file__).resolve()


def shared_benchmarks() -> Path | None:
    """../shared/benchmarks next to the repository, or $VIDLLM_SHARED_DIR/benchmarks."""
    env = os.environ.get("VIDLLM_SHARED_DIR")
    candidates = [Path(env) / "benchmarks", Path(env)] if env else []
    candidates.append(HERE.parents[2] / ".." / "shared" / "benchmarks")
    for path in candidates:
        if (path / "README.md").exists():
            return path.resolve()
    return None


@pytest.fixture(scope="session")
def shared():
    path = shared_benchmarks()
    if path is None:
        pytest.skip("the real annotation files are not here: expected ../shared/benchmarks next to the repository or $VIDLLM_SHARED_DIR")
    return path


def clip(path: Path, nframes: int = 10, fps: float = 5.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    make_clip(path, nframes=nframes, fps=fps, size=(64, 48))
    return path


@pytest.fixture(scope="session")
def make_clip_at():
    """clip(path): a 2 s, 64x48 clip written at path."""
    return clip


@pytest.fixture(scope="session")
def mlvu_dir(tmp_path_factory):
    """An MLVU folder (json/4_count.json, json/2_needle.json, video/<file>/...) with real clips."""
    root = tmp_path_factory.mktemp("MLVU")
    for stem, task, n in (("4_count", "count", 10), ("2_needle", "findNeedle", 10)):
        items = []
        for i in range(n):
            video = f"{task}_{i}.mp4"
            clip(root / "video" / stem / video)
            items.append({"video": video, "duration": 2.0, "question": f"{task} question {i}?",
                          "candidates": ["one", "two", "three", "four"], "answer": ["one", "two", "three", "four"][i % 4],
                          "question_type": task})
        (root / "json").mkdir(exist_ok=True)
        (root / "json" / f"{stem}.json").write_text(json.dumps(items))
    return root


@pytest.fixture(scope="session")
def mvbench_dir(tmp_path_factory):
    """An MVBench folder: json/<task>.json and video/<source folder>/..., one bounded task."""
    root = tmp_path_factory.mktemp("MVBench")
    (root / "json").mkdir()
    entries = [
        {"video": "a.mp4", "question": "What happens?", "candidates": ["sits", "stands", "runs"], "answer": "stands"},
        {"video": "b.mp4", "question": "Which one?", "candidates": ["x", "y", "x"], "answer": "x"},   # answer listed twice
        {"video": "c.mp4", "question": "Lost?", "candidates": ["p", "q"], "answer": "r"},            # answer is no option
    ]
    (root / "json" / "action_antonym.json").write_text(json.dumps(entries))
    for e in entries:
        clip(root / "video" / "ssv2_video" / e["video"])
    bounded = [{"video": "s.mp4", "question": "Then?", "candidates": ["a", "b"], "answer": "b", "start": 0.4, "end": 1.6}]
    (root / "json" / "action_sequence.json").write_text(json.dumps(bounded))
    clip(root / "video" / "star" / "Charades_v1_480" / "s.mp4")
    return root


ETBENCH_ENTRIES = [
    {"idx": 0, "task": "tvg", "source": "qvhighlights", "video": "qvhighlights/v0.mp4", "duration": 60.0, "tgt": [10.0, 20.0], "q": "When?"},
    {"idx": 1, "task": "tvg", "source": "qvhighlights", "video": "qvhighlights/v1.mp4", "duration": 60.0, "tgt": [30.0, 40.0], "q": "When?"},
    {"idx": 2, "task": "rar", "source": "perception_test", "video": "pt/v2.mp4", "duration": 30.0, "p": 1,
     "o": ["cutting", "pouring", "stirring", "washing"], "q": "What?"},
    {"idx": 3, "task": "rar", "source": "perception_test", "video": "pt/v3.mp4", "duration": 30.0, "p": 0,
     "o": ["cutting", "pouring", "stirring", "washing"], "q": "What?"},
    {"idx": 4, "task": "tal", "source": "thumos14", "video": "th/v4.mp4", "duration": 100.0, "tgt": [[0.0, 10.0], [20.0, 30.0]], "q": "Where?"},
    {"idx": 5, "task": "evs", "source": "summe", "video": "su/v5.mp4", "duration": 100.0, "tgt": [[0.0, 10.0]], "q": "Show."},
    {"idx": 6, "task": "evs", "source": "summe", "video": "su/v6.mp4", "duration": 100.0, "tgt": [[50.0, 60.0]], "q": "Show."},
    {"idx": 7, "task": "vhd", "source": "qvhighlights", "video": "qvhighlights/v7.mp4", "duration": 60.0, "tgt": [[12.0, 14.0], [40.0, 42.0]], "q": "Best?"},
    {"idx": 8, "task": "gvq", "source": "qa_ego4d", "video": "eg/v8.mp4", "duration": 60.0, "p": 2, "o": ["w", "x", "y", "z"],
     "tgt": [5.0, 9.0], "q": "Which and when?"},
    {"idx": 9, "task": "tem", "source": "perception_test", "video": "pt/v9.mp4", "duration": 60.0, "tgt": [[3.0, 6.0], [20.0, 25.0]], "q": "When?"},
]


@pytest.fixture(scope="session")
def etbench_entries():
    return [dict(e) for e in ETBENCH_ENTRIES]


@pytest.fixture(scope="session")
def etbench_dir(tmp_path_factory):
    """An E.T. Bench folder: annotations/etbench_txt_v1.0.json and videos/<source>/..."""
    root = tmp_path_factory.mktemp("ETBench")
    (root / "annotations").mkdir()
    (root / "annotations" / "etbench_txt_v1.0.json").write_text(json.dumps([{"version": 1.0, **e} for e in ETBENCH_ENTRIES]))
    clip(root / "videos" / "qvhighlights" / "v0.mp4")
    return root


@pytest.fixture(scope="session")
def charades_dir(tmp_path_factory):
    """A Charades-STA folder: charades_sta_test.txt and Charades_v1_480/<id>.mp4."""
    root = tmp_path_factory.mktemp("Charades")
    lines = ["AO8RW 0.0 6.9##a person is putting a book on a shelf.", "Y6R7T 4.2 1.0##person turns the light on."]
    (root / "charades_sta_test.txt").write_text("\n".join(lines) + "\n")
    for vid in ("AO8RW", "Y6R7T"):
        clip(root / "Charades_v1_480" / f"{vid}.mp4")
    return root
