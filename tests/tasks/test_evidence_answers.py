"""The embedded default answers open questions from the lines it read, citing their times, and
says so when nothing it read answers them; a warm question loads only what answering needs."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from media import counter_clip, moving_disc_clip, sign_clip

from vidllm.models.pool import ModelPool
from vidllm.tasks.ask import ask

VALUES = [8, 14, 3, 10, 6]  # on screen from 1.0 s, 1.5 s each, as "SCORE <v>"
STEP, LEAD = 1.5, 1.0


def shown_at(k: int) -> float:
    return LEAD + k * STEP


@pytest.fixture(scope="module")
def pool():
    with ModelPool() as p:
        yield p


@pytest.fixture(scope="module")
def scores(tmp_path_factory):
    return counter_clip(tmp_path_factory.mktemp("scores") / "scores.mp4", VALUES, step=STEP, lead=LEAD, word="SCORE")


@pytest.mark.parametrize(("question", "k", "rule"), [
    ("Which score is the biggest?", VALUES.index(max(VALUES)), "highest"),
    ("What is the smallest score shown?", VALUES.index(min(VALUES)), "lowest"),
    ("What score is displayed at the start?", 0, "first"),
    ("Which score appears last?", len(VALUES) - 1, "last"),
])
def test_extremes_are_read_off_the_lines_with_their_times(scores, pool, question, k, rule):
    answer = ask(scores, question, pool=pool)
    assert f"SCORE {VALUES[k]}" in answer.answer
    assert answer.manifest["reading"]["rule"] == rule and answer.manifest["reading"]["answered"]
    [cited] = answer.evidence
    assert abs(cited.start - shown_at(k)) <= 0.5
    assert answer.usage["generated_tokens"] == 0  # nothing written by the reasoner


def test_neighbours_counts_and_durations_are_read_off_the_lines(scores, pool):
    after = ask(scores, "Which score follows 3?", pool=pool)
    assert after.answer.startswith(f'on-screen text: "SCORE {VALUES[3]}"') and after.manifest["reading"]["rule"] == "after"
    assert abs(after.evidence[0].start - shown_at(3)) <= 0.5
    before = ask(scores, "What score is shown before 3?", options=["14", "10", "6", "3"], pool=pool)
    assert before.answer == "A" and before.choice_source == "evidence"
    many = ask(scores, "How many different scores appear?", pool=pool)
    assert many.answer.startswith(f"{len(VALUES)} different") and many.manifest["reading"]["rule"] == "how many"
    picked = ask(scores, "How many scores are displayed?", options=["4", "5", "6", "7"], pool=pool)
    assert picked.answer == "B" and picked.choice_source == "evidence"
    long = ask(scores, "How long is the score 14 on the panel?", pool=pool)
    assert long.answer.startswith(f"{STEP:.1f} s") and "SCORE 14" in long.answer


def test_an_overview_is_the_main_lines_in_time_order(scores, pool):
    answer = ask(scores, "Give me a summary of this clip.", pool=pool)
    assert answer.manifest["reading"]["rule"] == "overview"
    assert "SCORE" in answer.answer and len(answer.evidence) >= 2
    starts = [e.start for e in answer.evidence]
    assert starts == sorted(starts)


def test_shots_are_counted_by_their_cuts(bikes, pool):
    answer = ask(bikes, "How many different shots does the video have?", pool=pool)
    assert answer.manifest["reading"]["rule"] == "how many"
    count = int(answer.answer.split()[0])
    # the real clip has cuts; each is cited at its time, and the first shot needs none
    assert count >= 2 and count == len(answer.evidence) + 1
    assert all(e.text == "shot: a new shot begins" and e.start > 0 for e in answer.evidence)


def test_multiple_choice_extreme_is_the_option_the_line_states(scores, pool):
    answer = ask(scores, "Which is the highest score on the panel?", options=["3", "8", "14", "15"], pool=pool,
                 model_options={"score_options": "always"})
    assert answer.answer == "C" and answer.choice_source == "evidence"
    assert set(answer.option_scores) == {"A", "B", "C", "D"}  # every option was still scored


def test_options_the_lines_do_not_settle_are_scored_by_the_reasoner(scores, pool):
    answer = ask(scores, "In which year was this filmed?", options=["1987", "1999", "2008", "2016"], pool=pool)
    assert answer.choice_source == "likelihood" and set(answer.option_scores) == {"A", "B", "C", "D"}
    assert answer.answer == max(answer.option_scores, key=answer.option_scores.get)
    assert all(share < 1.0 for share in answer.option_support.values())


def test_a_question_nothing_answers_says_so(tmp_path, pool):
    clip = moving_disc_clip(tmp_path / "disc.mp4", colour=(30, 160, 40), direction="up")
    for question in ("What is the name of the cat?", "Which country hosts the summit?"):
        answer = ask(clip, question, pool=pool)
        assert answer.answer.startswith("The video does not say"), answer.answer
        assert answer.manifest["reading"]["rule"] == "not in evidence"


def test_the_kind_a_question_names_is_answered_however_loosely_it_matches(tmp_path, pool):
    clip = sign_clip(tmp_path / "sign.mp4", text="BAY 316", shown=(2.0, 4.0))
    answer = ask(clip, "What is written on the board?", pool=pool)
    assert "BAY 316" in answer.answer and answer.evidence[0].start == pytest.approx(2.0, abs=0.5)


def test_a_warm_open_question_loads_neither_torch_nor_the_reasoner(scores, pool):
    ask(scores, "Which score appears last?", pool=pool)  # the timeline is stored
    script = textwrap.dedent(f"""
        import json, sys
        from vidllm.tasks.ask import ask
        answer = ask({scores!r}, "What is the largest score?")
        heavy = sorted({{n.split(".")[0] for n in sys.modules}} & {{"torch", "transformers", "llama_cpp", "cv2"}})
        print(json.dumps({{"answer": answer.answer, "heavy": heavy}}))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert f"SCORE {max(VALUES)}" in result["answer"] and result["heavy"] == []


def test_help_imports_nothing_heavy():
    script = "import sys; from vidllm.cli import main\ntry:\n main(['--help'])\nexcept SystemExit: pass\n" \
             "print(sorted({n.split('.')[0] for n in sys.modules} & {'numpy', 'pydantic', 'av', 'PIL'}))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_a_live_stream_is_answered_from_its_lines_so_far(tmp_path):
    from vidllm.tasks.stream import StreamSession
    from vidllm.video.live import open_stream

    clip = counter_clip(tmp_path / "live.mp4", [8, 14, 3, 10, 20], step=STEP, lead=LEAD, word="SCORE")
    session = StreamSession(tools=("ocr",))
    try:
        for frames in open_stream(clip, fps=2):
            session.feed(frames)
            if session.now == 6.0:  # SCORE 10 on screen; SCORE 20 is still to come
                best = session.ask("Which score is the best so far? Give the highest.")
                latest = session.ask("What number is displayed right now?")
                break
    finally:
        session.close()
    assert "SCORE 14" in best.answer and best.decided_by == "model" and best.evidence_time == pytest.approx(2.5)
    assert "SCORE 10" in latest.answer and latest.evidence_time == pytest.approx(5.5)
    assert all(e["end"] <= 6.0 for e in best.evidence + latest.evidence)
