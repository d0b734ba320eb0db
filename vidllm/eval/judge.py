"""Judge-based scoring: a text model grades free-form answers, with its prompt and model recorded.

A ``Judge`` wraps any callable ``ask(prompt, system) -> reply`` (a vidllm backend, an HTTP client,
a test double) and the name of the model behind it. Every call is recorded as a ``JudgeCall``
(model, system, prompt, reply) and kept in the run's store, so a re-score never asks twice and a
report shows exactly what the judge saw.

The prompts are the benchmarks' own (indentation removed) and each reply is read twice: as the
official script reads it (quirks included) and robustly.

>>> j = Judge(lambda prompt, system: "{'score_accuracy': 4, 'score_relevance': 5, 'total_score': 9}", "fixed")
>>> call = j.call("Question: ...")
>>> mlvu_scores_official(call.reply, MLVU_KEYS["sub_scene"])
[4.0, 5.0]
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import textwrap
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

Ask = Callable[[str, str], str]


@dataclass(frozen=True)
class JudgeCall:
    model: str
    system: str
    prompt: str
    reply: str

    @property
    def key(self) -> str:
        return judge_key(self.model, self.system, self.prompt)

    def to_dict(self) -> dict:
        return {"model": self.model, "system": self.system, "prompt": self.prompt, "reply": self.reply}


def judge_key(model: str, system: str, prompt: str) -> str:
    return hashlib.sha256(json.dumps([model, system, prompt]).encode()).hexdigest()


class Judge:
    """A grading model: ``ask(prompt, system) -> reply`` plus the model's name.

    Replies are memoised by (model, system, prompt); ``seed`` fills the memo from earlier calls
    (the run store keeps them), so re-scoring a finished run asks nothing.
    """

    def __init__(self, ask: Ask, model: str, *, baseline: bool = False):
        self.ask = ask
        self.model = model
        self.baseline = baseline
        self._memo: dict[str, JudgeCall] = {}
        self._lock = threading.Lock()

    def seed(self, calls: Mapping[str, JudgeCall]) -> None:
        self._memo.update(calls)

    @property
    def calls(self) -> dict[str, JudgeCall]:
        return dict(self._memo)

    def call(self, prompt: str, system: str = "") -> JudgeCall:
        key = judge_key(self.model, system, prompt)
        with self._lock:
            if key in self._memo:
                return self._memo[key]
        reply = self.ask(prompt, system)
        if not isinstance(reply, str):
            raise TypeError(f"judge {self.model!r} returned {type(reply).__name__}, expected str")
        made = JudgeCall(self.model, system, prompt, reply)
        with self._lock:
            self._memo[key] = made
        return made


def _dedent(text: str) -> str:
    return textwrap.dedent(text).strip()


# ------------------------------------------------------------------------------------ MLVU
# JUNJIE99/MLVU evaluation/generation_evaluation/evaluate_ssc.py and evaluate_summary.py
# (gpt-4-turbo, temperature 0); scores read by calculate.py / calculate_sum.py.

MLVU_KEYS = {"sub_scene": ("score_accuracy", "score_relevance"), "summary": ("score_completeness", "score_reliability")}

MLVU_SSC_SYSTEM = _dedent("""
    ##TASK DESCRIPTION:
    You are required to evaluate a respondent's answer based on a provided question, some scoring points, and the respondent's answer. You should provide two scores. The first is the accuracy score, which should range from 1 to 5. The second is the relevance score, which should also range from 1 to 5. Below are the criteria for each scoring category.
    ##ACCURACY Scoring Criteria:
    Evaluate the respondent's answer against specific scoring points as follows:
    Score 1: The response completely misses the scoring point.
    Score 3: The response mentions content related to the scoring point but is not entirely correct.
    Score 5: The response accurately addresses the scoring point.
    Calculate the average score across all scoring points to determine the final accuracy score.
    ##RELEVANCE Scoring Criteria:
    Assess how the respondent's answer relates to the original question:
    Score 1: The response is completely off-topic from the question.
    Score 2: The response is partially related to the question but contains a significant amount of irrelevant content.
    Score 3: The response primarily addresses the question, but the respondent seems uncertain about their own answer.
    Score 4: The response mostly addresses the question and the respondent appears confident in their answer.
    Score 5: The response is fully focused on addressing the question with no irrelevant content and demonstrates complete certainty.
    ----
    ##INSTRUCTION:
    1. Evaluate Accuracy: First, assess and score each scoring point based on the respondent's answer. Calculate the average of these scores to establish the final accuracy score. Provide a detailed rationale before assigning your score.
    2. Evaluate RELEVANCE: Assess the relevance of the respondent's answer to the question. Note that when evaluating relevance, the correctness of the answer is not considered; focus solely on how relevant the answer is to the question. Provide a comprehensive rationale before assigning your score.
    3. Output Scores in JSON Format: Present the scores in JSON format as follows:
    {'score_accuracy': score_acc, 'score_relevance': score_rele, 'total_score': score_acc + score_rele}
""")

MLVU_SUMMARY_SYSTEM = _dedent("""
    ##TASK DESCRIPTION:
    You are required to evaluate the performance of the respondent in the video summarization task based on the standard answer and the respondent's answer. You should provide two scores. The first is the COMPLETENESS score, which should range from 1 to 5. The second is the RELIABILITY score, which should also range from 1 to 5. Below are the criteria for each scoring category:
    ##COMPLETENESS Scoring Criteria:
    The completeness score focuses on whether the summary covers all key points and main information from the video.
    Score 1: The summary hardly covers any of the main content or key points of the video.
    Score 2: The summary covers some of the main content and key points but misses many.
    Score 3: The summary covers most of the main content and key points.
    Score 4: The summary is very comprehensive, covering most to nearly all of the main content and key points.
    Score 5: The summary completely covers all the main content and key points of the video.
    ##RELIABILITY Scoring Criteria:
    The reliability score evaluates the correctness and clarity of the video summary. It checks for factual errors, misleading statements, and contradictions with the video content. If the respondent's answer includes details that are not present in the standard answer, as long as these details do not conflict with the correct answer and are reasonable, points should not be deducted.
    Score 1: Contains multiple factual errors and contradictions; presentation is confusing.
    Score 2: Includes several errors and some contradictions; needs clearer presentation.
    Score 3: Generally accurate with minor errors; minimal contradictions; reasonably clear presentation.
    Score 4: Very accurate with negligible inaccuracies; no contradictions; clear and fluent presentation.
    Score 5: Completely accurate with no errors or contradictions; presentation is clear and easy to understand.
    ----
    ##INSTRUCTION:
    1. Evaluate COMPLETENESS: First, analyze the respondent's answer according to the scoring criteria, then provide an integer score between 1 and 5 based on sufficient evidence.
    2. Evaluate RELIABILITY: First, analyze the respondent's answer according to the scoring criteria, then provide an integer score between 1 and 5 based on sufficient evidence.
    3. Output Scores in JSON Format: Present the scores in JSON format as follows:
    {'score_completeness': score_comp, 'score_reliability': score_reli, 'total_score': score_comp + score_reli}
""")


def mlvu_prompt(task: str, question: str, reference: str, scoring_points, reply: str) -> tuple[str, str]:
    """(system, user) for an MLVU open-ended item (``sub_scene`` or ``summary``)."""
    if task == "sub_scene":
        user = (
            "Please score the respondent's answer according to the steps in the Instructions. You must end with a JSON dict to store the scores.\n"
            f"Question: {question.replace(chr(10), '')}\nScoring Points: {scoring_points}\nRespondent's Answer: {reply}"
        )
        return MLVU_SSC_SYSTEM, user
    user = (
        "Please score the respondent's answer according to the steps in the Instructions. You must end with a JSON dict to store the scores.\n"
        f"Standard Answer: {reference}\nRespondent's Answer: {reply}"
    )
    return MLVU_SUMMARY_SYSTEM, user


def mlvu_scores_official(text: str, keys) -> list[float]:
    """calculate.py's ``extract_scores``: after the first occurrence of each key, skip ":" and one
    character, read up to the next ",". Raises ValueError where the official script crashes
    (no space after the colon, or the score is the last field)."""
    scores = []
    for key in keys:
        start = text.find(key)
        if start == -1:
            continue
        number_start = text.find(":", start) + 2
        number_end = text.find(",", number_start)
        scores.append(float(text[number_start:number_end]))
    return scores


def mlvu_scores_robust(text: str, keys) -> list[float | None]:
    """The last value given for each key (the final JSON dict), wherever the spaces are."""
    out = []
    for key in keys:
        found = re.findall(rf"['\"]?{key}['\"]?\s*[:=]\s*['\"]?(\d+(?:\.\d+)?)", text)
        out.append(float(found[-1]) if found else None)
    return out


# ------------------------------------------------------------------------------------ VAU-R1
# GVCLab/VAU-R1 src/evaluation/evaluate_reasoning_deepseek.py (deepseek-chat)

VAU_SYSTEM = "You are an expert evaluator for video anomaly detection outputs."
VAU_KEYS = ("classification_score", "key_matching_score", "fluency_score", "informativeness_score", "factual_score", "total_score")


def vau_prompt(gt_description: str, gt_analysis: str, description: str, analysis: str) -> tuple[str, str]:
    user = _dedent(f"""
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


# ------------------------------------------------------------------------------------ VideoReasonBench
# llyx97/video_reason_bench utils/eval_utils.py (judge gpt-4o-2024-11-20)


def vrb_judge_prompt(question: str, response: str, ground_truth: str) -> str:
    return (
        "You will be given a question, a model response and a ground-truth answer. Your task is to determine whether the "
        "model response is correct based on the ground-truth answer. The model response should contain all information in "
        f"the ground-truth answer.\n\nQuestion: {question}\n\nModel Response: {response}\n\nGround-Truth Answer: {ground_truth}\n\n"
        'Directly output "Correct" or "Incorrect":\n'
    )


def vrb_verdict_official(reply: str) -> bool:
    """Only the exact reply "Correct" counts ("Correct." does not)."""
    return reply == "Correct"


def vrb_verdict_robust(reply: str) -> bool:
    return bool(re.match(r"\W*correct\b", reply.strip(), re.I))


_VRB_EXTRACT = {
    "hrd": (
        "You will be given a model-generated response describing a sequence of movements. Your task is to extract the movements "
        "in the order they appear and return them as a list (e.g., ['left', 'up', 'down', 'right']).\n\n"
        "Model Response: {response}\n\nExtracted Movements:\n"
    ),
    "cup": (
        "You will be given a model-generated response describing a sequence of cup swaps. Each swap is represented as a pair of "
        "coordinates—for example, (a1, b2)—indicating the two positions being swapped. \n\nYour task:\nExtract all coordinate "
        "pairs from the response in the exact order they appear, and return them as a list of tuples.\n\nFormat your answer like "
        "this:\n[('a1', 'b2'), ('c1', 'b1'), ('a3', 'b2')]\n\nModel Response:\n{response}\n\nExtracted Swaps:\n"
    ),
    "file_sys": (
        "You will be given a model-generated response regarding a file operation command in Linux system.\n\nYour task:\n"
        "Identify and extract only the actual command from the model response, removing any irrelevant or descriptive text.\n\n"
        "Model Response:\n{response}\n\nExtracted Command:\n"
    ),
    "card": (
        "You will be given a model-generated response describing a sequence of operations performed to cards. Each operation "
        "either adds or removes a card from pile0 or pile1.\n\nYour task:\n- Extract all valid operations and return them as a list "
        "of strings.\n\n- Each operation must involve either adding or removing a card to or from pile0 or pile1.\n\n- If no valid "
        "operations are found, return an empty list ([]).\n\nFormat your answer like this:\n['add 6 of Hearts to pile0', 'remove King "
        "of Clubs from pile0']\n\nModel Response:\n{response}\n\nExtracted Operations:\n"
    ),
    "chip": (
        "You will be given a model-generated response describing a sequence of operations involving chips and cups. Each operation "
        "either adds or removes a chip from cup0 or cup1.\n\nYour task:\n- Extract all valid operations and return them as a list of "
        "strings.\n\n- Each operation must involve either adding or removing a chip to or from cup0 or cup1.\n\n- If no valid operations "
        "are found, return an empty list ([]).\n\n\nFormat your answer like this:\n['add 20 to cup0', 'remove 50 cup0']\n\nModel Response:\n"
        "{response}\n\nExtracted Operations:\n"
    ),
}
_VRB_EXTRACT["grid"] = _VRB_EXTRACT["hrd"]


def vrb_extract_prompt(kind: str, response: str) -> str:
    return _VRB_EXTRACT[kind].format(response=response)


def vrb_moves_from_judge(kind: str, reply: str):
    """The official reading of the extraction reply: a Python literal (the official code calls
    ``eval``; ``ast.literal_eval`` reads the same literals safely); the file commands are split on
    " & ". False when it cannot be read."""
    if kind == "file_sys":
        return reply.strip("`").replace("bash\n", "").split(" & ")
    try:
        moves = ast.literal_eval(reply.strip())
    except (ValueError, SyntaxError):
        return False
    if kind in ("hrd", "grid"):
        try:
            return [m.lower() for m in moves]
        except (AttributeError, TypeError):
            return False
    return moves
