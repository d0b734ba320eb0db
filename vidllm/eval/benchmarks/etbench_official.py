"""E.T. Bench's own reading of replies (``evaluation/compute_metrics.py`` of the hub dataset),
reproduced for ``vidllm.eval.benchmarks.etbench``, quirks kept on purpose (they change published
scores): time ranges (``tvg_format``), dense captions (``dvc_format``) and choices.

>>> etbench_tvg_format("The event happens from 1:05 to 1:20.")  # reads "05 to 1"
[[1.0, 5.0]]
>>> etbench_choice_official("a dog runs", ("cat", "dog"), 2, None)  # a leading "a " is option A
(0, 'leading letter')
"""

from __future__ import annotations

import re
from collections.abc import Callable

from vidllm.eval.parsers import TIMECHAT_KEYWORDS

_ET_RANGE = re.compile(r"(\d+\.*\d*)\s*-\s*(\d+\.*\d*)")


_ET_TO = re.compile(r"(\d+\.*\d*)\s* to \s*(\d+\.*\d*)")


def etbench_tvg_format(ans: str) -> list[list[float]] | None:
    """E.T. Bench's ``tvg_format``: all "a - b" pairs of the whole reply, else "a to b" pairs,
    else the first number of each sentence holding a keyword, paired up; None when nothing.

    Quirks kept: "1:05 to 1:20" reads as (1, 5); any "a - b" anywhere counts, keyword or not;
    a number pattern like "3..5" makes the official script crash (here: None).
    """
    ans = ans.lower()
    sentences = re.split(r"[!?\n]", ans)
    candidates = [s for s in sentences if any(k in s for k in TIMECHAT_KEYWORDS)]
    try:
        timestamps = [[float(a), float(b)] for a, b in _ET_RANGE.findall(ans)]
        if not timestamps:
            timestamps = [[float(a), float(b)] for a, b in _ET_TO.findall(ans)]
        if not timestamps:
            times = []
            for sentence in candidates:
                numbers = re.findall(r"\b(\d+\.\d+\b|\b\d+)\b", sentence)
                if numbers:
                    times.append(float(numbers[0]))
            times = times[: len(times) // 2 * 2]
            timestamps = [[times[i], times[i + 1]] for i in range(0, len(times), 2)]
        if not timestamps:
            times = []
            for sentence in candidates:
                clocks = re.findall(r"\b((\d{1,2}:\d{2}:\d{2}))\b", sentence)
                if not clocks:
                    continue
                h, m, s = (int(x) for x in clocks[0][0].split(":"))
                times.append(h * 3600 + m * 60 + s)
            times = times[: len(times) // 2 * 2]
            timestamps = [[times[i], times[i + 1]] for i in range(0, len(times), 2)]
    except ValueError:  # float("3..5"): the official script stops here
        return None
    results = [[a, b] if b > a else [b, a] for a, b in timestamps]
    return results or None


def etbench_extract_time_part(time_part: str) -> list[str]:
    """E.T. Bench's ``extract_time_part`` (used by dense captioning): a lone number t becomes
    "t-20 - t+20" (or "t - t+40" when t <= 20) - a 40 s guess around any single number."""
    radius = 20
    found = re.findall(r"\d+\.*\d*\s*-\s*\d+\.*\d*", time_part)
    if not found:
        if time_part.count(":") == 1:
            clock = re.findall(r"\d+\.*\d*:\d+\.*\d*", time_part)[0]
            t = int(clock.split(":")[0]) * 60 + int(clock.split(":")[1])
            found = [f"{t - radius} - {t + radius}"] if t > radius else [f"{t} - {t + 2 * radius}"]
        elif time_part.count(":") == 2:
            start, end = re.findall(r"\d+\.*\d*:\d+\.*\d*", time_part)
            s = int(start.split(":")[0]) * 60 + int(start.split(":")[1])
            e = int(end.split(":")[0]) * 60 + int(end.split(":")[1])
            found = [f"{s} - {e}"]
    if not found:
        numbers = re.findall(r"\d+\.*\d*(?!\.)", time_part)
        if len(numbers) == 1:
            t = float(numbers[0])
            found = [f"{t - radius} - {t + radius}"] if t > radius else [f"{t} - {t + 2 * radius}"]
        elif len(numbers) == 2:
            found = [f"{numbers[0]} - {numbers[1]}"]
    return found


def _et_paragraph(paragraph: str) -> tuple[list, list[str]]:
    paragraph = paragraph.lower()
    timestamps, captions = [], []
    matches = re.findall(r"(\d+\.*\d*)\s*-\s*(\d+\.*\d*)", paragraph)
    if matches:
        timestamps = [[float(a), float(b)] for a, b in matches]
        rest = paragraph
        for piece in re.findall(r"(\d+\.*\d*\s*-\s*\d+\.*\d*)", paragraph):
            rest = rest.replace(piece, "\n")
        captions = rest.replace("seconds", "").split("\n")
    if not timestamps:
        ends = re.findall(r"(?:end(?:ing)? time: (\d+\.*\d*)(?:s| seconds)?)", paragraph, re.S | re.I)
        starts = re.findall(r"(?:start(?:ing)? time: (\d+\.*\d*)(?:s| seconds)?)", paragraph, re.S | re.I)
        if starts and ends:
            timestamps = [[float(a), float(b)] for a, b in zip(starts, ends)]
            captions = re.findall(r"description: (.*)", paragraph) or re.findall(r"\*\s*(.*)", paragraph)
    if not timestamps and re.findall(r"start time (\d+\.*\d*), end time (\d+\.*\d*)", paragraph):
        raise ValueError("official assertion")  # the official code asserts here and gives up
    captions = [c.strip().strip(", ").rstrip() for c in captions if len(c) > 5]
    n = min(len(timestamps), len(captions))
    return timestamps[:n], captions[:n]


def etbench_dvc_format(caption: str) -> tuple[list[list[float]] | None, list[str] | None]:
    """E.T. Bench's ``dvc_format``: (time ranges, captions) of a dense-captioning reply."""
    try:
        timestamps, sents = _et_paragraph(caption)
    except Exception:
        return None, None
    if not timestamps:
        if "\n" in caption:
            caps = [c for c in caption.split("\n") if len(c) > 7]
        else:
            caps = [c + "." for c in caption.split(".") if len(c) > 7]
        for cap in caps:
            if timestamps:
                break
            try:
                parts = [p.strip(",") for p in cap.split("seconds")]
                found = etbench_extract_time_part(parts[0])
                if not found:
                    continue
                start, end = found[0].split("-")[0], found[0].split("-")[1]
                timestamps.append([round(float(start.strip()), 2), round(float(end.strip()), 2)])
                sents.append(parts[-1].strip())
            except Exception:
                continue
    if not timestamps:
        return None, None
    return [[min(t), max(t)] for t in timestamps], sents


def etbench_choice_official(
    text: str, options: tuple, n_options: int, similarity: Callable[[str, str], float] | None, *, rvq: bool = True
) -> tuple[int | None, str]:
    """E.T. Bench's reading of a choice (compute_metrics.py ``rvq_eval``, or ``gvq_eval`` with
    ``rvq=False``): returns (option index or None, how it was read).

    rar/eca/rvq first take a "(x)" anywhere; then, without "best option:" and a leading "(", a
    first character followed by ". , space )" or nothing is the letter; else the option whose
    "(X) text" is most similar to the reply (all-MiniLM-L6-v2 dot score) wins.

    Quirks: "a dog runs" reads option A; rvq takes the option count from the task's first sample.
    """
    letters = "abcde"[:n_options]
    text = text or ""
    if rvq:
        m = re.search(r"\(([A-Za-z])\)", text)
        if m and m.group(1).lower() in letters:
            return letters.index(m.group(1).lower()), "(x) in the reply"
    pred = text.lower() if rvq else text
    if pred.lower().startswith("best option:"):
        pred = pred[12:]
    pred = pred.lstrip().lstrip("(").lstrip()
    if not pred:
        return None, "empty reply"
    if len(pred) == 1 or pred[1] in (".", ",", " ", ")"):
        if pred[0].lower() in letters:
            return letters.index(pred[0].lower()), "leading letter"
    if similarity is None:
        return None, "needs the sentence-similarity model"
    best, best_score = 0, float("-inf")
    for i, option in enumerate(options):
        opt = f"{option[0]} - {option[1]}" if isinstance(option, (list, tuple)) else option
        score = similarity(pred, f"({'ABCDE'[i]}) {opt}")
        if score > best_score:
            best, best_score = i, score
    return best, "closest option by sentence similarity"
