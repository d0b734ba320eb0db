"""Answer parsers: each benchmark's ``official`` reading of a reply, and one ``robust`` reading.

An official parser reproduces what the benchmark's own scoring code does with a reply, quirks
included (each function names its source file). The robust parser reads the same reply the way a
careful person would: it drops think blocks, prefers an explicit final answer, and understands
letters ("(B)", "B.", "Answer: B", "Best answer: D"), option text, times in seconds or mm:ss,
ranges, counts, yes/no and ratings.

>>> s = _demo_sample()
>>> videomme_official(s, "Best answer: D").value   # the prefix list lacks commas: reads "B"
'B'
>>> robust(s, "Best answer: D").value
'D'
>>> mvbench_official(s, "").correct               # "(" is a substring of "(a)"
True
"""

from __future__ import annotations

import re
from collections.abc import Callable

from vidllm.eval.types import EvalSample, Parsed
from vidllm.tasks.choices import clean_reply, read_letter  # noqa: F401  (the one letter reader, re-exported)
from vidllm.timeparse import find_point, find_spans

# --------------------------------------------------------------------------------------------
# robust

_NUMBER_WORDS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
}


def read_yes_no(text: str) -> str | None:
    t = clean_reply(text).lower()
    m = re.search(r"\b(yes|no)\b|^\s*([yn])\s*[.!]?\s*$", t)
    if not m:
        return None
    word = m.group(1) or m.group(2)
    if word == "no" and re.match(r"\s+(?:idea|way to tell|information)", t[m.end() :]):
        return None
    return "Yes" if word.startswith("y") else "No"


def read_count(text: str) -> int | None:
    t = clean_reply(text).lower()
    m = re.search(r"(?<![\w.])(\d+)(?![\w.]|\.\d)", t)
    words = re.search(r"\b(" + "|".join(_NUMBER_WORDS) + r")\b", t)
    if m and (not words or m.start() < words.start()):
        return int(m.group(1))
    return _NUMBER_WORDS[words.group(1)] if words else None


def read_rating(text: str, scale: tuple[int, int] = (1, 5)) -> float | None:
    """A score on ``scale``: "4/5", "Score: 4", "video: 4, because ...", "I'd give it a 3"."""
    t = clean_reply(text)
    low, high = scale
    for pattern in (
        r"(\d+(?:\.\d+)?)\s*/\s*\d+",
        r"(?:score|rating|rate|video)\w*\s*(?:is|of|:|=)?\s*(\d+(?:\.\d+)?)",
        r"(?<![\w.:])(\d+(?:\.\d+)?)(?![\w.:])",
    ):
        for m in re.finditer(pattern, t, re.I):
            value = float(m.group(1))
            if low <= value <= high:
                return value
    return None


def robust(sample: EvalSample, text: str) -> Parsed:
    """vidllm's one robust parser: reads ``text`` as ``sample.kind`` asks."""
    kind = sample.kind
    if kind == "choice":
        letter = read_letter(text, sample.options)
        return Parsed(letter, note="" if letter else "no single option chosen")
    if kind == "yesno":
        return Parsed(read_yes_no(text))
    if kind == "count":
        return Parsed(read_count(text))
    if kind in ("span", "spans"):
        cleaned = clean_reply(text)
        spans = find_spans(cleaned) or find_spans(text or "")
        spans = [s for s in spans if s[1] >= 0 and s[0] >= 0]
        if kind == "span":
            return Parsed(spans[0] if spans else None)
        return Parsed(tuple(spans) if spans else None)
    if kind == "point":
        return Parsed(find_point(clean_reply(text)))
    if kind == "rating":
        scale = tuple(sample.extra.get("scale", (1, 5)))
        return Parsed(read_rating(text, scale))
    if kind == "choice_span":
        spans = find_spans(clean_reply(text)) or find_spans(text or "")
        return Parsed((read_letter(text, sample.options), spans[0] if spans else None))
    if kind == "captions":
        return Parsed(read_captions(text))
    return Parsed(clean_reply(text) or None)


def read_captions(text: str) -> tuple[tuple[tuple[float, float], str], ...] | None:
    """Dense captions: one (span, caption) per line or sentence that names a time range."""
    out = []
    for line in re.split(r"\n+|(?<=\.)\s+(?=\d)", clean_reply(text)):
        spans = find_spans(line)
        if not spans:
            continue
        caption = re.sub(r"[\[(]?\s*\d[\d:.\s]*\w*\s*(?:-|–|to|,)\s*\d[\d:.]*\s*(?:s\b|sec\w*)?\s*[\])]?[:,]?", " ", line)
        caption = " ".join(caption.replace("seconds", " ").split()).strip(" ,.:-")
        out.append((spans[0], caption))
    return tuple(out) or None


# --------------------------------------------------------------------------------------------
# official multiple choice


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


def mlvu_official(sample: EvalSample, text: str) -> Parsed:
    """MLVU (JUNJIE99/MLVU evaluation/multiple_choice_evaluation/choice_bench.py ``check_ans``):
    the character before the first ")" (the whole reply when there is none) must equal the letter.

    Quirks: "A." and "The answer is A" fail (no ")"); "B (not A)" reads "A"; ")" alone reads "".
    """
    pred = text or ""
    if ")" in pred:
        i = pred.index(")")
        pred = pred[i - 1 : i]
    gt = sample.extra.get("official_gt") or f"({sample.target}) "
    gt_option = gt[gt.index("(") + 1 : gt.index(")")]
    return Parsed(pred, correct=pred == gt_option)


_VIDEOMME_PREFIXES = (
    "The best answer is",
    "The correct answer is",
    "The answer is",
    "The answer",
    "The best option is" "The correct option is",  # noqa: ISC001, ISC004 - the official list lacks this comma
    "Best answer:" "Best option:",  # noqa: ISC001, ISC004 - and this one
)


def videomme_official(sample: EvalSample, text: str) -> Parsed:
    """Video-MME (BradyFU/Video-MME evaluation/eval_your_results.py ``extract_characters_regex``,
    last version at 4e7566d): strip the prefixes, then the first capital A-D anywhere.

    Quirks: two pairs of prefixes lack a comma and fuse, so "Best answer: D" keeps its prefix and
    reads "B" (of "Best"); "Answer: C" reads "A"; a reply with no A-D (or over 10 words without)
    is not "answered" and leaves the denominator.
    """
    s = (text or "").strip()
    for prefix in _VIDEOMME_PREFIXES:
        s = s.replace(prefix, "")
    if len(s.split()) > 10 and not re.search("[ABCD]", s):
        return Parsed("", answered=False, note="unanswered: over 10 words and no A-D")
    m = re.search(r"[ABCD]", s)
    if m is None:
        return Parsed("", answered=False, note="unanswered: no A-D")
    return Parsed(m.group(0))


def ovo_official(sample: EvalSample, text: str | None) -> Parsed:
    """OVO-Bench (JoeLeelyf/OVO-Bench utils/OVOBenchScore.py ``OVOBenchOfflineScore``).

    Backward/real-time: correct when the letter occurs anywhere in the reply ("Based on ..." holds
    "B"). REC: all digits of the reply joined must equal the count ("3 of 10" reads 310). SSR/CRR:
    "Yes"/"No" anywhere ("Not sure" holds "No"), or exactly "Y"/"N".
    """
    if text is None:
        return Parsed(None, correct=False, note="no response")
    if sample.kind == "choice":
        return Parsed(sample.target if sample.target in text else None, correct=sample.target in text)
    if sample.kind == "count":
        digits = "".join(re.findall(r"\d+", text))
        return Parsed(digits, correct=digits == str(sample.target))
    if (text == "N" and sample.target == "No") or (text == "Y" and sample.target == "Yes"):
        return Parsed(sample.target, correct=True)
    return Parsed(sample.target if sample.target in text else None, correct=sample.target in text)


_VAU_STANDALONE = re.compile(r"(?<![A-Za-z0-9])([A-D])(?![A-Za-z0-9])", re.I)


def vau_clean_answer(text: str) -> str:
    """VAU-R1's ``clean_model_answer`` (src/evaluation/inference_qa_qwen.py): <answer>X</answer>,
    else <X>, else the last standalone A-D (any case) after </think>, else in the whole reply.

    Quirk: case-insensitive, so the article in "it is a fight" reads as option A.
    """
    m = re.search(r"<answer>\s*([A-D])\s*</answer>", text, re.I) or re.search(r"<\s*([A-D])\s*/?\s*>", text, re.I)
    if m:
        return m.group(1).upper()
    parts = re.split(r"</think>", text, flags=re.I)
    tail = parts[-1] if len(parts) > 1 else ""
    found = _VAU_STANDALONE.findall(tail) or _VAU_STANDALONE.findall(text)
    return found[-1].upper() if found else ""


def vau_qa_official(sample: EvalSample, text: str) -> Parsed:
    """VAU-R1 multiple choice: ``clean_model_answer`` then, as src/evaluation/evaluate_qa.py
    intends (the script itself stops on undefined names), a case-insensitive comparison with the
    raw "Correct Option" cell - so rows whose cell is "-1" or "D. Full option text" never match."""
    letter = vau_clean_answer(text or "")
    raw = str(sample.extra.get("correct_option_raw", sample.target))
    return Parsed(letter, correct=letter.lower() == raw.lower())


def videobench_official(sample: EvalSample, text: str) -> Parsed:
    """Video-Bench (Video-Bench/Video-Bench videobench/staticquality.py): the first integer after a
    colon anywhere in the reply; none is an "Error" that the average leaves out.

    Quirk: "Analysis: 3 frames are blurry ... video: 5" reads 3.
    """
    m = re.search(r":\s*(\d+)", text or "")
    if not m:
        return Parsed(None, answered=False, note="no ':<number>' in the reply")
    return Parsed(float(int(m.group(1))))


def vrb_final_answer_official(text: str) -> str | None:
    """VideoReasonBench (llyx97/video_reason_bench utils/eval_utils.py ``extract_final_answer``):
    the text after "Final Answer" (case-sensitive; the colon stays in), None when absent."""
    if not text:
        return None
    if "\u25c1/think\u25b7" in text:
        text = text.split("\u25c1/think\u25b7")[1]
    m = re.search(r"Final Answer\s*(.*?)\s*$", text, re.S)
    return m.group(1) if m else None


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


OFFICIAL: dict[str, Callable[[EvalSample, str], Parsed]] = {
    "mvbench": mvbench_official,
    "mlvu": mlvu_official,
    "videomme": videomme_official,
    "ovobench": ovo_official,
    "vau": vau_qa_official,
    "videobench": videobench_official,
}
"""The official readers of the multiple-choice and rating benchmarks, by benchmark name; the
time-based ones live in ``vidllm.eval.timeparse`` and are used by their benchmark modules."""


def _demo_sample() -> EvalSample:
    return EvalSample(
        doc_id="demo", benchmark="videomme", task="demo", video="v.mp4", video_path="", question="?",
        options=("A. w", "B. x", "C. y", "D. z"), target="D", kind="choice", prompt="?",
        extra={"official_gt": "(D) z"},
    )


__all__ = [
    "OFFICIAL", "Parsed", "clean_reply", "read_letter", "read_yes_no", "read_count", "read_rating",
    "read_captions", "robust", "mvbench_official", "mlvu_official", "videomme_official", "ovo_official",
    "vau_clean_answer", "vau_qa_official", "videobench_official", "vrb_final_answer_official",
    "etbench_choice_official",
]

