"""OVO-Bench online mode: every video replayed as a stream through a ``StreamSession``.

``vidllm eval --bench ovobench --online`` answers the same samples as the offline run, with the
same prompts, graded by the same official and robust readings, so the official scores mean
exactly what they mean offline. What changes is how a model sees the video: instead of a clip
cut at ``ceil(realtime)`` per probe (the official ``utils/chunk_videos.py``), each video is
replayed once, frame by frame at the session's rate, and

- every backward / real-time question is asked at its ``realtime``,
- every forward probe (``test_info``) is answered by the session at its ``realtime``,
- and, the true online mode, each forward question is also re-asked every ``interval``
  seconds of stream to record when the session FIRST gave the right answer after its evidence
  appeared (REC ``end_times``, SSR the step's ``start_time``, CRR ``clue_time``): the delay.
  A right answer before the evidence is counted as premature (a guess), not as a response.

No probe sees the future: before a frame later than a probe's ``realtime`` is fed, the probe
is answered, and ``check_no_leak`` asserts at every probe that the session's newest frame and
the newest time its answer used are not after ``realtime``.

The delay table is written to ``online.json`` and added to ``report.html``. Settings come as
``-o`` options beside the model's own: ``stream_tools`` (default ``tags,ocr``) and
``online_interval`` (seconds between re-asks, default 2); the session's rate is the run's
``--fps`` (OVO-Bench's own 1 fps by default). ``-m checks:`` runs the deterministic checks alone.

>>> schedule = probe_schedule([])
>>> schedule
{}
"""

from __future__ import annotations

import html
import json
import logging
import math
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from vidllm.eval.types import EvalSample, Prediction

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 2.0  # stream seconds between the true online mode's re-asks
CHECKS_ONLY = "checks:"  # a model URI for the session's deterministic checks alone


@dataclass
class Delay:
    """The true online mode's record of one forward question (one evidence time).

    ``answered_at``: the first stream time at or after ``evidence_time`` when the session's
    answer was right; ``premature_at``: the first time it gave that answer before the evidence."""

    entry: str
    task: str
    target: str
    evidence_time: float
    answered_at: float | None = None
    premature_at: float | None = None
    decided_by: str = ""

    @property
    def delay(self) -> float | None:
        return None if self.answered_at is None else round(self.answered_at - self.evidence_time, 3)

    def to_dict(self) -> dict:
        return {**asdict(self), "delay": self.delay}


def probe_schedule(samples: Iterable[EvalSample]) -> dict[str, list[EvalSample]]:
    """Each video's samples in the order a stream meets them (``realtime``, then doc_id)."""
    by_video: dict[str, list[EvalSample]] = defaultdict(list)
    for sample in samples:
        by_video[sample.video_path or sample.video].append(sample)
    return {video: sorted(found, key=lambda s: (float(s.realtime or 0.0), s.doc_id)) for video, found in by_video.items()}


def check_no_leak(session, event, realtime: float, doc_id: str) -> None:
    """The online mode's invariant, checked at every probe (an ``AssertionError`` otherwise)."""
    if session.frames_seen and session.now > realtime + 1e-9:
        raise AssertionError(f"future leak at {doc_id}: the session had seen {session.now:.3f} s before {realtime:.3f} s")
    if event.used_until is not None and event.used_until > realtime + 1e-9:
        raise AssertionError(f"future leak at {doc_id}: the answer used {event.used_until:.3f} s, asked at {realtime:.3f} s")


def question_check(sample: EvalSample) -> str:
    """Who answers a sample: the repetition counter for REC counts, the model for the rest
    (the official answers are option letters and Yes/No, which only the model writes)."""
    return "counter" if sample.kind == "count" else "model"


def reply_is_right(sample: EvalSample, reply: str, target) -> bool:
    from vidllm.eval.benchmarks.ovobench import ovo_official

    return bool(ovo_official(_with_target(sample, target), reply).correct)


def _with_target(sample: EvalSample, target) -> EvalSample:
    import dataclasses

    return dataclasses.replace(sample, target=target)


class _OnlineTracker:
    """Re-asks one forward question every ``interval`` s and records first right answers."""

    def __init__(self, sample: EvalSample, interval: float):
        self.sample, self.interval = sample, interval
        self.next_at = 0.0
        self.delays: list[Delay] = []
        entry = str(sample.extra.get("id", sample.doc_id.split("/")[0]))
        evidence = sample.extra.get("evidence") or []
        if sample.kind == "count":  # the k-th repetition's end: the count becomes k
            self.delays = [Delay(entry, sample.task, str(k), t) for k, t in enumerate(evidence, start=1)]
        else:  # Yes once the step is in progress / the clue has appeared
            self.delays = [Delay(entry, sample.task, "Yes", t) for t in evidence[:1]]

    def due(self, now: float) -> bool:
        return any(d.answered_at is None for d in self.delays) and now >= self.next_at

    def record(self, now: float, reply: str, decided_by: str) -> None:
        self.next_at = now + self.interval
        for delay in self.delays:
            if delay.answered_at is None and reply_is_right(self.sample, reply, delay.target):
                if now + 1e-9 >= delay.evidence_time:
                    delay.answered_at, delay.decided_by = now, decided_by
                elif delay.premature_at is None:
                    delay.premature_at = now


def replay(frames: Iterable, samples: Sequence[EvalSample], session, *, interval: float = DEFAULT_INTERVAL,
           online: bool = True) -> tuple[dict[str, Prediction], list[Delay]]:
    """Feed ``frames`` (``Frames`` in time order) to ``session`` and answer every sample of one
    video at its ``realtime``; with ``online``, also run the true online mode for the forward
    questions. Returns the predictions by doc_id and the delays."""
    probes = sorted(samples, key=lambda s: (float(s.realtime or 0.0), s.doc_id))
    trackers: dict[str, _OnlineTracker] = {}
    if online:
        for sample in probes:  # one tracker per forward question (its first probe stands for it)
            entry = str(sample.extra.get("id", sample.doc_id))
            if sample.extra.get("mode") == "forward" and entry not in trackers:
                trackers[entry] = _OnlineTracker(sample, interval)
    answers: dict[str, Prediction] = {}
    pending = list(probes)

    def answer_due(until: float) -> None:
        while pending and float(pending[0].realtime or 0.0) < until:
            sample = pending.pop(0)
            began = time.perf_counter()
            event = session.ask(sample.question, prompt=sample.prompt, check=question_check(sample))
            check_no_leak(session, event, float(sample.realtime or 0.0), sample.doc_id)
            answers[sample.doc_id] = Prediction(
                text=event.answer, model=session.model_uri or CHECKS_ONLY, seconds=round(time.perf_counter() - began, 3),
                frame_timestamps=[session.now] if session.frames_seen else [],
                usage={"decided_by": event.decided_by, "stream_time": event.stream_time})

    for chunk in frames:
        answer_due(float(chunk.timestamps[0]))  # probes before this frame's time see none of it
        session.feed(chunk)
        for tracker in trackers.values():
            if tracker.due(session.now):
                s = tracker.sample
                event = session.ask(s.question, prompt=s.prompt, check=question_check(s))
                tracker.record(session.now, event.answer, event.decided_by)
    answer_due(math.inf)  # probes after the last frame: the whole video has been seen
    return answers, [d for tracker in trackers.values() for d in tracker.delays]


class OnlinePredictor:
    """A runner predictor: the first sample of a video replays that video through a new session,
    answering all its samples; the others are read from what that replay answered."""

    baseline = False
    max_workers = 1

    def __init__(self, samples: Sequence[EvalSample], model: str, model_options: dict, pool, *, fps: float = 1.0,
                 tools: tuple[str, ...] = ("tags", "ocr"), interval: float = DEFAULT_INTERVAL):
        self.schedule = probe_schedule(samples)
        self.model = None if model == CHECKS_ONLY else model
        self.model_options, self.pool, self.fps, self.tools, self.interval = dict(model_options), pool, fps, tools, interval
        self.name = f"online:{model}"
        self.manifest = {"mode": "online", "model": model, "model_options": self.model_options, "fps": fps,
                         "tools": list(tools), "interval": interval}
        self._answers: dict[str, Prediction] = {}
        self.delays: dict[str, list[Delay]] = {}

    def __call__(self, sample: EvalSample) -> Prediction:
        if sample.doc_id not in self._answers:
            self._replay(sample.video_path or sample.video)
        return self._answers.pop(sample.doc_id)

    def _replay(self, video: str) -> None:
        from vidllm.tasks.stream import StreamSession
        from vidllm.video.live import open_stream

        session = StreamSession(self.model, model_options=self.model_options, pool=self.pool, tools=self.tools)
        answers, delays = replay(open_stream(video, fps=self.fps, max_pixels=640 * 360), self.schedule[video], session,
                                 interval=self.interval)
        self._answers.update(answers)
        self.delays[video] = delays


def delay_table(delays: Sequence[Delay]) -> dict:
    """Per task: questions, answered after their evidence, premature, missed, delay mean/p50/p95."""
    import numpy as np

    table = {}
    for task in ("REC", "SSR", "CRR"):
        rows = [d for d in delays if d.task == task]
        if not rows:
            continue
        values = np.array([d.delay for d in rows if d.delay is not None], dtype=np.float64)
        table[task] = {
            "questions": len(rows), "answered": int(values.size), "premature": sum(d.premature_at is not None for d in rows),
            "missed": sum(d.answered_at is None for d in rows),
            "delay_mean": round(float(values.mean()), 3) if values.size else None,
            "delay_p50": round(float(np.percentile(values, 50)), 3) if values.size else None,
            "delay_p95": round(float(np.percentile(values, 95)), 3) if values.size else None,
        }
    return table


def delay_html(table: dict) -> str:
    head = "".join(f"<th>{h}</th>" for h in ("task", "questions", "answered", "premature", "missed",
                                             "delay mean (s)", "p50", "p95"))
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v if v is not None else '-'))}</td>" for v in (
            task, r["questions"], r["answered"], r["premature"], r["missed"], r["delay_mean"], r["delay_p50"], r["delay_p95"]))
        + "</tr>" for task, r in table.items())
    return ("<section id='online-delays'><h2>Online mode: response delay</h2><p>Each video replayed as a stream; "
            "forward questions re-asked as it plays. Delay = the first stream time the session's answer was right "
            "minus the time its evidence appeared (REC end_times, SSR start_time, CRR clue_time). Premature: "
            "right before the evidence. The scores above are the official ones, unchanged.</p>"
            f"<table><tr>{head}</tr>{rows}</table></section>")


def evaluate_online(config):
    """``evaluate`` for OVO-Bench's online mode: the same load, runner, grading and outputs,
    with the ``OnlinePredictor``; then ``online.json`` and the delay table in report.html."""
    from vidllm.errors import OptionError
    from vidllm.eval.benchmarks import BENCHMARKS
    from vidllm.eval.grading import GradeContext, grade
    from vidllm.eval.pipeline import EvalResult, versions
    from vidllm.eval.report import write_outputs
    from vidllm.eval.runner import merge_sampling, run
    from vidllm.models.pool import ModelPool

    bench = BENCHMARKS.get(config.benchmark)(config.data_dir)
    if not getattr(bench, "online", False):  # a benchmark whose questions have stream times
        raise OptionError(f"--online replays a streaming benchmark's videos as streams (OVO-Bench); it does "
                          f"not apply to {config.benchmark}")
    sampling = merge_sampling(bench.sampling, config.sampling)
    load = bench.load(tasks=list(config.tasks) or None, limit=config.limit, skip_missing=config.skip_missing,
                      sampling=config.sampling)
    options = dict(config.model_options)
    tools = tuple(t for t in str(options.pop("stream_tools", "tags,ocr")).split(",") if t)
    interval = float(options.pop("online_interval", DEFAULT_INTERVAL))
    out = config.out
    with ModelPool() as pool:
        predict = OnlinePredictor(load.samples, config.model, options, pool, fps=float(sampling.get("fps") or 1.0),
                                  tools=tools, interval=interval)
        model = {"uri": config.model, "name": predict.name, "manifest": predict.manifest}
        fingerprint = {"benchmark": bench.name, "model": model, "sampling": sampling, "seed": config.seed, "online": True}
        predictions = run(load.samples, predict, out, workers=1, fingerprint=fingerprint, progress=config.progress,
                          description=f"{bench.name} online {config.model}")
        graded = grade(bench, load.samples, predictions, GradeContext())
    delays = [d for found in predict.delays.values() for d in found]
    online_path = Path(out) / "online.json"
    if online_path.exists():  # a resumed run replayed only the videos left: keep the others' delays
        replayed = {d.entry for d in delays}
        kept = json.loads(online_path.read_text(encoding="utf-8")).get("questions", [])
        delays = [Delay(**{k: v for k, v in q.items() if k != "delay"}) for q in kept if q["entry"] not in replayed] + delays
    table = delay_table(delays)
    manifest = {"model": model, "benchmark": bench.name, "tasks": list(config.tasks) or list(bench.tasks),
                "limit": config.limit, "sampling": sampling, "mode": "online", "seed": config.seed, "versions": versions()}
    paths = write_outputs(out, bench, load, graded, manifest)
    online_path.write_text(json.dumps({"delays": table, "questions": [d.to_dict() for d in delays]}, indent=2), encoding="utf-8")
    paths["online"] = online_path
    report = paths.get("report")
    if report is not None and Path(report).exists():
        text = Path(report).read_text(encoding="utf-8")
        section = delay_html(table)
        text = text.replace("</body>", section + "</body>", 1) if "</body>" in text else text + section
        Path(report).write_text(text, encoding="utf-8")
    results = json.loads(paths["results"].read_text(encoding="utf-8"))
    results["online"] = table  # shown by the command line; results.json keeps the official layout
    return EvalResult(results, paths, graded, load)


__all__ = ["Delay", "OnlinePredictor", "check_no_leak", "delay_table", "evaluate_online", "probe_schedule", "replay"]
