"""Long video end to end: chunked perception of real footage, a card shown once, and V-NIAH.

The videos are real package-shipped footage (``bikes`` and ``bigbuckbunny``) looped into
minutes, with a text card over a known stretch (``tests.media.long_footage``).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest
from PIL import Image

from tests.media import long_footage
from vidllm.perceive.analyze import CHUNK_SECONDS, analyze, chunks, make_tools
from vidllm.perceive.store import ObservationStore

CARD = (150.0, 153.0)  # the card of the 5-minute video, in seconds
CARD_TEXT = "CORAL 58"


@pytest.fixture(scope="module")
def five_minutes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("long")
    return long_footage(folder / "five.mp4", 5, size=(320, 180), fps=2, cards={CARD: CARD_TEXT})


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    """One cache for this module's tests, so the 5-minute video is perceived once."""
    return tmp_path_factory.mktemp("shared-cache")


def test_chunks_tile_the_video():
    for duration in (241.0, 300.0, 3600.0, 3601.5):
        windows = chunks(duration)
        assert windows[0][0] == 0.0 and windows[-1][1] == duration
        assert all(b == c for (_, b), (c, _) in zip(windows, windows[1:]))
        assert all(0 < b - a <= CHUNK_SECONDS for a, b in windows)
    assert chunks(200.0) == [(0.0, None)]


def test_a_long_video_is_perceived_chunk_by_chunk_and_resumes_at_its_chunk(five_minutes, tmp_path):
    store_path = tmp_path / "observations.sqlite"
    tools = make_tools(["ocr", "visual"])
    timeline = analyze(five_minutes, tools, store=ObservationStore(store_path), progress=False)
    assert timeline.manifest["chunks"] == 3
    # the visual tools sample a long video at one frame a second
    assert all(t["sampling"]["fps"] == 1.0 for t in timeline.manifest["tools"])
    assert all(0.0 <= o.start <= o.end <= timeline.duration + 1e-6 for o in timeline.observations)
    cards = [o for o in timeline.observations if o.kind == "ocr" and "CORAL" in o.text]
    assert cards and all(CARD[0] - 1 <= o.start and o.end <= CARD[1] + 1 for o in cards)

    # forget the OCR run of the middle chunk, as if the analysis had been killed there
    conn = sqlite3.connect(store_path)
    with conn:
        gone = conn.execute("DELETE FROM tool_runs WHERE tool = 'ocr' AND config_key LIKE '%@120.000-240.000'")
    assert gone.rowcount == 1
    conn.close()
    from vidllm.perceive import store as store_module

    store_module._LOADED.clear()
    again = analyze(five_minutes, tools, store=ObservationStore(store_path), progress=False)
    assert again.manifest["perception_seconds"]["visual"] == 0.0  # nothing of it ran again
    assert again.manifest["perception_seconds"]["ocr"] > 0.0  # the one missing chunk did
    def said(t):
        return sorted((o.start, o.end, o.kind, o.text) for o in t.observations)

    assert said(again) == said(timeline)


def _vidllm(*args, env_cache):
    import os

    env = {**os.environ, "VIDLLM_CACHE_DIR": str(env_cache)}
    return subprocess.run([sys.executable, "-m", "vidllm", *args], capture_output=True, text=True, env=env,
                          timeout=1800)


@pytest.mark.slow
def test_ask_finds_the_card_shown_once_in_a_long_video(five_minutes, shared_cache):
    done = _vidllm("ask", five_minutes, "Which words were printed on the sign that appeared only once?",
                   "--json", "--no-progress", env_cache=shared_cache)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert "CORAL" in answer["answer"].upper() or "58" in answer["answer"]
    assert any(e["start"] <= CARD[0] + 1 and e["end"] >= CARD[0] for e in answer["evidence"])


@pytest.mark.slow
def test_niah_grid_scores_resumes_and_is_byte_stable(five_minutes, shared_cache, tmp_path):
    args = ["niah", five_minutes, "--lengths", "60,280", "--depths", "0,0.5,1", "--needles", "1",
            "--no-progress"]
    first = _vidllm(*args, "--out", str(tmp_path / "a"), env_cache=shared_cache)
    assert first.returncode == 0, first.stderr
    results = json.loads((tmp_path / "a" / "results.json").read_text())
    assert [(c["length"], c["depth"]) for c in results["cells"]] == [
        (60, 0.0), (60, 0.5), (60, 1.0), (280, 0.0), (280, 0.5), (280, 1.0)]
    assert [c["position"] for c in results["cells"]] == [0, 30, 60, 0, 140, 280]
    assert results["mean"] >= 0.8 > results["baselines"]["random"]
    assert results["baselines"]["oracle"] == 1.0
    with Image.open(tmp_path / "a" / "heatmap.png") as heatmap:
        assert heatmap.size[0] > 100 and heatmap.size[1] > 100
    assert "heatmap.png" in (tmp_path / "a" / "report.html").read_text()

    # an interrupted run: two cells done and a third cut mid-line; the rerun finishes the grid
    cells = (tmp_path / "a" / "cells.jsonl").read_text().splitlines(keepends=True)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "cells.jsonl").write_text("".join(cells[:2]) + cells[2][:25])
    second = _vidllm(*args, "--out", str(tmp_path / "b"), env_cache=shared_cache)
    assert second.returncode == 0, second.stderr
    assert (tmp_path / "b" / "cells.jsonl").read_bytes() == (tmp_path / "a" / "cells.jsonl").read_bytes()
    assert json.loads((tmp_path / "b" / "results.json").read_text())["cells"] == results["cells"]


def test_niah_refuses_a_grid_longer_than_the_haystack(five_minutes, tmp_path):
    done = _vidllm("niah", five_minutes, "--lengths", "60,900", "--out", str(tmp_path / "x"),
                   env_cache=tmp_path / "cache")
    assert done.returncode == 2
    assert "900 frames" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
def test_summaries_by_the_embedded_llm_carry_spans_inside_the_video(five_minutes, shared_cache):
    done = _vidllm("summarize", five_minutes, "--json", "--no-progress", env_cache=shared_cache)
    assert done.returncode == 0, done.stderr
    tree = json.loads(done.stdout)
    summaries = tree["summaries"]
    assert [s["level"] for s in summaries] == ["segment"] * 5 + ["chapter", "video"]
    assert all(0.0 <= s["start"] < s["end"] <= tree["duration"] + 1e-6 and s["text"].strip() for s in summaries)
    again = _vidllm("summarize", five_minutes, "--json", "--no-progress", env_cache=shared_cache)
    assert json.loads(again.stdout) == tree  # stored: read back, not written again

    asked = _vidllm("ask", five_minutes, "What is this video about?", "--strategy", "hierarchical", "--json",
                    "--no-progress", env_cache=shared_cache)
    assert asked.returncode == 0, asked.stderr
    prompt = json.loads(asked.stdout)["manifest"]["prompt"]
    assert summaries[-1]["text"] in prompt and summaries[5]["text"] in prompt


@pytest.mark.slow
def test_a_card_shown_once_in_half_an_hour_is_found_with_its_time(tmp_path_factory):
    folder = tmp_path_factory.mktemp("half-hour")
    card = (1234.0, 1237.0)
    video = long_footage(folder / "thirty-one.mp4", 31, size=(320, 180), fps=1, cards={card: "AMBER 93"})
    done = _vidllm("ask", video, "What was written on the card that appeared once?", "--json", "--no-progress",
                   env_cache=folder / "cache")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert "AMBER" in answer["answer"].upper() or "93" in answer["answer"], answer["answer"]
    assert any(e["start"] <= card[0] + 1 and e["end"] >= card[0] for e in answer["evidence"])
    assert answer["manifest"]["perception"]["chunks"] == 16  # 31 minutes in 2-minute chunks


def test_frame_models_get_the_haystack_with_the_card_as_one_more_frame(five_minutes):
    from vidllm.eval.niah import haystack_frames, text_card, with_card

    base = haystack_frames(five_minutes, 60)
    frames = with_card(base, 30, text_card("WALNUT"))
    assert len(base) == 60 and len(frames) == 61
    assert frames.timestamps.tolist() == [i + 0.5 for i in range(61)]
    assert (frames.data[:30] == base.data[:30]).all() and (frames.data[31:] == base.data[30:]).all()
    assert frames.data[30].mean() > 200  # the card: black letters on white
