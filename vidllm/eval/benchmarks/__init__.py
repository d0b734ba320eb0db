"""The benchmarks, one module each, all in the ``BENCHMARKS`` registry.

A benchmark's module owns everything specific to it (a ``Benchmark`` subclass): its loader, its
official reading of replies and official aggregation, its judge prompts, the result files its own
tools write (``read_results``, for ``vidllm score``) and how a perfect answer is written
(``oracle_answer``, for the ``oracle:`` baseline). Adding a benchmark is one module plus one
line below.

>>> from vidllm.eval.benchmarks import BENCHMARKS
>>> BENCHMARKS.names()[:3]
['charades_sta', 'etbench', 'mlvu']
>>> BENCHMARKS.get("mlvu").title
'MLVU'

Entries are lazy: a module is imported only when its benchmark is chosen. Other packages add a
benchmark the same way, ``BENCHMARKS.register("name", "package.module:Class")``.
"""

from __future__ import annotations

from vidllm.eval.benchmarks.base import Benchmark
from vidllm.registry import Registry

BENCHMARKS: Registry[Benchmark] = Registry("benchmark", Benchmark)
for _name, _target in {
    "mvbench": "vidllm.eval.benchmarks.mvbench:MVBench",
    "mlvu": "vidllm.eval.benchmarks.mlvu:MLVU",
    "videomme": "vidllm.eval.benchmarks.videomme:VideoMME",
    "videomme_sub": "vidllm.eval.benchmarks.videomme:VideoMMESubtitles",
    "videoreasonbench": "vidllm.eval.benchmarks.videoreasonbench:VideoReasonBench",
    "etbench": "vidllm.eval.benchmarks.etbench:ETBench",
    "ovobench": "vidllm.eval.benchmarks.ovobench:OVOBench",
    "vau": "vidllm.eval.benchmarks.vau:VAUBench",
    "videobench": "vidllm.eval.benchmarks.videobench:VideoBench",
    "charades_sta": "vidllm.eval.benchmarks.charades:CharadesSTA",
}.items():
    BENCHMARKS.register(_name, _target)


def load_benchmark(name: str, root) -> Benchmark:
    """An instance of benchmark ``name`` reading the folder ``root``."""
    return BENCHMARKS.get(name)(root)


__all__ = ["BENCHMARKS", "Benchmark", "load_benchmark"]
