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
    # at a third of the budget (66.7 steps) the best so far is 1.4 and 1.6; random's finals 1.0 and 2.0
    assert s["at_third"] == [1.4, 1.6]
    assert s["gains"] == pytest.approx([-0.4, 0.4])
    line = mf.gain_line(s, 200)
    assert line.startswith("At a third of the budget (67 training steps), multi-fidelity's best so far: 1.5 ± 0.14; "
                           "random search's final best: 1.5 ± 0.71 (mean ± std over 2 seeds).")
    assert ": +0 ± 0.4 (mean ± standard error over the seeds): at least as good on average, not more than twice " \
           "the standard error; at least as good on 1 of 2 seeds." in line


def test_gain_at_a_third_when_maximising(mf):
    """The gain is signed by the task's direction: for an accuracy, higher at a third is better."""
    runs = {"random": [{"points": [(90, 0.5)], "direction": "maximize"},
                       {"points": [(90, 0.6)], "direction": "maximize"},
                       {"points": [(90, 0.4)], "direction": "maximize"}],
            "multi-fidelity": [{"points": [(20, 0.7), (80, 0.9)]}, {"points": [(30, 0.8)]}, {"points": [(10, 0.6)]}]}
    s = mf.summarise({"runs": runs}, budget=90)
    assert s["at_third"] == [0.7, 0.8, 0.6] and s["gains"] == pytest.approx([0.2, 0.2, 0.2])
    assert ": +0.2 ± " in mf.gain_line(s, 90) and "average, more than twice" in mf.gain_line(s, 90)
    runs["multi-fidelity"][1] = {"points": [(40, 0.8)]}  # nothing finished by step 30
    assert mf.gain_line(mf.summarise({"runs": runs}, budget=90), 90).endswith(
        "not every seed had finished a trial there.")
    runs["multi-fidelity"][1] = {"points": [(30, 0.1)]}
    line = mf.gain_line(mf.summarise({"runs": runs}, budget=90), 90)
    assert "-0.0333 ± 0.23" in line and "worse on average, not more than twice" in line and "on 2 of 3 seeds" in line


@pytest.mark.parametrize(("text", "seeds"), [("10", list(range(10))), ("3", [0, 1, 2]), ("100-104", [100, 101, 102,
                         103, 104]), ("0-2,100-101", [0, 1, 2, 100, 101]), ("7,", [7]), ("5,3-6", [5, 3, 4, 6]),
                         (" 2 - 3 , 9", [2, 3, 9]), ("1-2,2-3", [1, 2, 3])])
def test_seed_lists(mf, text, seeds):
    assert mf.seed_list(text) == seeds
    assert mf.seed_list(mf.seed_text(seeds)) == seeds  # the report's command names the same seeds


def test_seed_text_writes_runs_as_ranges(mf):
    assert mf.seed_text(list(range(10))) == "0-9"
    assert mf.seed_text([0, 1, 2, 100, 101, 7]) == "0-2,100-101,7"
    assert mf.seed_text([7]) == "7,"


@pytest.mark.parametrize("text", ["0", "5-3", "a", "", ",", "1,,2", "-1", "1.5"])
def test_bad_seed_lists_are_refused(mf, text, capsys):
    with pytest.raises(SystemExit) as stop:
        mf.main(["--report-only", "--studies", "x", "--seeds", text])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "--seeds" in err and ("at least one seed" in err or "A ≤ B" in err)


def test_best_at_a_step_count(mf):
    points = [(20, 3.0), (60, 2.0)]
    assert [mf.best_at(points, x) for x in (20, 59, 60, 1000)] == [3.0, 3.0, 2.0, 2.0]
    assert mf.best_at(points, 19) != mf.best_at(points, 19)  # NaN before the first finished trial


def _claims(report: Path) -> list[str]:
    """A report's table (method, final best, trials) and its verdict lines: what it claims, without wall times."""
    lines = report.read_text().splitlines()
    rows = [line.split("|")[1:4] for line in lines if line.startswith(("| multi-fidelity", "| random"))]
    starts = ("Random search's final", "On the mean", "Paired", "At a third", "Goal")
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
    assert claims == _claims(tmp_path / "multifidelity_cpu.md") and len(claims) == 6


def test_report_only_needs_the_studies(mf, capsys):
    with pytest.raises(SystemExit) as stop:
        mf.main(["--report-only"])
    assert stop.value.code == 2 and "--studies" in capsys.readouterr().err
