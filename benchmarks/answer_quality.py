"""How often the embedded default answers right, and whether it invents facts, over generated
clips whose answers are known.

Clips (made once, kept under ``<cache>/bench/quality``, by default ``~/.cache/vidllm/bench/quality``):
- a coloured disc crossing the picture (``tests/media.py: moving_disc_clip``): directions, colours;
- a sign whose text is on screen for a known span (``sign_clip``): on-screen text, "when";
- a counter whose number changes every 1.5 s: its highest, lowest, first and last number;
- a sentence spoken by espeak-ng (``speech_clip``): spoken facts (skipped when espeak-ng is absent);
- questions nothing in a clip answers ("absent"): the answer must say the video does not say.

Every question goes through the public API, ``vidllm.tasks.ask.ask(video, question,
options=..., pool=ModelPool())``, with the embedded default ``timeline``. Per category the
table shows the accuracy and the share of answers that contain something in none of the
timeline lines the model was shown (``answer.manifest["lines"]``) nor in the question and its
options: a number, a clock time or a capitalised word (not the first word of a sentence).
Targets: >= 90 % accuracy, 0 invented facts. Per-question results (answer, reply, how the
option was chosen, the lines shown) go to ``results.json`` beside the clips, or ``--out``.

    python benchmarks/answer_quality.py                     # all questions
    python benchmarks/answer_quality.py --limit 6           # the first 6 of each category
    python benchmarks/answer_quality.py --category speech --out speech.json
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import media  # noqa: E402  (the tests' generators of clips with known ground truth)
import numpy as np  # noqa: E402

# -- clips -----------------------------------------------------------------------------------------

COLOURS = {"red": (220, 20, 20), "blue": (30, 40, 210), "green": (30, 160, 40), "yellow": (235, 205, 20),
           "orange": (240, 130, 20), "purple": (140, 40, 200)}


@dataclass(frozen=True)
class Clip:
    name: str
    make: Callable[[Path], str]  # writes the clip at the given path, returns it
    facts: dict = field(default_factory=dict)


def build_clips() -> dict[str, Clip]:
    clips: dict[str, Clip] = {}
    for colour, direction in [("red", "right"), ("blue", "down"), ("green", "left"), ("yellow", "up"),
                              ("orange", "right"), ("purple", "down")]:
        clips[f"disc-{colour}-{direction}"] = Clip(
            f"disc-{colour}-{direction}",
            lambda p, c=colour, d=direction: media.moving_disc_clip(p, colour=COLOURS[c], direction=d),
            {"colour": colour, "direction": direction})
    for text, shown in [("EXIT 42", (3.0, 5.0)), ("GATE 17", (1.0, 3.0)), ("ROOM 305", (6.0, 8.0)),
                        ("PLATFORM 9", (4.0, 6.0))]:
        clips[f"sign-{text}"] = Clip(
            f"sign-{text}",
            lambda p, t=text, s=shown: media.sign_clip(p, text=t, shown=s, duration=10.0, fps=10, size=(960, 540)),
            {"text": text, "shown": shown})
    for values in ([5, 6, 7, 8], [4, 11, 7, 2], [9, 3, 12, 6]):
        name = "counter-" + "-".join(map(str, values))
        clips[name] = Clip(name, lambda p, v=values: media.counter_clip(p, v), {"values": values})
    for sentence in ["the meeting starts at nine", "the last train leaves at seven",
                     "the password is orange", "the shop closes at five"]:
        clips[f"speech-{sentence}"] = Clip(f"speech-{sentence}",
                                           lambda p, s=sentence: media.speech_clip(p, s)[0], {"sentence": sentence})
    return clips


def clip_path(clip: Clip, folder: Path) -> str:
    path = folder / (re.sub(r"[^a-z0-9]+", "-", clip.name.lower()).strip("-") + ".mp4")
    if not path.exists():
        partial = path.with_name("part-" + path.name)
        clip.make(partial)
        partial.rename(path)
    return str(path)


# -- questions -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    category: str
    clip: str
    question: str
    options: tuple[str, ...] = ()  # multiple choice: option texts, lettered A, B, ...
    answer: str = ""  # multiple choice: the right letter; open: a regular expression the answer matches
    near: float | None = None  # open "when" questions: the right time (seconds), ±1 s
    only: float | None = None  # open questions: the one number the answer may state (a count)


def lettered(rng: random.Random, right: str, wrong: list[str]) -> tuple[tuple[str, ...], str]:
    """Four options in a shuffled order, and the letter of the right one."""
    options = [right, *rng.sample(wrong, 3)]
    rng.shuffle(options)
    return tuple(options), "ABCD"[options.index(right)]


NUMBER_WORDS = {"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "noon": 12}


def build_cases(clips: dict[str, Clip]) -> list[Case]:
    rng = random.Random(13)
    cases: list[Case] = []
    directions = ["left", "right", "up", "down"]
    direction_questions = ["Which direction does the {c} object move?", "Where does the {c} disc go?",
                           "In which direction does the {c} circle travel?", "Which way is the {c} ball moving?"]
    colour_questions = ["What colour is the moving object?", "What is the colour of the disc?",
                        "Which colour is the circle that moves across the picture?"]
    discs = [c for c in clips.values() if c.name.startswith("disc-")]
    for n, clip in enumerate(discs):
        colour, direction = clip.facts["colour"], clip.facts["direction"]
        options, letter = lettered(rng, direction, [d for d in directions if d != direction])
        cases.append(Case("direction", clip.name, direction_questions[n % 4].format(c=colour), options, letter))
        options, letter = lettered(rng, colour, [c for c in COLOURS if c != colour])
        cases.append(Case("colour", clip.name, colour_questions[n % 3], options, letter))
    for clip in discs[:2]:
        cases.append(Case("direction", clip.name, "Which way does the disc move? Answer with one word.",
                          answer=rf"\b{clip.facts['direction']}"))
    for clip in discs[2:4]:
        cases.append(Case("colour", clip.name, "What colour is the object that moves?",
                          answer=rf"\b{clip.facts['colour']}\b"))

    signs = [c for c in clips.values() if c.name.startswith("sign-")]
    all_texts = [c.facts["text"] for c in signs] + ["EXIT 24", "GATE 71", "ROOM 350", "PLATFORM 6"]
    for n, clip in enumerate(signs):
        text, shown = clip.facts["text"], clip.facts["shown"][0]
        word, number = text.split()
        options, letter = lettered(rng, text, [t for t in all_texts if t != text and t.split()[0] != word]
                                   + [f"{word} {number[::-1] if len(number) > 1 else int(number) + 1}"])
        cases.append(Case("text", clip.name, ["What does the sign say?", "What text appears on the screen?",
                                              "Which words are written on the panel?", "What is written on the sign?"][n],
                          options, letter))
        cases.append(Case("text", clip.name, f"What number is shown after the word {word}?", answer=rf"\b{number}\b"))
        times = {t: f"at {t} second{'s' if t != 1 else ''}" for t in (1, 3, 4, 6, 8)}
        options, letter = lettered(rng, times[int(shown)], [v for t, v in times.items() if t != int(shown)])
        cases.append(Case("when", clip.name, f'When does the text "{text}" appear?', options, letter))
        if n < 3:
            cases.append(Case("when", clip.name, f"At what time does {word.lower()} {number} first appear on screen?",
                              answer="", near=shown))

    counters = [c for c in clips.values() if c.name.startswith("counter-")]
    extremes = {  # wordings of each extreme, one per counter in turn
        "highest": ["What is the highest number the counter reaches?", "Which is the largest number shown?",
                    "What is the maximum value displayed?"],
        "lowest": ["What is the smallest number on screen?", "What is the lowest value the counter shows?",
                   "Which is the minimum number displayed?"],
        "first": ["What number does the counter show first?", "Which number appears first?",
                  "What is the first value on the counter?"],
        "last": ["What number is displayed last?", "Which number does the counter show at the end?",
                 "What is the final number shown?"],
    }
    for n, clip in enumerate(counters):
        values = clip.facts["values"]
        truth = {"highest": max(values), "lowest": min(values), "first": values[0], "last": values[-1]}
        for k, (extreme, wordings) in enumerate(extremes.items()):
            question, right = wordings[(n + k) % len(wordings)], truth[extreme]
            if (n + k) % 2:  # half multiple choice (the other values and neighbours as distractors)
                wrong = sorted({*values, right - 1, right + 1, right + 2} - {right, 0})
                options, letter = lettered(rng, str(right), [str(v) for v in wrong])
                cases.append(Case("count", clip.name, question, options, letter))
            else:
                cases.append(Case("count", clip.name, question, answer=rf"\b{right}\b", only=right))

    absent = ["What is the name of the dog?", "Who is the president in the video?", "What brand is the car?",
              "How old is the woman?", "What is the weather forecast for tomorrow?", "Which team wins the match?"]
    for n, clip in enumerate([*discs[:3], *signs[:3]]):  # nothing in these clips answers them
        cases.append(Case("absent", clip.name, absent[n], answer=r"does not say"))

    spoken = {
        "the meeting starts at nine": ("When does the meeting start?", "nine", ["seven", "ten", "noon", "eight"]),
        "the last train leaves at seven": ("When does the last train leave?", "seven", ["nine", "five", "eleven", "six"]),
        "the password is orange": ("What is the password?", "orange", ["apple", "purple", "banana", "yellow"]),
        "the shop closes at five": ("What time does the shop close?", "five", ["four", "nine", "six", "seven"]),
    }
    for clip in (c for c in clips.values() if c.name.startswith("speech-")):
        question, right, wrong = spoken[clip.facts["sentence"]]
        options, letter = lettered(rng, f"at {right}" if right in NUMBER_WORDS else right,
                                   [f"at {w}" if w in NUMBER_WORDS else w for w in wrong])
        cases.append(Case("speech", clip.name, question, options, letter))
        digit = NUMBER_WORDS.get(right)
        cases.append(Case("speech", clip.name, question.replace("?", ", according to the speaker?"),
                          answer=rf"\b({right}{'|' + str(digit) if digit is not None else ''})\b"))
    return cases


# -- grading ---------------------------------------------------------------------------------------

_TIME = re.compile(r"\b(\d{1,2}):(\d{2})(?:\.(\d+))?\b")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")  # also inside tokens: "17th", "B7"
_CAPITAL = re.compile(r"(?<![.!?:\"'\n]\s)(?<!^)\b[A-Z][A-Za-z]+\b")


def numbers_in(text: str) -> set[float]:
    """Every number a text states, in digits or as a word ("nine" -> 9), times split in parts."""
    found = {float(n) for n in _NUMBER.findall(text)}
    found |= {float(NUMBER_WORDS[w]) for w in re.findall(r"[a-z]+", text.lower()) if w in NUMBER_WORDS}
    for m, s, _ in _TIME.findall(text):
        found.add(int(m) * 60 + float(s))
    return found


def unsupported(answer_text: str, lines: list[dict], given: str) -> list[str]:
    """What ``answer_text`` states that none of ``lines`` (the evidence shown) nor ``given``
    (the question and its options) contains: clock times, numbers and capitalised words."""
    evidence = " ".join(line.get("rendered") or line.get("text", "") for line in lines)
    known_numbers = numbers_in(evidence) | numbers_in(given)
    line_times = [t for line in lines for t in (line.get("start", 0.0), line.get("end", 0.0))]
    known_words = set(re.findall(r"[a-z]+", (evidence + " " + given).lower()))
    found = []
    rest = answer_text
    for match in _TIME.finditer(answer_text):
        seconds = int(match.group(1)) * 60 + int(match.group(2))
        if not any(abs(seconds - t) <= 1.0 for t in line_times) and float(seconds) not in known_numbers:
            found.append(match.group(0))
        rest = rest.replace(match.group(0), " ")
    for number in _NUMBER.findall(rest):
        if float(number) not in known_numbers:
            found.append(number)
    for word in re.findall(r"[a-z]+", rest.lower()):
        if word in NUMBER_WORDS and float(NUMBER_WORDS[word]) not in known_numbers and word not in known_words:
            found.append(word)
    for word in _CAPITAL.findall(rest):
        if word.lower() not in known_words and word != "I":
            found.append(word)
    return found


def grade(case: Case, answer) -> tuple[bool, list[str]]:
    lines = answer.manifest.get("lines") or []
    given = " ".join([case.question, *case.options])
    if case.options:
        right = answer.answer.strip().upper() == case.answer
        checked = answer.reply
    else:
        checked = answer.answer
        if case.near is not None:
            from vidllm.timeparse import find_point

            point = find_point(checked)
            right = point is not None and abs(point - case.near) <= 1.0
        else:
            right = re.search(case.answer, checked, re.IGNORECASE) is not None
        if case.only is not None:  # "shows 1 ... a count of 5" names two counts: not an answer
            # (the clock times an answer cites its evidence by are not counts)
            stated = numbers_in(_TIME.sub(" ", checked))
            right = right and stated - numbers_in(case.question) <= {float(case.only)}
    return right, unsupported(checked, lines, given)


# -- running ---------------------------------------------------------------------------------------


def run(cases: list[Case], clips: dict[str, Clip], folder: Path, quiet: bool) -> list[dict]:
    from vidllm.models.pool import ModelPool
    from vidllm.tasks.ask import ask

    results = []
    pool = ModelPool()
    try:
        for n, case in enumerate(cases, 1):
            path = clip_path(clips[case.clip], folder)
            began = time.perf_counter()
            answer = ask(path, case.question, options=list(case.options) or None, pool=pool,
                         model_options={"progress": False})
            seconds = time.perf_counter() - began
            right, invented = grade(case, answer)
            results.append({**asdict(case), "options": list(case.options), "given": answer.answer,
                            "reply": answer.reply, "choice_source": answer.choice_source, "correct": right,
                            "invented": invented, "seconds": round(seconds, 2),
                            "lines": [line.get("rendered") for line in answer.manifest.get("lines") or []]})
            if not quiet:
                mark = "ok " if right else "BAD"
                extra = f"  invented {invented}" if invented else ""
                print(f"[{n}/{len(cases)}] {mark} {case.category:<9} {case.question!r} -> {answer.answer!r}"
                      f" ({seconds:.1f} s){extra}", file=sys.stderr, flush=True)
    finally:
        pool.close()
    return results


def table(results: list[dict]) -> str:
    rows = ["category   questions  accuracy  invented", "-" * 41]
    categories = sorted({r["category"] for r in results}, key=[r["category"] for r in results].index)
    for category in [*categories, "all"]:
        chosen = [r for r in results if category in ("all", r["category"])]
        if category == "all":
            rows.append("-" * 41)
        accuracy = np.mean([r["correct"] for r in chosen])
        invented = np.mean([bool(r["invented"]) for r in chosen])
        rows.append(f"{category:<10} {len(chosen):>9}  {accuracy:>7.0%}  {invented:>8.0%}")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--category", action="append", help="only this category (repeatable)")
    parser.add_argument("--limit", type=int, help="at most this many questions per category")
    parser.add_argument("--out", type=Path, help="per-question results (JSON; default: results.json beside the clips)")
    parser.add_argument("--quiet", action="store_true", help="no line per question on stderr")
    args = parser.parse_args(argv)

    from vidllm.db import cache_dir

    folder = cache_dir() / "bench" / "quality"
    folder.mkdir(parents=True, exist_ok=True)
    clips = build_clips()
    if not media.espeak_available():
        print("espeak-ng is not installed (apt-get install espeak-ng): the speech questions are skipped",
              file=sys.stderr)
        clips = {name: clip for name, clip in clips.items() if not name.startswith("speech-")}
    cases = [c for c in build_cases(clips) if not args.category or c.category in args.category]
    if args.limit:
        kept: dict[str, int] = {}
        cases = [c for c in cases if kept.setdefault(c.category, 0) < args.limit
                 and not kept.__setitem__(c.category, kept[c.category] + 1)]
    began = time.perf_counter()
    results = run(cases, clips, folder, args.quiet)
    print(table(results))
    print(f"{len(results)} questions in {time.perf_counter() - began:.0f} s; targets: accuracy >= 90 %, invented 0 %")
    out = args.out or folder / "results.json"
    out.write_text(json.dumps({"results": results}, indent=1))
    print(f"per-question results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
