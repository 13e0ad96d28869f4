"""Report: the leaderboard rows, the figures (labelled), the PNG/HTML files; the study is only read."""

from __future__ import annotations

import pytest
from results_helpers import STUDIES, journal_bytes, synthetic_study

from archsearch.report import ResultsError, figures, leaderboard, open_study, write_report
from archsearch.report.plots import pareto_front, term_stats

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FIELDS = {"rank", "number", "state", "values", "term_ids", "names", "n_params", "flops", "wall_time", "device",
          "duplicate_of"}


def test_leaderboard_rows(results):
    rows = leaderboard("causal", top=20, results_dir=results)
    assert rows and all(FIELDS <= set(r) for r in rows)
    assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
    assert all(r["state"] == "COMPLETE" for r in rows)
    values = [r["values"][0] for r in rows]
    assert values == sorted(values, reverse=True)  # accuracy: higher first
    for r in rows:
        assert len(r["names"]) == len(r["term_ids"])
        assert all(isinstance(n, str) for n in r["names"])  # linear MLP/attention, softmax, kernel attention
        assert isinstance(r["n_params"], int) and isinstance(r["flops"], int) and r["device"] == "cpu"
    assert len(leaderboard("causal", top=2, results_dir=results)) == 2


def test_leaderboard_multi_objective_marks_duplicates_and_pareto(results):
    rows = leaderboard("multi", results_dir=results)
    ref = open_study("multi", results_dir=results)
    pareto = {t.number for t in ref.study.best_trials}
    assert {r["number"] for r in rows if r["pareto"]} == pareto
    assert all(r["pareto"] for r in rows[: len(pareto)])  # Pareto-optimal trials first
    dups = [r for r in rows if r["duplicate_of"] is not None]
    assert dups, "the multi study repeats a candidate"
    originals = {r["number"]: r for r in rows}
    for r in dups:
        assert r["values"] == originals[r["duplicate_of"]]["values"]


def test_leaderboard_names_are_recognised(results):
    rows = leaderboard("multi", results_dir=results)
    names = {(tid, name) for r in rows for tid, name in zip(r["term_ids"], r["names"], strict=True)}
    assert ("0-1.0-1", "linear attention") in names


@pytest.mark.parametrize("study", ["multi", "causal"])
def test_figures_are_labelled(results, study):
    ref = open_study(study, results_dir=results)
    figs = figures(ref)
    assert {"history", "pareto", "terms"} <= set(figs)
    for name, fig in figs.items():
        for ax in fig.axes:
            assert ax.get_xlabel(), (name, "x label")
            assert ax.get_ylabel(), (name, "y label")
            assert ax.get_title(), (name, "title")
            assert ax.get_legend() is not None, (name, "legend")
    assert "metric" in figs["pareto"].get_suptitle() or "single-objective" in figs["pareto"].get_suptitle()
    history = figs["history"].axes[0]
    assert "best so far" in [t.get_text() for t in history.get_legend().get_texts()]
    assert "(higher is better)" in history.get_ylabel() if study == "causal" else "(lower is better)" in \
        history.get_ylabel()


def test_write_report_files_and_storage_untouched(results, tmp_path):
    before = journal_bytes(results, "multi")
    paths = write_report("multi", tmp_path / "report", results_dir=results)
    names = [p.name for p in paths]
    assert names[-1] == "index.html" and {"history.png", "pareto.png", "terms.png"} <= set(names)
    for p in paths:
        data = p.read_bytes()
        if p.suffix == ".png":
            assert data.startswith(PNG_MAGIC) and len(data) > 10_000, p
    page = (tmp_path / "report" / "index.html").read_text()
    for name in names:
        if name.endswith(".png"):
            assert f'src="{name}"' in page
    assert "<table>" in page and "linear attention" in page
    # the best trial's contraction diagrams, drawn (SVG) and shown on the page
    drawn = [n for n in names if n.startswith("diagram_") and n.endswith(".svg")]
    assert drawn, names
    for name in drawn:
        assert f'src="{name}"' in page
        assert (tmp_path / "report" / name).read_bytes().lstrip().startswith((b"<?xml", b"<svg"))
    assert not [p for p in (tmp_path / "report").iterdir() if p.name.endswith(".tmp")]
    assert journal_bytes(results, "multi") == before
    # the study still opens with a plain Optuna JournalStorage (what optuna-dashboard uses)
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    plain = JournalStorage(JournalFileBackend(str(results / "multi" / "journal.log")))
    distinct = [t for t in optuna.load_study(study_name="multi", storage=plain).trials
                if t.user_attrs.get("duplicate_of") is None]
    assert len(distinct) == STUDIES["multi"]["n_trials"]


def test_default_report_dir(results, tmp_path):
    from results_helpers import copy_study

    copy = copy_study(results, "complex", tmp_path)
    paths = write_report("complex", results_dir=copy)
    assert all(p.parent == copy / "complex" / "report" for p in paths)


def test_synthetic_study_importance_and_terms(tmp_path):
    synthetic_study(tmp_path, "synth", n_complete=10)
    ref = open_study("synth", results_dir=tmp_path)
    figs = figures(ref)
    assert set(figs) == {"history", "pareto", "terms", "importance"}
    imp = figs["importance"].axes[0]
    assert imp.get_xlabel() and imp.get_ylabel() and imp.get_title()
    labels = [t.get_text() for t in imp.get_yticklabels()]
    assert set(labels) == {"terms", "width"}
    stats = {r["term"]: r for r in term_stats(ref)}
    assert set(stats) == {"0-0", "0-1.0-1", "lse"}
    assert stats["lse"]["name"] == "softmax attention" and stats["0-0"]["n"] == 6
    history = figs["history"].axes[0]
    assert "pruned (last reported value)" in [t.get_text() for t in history.get_legend().get_texts()]
    rows = leaderboard(ref, top=3)
    assert [r["values"][0] for r in rows] == sorted(r["values"][0] for r in rows)
    assert len(rows) == 3


def test_no_complete_trials(tmp_path):
    synthetic_study(tmp_path, "failed", failed_only=True)
    with pytest.raises(ResultsError, match="no finished \\(COMPLETE\\) trials yet \\(1 FAIL\\)"):
        write_report("failed", tmp_path / "out", results_dir=tmp_path)
    with pytest.raises(ResultsError, match="no finished"):
        leaderboard("failed", results_dir=tmp_path)
    assert not (tmp_path / "out").exists()


def test_unknown_study_and_unwritable_dir(results, tmp_path):
    with pytest.raises(ResultsError, match="no study named 'nope'"):
        leaderboard("nope", results_dir=results)
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ResultsError, match="cannot create output directory"):
        write_report("multi", blocker / "report", results_dir=results)
    assert [p.name for p in tmp_path.iterdir()] == ["file"]


def test_pareto_front():
    pts = [(1.0, 5.0, 0), (2.0, 3.0, 1), (2.0, 4.0, 2), (3.0, 3.0, 3), (4.0, 1.0, 4)]
    assert [n for _, _, n in pareto_front(pts, "minimize")] == [0, 1, 4]
    assert [n for _, _, n in pareto_front(pts, "maximize")] == [0]
