"""E.T. Bench: 12 event-level, time-sensitive tasks (PolyU-ChenLab/ETBench).

Layout read (PolyU-ChenLab/ETBench on the hub)::

    ETBench/annotations/etbench_txt_v1.0.json    (or etbench_vid_v1.0.json; or the file in the root)
    ETBench/videos/<video>                        (or videos_compressed/<video>)

Each entry: idx, task, source, video, duration, q (the prompt), and as the task needs: tgt (time
ranges), p and o (answer index and options), g (captions).

Official scoring: ``evaluation/compute_metrics.py`` of the hub dataset: per task and source
dataset, then the mean over sources; merged as Acc (rar, eca, rvq), F1 (tvg, epm, tal, evs, vhd),
F1 and SentSim (dvc, slc), mean recall (tem, gvq). Every task and source also reports "failed",
the replies that could not be read. The arithmetic is ``vidllm.eval.temporal`` (IoU in float32
as the official nncore call), the captions' METEOR, ROUGE-L and CIDEr
``vidllm.eval.temporal_captions`` (pycocoevalcap, needs Java; left out with a note without it;
SentSim is then taken on untokenized captions). Not reproduced: BLEU, which nothing merged
uses; the official captioning scorer keys samples by video, so two samples of one video would
collapse into one there (not in the published data). The official readings of replies are in
``etbench_official``; ``tests/fixtures/temporal`` pins the scores to the official script's.

Result file read by ``vidllm score``: the annotation list with each sample's "a" (the reply)
filled in, as ``compute_metrics.py`` reads it (JSON, or JSON lines).
"""

from __future__ import annotations

import json
import random
import re
import string
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from vidllm.choices import clean_reply
from vidllm.errors import MissingDependencyError, PredictionFormatError
from vidllm.eval import temporal as T
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
from vidllm.eval.temporal_captions import LANGUAGE_METRICS, CaptionScorer, ascii_only
from vidllm.eval.types import EvalSample, Prediction
from vidllm.timeparse import read_times

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
THR = T.THRESHOLDS


class ETBench(Benchmark):
    name = "etbench"
    title = "E.T. Bench"
    source = "PolyU-ChenLab/ETBench (hub dataset) evaluation/compute_metrics.py"
    tasks = tuple(KIND)
    sampling = {"fps": 1.0, "max_frames": 128}
    video_dirs = ("videos", "videos_compressed", "")
    #: METEOR, ROUGE-L and CIDEr of DVC/SLC captions (pycocoevalcap + Java; ~10 s to start METEOR)
    caption_language_metrics = True
    _scorer = None

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
    # Every row carries "read" (1 when the reply could be read, else 0): a failure is counted
    # apart ("failed" per source and task), never turned into an IoU of 0 without a trace.

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
                # what the official scorer counts as failed: rar/eca/rvq a reply with no letter
                # (an empty one, or one matched by similarity alone); gvq only an empty one
                read = how in ("(x) in the reply", "leading letter") if task != "gvq" else how != "empty reply"
            else:
                value, how = robust(sample, text).value, ""
                letter, span = (value if task == "gvq" else (value, None))
                read = letter is not None
            correct = letter is not None and "ABCDE".index(letter) == sample.extra["p"]
            if task != "gvq":
                return g(letter, {"acc": float(correct), "read": float(read)}, True, how)
            # the grounding counts only for a right answer; a right answer without a span is a failure
            metrics = {"acc": float(correct), "read": float(read and (span is not None or not correct))}
            if correct and span is not None:
                metrics["iou"] = T.official_iou(tgt, span) if official else T.iou(span, tgt)
            elif not correct:
                metrics["iou"] = 0.0
            return g([letter, span], metrics, True, how)
        if task in ("tvg", "epm", "tem", "tal", "evs"):
            if official:
                spans = etbench_tvg_format(text)
            else:
                value = robust(sample, text).value
                spans = None if value is None else ([value] if KIND[task] == "span" else [list(v) for v in value])
            if spans is None:   # EVS: the official scorer leaves failures out of its mean
                why = "no time range read" if official else read_times(clean_reply(text)).reason
                return g(None, {"read": 0.0}, not (official and task == "evs"), why)
            if task in ("tvg", "epm"):
                return g(spans, {"iou": T.official_iou(tgt, spans[0]) if official else T.iou(spans[0], tgt), "read": 1.0})
            if task == "tem":
                best = float(np.max(T.official_iou_matrix(tgt, [spans[0]]))) if official else max(T.iou(spans[0], t) for t in tgt)
                return g(spans, {"iou": best, "read": 1.0})
            if task == "tal":
                f1s = T.f1_at_iou(tgt, spans, THR, official=official)
                return g(spans, {**{f"f1@{t}": v for t, v in zip(THR, f1s)}, "read": 1.0})
            return g(spans, {"f1": T.evs_f1(tgt, spans, T.EVS_BINS if official else None), "read": 1.0})
        if task == "vhd":
            if official:
                m = re.search(r"[-+]?\d*\.\d+|[-+]?\d+", text)
                point = float(m.group(0)) if m else None
            else:
                point = robust(sample, text).value
            return g(point, {"hit": float(T.vhd_hit(point, tgt)), "read": float(point is not None)}, True,
                     "" if point is not None else "no moment read")
        return self._grade_captions(sample, text, official, ctx)

    def _grade_captions(self, sample: EvalSample, text: str, official: bool, ctx: GradeContext) -> Graded:
        """Detection precision and recall per sample; SentSim and the language scores need every
        sample of a source at once (one tokenizer call, per-video scorers), so ``aggregate``
        computes them from the pairs kept here, with this context's sentence similarity."""
        self._ctx = ctx
        mode = "official" if official else "robust"
        if official:
            times, caps = etbench_dvc_format(text)
            pairs = list(zip(times, caps)) if times else []
        else:
            pairs = [(list(span), cap) for span, cap in (robust(sample, text).value or ())]
        if not pairs:
            return Graded(sample.doc_id, sample.task, mode, None, {"read": 0.0}, False, "no captions read")
        values: dict[str, float] = {"read": 1.0}
        for t in THR:
            values[f"p@{t}"], values[f"r@{t}"] = T.dvc_detection([s for s, _ in pairs], sample.extra["tgt"], t)
        return Graded(sample.doc_id, sample.task, mode, pairs, values, True)

    def aggregate(self, samples, graded, mode: str) -> dict:
        by_id = {s.doc_id: s for s in samples}
        groups: dict[tuple[str, str], list[Graded]] = defaultdict(list)
        for row in graded.values():
            groups[(row.task, by_id[row.doc_id].extra["source"])].append(row)
        notes: list[str] = []
        per_source = {}
        for (task, source), rows in sorted(groups.items()):
            per_source[(task, source)] = _source_metrics(task, rows)
            if task in ("dvc", "slc"):
                per_source[(task, source)].update(self._caption_scores(rows, by_id, notes))
        tasks: dict[str, dict] = {}
        for task in self.tasks:
            outs = [v for (t, _), v in per_source.items() if t == task]
            if outs:
                keys = set.intersection(*(set(o) for o in outs))
                tasks[task] = {k: T.mean(o[k] for o in outs) for k in sorted(keys) if k not in ("n", "failed")}
                tasks[task]["n"] = sum(o["n"] for o in outs)
                tasks[task]["failed"] = sum(o["failed"] for o in outs)
        merged = {}
        for name, members in GROUPS.items():
            present = [tasks[t][k] for t, k in members if t in tasks and k in tasks[t]]
            if present:
                merged[name] = T.mean(present)
        overall = {**merged, "score": T.mean(merged.values())}
        out = {"overall": overall, "tasks": tasks, "sources": {f"{t}/{s}": v for (t, s), v in per_source.items()},
               "primary": "score", "headline": "mean of the merged scores (Acc ref, F1 gnd, F1/Sim cap, Rec com)"}
        if notes:
            out["notes"] = sorted(set(notes))
        return out

    def _caption_scores(self, rows: list[Graded], by_id: dict, notes: list[str]) -> dict:
        """SentSim (and METEOR, ROUGE-L, CIDEr where pycocoevalcap and Java run) of one source,
        as DVCEval: per threshold, per video the mean over its (caption, reference) pairs, then the
        mean over videos; then the mean over thresholds. Unmatched captions meet a random string,
        drawn from a generator seeded by the sample (the official one is unseeded)."""
        counted = [r for r in rows if r.counted]
        groups_at = {}
        for t in THR:
            groups_at[t] = []
            for row in counted:
                extra = by_id[row.doc_id].extra
                rng = random.Random(f"{row.doc_id}/{t}")
                unmatched = lambda rng=rng: "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(10, 20)))  # noqa: E731
                pairs = T.dvc_caption_pairs([(s, ascii_only(c)) for s, c in row.value], extra["tgt"],
                                            [ascii_only(x) for x in extra["g"]], t, unmatched)
                groups_at[t].append(pairs)
        scorer = self._caption_scorer(notes)
        if scorer is not None:
            tokens = scorer.tokenize(x for groups in groups_at.values() for pairs in groups for pair in pairs for x in pair)
            groups_at = {t: [[(tokens[c], tokens[r]) for c, r in pairs] for pairs in groups] for t, groups in groups_at.items()}
        ctx = getattr(self, "_ctx", None) or GradeContext()
        sim = ctx.get_similarity()
        out = {"SentSim": T.mean(T.mean(T.mean(sim(c, r) for c, r in pairs) for pairs in groups) for groups in groups_at.values())}
        if scorer is not None:
            per_t = [scorer.score_groups(groups) for groups in groups_at.values()]
            out.update({k: T.mean(v[k] for v in per_t) for k in LANGUAGE_METRICS})
        return out

    def _caption_scorer(self, notes: list[str]):
        if not self.caption_language_metrics:
            notes.append("captions: language scores not asked for; SentSim on untokenized captions")
            return None
        if self._scorer is None:
            try:
                self._scorer = CaptionScorer()
            except MissingDependencyError as exc:
                self._scorer = exc
        if isinstance(self._scorer, MissingDependencyError):
            notes.append(f"captions: no METEOR/ROUGE-L/CIDEr, SentSim on untokenized captions ({self._scorer})")
            return None
        return self._scorer

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


def _source_metrics(task: str, rows: list[Graded]) -> dict:
    """One (task, source) block as compute_metrics.py computes it, with "failed" beside "n": every
    row is in the denominator except official EVS failures (the official scorer leaves those out)."""
    n = len(rows)
    failed = sum(1 for r in rows if not r.metrics.get("read", 1.0))
    counted = [r for r in rows if r.counted]
    if task in ("rar", "eca", "rvq"):
        return {"Acc": T.mean(r.metrics["acc"] for r in rows), "n": n, "failed": failed}
    if task in ("tvg", "epm", "tem", "gvq"):
        summary = T.span_summary([r.metrics.get("iou") for r in rows], THR)
        rec = [summary[f"R@{t}"] for t in THR]
        out = {"mIoU": summary["mIoU"], **{f"R@{t}": v for t, v in zip(THR, rec)}, "n": n, "failed": failed}
        out["F1" if task in ("tvg", "epm") else "mRec"] = T.mean(rec)
        if task == "gvq":
            out["Acc"] = T.mean(r.metrics["acc"] for r in rows)
        return out
    if task == "tal":
        f1s = [sum(r.metrics.get(f"f1@{t}", 0.0) for r in rows) / n for t in THR]
        return {**{f"F1@{t}": v for t, v in zip(THR, f1s)}, "F1": T.mean(f1s), "n": n, "failed": failed}
    if task == "evs":
        return {"F1": sum(r.metrics.get("f1", 0.0) for r in counted) / len(counted) if counted else 0.0, "n": n, "failed": failed}
    if task == "vhd":
        return {"F1": T.mean(r.metrics["hit"] for r in rows), "n": n, "failed": failed}
    scale = len(counted) / n if n else 0.0
    f1s = []
    for t in THR:
        p = T.mean(r.metrics[f"p@{t}"] for r in counted) * scale
        r_ = T.mean(r.metrics[f"r@{t}"] for r in counted) * scale
        f1s.append(T.f1(p, r_))
    return {**{f"F1@{t}": v for t, v in zip(THR, f1s)}, "F1": T.mean(f1s), "n": n, "failed": failed}
