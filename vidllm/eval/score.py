"""Score a predictions file written by another tool, in the benchmark's own result format.

=================  ============================================================================
benchmark          predictions file read
=================  ============================================================================
ovobench           the results JSON of OVO-Bench's ``inference.py`` ({"backward": [...],
                   "realtime": [...], "forward": [...]}), or a folder of them (as its score.py)
videomme           the result JSON of Video-MME's template (videos with questions holding
                   "answer" and "response"; trailing commas and both key sets accepted)
mlvu               the JSON written by MLVU's ``choice_bench.py`` ({"acc_dict", "res_list":
                   [{pred, gt, question, question_type, video}]}); the test-server format
                   ([{question_id, question_type, option}]) needs ``answers`` (a JSON list or
                   map of question_id -> letter), as its ground truth is not public
etbench            the annotation list with each sample's "a" filled in (compute_metrics.py input)
vau                a CSV of VAU-R1's inference scripts ("Video Name" and "QA answer", "Temporal
                   Grounding", or "Description" + "Analysis"), with ``data`` = the ground-truth CSV
charades_sta       lmms-eval's ``{"vid>>>caption>>>[s, e]": reply}`` JSON
any                vidllm's own samples.jsonl
=================  ============================================================================

Every format becomes (samples, predictions) and goes through ``vidllm.eval.grading.grade``, the
same path as ``vidllm eval``: official and robust scores side by side.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from vidllm.errors import PredictionFormatError
from vidllm.eval.benchmarks import BENCHMARKS, Benchmark
from vidllm.eval.benchmarks.base import official_gt, read_json_lenient
from vidllm.eval.types import EvalSample, LoadReport, Prediction


def read_predictions(path: str | Path, bench_name: str | None = None, *, data: str | Path | None = None,
                     answers: str | Path | None = None) -> tuple[Benchmark, LoadReport, dict[str, Prediction]]:
    """(benchmark scorer, the samples as a LoadReport, predictions by doc_id) of a predictions file."""
    path = Path(path)
    if not path.exists():
        raise PredictionFormatError(f"predictions file {path} does not exist")
    if path.suffix == ".jsonl":
        return _vidllm_samples(path, bench_name)
    if bench_name is None:
        raise PredictionFormatError(f"{path}: say which benchmark it is for (--bench NAME); known: {', '.join(BENCHMARKS.names())}")
    bench = BENCHMARKS.get(bench_name)()
    quirks: Counter = Counter()
    readers = {"ovobench": _ovo, "videomme": _videomme, "mlvu": _mlvu, "etbench": _etbench, "vau": _vau, "charades_sta": _charades}
    if bench_name not in readers:
        raise PredictionFormatError(f"no official result format known for {bench_name}; score its vidllm samples.jsonl instead")
    pairs = readers[bench_name](bench, path, quirks, data=data, answers=answers)
    samples = [s for s, _ in pairs]
    report = LoadReport(benchmark=bench.name, root=str(path.parent), samples=samples, files=[], items=len(samples),
                        quirks=dict(quirks), missing=[])
    return bench, report, {s.doc_id: p for s, p in pairs if p is not None}


def _pred(text: Any, model: str = "", turns=()) -> Prediction:
    return Prediction(text="" if text is None else str(text), turns=tuple(turns), model=model)


def _vidllm_samples(path: Path, bench_name: str | None):
    samples, preds = [], {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            sample = EvalSample.from_doc(row["doc"])
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise PredictionFormatError(f"{path}:{n}: not a vidllm samples.jsonl line ({exc})") from None
        samples.append(sample)
        resps = row.get("resps") or [[""]]
        preds[sample.doc_id] = Prediction(text=resps[0][0] or "", turns=tuple(resps[0][1:]), model=row.get("model", ""))
    names = {s.benchmark for s in samples}
    if len(names) != 1 or (bench_name and bench_name not in names):
        raise PredictionFormatError(f"{path}: samples of {sorted(names)}, expected one benchmark{f' ({bench_name})' if bench_name else ''}")
    bench = BENCHMARKS.get(names.pop())()
    report = LoadReport(benchmark=bench.name, root=str(path.parent), samples=samples, files=[], items=len(samples), quirks={}, missing=[])
    return bench, report, preds


# -------------------------------------------------------------------------- OVO-Bench


def _ovo(bench, path: Path, quirks: Counter, data=None, answers=None):
    from vidllm.eval.benchmarks.ovobench import TASK_MODE

    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    options = {}
    if data is not None:
        options = {s.doc_id: s for s in BENCHMARKS.get("ovobench")(data).load(require_videos=False).samples}
    pairs = []
    for file in files:
        result = json.loads(file.read_text(encoding="utf-8"))
        if not isinstance(result, dict) or not {"backward", "realtime", "forward"} <= set(result):
            raise PredictionFormatError(f"{file}: not an OVO-Bench results file (needs backward, realtime, forward)")
        for entry in result["backward"] + result["realtime"]:
            known = options.get(str(entry["id"]))
            sample = EvalSample(
                doc_id=str(entry["id"]), benchmark="ovobench", task=entry["task"], video=entry.get("video", ""), video_path="",
                question=entry.get("question", ""), options=known.options if known else (), target=entry["ground_truth"],
                kind="choice", prompt=known.prompt if known else entry.get("question", ""), extra={"mode": TASK_MODE[entry["task"]]},
            )
            pairs.append((sample, None if entry.get("response") is None else _pred(entry["response"])))
        for entry in result["forward"]:
            task = entry["task"]
            for k, info in enumerate(entry["test_info"]):
                target = int(info["count"]) if task == "REC" else ("Yes" if info["type"] == 1 else "No")
                sample = EvalSample(
                    doc_id=f"{entry['id']}/{k}", benchmark="ovobench", task=task, video=entry.get("video", ""), video_path="",
                    question=entry.get("question", info.get("step", "")), target=target,
                    kind="count" if task == "REC" else "yesno", prompt="", realtime=float(info["realtime"]),
                    extra={"mode": "forward"},
                )
                pairs.append((sample, _pred(info.get("response")) if info.get("response") is not None else _pred(None)))
    missing = sum(1 for _, p in pairs if p is None)
    if missing:
        quirks["response_none"] += missing  # the official scorer counts these as wrong
        pairs = [(s, p or Prediction(text="", error="response was None")) for s, p in pairs]
    return pairs


# -------------------------------------------------------------------------- Video-MME


def _videomme(bench, path: Path, quirks: Counter, data=None, answers=None):
    from vidllm.eval.benchmarks.videomme import template_rows

    pairs = []
    videos = read_json_lenient(path, quirks)
    responses = {q["question_id"]: q.get("response") for v in videos for q in v.get("questions", [])}
    for row in template_rows(videos, quirks):
        sample = EvalSample(
            doc_id=str(row["question_id"]), benchmark="videomme", task=row["duration"], video=f"{row['videoID']}.mp4",
            video_path="", question=row["question"], options=tuple(row["options"]), target=row["answer"], kind="choice",
            prompt=row["question"],
            extra={"video_id": row["video_id"], "domain": row["domain"], "sub_category": row["sub_category"], "task_type": row["task_type"]},
        )
        pairs.append((sample, _pred(responses[row["question_id"]])))
    if not pairs:
        raise PredictionFormatError(f"{path}: no Video-MME questions found")
    return pairs


# -------------------------------------------------------------------------- MLVU


def _options_from_question(question: str) -> tuple[str, ...]:
    return tuple(m.group(2) for m in re.finditer(r"^\(([A-Z])\) (.*)$", question, re.M))


def _mlvu(bench, path: Path, quirks: Counter, data=None, answers=None):
    from vidllm.eval.benchmarks.mlvu import FILES, SYSTEM

    content = json.loads(path.read_text(encoding="utf-8"))
    tasks = set(FILES.values())
    if isinstance(content, dict) and "res_list" in content:
        pairs = []
        for i, row in enumerate(content["res_list"]):
            options = _options_from_question(row["question"])
            answer = row["gt"].split(") ", 1)[1] if ") " in row["gt"] else ""
            letter = official_gt(options, answer)[1] if options else row["gt"][1:2]
            task = row["question_type"] if row["question_type"] in tasks else "needle" if row["question_type"] == "findNeedle" else row["question_type"]
            sample = EvalSample(
                doc_id=f"{task}/{i}", benchmark="mlvu", task=task, video=row.get("video", ""), video_path="",
                question=row["question"], options=options, target=row["gt"][1:2], kind="choice", prompt=row["question"],
                system=SYSTEM, extra={"official_gt": row["gt"], "answer_text": answer, "invalid": letter is None and bool(options)},
            )
            pairs.append((sample, _pred(row["pred"])))
        return pairs
    if isinstance(content, list) and content and "question_id" in content[0] and "option" in content[0]:
        if answers is None:
            raise PredictionFormatError(
                f"{path} is in MLVU's test-server format; its ground truth is not public - pass the answer key with --answers FILE"
            )
        key = json.loads(Path(answers).read_text(encoding="utf-8"))
        if isinstance(key, list):
            key = {k["question_id"]: k.get("answer", k.get("option")) for k in key}
        pairs = []
        for row in content:
            if row["question_id"] not in key:
                quirks["no_answer_for_question"] += 1
                continue
            sample = EvalSample(
                doc_id=row["question_id"], benchmark="mlvu", task=row["question_type"], video="", video_path="", question="",
                options=("", "", "", "", "", ""), target=key[row["question_id"]], kind="choice", prompt="",
                extra={"official_gt": f"({key[row['question_id']]}) "},
            )
            pairs.append((sample, _pred(row["option"])))
        return pairs
    raise PredictionFormatError(f"{path}: neither MLVU's choice_bench output nor its test-server format")


# -------------------------------------------------------------------------- E.T. Bench


def _etbench(bench, path: Path, quirks: Counter, data=None, answers=None):
    entries = json.loads(path.read_text(encoding="utf-8")) if path.suffix == ".json" else [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not isinstance(entries, list) or not entries or "task" not in entries[0]:
        raise PredictionFormatError(f"{path}: not an E.T. Bench sample list")
    answered = {f"{e['task']}/{e['source']}/{e['idx']}": e.get("a") for e in entries}
    samples = list(bench.samples_from(entries, quirks))
    quirks["no_answer_field"] += sum(1 for v in answered.values() if v is None)
    return [(s, _pred(answered[s.doc_id])) for s in samples]


# -------------------------------------------------------------------------- VAU-R1


def _vau(bench, path: Path, quirks: Counter, data=None, answers=None):
    if data is None or not Path(data).is_file():
        raise PredictionFormatError("VAU predictions are scored against the ground-truth CSV: pass it with --data FILE.csv")
    gt_path = Path(data)
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    columns = set(rows[0]) if rows else set()
    task = "qa" if "QA answer" in columns else "tag" if "Temporal Grounding" in columns else "reasoning" if "Description" in columns else None
    if task is None:
        raise PredictionFormatError(f"{path}: expected a 'QA answer', 'Temporal Grounding' or 'Description' column, got {sorted(columns)}")
    preds: dict[str, dict] = {}
    for row in rows:
        name = row["Video Name"].strip()
        name = name if name.endswith(".mp4") else name + ".mp4"
        if name in preds:
            quirks["duplicate_prediction_rows"] += 1  # the official scorers keep the first
            continue
        preds[name] = row
    from vidllm.eval.benchmarks.vau import SPLITS

    split = SPLITS.get(gt_path.stem, gt_path.stem)
    with open(gt_path, newline="", encoding="utf-8") as f:
        gt_rows = list(csv.DictReader(f))
    samples = [s for row in gt_rows for s in bench.samples_of_row(split, row, quirks) if s.task == task]
    pairs = []
    for s in samples:
        row = preds.get(s.video)
        if row is None:
            if task == "qa":  # evaluate_qa.py divides by every ground-truth row
                quirks["qa_rows_without_prediction"] += 1
                pairs.append((s, _pred("")))
            continue
        if task == "qa":
            pairs.append((s, _pred(row["QA answer"])))
        elif task == "tag":
            pairs.append((s, _pred(row["Temporal Grounding"])))
        else:
            pairs.append((s, _pred(row.get("Description"), turns=(row.get("Analysis") or "",))))
    return pairs


# -------------------------------------------------------------------------- Charades-STA


def _charades(bench, path: Path, quirks: Counter, data=None, answers=None):
    content = json.loads(path.read_text(encoding="utf-8"))
    pairs = []
    for n, (key, reply) in enumerate(content.items()):
        try:
            vid, caption, gt = key.split(">>>")
            start, end = json.loads(gt)
        except ValueError:
            raise PredictionFormatError(f"{path}: key {key!r} is not 'video>>>caption>>>[start, end]'") from None
        sample = EvalSample(doc_id=f"test/{n}", benchmark="charades_sta", task="test", video=vid, video_path="", question=caption,
                            target=(float(start), float(end)), kind="span", prompt=caption)
        pairs.append((sample, _pred(reply)))
    return pairs
