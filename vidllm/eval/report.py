"""The outputs of an evaluation: ``results.json``, ``samples.jsonl`` and ``report.html``.

``results.json`` holds the scores (official and robust, per task and overall), the manifest the
caller passes (model, sampling, prompts, versions ...), the annotation files' sha256 and the
data quirks counted while loading. It holds nothing that depends on how the run went (no times,
no completion order), so a run killed and resumed writes the same file as an unbroken one.

``samples.jsonl`` has one line per sample with lmms-eval's fields (doc_id, doc, input, target,
resps, filtered_resps, the metric values) plus both readings of the reply.

``lmms_eval_results.json`` and ``lmms_eval_samples_<bench>_<task>.jsonl`` are the same run in
lmms-eval's formats (``vidllm.eval.lmms_eval``), with standard errors.

``judge_calls.jsonl`` (when a judge graded) holds every judge call: model, system, prompt, reply.

``report.html`` is one self-contained page (no network, no scripts): tables, an inline SVG bar
plot of per-task scores, the samples where the official and robust readings disagree, and a few
samples with their frame thumbnails (data: URIs) and timestamps when the caller provides frames.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vidllm.eval.grading import MODES, GradeResult, jsonable
from vidllm.eval.lmms_eval import write_lmms_outputs
from vidllm.eval.types import LoadReport

FORMAT_VERSION = 1
SCORE_KEYS = ("score", "acc", "F1", "mRec", "Acc", "mIoU", "spearman", "total", "total_score")


def task_score(values: Mapping[str, Any]) -> float | None:
    """The one number that stands for a task in tables and the plot."""
    for key in SCORE_KEYS:
        value = values.get(key)
        if isinstance(value, (int, float)):
            return float(value)
    return None


def build_results(bench, load: LoadReport, graded: GradeResult, manifest: Mapping[str, Any], judge=None) -> dict:
    """The content of results.json (deterministic for given data, answers and manifest)."""
    ids = [s.doc_id for s in graded.samples]
    return jsonable({
        "format": FORMAT_VERSION,
        "benchmark": {
            "name": bench.name, "title": bench.title, "official_scorer": bench.source,
            "data_files": bench.data_hashes(load.files) if load.files else {},
        },
        "data": {k: v for k, v in load.summary().items() if k != "root"},
        "manifest": dict(manifest),
        "baseline": bool(manifest.get("model", {}).get("baseline")) if isinstance(manifest.get("model"), Mapping) else False,
        "scores": {mode: graded.scores[mode] for mode in MODES},
        "samples": {
            "scored": len(ids),
            "doc_ids_sha256": hashlib.sha256("\n".join(ids).encode()).hexdigest(),
            "with_errors": sum(1 for d in ids if graded.predictions[d].error),
        },
        "disagreements": {"count": len(graded.disagreements), "doc_ids": graded.disagreements},
        "judge": None if judge is None else {"model": judge.model, "baseline": judge.baseline, "calls": len(judge.calls)},
    })


def sample_lines(graded: GradeResult) -> list[dict]:
    """samples.jsonl rows, in sample order."""
    rows = []
    for sample in graded.samples:
        pred = graded.predictions[sample.doc_id]
        official, robust = graded.graded["official"][sample.doc_id], graded.graded["robust"][sample.doc_id]
        doc = sample.to_doc()
        row = {
            "doc_id": sample.doc_id,
            "task": sample.task,
            "doc": doc,
            "doc_hash": hashlib.sha256(json.dumps(jsonable(doc), sort_keys=True).encode()).hexdigest(),
            "input": sample.prompt,
            "target": sample.target,
            "resps": [[pred.text, *pred.turns]],
            "filtered_resps": [official.value],
            "official": official.to_dict(),
            "robust": robust.to_dict(),
            "model": pred.model,
            "error": pred.error,
        }
        for mode, g in (("official", official), ("robust", robust)):
            for key, value in g.metrics.items():
                row[f"{mode}_{key}"] = value
        rows.append(jsonable(row))
    return rows


def write_outputs(
    out_dir: str | Path,
    bench,
    load: LoadReport,
    graded: GradeResult,
    manifest: Mapping[str, Any],
    *,
    judge=None,
    frames: Mapping[str, Any] | None = None,
) -> dict[str, Path]:
    """Write results.json, samples.jsonl and report.html into ``out_dir``; return their paths.

    ``frames`` maps doc_id to a ``vidllm.video.frames.Frames`` for the samples to show with
    thumbnails in the report (optional).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results = build_results(bench, load, graded, manifest, judge)
    paths = {"results": out / "results.json", "samples": out / "samples.jsonl", "report": out / "report.html"}
    _atomic_text(paths["results"], json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    lines = sample_lines(graded)
    _atomic_text(paths["samples"], "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines))
    _atomic_text(paths["report"], render_html(results, graded, frames or {}))
    paths.update(write_lmms_outputs(out, bench, graded, manifest, _atomic_text))
    if judge is not None:
        paths["judge_calls"] = out / "judge_calls.jsonl"
        calls = [{"key": k, **c.to_dict()} for k, c in sorted(judge.calls.items())]
        _atomic_text(paths["judge_calls"], "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in calls))
    return paths


def _atomic_text(path: Path, text: str) -> None:
    """Write through a temporary file of a name no other writer uses, then rename: two processes
    writing the same output folder never clobber each other's half-written file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; results are for reading
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ------------------------------------------------------------------------------------ HTML

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.6em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums}
.tag{display:inline-block;padding:0 .4em;border-radius:3px;background:#fde68a}.muted{color:#777}
.thumbs img{height:90px;margin:2px}.thumbs figure{display:inline-block;margin:0 4px;text-align:center;font-size:11px}
pre{white-space:pre-wrap;background:#f7f7f7;padding:.5em;max-height:12em;overflow:auto}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return _e(value) if value is not None else "–"


def render_html(results: Mapping[str, Any], graded: GradeResult, frames: Mapping[str, Any]) -> str:
    bench = results["benchmark"]
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{_e(bench['title'])} - vidllm evaluation</title><style>{CSS}</style></head><body>",
        f"<h1>{_e(bench['title'])}</h1>",
        f"<p>Official scorer reproduced: <code>{_e(bench['official_scorer'])}</code>.",
    ]
    model = results["manifest"].get("model")
    if model:
        parts.append(f" Model: <code>{_e(model.get('name') if isinstance(model, Mapping) else model)}</code>")
        if results.get("baseline"):
            parts.append(" <span class='tag'>baseline, not a model</span>")
    parts.append("</p>")
    parts += _overall_table(results), _task_table(results), _bar_plot(results), _data_table(results)
    parts += _disagreements(graded), _gallery(graded, frames), _manifest(results)
    parts.append("</body></html>")
    return "\n".join(parts)


def _overall_table(results) -> str:
    official, robust = results["scores"]["official"]["overall"], results["scores"]["robust"]["overall"]
    keys = list(dict.fromkeys([*official, *robust]))
    rows = "".join(f"<tr><th>{_e(k)}</th><td class='n'>{_num(official.get(k))}</td><td class='n'>{_num(robust.get(k))}</td></tr>" for k in keys)
    headline = results["scores"]["official"].get("headline", "")
    return (f"<h2>Overall</h2><p class='muted'>{_e(headline)}</p><table id='overall'><tr><th>metric</th><th>official</th>"
            f"<th>robust</th></tr>{rows}</table>")


def _task_table(results) -> str:
    official, robust = results["scores"]["official"]["tasks"], results["scores"]["robust"]["tasks"]
    rows = []
    for task in dict.fromkeys([*official, *robust]):
        o, r = official.get(task, {}), robust.get(task, {})
        rows.append(f"<tr><td>{_e(task)}</td><td class='n'>{_num(task_score(o))}</td><td class='n'>{_num(task_score(r))}</td>"
                    f"<td class='n'>{_num(o.get('n'))}</td><td class='n'>{_num(r.get('n'))}</td></tr>")
    return ("<h2>Per task</h2><table id='tasks'><tr><th>task</th><th>official</th><th>robust</th><th>n official</th>"
            f"<th>n robust</th></tr>{''.join(rows)}</table>")


def _bar_plot(results) -> str:
    official, robust = results["scores"]["official"]["tasks"], results["scores"]["robust"]["tasks"]
    tasks = list(dict.fromkeys([*official, *robust]))
    values = [(t, task_score(official.get(t, {})) or 0.0, task_score(robust.get(t, {})) or 0.0) for t in tasks]
    top = max([1.0] + [abs(v) for _, a, b in values for v in (a, b)])
    bar, gap, height, left = 14, 10, 180, 40
    width = max(left + len(values) * (2 * bar + gap) + 20, left + 200)
    svg = [(f"<svg id='task-plot' xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height + 90}' role='img' "
            "aria-label='per-task scores'>"),
           f"<line x1='{left}' y1='{height}' x2='{width}' y2='{height}' stroke='#444'/>",
           f"<text x='2' y='12' font-size='10'>{top:.2g}</text><text x='2' y='{height}' font-size='10'>0</text>"]
    for i, (task, a, b) in enumerate(values):
        x = left + i * (2 * bar + gap)
        for j, (value, colour, mode) in enumerate(((a, "#2563eb", "official"), (b, "#f59e0b", "robust"))):
            h = max(0.0, value) / top * (height - 10)
            svg.append(f"<rect x='{x + j * bar}' y='{height - h:.1f}' width='{bar - 2}' height='{h:.1f}' fill='{colour}'>"
                       f"<title>{_e(task)} {mode}: {value:.4f}</title></rect>")
        svg.append(f"<text transform='translate({x + bar},{height + 8}) rotate(45)' font-size='10'>{_e(task)}</text>")
    svg.append(f"<rect x='{left}' y='{height + 70}' width='10' height='10' fill='#2563eb'/><text x='{left + 14}' y='{height + 79}' font-size='11'>official</text>")
    svg.append(f"<rect x='{left + 80}' y='{height + 70}' width='10' height='10' fill='#f59e0b'/><text x='{left + 94}' y='{height + 79}' font-size='11'>robust</text>")
    svg.append("</svg>")
    return "<h2>Per-task scores</h2>" + "".join(svg)


def _data_table(results) -> str:
    data = results["data"]
    quirks = "".join(f"<tr><td>{_e(k)}</td><td class='n'>{_e(v)}</td></tr>" for k, v in data.get("quirks", {}).items())
    files = "".join(f"<tr><td>{_e(k)}</td><td><code>{_e(v[:16])}…</code></td></tr>" for k, v in results["benchmark"]["data_files"].items())
    return (f"<h2>Data</h2><p>{_e(data['items'])} annotation entries, {_e(data['samples'])} samples, "
            f"{_e(data['missing_videos'])} missing videos ({_e(data['skipped_missing'])} samples skipped).</p>"
            f"<table id='quirks'><tr><th>data quirk</th><th>count</th></tr>{quirks or '<tr><td colspan=2>none</td></tr>'}</table>"
            f"<table id='files'><tr><th>annotation file</th><th>sha256</th></tr>{files}</table>")


def _short(value: Any, n: int = 160) -> str:
    text = json.dumps(jsonable(value), ensure_ascii=False) if not isinstance(value, str) else value
    return text if len(text) <= n else text[: n - 1] + "…"


def _disagreements(graded: GradeResult, limit: int = 200) -> str:
    by_id = {s.doc_id: s for s in graded.samples}
    rows = []
    for doc_id in graded.disagreements[:limit]:
        s, o, r = by_id[doc_id], graded.graded["official"][doc_id], graded.graded["robust"][doc_id]
        reply = graded.predictions[doc_id].text
        rows.append(
            f"<tr><td>{_e(doc_id)}</td><td>{_e(s.task)}</td><td>{_e(_short(reply))}</td><td>{_e(_short(s.target, 60))}</td>"
            f"<td>{_e(_short(o.value, 60))} {_e(_short(dict(o.metrics), 60))}{' (not counted)' if not o.counted else ''}</td>"
            f"<td>{_e(_short(r.value, 60))} {_e(_short(dict(r.metrics), 60))}{' (not counted)' if not r.counted else ''}</td></tr>"
        )
    more = f"<p class='muted'>… and {len(graded.disagreements) - limit} more (see samples.jsonl)</p>" if len(graded.disagreements) > limit else ""
    return (f"<h2>Official and robust readings disagree ({len(graded.disagreements)})</h2><table id='disagreements'>"
            "<tr><th>doc_id</th><th>task</th><th>reply</th><th>target</th><th>official</th><th>robust</th></tr>"
            f"{''.join(rows) or '<tr><td colspan=6>none</td></tr>'}</table>{more}")


def _thumb(image) -> str:
    from PIL import Image

    picture = Image.fromarray(image)
    picture.thumbnail((160, 160))
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=70)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def _gallery(graded: GradeResult, frames: Mapping[str, Any], count: int = 6) -> str:
    shown = [s for s in graded.samples if s.doc_id in frames][:count] or graded.samples[:count]
    cards = []
    for s in shown:
        pred = graded.predictions[s.doc_id]
        thumbs = ""
        if s.doc_id in frames:
            f = frames[s.doc_id]
            thumbs = "<div class='thumbs'>" + "".join(
                f"<figure><img src='{_thumb(img)}' alt='frame at {t:.2f}s'><figcaption>{t:.2f} s</figcaption></figure>"
                for img, t in zip(f.data, f.timestamps)
            ) + "</div>"
        times = ", ".join(f"{t:.2f}" for t in pred.frame_timestamps)
        cards.append(
            f"<h3>{_e(s.doc_id)} <span class='muted'>({_e(s.task)})</span></h3>{thumbs}"
            + (f"<p class='muted'>frames the model saw at: {_e(times)} s</p>" if times else "")
            + (f"<p class='muted'>video range: {s.time_range[0]:.2f}-{s.time_range[1]:.2f} s</p>" if s.time_range else "")
            + f"<pre>{_e(s.prompt)}</pre><p><b>reply:</b> {_e(_short(pred.text, 400))}</p><p><b>target:</b> {_e(_short(s.target))}</p>"
            + f"<p><b>official:</b> {_e(_short(graded.graded['official'][s.doc_id].value))} · <b>robust:</b> {_e(_short(graded.graded['robust'][s.doc_id].value))}</p>"
        )
    return "<h2>Samples</h2>" + "".join(cards)


def _manifest(results) -> str:
    return f"<h2>Manifest</h2><pre id='manifest'>{_e(json.dumps(results['manifest'], indent=2, ensure_ascii=False))}</pre>"


__all__ = ["build_results", "sample_lines", "write_outputs", "render_html", "task_score"]
