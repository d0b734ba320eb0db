"""The resumable evaluation runner: put every sample to a predictor, keep every answer at once.

The predictor interface (what a model adapter implements)
---------------------------------------------------------
A predictor is any callable ``predict(sample: EvalSample) -> Prediction``; optional attributes
refine how the runner uses it::

    class MyAdapter:
        name = "qwen2.5-vl-7b@<revision>"   # recorded as the model in results.json
        baseline = False                    # True only for non-model baselines (oracle:, first:, ...)
        max_workers = 4                     # the most threads it tolerates (1 if not thread-safe)
        manifest = {...}                    # everything else that fixes its answers: backend,
                                            # dtype, generation settings, chat template, seed ...

        def __call__(self, sample: EvalSample) -> Prediction: ...

What ``__call__`` must do:

* Put ``sample.system`` (system message, may be ""), ``sample.prompt`` (user turn) and
  ``sample.answer_prefix`` (text that starts the assistant turn, may be "") to the model, then each
  of ``sample.followups`` as further user turns of the same conversation.
* Show only the part of the video in ``sample.time_range`` (None: all of it); for streaming items
  ``sample.realtime`` is "now". Take frames with ``frames_for(sample)`` (or
  ``vidllm.video.sample.sample_frames(sample.video_path, spec_for(sample))`` after adapting the
  spec to the model's token budget), which goes through the shared frame cache; never decode the
  whole video yourself.
* Return ``Prediction(text=<reply to prompt>, turns=<replies to followups>, model=name,
  frame_timestamps=<true times of the frames shown>, usage={...tokens}, seconds=<wall time>)``.
  The raw reply, unparsed: the harness parses it both officially and robustly.
* Be deterministic for a given sample: greedy decoding, or a seed derived with
  ``sample_seed(run_seed, sample.doc_id)``, so a restarted run gives the same answers.
* Raise ``vidllm.errors.VideoError`` (or a subclass) when the sample's video cannot be used: the
  runner records an empty answer with the error and goes on. Any other exception stops the run;
  finished samples are kept and a restart resumes after them.
* Be thread-safe if ``max_workers`` > 1 (the runner calls it from a thread pool); not print.

The run
-------
``run(samples, predict, out_dir)`` skips samples already in ``out_dir``'s store, calls the
predictor (on ``workers`` threads), commits each answer as it arrives (``vidllm.eval.store``), and
shows a tqdm bar with ETA on stderr. The answers are returned in sample order, whatever the order
they finished in, so the results of a run killed and restarted are identical to an unbroken run's.
"""

from __future__ import annotations

import hashlib
import logging
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, Protocol

from vidllm.errors import SpecError, VideoError, VidllmError
from vidllm.eval.store import RunStore
from vidllm.eval.types import EvalSample, Prediction

log = logging.getLogger(__name__)


class Predictor(Protocol):
    """``predict(sample) -> Prediction`` (see the module docs for the full contract)."""

    def __call__(self, sample: EvalSample) -> Prediction: ...


def sample_seed(run_seed: int, doc_id: str) -> int:
    """A per-sample seed that does not depend on the order samples are run in."""
    return int.from_bytes(hashlib.sha256(f"{run_seed}:{doc_id}".encode()).digest()[:4], "big")


def merge_sampling(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """A benchmark's sampling fields with a run's ``overrides`` on top, as ``SamplingSpec`` reads
    them (``from_fields``: an override naming a strategy replaces the benchmark's strategy).

    Only the fields either side names are kept, so defaults stay out of manifests and a sample's
    ``time_range`` still bounds its frames. Bad values raise ``SpecError``/``OptionError``.

    >>> merge_sampling({"fps": 1.0, "max_frames": 128}, {"nframes": 8})
    {'max_frames': 128, 'nframes': 8}
    """
    from vidllm.video.spec import SamplingSpec

    spec = SamplingSpec.from_fields(dict(base), **overrides)
    named = dict.fromkeys([*base, *overrides])
    return {k: v for k in named if (v := getattr(spec, k)) is not None and v is not False}


def spec_for(sample: EvalSample, **overrides):
    """The ``SamplingSpec`` of a sample: the benchmark's sampling, restricted to ``time_range``."""
    from vidllm.video.spec import SamplingSpec

    fields = dict(sample.sampling)
    if sample.time_range is not None:
        fields.setdefault("start", sample.time_range[0])
        fields.setdefault("end", sample.time_range[1])
    try:
        return SamplingSpec.from_fields(fields, **overrides)
    except VidllmError as exc:
        raise SpecError(f"{sample.benchmark}/{sample.doc_id}: {exc}") from None


def frames_for(sample: EvalSample, **overrides):
    """The sample's frames through the shared frame cache (``vidllm.video.sample.sample_frames``)."""
    from vidllm.video.sample import sample_frames

    return sample_frames(sample.video_path, spec_for(sample, **overrides))


def predictor_info(predict: Callable) -> dict[str, Any]:
    """What the manifest records about a predictor."""
    return {
        "name": getattr(predict, "name", getattr(predict, "__name__", type(predict).__name__)),
        "baseline": bool(getattr(predict, "baseline", False)),
        **dict(getattr(predict, "manifest", {}) or {}),
    }


def run(
    samples: Sequence[EvalSample],
    predict: Callable[[EvalSample], Prediction],
    out_dir: str | Path,
    *,
    workers: int = 1,
    fingerprint: Mapping[str, Any] | None = None,
    progress: bool = True,
    description: str = "eval",
) -> dict[str, Prediction]:
    """Predict every sample not yet in ``out_dir``'s store; return all predictions in sample order.

    ``fingerprint`` (benchmark, model, sampling ...) is checked against the store so that a
    restart with other settings is refused. ``workers`` is capped by ``predict.max_workers``.
    """
    from tqdm import tqdm

    workers = max(1, min(workers, int(getattr(predict, "max_workers", workers) or 1)))
    order = {s.doc_id: i for i, s in enumerate(samples)}
    with RunStore(out_dir) as store:
        # the sample set may grow between runs (a larger --limit); what answers them may not change
        store.check_fingerprint(dict(fingerprint or {}))
        done = store.done()
        todo = [s for s in samples if s.doc_id not in done]
        log.info("%d samples, %d already done, %d to run on %d worker(s)", len(samples), len(samples) - len(todo), len(todo), workers)
        bar = tqdm(total=len(samples), initial=len(samples) - len(todo), desc=description, unit="sample",
                   file=sys.stderr, disable=not progress, dynamic_ncols=True)
        try:
            if workers == 1:
                for sample in todo:
                    store.put(sample.doc_id, order[sample.doc_id], _predict_one(predict, sample))
                    bar.update(1)
            else:
                _run_pool(todo, predict, store, order, workers, bar)
        finally:
            bar.close()
        found = store.predictions()
    return {s.doc_id: found[s.doc_id] for s in samples if s.doc_id in found}


def _run_pool(todo, predict, store: RunStore, order, workers: int, bar) -> None:
    """Keep at most 2 x workers samples in flight; commit each answer from this thread."""
    pending: dict[Future, EvalSample] = {}
    queue = iter(todo)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vidllm-eval") as pool:
        try:
            while True:
                while len(pending) < 2 * workers:
                    sample = next(queue, None)
                    if sample is None:
                        break
                    pending[pool.submit(_predict_one, predict, sample)] = sample
                if not pending:
                    return
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    sample = pending.pop(future)
                    store.put(sample.doc_id, order[sample.doc_id], future.result())
                    bar.update(1)
        except BaseException:
            for future in pending:
                future.cancel()
            raise


def _predict_one(predict, sample: EvalSample) -> Prediction:
    started = time.perf_counter()
    try:
        prediction = predict(sample)
    except VideoError as exc:
        log.warning("%s: %s", sample.doc_id, exc)
        return Prediction(text="", model=getattr(predict, "name", ""), error=str(exc), seconds=time.perf_counter() - started)
    if not isinstance(prediction, Prediction):
        raise TypeError(f"the predictor returned {type(prediction).__name__} for {sample.doc_id}, expected Prediction")
    return prediction
