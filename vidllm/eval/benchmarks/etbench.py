"""E.T. Bench: 12 event-level, time-sensitive tasks (PolyU-ChenLab/ETBench).

Layout read (PolyU-ChenLab/ETBench on the hub)::

    ETBench/annotations/etbench_txt_v1.0.json    (or etbench_vid_v1.0.json; or the file in the root)
    ETBench/videos/<video>                        (or videos_compressed/<video>)

Each entry: idx, task, source, video, duration, q (the prompt), and as the task needs: tgt (time
ranges), p and o (answer index and options), g (captions).

Official scoring: ``evaluation/compute_metrics.py`` of the hub dataset: per task and source
dataset, then the mean over sources; merged as Acc (rar, eca, rvq), F1 (tvg, epm, tal, evs, vhd),
F1 and SentSim (dvc, slc), mean recall (tem, gvq). Not reproduced: the captioning BLEU, METEOR,
ROUGE-L and CIDEr (pycocoevalcap and Java), which the merged scores do not use. The official
readings of replies are in ``etbench_official``.

Result file read by ``vidllm score``: the annotation list with each sample's "a" (the reply)
filled in, as ``compute_metrics.py`` reads it (JSON, or JSON lines).
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

from vidllm.errors import PredictionFormatError
from vidllm.eval import metrics as M
from vidllm.eval.benchmarks.base import (
    Benchmark,
    ScoredPairs,
    kind_answer,
    reply,
    seconds,
)
from vidllm.eval.benchmarks.etbench_official import (
    etbench_choice_official,
    etbench_dvc_format,
    etbench_tvg_format,
)
from vidllm.eval.grading import GradeContext, Graded
from vidllm.eval.parsers import robust
from vidllm.eval.types import EvalSample, Prediction

KIND = {
    "rar": "choice", "eca": "choice", "rvq": "choice", "tvg": "span", "epm": "span", "tal": "spans", "evs": "spans",
    "vhd": "point", "dvc": "captions", "slc": "captions", "tem": "spans", "gvq": "choice_span",
}
GROUPS = {
    "Acc (ref)": (("rar", "Acc"), ("eca", "Acc"), ("rvq", "Acc")),
    "F1 (gnd)": (("tvg", "F1"), ("epm", "F1"), ("tal", "F1"), ("evs", "F1"), ("vhd", "F1")),
    "F1 (cap)": (("dvc", "F1"), ("slc", "F1")),
    "Sim (cap)": (("dvc", "SentSim"), ("slc", "SentSim")),
    "Rec (com)": (("tem", "mRec"), ("gvq", "mRec")),
}
THR = M.THRESHOLDS


class ETBench(Benchmark):
    name = "etbench"
    title = "E.T. Bench"
    source = "PolyU-ChenLab/ETBench (hub dataset) evaluation/compute_metrics.py"
    tasks = tuple(KIND)
    sampling = {"fps": 1.0, "max_frames": 128}
    video_dirs = ("videos", "videos_compressed", "")

    def annotation_files(self) -> list[Path]:
        for folder in (self.root / "annotations", self.root):
            for name in ("etbench_txt_v1.0.json", "etbench_vid_v1.0.json"):
                if (folder / name).exists():
                    return [folder / name]
        return []

    def read(self, files: list[Path], quirks: Counter) -> Iterator[EvalSample]:
        yield from self.samples_from(json.loads(files[0].read_text(encoding="utf-8")), quirks)

    def samples_from(self, entries: list[dict], quirks: Counter) -> Iterator[EvalSample]:
        """Samples of annotation entries (also of a predictions file, which is the annotation
        list with an "a" field added)."""
        first_options: dict[tuple, int] = {}
        for entry in entries:
            self.items += 1
            task = entry["task"]
            if task not in KIND:
                quirks["unknown_task"] += 1
                continue
            options = tuple(f"{o[0]} - {o[1]}" if isinstance(o, (list, tuple)) else str(o) for o in entry.get("o", ()))
            group = (task, entry["source"])
            first_options.setdefault(group, len(options))
            if options and len(options) != first_options[group]:
                quirks["option_count_differs_within_task"] += 1
            target = _target(task, entry)
            yield EvalSample(
                doc_id=f"{task}/{entry['source']}/{entry['idx']}", benchmark=self.name, task=task, video=entry["video"],
                video_path="", question=entry["q"], options=options, target=target, kind=KIND[task], prompt=entry["q"],
                extra={"source": entry["source"], "idx": entry["idx"], "duration": entry.get("duration"),
                       "tgt": entry.get("tgt"), "p": entry.get("p"), "g": entry.get("g"), "o": entry.get("o"),
                       "n_options_official": first_options[group]},
            )

    # ---------------------------------------------------------------- scoring

    def grade(self, sample: EvalSample, prediction: Prediction, mode: str, ctx: GradeContext) -> Graded:
        task, text, official = sample.task, prediction.text or "", mode == "official"
        tgt = sample.extra["tgt"]
        g = lambda value, metrics, counted=True, note="": Graded(sample.doc_id, task, mode, value, metrics, counted, note)  # noqa: E731
        if task in ("rar", "eca", "rvq", "gvq"):
            if official:
                n = sample.extra["n_options_official"] if task != "gvq" else len(sample.options)
                similarity = _LazySimilarity(ctx.get_similarity)
                index, how = etbench_choice_official(text, sample.extra["o"], n, similarity, rvq=task != "gvq")
                letter = None if index is None else "ABCDE"[index]
                span_read = etbench_tvg_format(text)
                span = span_read[0] if span_read else None
            else:
                value, how = robust(sample, text).value, ""
                letter, span = (value if task == "gvq" else (value, None))
            correct = letter is not None and "ABCDE".index(letter) == sample.extra["p"]
            if task != "gvq":
                return g(letter, {"acc": float(correct)}, True, how)
            # the grounding counts only for a right answer
            return g([letter, span], {"acc": float(correct), "iou": M.iou(span, tgt) if correct else 0.0}, True, how)
        if task in ("tvg", "epm", "tem", "tal", "evs"):
            if official:
                spans = etbench_tvg_format(text)
            else:
                value = robust(sample, text).value
                spans = None if value is None else ([value] if KIND[task] == "span" else [list(v) for v in value])
            if spans is None:
                return g(None, _failed(task), not (official and task == "evs"), "no time range read")
            if task in ("tvg", "epm"):
                return g(spans, {"iou": M.iou(spans[0], tgt)})
            if task == "tem":
                return g(spans, {"iou": max(M.iou(spans[0], t) for t in tgt)})
            if task == "tal":
                return g(spans, {f"f1@{t}": v for t, v in zip(THR, M.tal_f1(tgt, spans, THR))})
            return g(spans, {"f1": M.evs_f1(tgt, spans)})
        if task == "vhd":
            if official:
                m = re.search(r"[-+]?\d*\.\d+|[-+]?\d+", text)
                point = float(m.group(0)) if m else None
            else:
                point = robust(sample, text).value
            return g(point, {"hit": float(M.point_in_spans(point, tgt))}, True, "" if point is not None else "no moment read")
        return self._grade_captions(sample, text, official, ctx)

    def _grade_captions(self, sample: EvalSample, text: str, official: bool, ctx: GradeContext) -> Graded:
        if official:
            times, caps = etbench_dvc_format(text)
            pairs = list(zip(times, caps)) if times else []
        else:
            pairs = [(list(span), cap) for span, cap in (robust(sample, text).value or ())]
        if not pairs:
            return Graded(sample.doc_id, sample.task, "official" if official else "robust", None, {}, False, "no captions read")
        gt, refs = sample.extra["tgt"], sample.extra["g"]
        values: dict[str, float] = {}
        for t in THR:
            p, r = M.dvc_detection([s for s, _ in pairs], gt, t)
            values[f"p@{t}"], values[f"r@{t}"] = p, r
        sim = ctx.get_similarity()
        rng = random.Random(sample.doc_id)  # the official scorer pairs unmatched captions with random strings
        sims = []
        for t in THR:
            scores = []
            for span, cap in pairs:
                matched = [refs[j] for j, ref in enumerate(gt) if M.dvc_iou(span, ref) >= t]
                for ref in matched or ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(10, 20)))]:
                    scores.append(sim(_ascii(cap), _ascii(ref)))
            sims.append(M.mean(scores))
        values["sim"] = M.mean(sims)
        return Graded(sample.doc_id, sample.task, "official" if official else "robust", pairs, values, True)

    def aggregate(self, samples, graded, mode: str) -> dict:
        source_of = {s.doc_id: s.extra["source"] for s in samples}
        groups: dict[tuple[str, str], list[Graded]] = defaultdict(list)
        for row in graded.values():
            groups[(row.task, source_of[row.doc_id])].append(row)
        per_source = {key: _source_metrics(key[0], rows) for key, rows in sorted(groups.items())}
        tasks: dict[str, dict] = {}
        for task in self.tasks:
            outs = [v for (t, _), v in per_source.items() if t == task]
            if outs:
                keys = set.intersection(*(set(o) for o in outs))
                tasks[task] = {k: M.mean(o[k] for o in outs) for k in sorted(keys) if k != "n"}
                tasks[task]["n"] = sum(o["n"] for o in outs)
        merged = {}
        for name, members in GROUPS.items():
            present = [tasks[t][k] for t, k in members if t in tasks and k in tasks[t]]
            if present:
                merged[name] = M.mean(present)
        overall = {**merged, "score": M.mean(merged.values())}
        return {"overall": overall, "tasks": tasks, "sources": {f"{t}/{s}": v for (t, s), v in per_source.items()},
                "primary": "score", "headline": "mean of the merged scores (Acc ref, F1 gnd, F1/Sim cap, Rec com)"}

    # ---------------------------------------------------------------- result files and oracle

    def read_results(self, path: Path, quirks: Counter, *, data=None, answers=None) -> ScoredPairs:
        text = path.read_text(encoding="utf-8")
        entries = json.loads(text) if path.suffix == ".json" else [json.loads(line) for line in text.splitlines() if line.strip()]
        if not isinstance(entries, list) or not entries or "task" not in entries[0]:
            raise PredictionFormatError(f"{path}: not an E.T. Bench sample list")
        answered = {f"{e['task']}/{e['source']}/{e['idx']}": e.get("a") for e in entries}
        samples = list(self.samples_from(entries, quirks))
        quirks["no_answer_field"] += sum(1 for v in answered.values() if v is None)
        return [(s, reply(answered[s.doc_id])) for s in samples]

    def oracle_answer(self, sample: EvalSample) -> tuple[str, tuple[str, ...]]:
        if sample.kind == "captions":  # each reference caption after its time range
            captions = sample.extra.get("g") or [""] * len(sample.target)
            return "\n".join(f"{seconds(s)} - {seconds(e)} seconds, {c}" for (s, e), c in zip(sample.target, captions)), ()
        return kind_answer(sample)


class _LazySimilarity:
    """Loads the sentence model only if a reply actually needs option matching."""

    def __init__(self, factory):
        self.factory, self.fn = factory, None

    def __call__(self, a: str, b: str) -> float:
        if self.fn is None:
            self.fn = self.factory()
        return self.fn(a, b)


def _ascii(text: str) -> str:
    return "".join(c if ord(c) < 128 else " " for c in text)


def _target(task: str, entry: dict):
    tgt = entry.get("tgt")
    if task in ("rar", "eca", "rvq"):
        return "ABCDE"[entry["p"]]
    if task == "gvq":
        return ("ABCDE"[entry["p"]], tuple(tgt) if tgt else None)
    if task in ("tvg", "epm"):
        return tuple(tgt)
    if task in ("tal", "evs", "tem", "dvc", "slc"):
        return tuple(tuple(t) for t in tgt)
    return json.loads(json.dumps(tgt))  # vhd: spans, maybe one list per annotator


def _failed(task: str) -> dict:
    if task == "tal":
        return {f"f1@{t}": 0.0 for t in THR}
    if task == "evs":
        return {"f1": 0.0}
    return {"iou": 0.0}


def _source_metrics(task: str, rows: list[Graded]) -> dict:
    """One (task, source) block as compute_metrics.py computes it; every row is in the
    denominator except EVS failures (the official scorer leaves those out)."""
    n = len(rows)
    counted = [r for r in rows if r.counted]
    if task in ("rar", "eca", "rvq"):
        return {"Acc": M.mean(r.metrics["acc"] for r in rows), "n": n}
    if task in ("tvg", "epm", "tem", "gvq"):
        ious = [r.metrics.get("iou", 0.0) for r in rows]
        rec = [sum(1 for x in ious if x >= t) / n for t in THR]
        out = {"mIoU": sum(ious) / n, **{f"R@{t}": v for t, v in zip(THR, rec)}, "n": n}
        if task in ("tvg", "epm"):
            out["F1"] = M.mean(rec)
        else:
            out["mRec"] = M.mean(rec)
        if task == "gvq":
            out["Acc"] = M.mean(r.metrics["acc"] for r in rows)
        return out
    if task == "tal":
        f1s = [M.mean(r.metrics[f"f1@{t}"] for r in rows) for t in THR]
        return {**{f"F1@{t}": v for t, v in zip(THR, f1s)}, "F1": M.mean(f1s), "n": n}
    if task == "evs":
        return {"F1": M.mean(r.metrics["f1"] for r in counted), "n": n}
    if task == "vhd":
        return {"F1": M.mean(r.metrics["hit"] for r in rows), "n": n}
    scale = len(counted) / n if n else 0.0
    f1s = []
    for t in THR:
        p = M.mean(r.metrics[f"p@{t}"] for r in counted) * scale
        r_ = M.mean(r.metrics[f"r@{t}"] for r in counted) * scale
        f1s.append(M.f1(p, r_))
    return {**{f"F1@{t}": v for t, v in zip(THR, f1s)}, "F1": M.mean(f1s),
            "SentSim": M.mean(r.metrics["sim"] for r in counted), "n": n}
