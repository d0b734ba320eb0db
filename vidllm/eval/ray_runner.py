"""Spread an evaluation's samples over a Ray cluster (``vidllm eval ... --ray [ADDRESS]``).

Each sample is one Ray task; the driver keeps a window of tasks in flight (twice the cluster's
CPUs) and commits every answer the moment it arrives to the run's write-ahead store
(``vidllm.eval.store``), the same store a single-process run writes, keyed by ``doc_id``. So:

* the results are those of a single-process run whatever order the tasks finish in (answers are
  deterministic per sample and returned in sample order);
* a worker killed mid-task is Ray's to retry (``max_retries``), and a second answer to the same
  sample is ignored by the store's primary key: nothing is duplicated;
* a killed driver loses nothing committed: re-running the same command resumes, with or without
  ``--ray``.

Workers build the predictor themselves (a model is never shipped from the driver) and keep it for
the life of their process, which Ray reuses across tasks, so a model loads once per worker
process. Samples and answers travel as plain dicts. On a multi-node cluster every node needs
vidllm installed and the benchmark folder at the same path (a shared filesystem); start the
cluster with ``ray start --head`` and pass ``--ray auto`` (or ``ray://HEAD:10001``).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vidllm.errors import EvalError, MissingDependencyError
from vidllm.eval.store import RunStore
from vidllm.eval.types import EvalSample, Prediction

log = logging.getLogger(__name__)

#: a task whose worker dies is run again up to this many times before the run stops
MAX_RETRIES = 3


@dataclass(frozen=True)
class PredictorSpec:
    """What a worker needs to build the predictor: ``make_predictor``'s arguments."""

    model: str
    model_options: Mapping[str, Any] = field(default_factory=dict)
    sampling: Mapping[str, Any] = field(default_factory=dict)

    def key(self) -> str:
        import json

        return json.dumps([self.model, dict(self.model_options), dict(self.sampling)], sort_keys=True, default=str)


# The predictors of this process, by spec. Ray reuses a worker process for many tasks, so a model
# loads once per process; the pool that owns them lives as long as the process.
_WORKER_PREDICTORS: dict[str, Any] = {}


def worker_predictor(spec: PredictorSpec):
    """This process's predictor for ``spec``, built on first use."""
    key = spec.key()
    if key not in _WORKER_PREDICTORS:
        from vidllm.eval.model_predictor import make_predictor
        from vidllm.models.pool import ModelPool

        pool = ModelPool()
        _WORKER_PREDICTORS[key] = make_predictor(spec.model, pool, sampling=dict(spec.sampling),
                                                 model_options=dict(spec.model_options))
    return _WORKER_PREDICTORS[key]


def predict_sample(spec: PredictorSpec, doc: dict) -> dict:
    """The Ray task: one sample (as ``EvalSample.to_doc``) in, its ``Prediction.to_dict`` out."""
    from vidllm.eval.runner import _predict_one

    return _predict_one(worker_predictor(spec), EvalSample.from_doc(doc)).to_dict()


def predictor_info_task(spec: PredictorSpec) -> dict:
    """The Ray task that tells the driver what the manifest records about the predictor."""
    from vidllm.eval.runner import predictor_info

    return predictor_info(worker_predictor(spec))


def _ray():
    try:
        import ray
    except ImportError:
        raise MissingDependencyError("--ray needs Ray: pip install 'vidllm[ray]'") from None
    return ray


def connect(address: str | None) -> bool:
    """Join the cluster at ``address`` ("local" or None: a cluster of this machine; "auto": the
    one ``ray start`` runs here; "ray://HOST:10001": a remote one). True when this call started
    Ray (the caller then shuts it down); an already initialised Ray is used as it is."""
    ray = _ray()
    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.WARNING}
    if address and address != "local":
        kwargs["address"] = address
    try:
        ray.init(**kwargs)
    except (ConnectionError, ValueError) as exc:
        raise EvalError(f"cannot join the Ray cluster at {address}: {exc}") from None
    return True


def remote_predictor_info(spec: PredictorSpec) -> dict:
    """``predictor_info`` of the predictor as a worker builds it (the driver loads no model)."""
    ray = _ray()
    return ray.get(ray.remote(predictor_info_task).options(max_retries=MAX_RETRIES).remote(spec))


def run_on_ray(samples: Sequence[EvalSample], spec: PredictorSpec, out_dir: str | Path, *,
               fingerprint: Mapping[str, Any], progress: bool = True, description: str = "eval") -> dict[str, Prediction]:
    """Predict every sample not yet in ``out_dir``'s store on Ray tasks; all predictions in sample order."""
    from tqdm import tqdm

    ray = _ray()
    task = ray.remote(predict_sample).options(max_retries=MAX_RETRIES, retry_exceptions=False, num_cpus=1)
    order = {s.doc_id: i for i, s in enumerate(samples)}
    window = max(2, 2 * int(ray.cluster_resources().get("CPU", 1)))
    with RunStore(out_dir) as store:
        store.check_fingerprint(dict(fingerprint))
        done = store.done()
        todo = iter([s for s in samples if s.doc_id not in done])
        bar = tqdm(total=len(samples), initial=len(done & set(order)), desc=f"{description} (ray)", unit="sample",
                   file=sys.stderr, disable=not progress, dynamic_ncols=True)
        spec_ref = ray.put(spec)
        pending: dict[Any, EvalSample] = {}
        try:
            while True:
                while len(pending) < window and (sample := next(todo, None)) is not None:
                    pending[task.remote(spec_ref, sample.to_doc())] = sample
                if not pending:
                    break
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    sample = pending.pop(ref)
                    try:
                        answer = ray.get(ref)
                    except ray.exceptions.RayTaskError as exc:  # the predictor raised: stop, as a local run does
                        raise exc.as_instanceof_cause() from None
                    except ray.exceptions.RayError as exc:
                        raise EvalError(f"{sample.doc_id}: the Ray task failed {MAX_RETRIES + 1} times ({type(exc).__name__}); "
                                        "re-run the same command to resume") from None
                    store.put(sample.doc_id, order[sample.doc_id], Prediction.from_dict(answer))
                    bar.update(1)
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)
            bar.close()
        found = store.predictions()
    return {s.doc_id: found[s.doc_id] for s in samples if s.doc_id in found}


__all__ = ["PredictorSpec", "connect", "predict_sample", "remote_predictor_info", "run_on_ray"]
