"""VAU-R1's own scoring code, reproduced for ``vidllm.eval.benchmarks.vau``: the reading of
multiple-choice replies, of temporal-grounding replies, and the reasoning judge's prompt and the
readings of its reply (official and robust).

>>> vau_clean_answer("I think it is a fight")      # any case: the article reads as option A
'A'
>>> vau_parse_glue("<glue>[1:05, 1:20]</glue>")
(65.0, 80.0)
"""

from __future__ import annotations

import json
import re
from datetime import datetime

from vidllm.eval.judge import prompt_block
from vidllm.eval.types import EvalSample, Parsed

# -------------------------------------------------------------------------- multiple choice


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


# -------------------------------------------------------------------------- classification
# GVCLab/VAU-R1 src/evaluation/inference_cls_qwen.py (prompt) and evaluation_cls.py (reading)

VAU_CLASSES = (
    "Abuse", "Agriculture", "Arrest", "Arson", "Assault", "Explosion", "Fighting", "Fire", "Food Safety",
    "Medical Abnormality", "Natural Hazard", "Normal", "Object_falling", "People_falling", "Robbery", "Shooting",
    "Stealing", "Traffic_accident", "Vandalism", "Water_incident",
)
VAU_CLS_QUESTION = "What type of anomaly appears in the video? If no anomaly appears, please answer 'Normal'."
VAU_CLS_PROMPT = (
    f'Answer the question: "{VAU_CLS_QUESTION}" according to the content of the video. Select one of the answer from '
    f":{list(VAU_CLASSES)}. The expected format is: <answer> Output the corresponding option here </answer> "
)
# a class with any run of spaces/underscores between its words, whole words, any case
_VAU_CLASS = re.compile(
    r"\b(" + "|".join("(?:%s)" % r"[_\s]*".join(map(re.escape, re.split(r"[_\s]+", c))) for c in VAU_CLASSES) + r")\b", re.I)
_VAU_CANONICAL = {re.sub(r"[\s_]+", "_", c.lower()): c for c in VAU_CLASSES}


def vau_classes_in(text: str) -> list[str]:
    """The classes a reply names, first mention first (``extract_options``)."""
    found: list[str] = []
    for m in _VAU_CLASS.finditer(text):
        name = _VAU_CANONICAL.get(re.sub(r"[\s_]+", "_", m.group(1).strip().lower()))
        if name and name not in found:
            found.append(name)
    return found


def vau_cls_official(text: str) -> str | None:
    """VAU-R1 ``evaluation_cls.py``: inside the first <answer> element when there is one (read by
    an HTML parser: an unclosed tag runs to the end), the first class named; None when none."""
    text = text or ""
    start = text.find("<answer>")
    if start >= 0:
        end = text.find("</answer>", start)
        text = text[start + len("<answer>"): end if end >= 0 else len(text)]
    found = vau_classes_in(text)
    return found[0] if found else None


def vau_cls_correct(predicted: str | None, gt: str) -> tuple[bool, bool]:
    """(class right, anomaly-or-not right) as ``evaluation_cls.py`` counts them: no class read is
    wrong on both; a ground truth that is no class ("-1") can only be right on the binary test."""
    if predicted is None:
        return False, False
    normal = gt.lower() == "normal"
    binary = predicted.lower() == "normal" if normal else predicted.lower() != "normal"
    return predicted.lower() == gt.lower(), binary


# official temporal grounding (GVCLab/VAU-R1 src/evaluation/evaluation_tag.py)


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


# -------------------------------------------------------------------------- judge
# GVCLab/VAU-R1 src/evaluation/evaluate_reasoning_deepseek.py (deepseek-chat)


VAU_SYSTEM = "You are an expert evaluator for video anomaly detection outputs."


VAU_KEYS = ("classification_score", "key_matching_score", "fluency_score", "informativeness_score", "factual_score", "total_score")


def vau_prompt(gt_description: str, gt_analysis: str, description: str, analysis: str) -> tuple[str, str]:
    user = prompt_block(f"""
        Below is a ground-truth description and analysis, followed by a model-generated description and analysis. Please evaluate the model's outputs from the following aspects:

        1. Classification Correctness (10 pts)
        2. Key Object and Action Matching (10 pts)
        3. Fluency and Coherence (10 pts)
        4. Informativeness and Domain Awareness (10 pts)
        5. Factual Consistency (10 pts)

        ---
        Ground Truth:
        - Description: {gt_description}
        - Analysis: {gt_analysis}

        Model Output:
        - Description: {description}
        - Analysis: {analysis}

        Please return a JSON object strictly formatted as:

        {{
            "classification_score": int (0-10),
            "key_matching_score": int (0-10),
            "fluency_score": int (0-10),
            "informativeness_score": int (0-10),
            "factual_score": int (0-10),
            "total_score": int (0-50),
            "comments": {{
                "classification": "...",
                "key_matching": "...",
                "fluency": "...",
                "informativeness": "...",
                "factual": "..."
            }}
        }}
    """)
    return VAU_SYSTEM, user


def vau_scores_official(text: str) -> dict | None:
    """Only a ```json fenced block is read (``generate_answer``); None where the official script
    would then stop with an AttributeError."""
    m = re.search(r"```json\n(.*?)\n```", text, re.S)
    if not m:
        return None
    try:
        data = json.loads(m.group(1))
    except json.JSONDecodeError:
        return None
    return {k: data.get(k, 0) for k in VAU_KEYS} if isinstance(data, dict) else None


def vau_scores_robust(text: str) -> dict | None:
    """The last JSON object in the reply, fenced or not; missing keys stay missing."""
    for m in reversed(list(re.finditer(r"\{(?:[^{}]|\{[^{}]*\})*\}", text, re.S))):
        try:
            data = json.loads(m.group(0))
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict) and any(k in data for k in VAU_KEYS):
            return {k: float(data[k]) for k in VAU_KEYS if isinstance(data.get(k), (int, float))}
    return None
