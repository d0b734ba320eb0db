"""``vidllm compare RUN_A RUN_B`` on two runs of different baselines: the per-task differences are
the known ones, their bootstrap intervals hold them, the changed samples are exactly those the
weaker baseline gets wrong, and a PNG plot is written."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from vidllm.cli import main
from vidllm.eval.compare import compare, paired_bootstrap


@pytest.fixture(scope="module")
def runs(mlvu_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    for model in ("oracle:", "first:"):
        done = CliRunner().invoke(main, ["eval", "-m", model, "--bench", "mlvu", "--data", str(mlvu_dir), "--out",
                                         str(out / model.rstrip(":")), "--no-progress", "--thumbnails", "0", "--nframes", "2"])
        assert done.exit_code == 0, done.output
    return out / "oracle", out / "first"


def test_compare_two_baselines(runs):
    oracle, first = runs
    c = compare(oracle, first)
    by_task = {t.task: t for t in c.tasks}
    # MLVU fixture: answers cycle one/two/three/four, so "first:" (always A) is right on 3 of 10 per task
    for task in ("count", "needle"):
        t = by_task[task]
        assert (t.metric, t.n, t.a, t.b) == ("acc", 10, 1.0, 0.3)
        assert t.diff == pytest.approx(-0.7) and t.low <= -0.7 <= t.high and t.high < 0 and t.significant
    assert c.overall.n == 20 and c.overall.diff == pytest.approx(-0.7)
    assert len(c.changed) == 14 and all(x.a == 1.0 and x.b == 0.0 for x in c.changed)
    same = compare(oracle, oracle)
    assert all(t.diff == t.low == t.high == 0.0 for t in same.tasks) and not same.changed


def test_compare_cli_prints_and_plots(runs, tmp_path):
    oracle, first = runs
    png = tmp_path / "diff.png"
    out = CliRunner().invoke(main, ["compare", str(oracle), str(first), "--plot", str(png)])
    assert out.exit_code == 0, out.output
    assert "count" in out.output and "-0.7000" in out.output and "14 samples changed (0 better in B, 14 worse)" in out.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    as_json = json.loads(CliRunner().invoke(main, ["compare", str(first), str(oracle), "--json", "--plot", str(png)]).output)
    assert as_json["overall"]["diff"] == pytest.approx(0.7) and len(as_json["changed"]) == 14
    bad = CliRunner().invoke(main, ["compare", str(oracle), str(tmp_path)])
    assert bad.exit_code == 2 and "not an evaluation run" in bad.output


def test_paired_bootstrap_interval_matches_the_normal_approximation():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 2, 400).astype(float)
    b = np.where(rng.random(400) < 0.2, 1 - a, a)   # B flips 20% of A's grades
    diff, low, high = paired_bootstrap(a, b)
    se = np.std(b - a, ddof=1) / np.sqrt(len(a))
    assert diff == pytest.approx(b.mean() - a.mean())
    assert low == pytest.approx(diff - 1.96 * se, abs=0.01) and high == pytest.approx(diff + 1.96 * se, abs=0.01)
    assert paired_bootstrap(a, b) == (diff, low, high)   # seeded
