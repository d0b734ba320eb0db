"""The official time extractors of benchmarks' own scorers, quirks kept on purpose (they change
published scores); each names its source. vidllm's robust reading is ``vidllm.timeparse``.

>>> etbench_tvg_format("The event happens from 1:05 to 1:20.")  # reads "05 to 1"
[[1.0, 5.0]]
>>> charades_extract_time("The moment is 5.2 - 8.1 seconds.")  # no keyword in the sentence
[]
"""

from __future__ import annotations

import re
from datetime import datetime

_ET_RANGE = re.compile(r"(\d+\.*\d*)\s*-\s*(\d+\.*\d*)")
_ET_TO = re.compile(r"(\d+\.*\d*)\s* to \s*(\d+\.*\d*)")
_ET_KEYWORDS = ("starts", "ends", "happens in", "start time", "end time", "start", "end", "happen")


def etbench_tvg_format(ans: str) -> list[list[float]] | None:
    """E.T. Bench's ``tvg_format``: all "a - b" pairs of the whole reply, else "a to b" pairs,
    else the first number of each sentence holding a keyword, paired up; None when nothing.

    Quirks kept: "1:05 to 1:20" reads as (1, 5); any "a - b" anywhere counts, keyword or not;
    a number pattern like "3..5" makes the official script crash (here: None).
    """
    ans = ans.lower()
    sentences = re.split(r"[!?\n]", ans)
    candidates = [s for s in sentences if any(k in s for k in _ET_KEYWORDS)]
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


# --------------------------------------------------------------------------------------------
# official: Charades-STA as lmms-eval scores it (lmms_eval/tasks/charades_sta/eval_tvg.py,
# the TimeChat script)

_CH_MAIN = re.compile(r"(\d+(?:\.\d+)?)\s*[–-]\s*(\d+(?:\.\d+)?)")
_CH_NUMBER = re.compile(r"\b(\d+(?:\.\d+)?)\b")
_CH_CLOCK = re.compile(r"\b(\d{1,2}:\d{2}:\d{2})\b")
_CH_FALLBACK = re.compile(r"(\d+(?:\.\d+)?)\s*s?\s*[–-]\s*(\d+(?:\.\d+)?)\s*s?")


def charades_extract_time(paragraph: str) -> list[list[float]]:
    """``extract_time`` of the Charades-STA scorer: at most one [start, end], [] when none.

    Quirks kept: every "to" becomes "-" (so "tomato" is "-ma-"); only sentences holding one of
    the keywords (start, end, happen, ...; "friends" counts, "moment" does not) are read, so
    "The moment is 5.2 - 8.1 seconds." gives nothing.
    """
    example = "A specific example is : 20.8 - 30.0 seconds".lower()
    paragraph = paragraph.lower().replace(example, "").replace("to", "-")
    sentences = re.split(r"[!?\n]", paragraph)
    candidates = [s for s in sentences if any(k in s for k in _ET_KEYWORDS)]
    timestamps: list = []
    for sentence in candidates:
        found = _CH_MAIN.findall(sentence)
        if found:
            timestamps = [[float(a), float(b)] for a, b in found]
            break
    if not timestamps:
        times = [float(n[0]) for n in (_CH_NUMBER.findall(s) for s in candidates) if n]
        times = times[: len(times) // 2 * 2]
        timestamps = [[times[i], times[i + 1]] for i in range(0, len(times), 2)]
    if not timestamps:
        times = []
        for sentence in candidates:
            clocks = _CH_CLOCK.findall(sentence)
            if clocks:
                h, m, s = (int(x) for x in clocks[0].split(":"))
                times.append(h * 3600 + m * 60 + s)
        times = times[: len(times) // 2 * 2]
        timestamps = [[times[i], times[i + 1]] for i in range(0, len(times), 2)]
    if not timestamps:
        for sentence in candidates:
            found = _CH_FALLBACK.findall(sentence)
            if found:
                timestamps = [[float(a), float(b)] for a, b in found]
                break
    results = [[a, b] if b > a else [b, a] for a, b in timestamps]
    return results[:1]


# --------------------------------------------------------------------------------------------
# official: VAU-R1 temporal grounding (GVCLab/VAU-R1 src/evaluation/evaluation_tag.py)


def _vau_time_to_seconds(text: str) -> float:
    """VAU-R1's ``time_to_seconds``: strptime with %H:%M:%S / %M:%S / %S (so "1:75" raises)."""
    parts = text.split(".")
    if len(parts) > 2:
        text = ".".join(parts[:2])
    frac = ".%f" if len(text.split(".")) == 2 else ""
    fields = len(text.split(":"))
    fmt = {3: "%H:%M:%S", 2: "%M:%S", 1: "%S"}[fields] + frac
    t = datetime.strptime(text, fmt)
    return t.hour * 3600 + t.minute * 60 + t.second + t.microsecond / 1_000_000


def vau_parse_glue(response: str) -> tuple[float, float]:
    """VAU-R1's ``parse_html``: the first <glue>...</glue>, else the first [...]; (0, 0) when none.

    Raises ValueError where the official script crashes (e.g. "[1:05, 80]" mixes clock and seconds).
    """
    glue = re.search(r"<glue>(.*?)</glue>", response) or re.search(r"\[(.*?)\]", response)
    if not glue:
        return 0.0, 0.0
    text = re.sub(r"[^0-9:.,-]", "", glue.group(1))
    if len(text.split(",")) != 2:
        return 0.0, 0.0
    start, end = text.split(",")
    if ":" in start and ":" in end:
        return _vau_time_to_seconds(start), _vau_time_to_seconds(end)
    return float(start), float(end)
