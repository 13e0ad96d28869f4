"""benchmarks/multifidelity.py: the budget accounting and the verdict, and a --quick run of both arms."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def mf():
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location("multifidelity", BENCH / "multifidelity.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_steps_to_reach_a_target_in_either_direction(mf):
    points = [(20, 3.0), (60, 2.0), (180, 1.5)]
    assert mf.steps_to_reach(points, 2.0, "minimize") == 60
    assert mf.steps_to_reach(points, 1.0, "minimize") is None
    assert mf.steps_to_reach([(10, 0.2), (30, 0.7)], 0.5, "maximize") == 30


def test_summary_takes_random_search_s_mean_final_best_as_the_target(mf):
    runs = {"random": [{"points": [(100, 2.0), (200, 1.0)], "direction": "minimize"},
                       {"points": [(100, 3.0), (200, 2.0)], "direction": "minimize"}],
            "multi-fidelity": [{"points": [(30, 2.0), (50, 1.4)]}, {"points": [(40, 1.6), (90, 1.5)]}]}
    s = mf.summarise({"runs": runs}, budget=200)
    assert s["target"] == 1.5
    assert s["fractions"] == [50 / 200, 90 / 200]
    # the mean of the best so far starts at step 40 (both seeds have a trial): 1.8, then 1.5 at 50, 1.45 at 90
    assert mf.mean_curve(runs["multi-fidelity"]) == [(40, 1.8), (50, 1.5), (90, 1.45)]
    assert s["mean_fraction"] == 50 / 200
    # paired by seed: seed 0 never reaches its random final 1.0, seed 1 reaches 2.0 at its first trial
    assert s["paired"] == [None, 40 / 200]


def test_best_at_a_step_count(mf):
    points = [(20, 3.0), (60, 2.0)]
    assert [mf.best_at(points, x) for x in (20, 59, 60, 1000)] == [3.0, 3.0, 2.0, 2.0]
    assert mf.best_at(points, 19) != mf.best_at(points, 19)  # NaN before the first finished trial


def _claims(report: Path) -> list[str]:
    """A report's table (method, final best, trials) and its verdict lines: what it claims, without wall times."""
    lines = report.read_text().splitlines()
    rows = [line.split("|")[1:4] for line in lines if line.startswith(("| multi-fidelity", "| random"))]
    starts = ("Random search's final", "On the mean", "Paired", "Goal")
    return [str(rows), *(line for line in lines if line.startswith(starts))]


@pytest.mark.slow
@pytest.mark.parametrize("pruner", ["sha", "hyperband"])
def test_quick_run_writes_the_table(mf, tmp_path, pruner, capsys):
    """A --quick run of both arms writes the table and the plot; --report-only rebuilds the same report from the
    studies' journals, without training."""
    studies = str(tmp_path / "studies")
    mf.main(["--quick", "--pruner", pruner, "--out", str(tmp_path), "--studies", studies])
    text = (tmp_path / "multifidelity_cpu.md").read_text()
    assert "| multi-fidelity |" in text and "| random |" in text and "Goal (≤ 0.33 on every seed):" in text
    assert "Goal on the mean over the seeds:" in text
    assert f"--pruner {pruner}" in text
    assert (tmp_path / "multifidelity_cpu.png").stat().st_size > 0
    assert "Random search's final best (mean):" in capsys.readouterr().out  # the verdicts are printed too
    mf.main(["--quick", "--pruner", pruner, "--out", str(tmp_path / "read"), "--studies", studies, "--report-only"])
    claims = _claims(tmp_path / "read" / "multifidelity_cpu.md")
    assert claims == _claims(tmp_path / "multifidelity_cpu.md") and len(claims) == 5


def test_report_only_needs_the_studies(mf, capsys):
    with pytest.raises(SystemExit) as stop:
        mf.main(["--report-only"])
    assert stop.value.code == 2 and "--studies" in capsys.readouterr().err
