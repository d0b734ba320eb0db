"""Hierarchical summaries: spans tile the video, each level is written from the one below,
and what was written is stored and read back instead of written again."""

from __future__ import annotations

import pytest

from vidllm.memory.summaries import SummaryStore, summarize
from vidllm.perceive.timeline import Line


def lines_every(seconds: float, duration: float) -> list[Line]:
    return [Line(t, t + 2, "ocr", f'"sign {int(t)}"') for t in range(0, int(duration), int(seconds))]


class Writer:
    """A text model stand-in that is honest about what it read: it repeats the times its prompt
    names (a deterministic function, so the test can check what each level was given)."""

    def __init__(self):
        self.prompts: list[str] = []

    def __call__(self, prompt: str) -> str:
        self.prompts.append(prompt)
        return f"summary of {prompt.splitlines()[0][-20:]}"


@pytest.mark.parametrize("duration", [59.0, 60.0, 61.0, 333.3, 3600.0])
def test_spans_tile_the_video_at_every_level(duration):
    tree = summarize(lines_every(7, duration), duration, Writer(), segment_seconds=60, chapter_segments=5)
    for level in ("segment", "chapter", "video"):
        spans = [(s.start, s.end) for s in tree if s.level == level]
        assert spans[0][0] == 0.0 and abs(spans[-1][1] - duration) < 1e-9
        assert all(b == c for (_, b), (c, _) in zip(spans, spans[1:]))
        assert all(0.0 <= a < b <= duration for a, b in spans)
    segments = [s for s in tree if s.level == "segment"]
    assert len(segments) == -(-int(duration * 1000) // 60000)
    assert len([s for s in tree if s.level == "chapter"]) == -(-len(segments) // 5)
    assert [s.level for s in tree].count("video") == 1


def test_each_level_is_written_from_the_one_below():
    writer = Writer()
    tree = summarize(lines_every(10, 150.0), 150.0, writer, segment_seconds=60, chapter_segments=2)
    segment_prompt = writer.prompts[0]
    assert '"sign 0"' in segment_prompt and '"sign 50"' in segment_prompt and '"sign 60"' not in segment_prompt
    chapter_prompt = next(p for p in writer.prompts if "consecutive parts" in p)
    assert all(s.text in chapter_prompt for s in tree if s.level == "segment" and s.end <= 120)
    video_prompt = writer.prompts[-1]
    assert all(c.text in video_prompt for c in tree if c.level == "chapter")


def test_a_stretch_with_nothing_observed_costs_no_call():
    writer = Writer()
    tree = summarize([Line(5, 6, "speech", "hello")], 180.0, writer, segment_seconds=60)
    assert [s.text for s in tree if s.level == "segment"][1:] == ["(nothing was observed)"] * 2
    assert sum("part of a video" in p for p in writer.prompts) == 1


def test_written_summaries_are_stored_and_an_interrupted_run_resumes(tmp_path):
    path = tmp_path / "summaries.json"
    lines = lines_every(5, 300.0)

    class Dies(Writer):
        def __call__(self, prompt):
            if len(self.prompts) == 3:
                raise KeyboardInterrupt
            return super().__call__(prompt)

    with pytest.raises(KeyboardInterrupt):
        summarize(lines, 300.0, Dies(), store=SummaryStore(path))
    writer = Writer()
    tree = summarize(lines, 300.0, writer, store=SummaryStore(path))
    assert len(writer.prompts) == len(tree) - 3  # the three written before the interruption are read back
    again = Writer()
    assert summarize(lines, 300.0, again, store=SummaryStore(path)) == tree and again.prompts == []
    path.write_text("{cut")  # a file cut by a crash is written again, not a crash
    assert summarize(lines, 300.0, Writer(), store=SummaryStore(path)) == tree
