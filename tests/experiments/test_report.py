"""The runner's files and the summary page: every registered experiment is listed, run or not (and why)."""

from __future__ import annotations

import json

import pytest

from archsearch.experiments import EXPERIMENTS, ExperimentError, RunOptions, get_experiment, run_experiment
from archsearch.experiments.report import not_run_reason, seeds_table, summary
from archsearch.experiments.runner import command_line, resolve_device


def test_an_empty_directory_lists_every_experiment_as_not_run(tmp_path):
    text = summary(tmp_path, EXPERIMENTS)
    for name in EXPERIMENTS:
        assert f"| {name} |" in text
    assert "`archsearch experiment colu-resnet56 --data DIR --device cuda`" in text
    assert "diffusion model" in text and text.count("| not run: ") == len(EXPERIMENTS) + 1


def test_a_quick_run_writes_its_files_and_the_summary(tmp_path):
    lines = []
    record = run_experiment("colu-minimal", RunOptions(out=tmp_path, quick=True, seeds=2), log=lines.append)
    assert lines and record["quick"] and record["seeds"] == 2 and record["config"]["iterations"] == 30
    for name in ("colu-minimal.md", "colu-minimal.png", "colu-minimal.json", "README.md"):
        assert (tmp_path / name).stat().st_size > 0
    stored = json.loads((tmp_path / "colu-minimal.json").read_text())
    assert stored["command"] == "archsearch experiment colu-minimal --quick --seeds 2"
    assert stored["machine"]["torch"] and stored["wall_seconds"] > 0
    page = (tmp_path / "colu-minimal.md").read_text()
    assert "Quick mode" in page and "| ReLU | CoLU |" in page and "![colu-minimal](colu-minimal.png)" in page
    readme = (tmp_path / "README.md").read_text()
    assert "[colu-minimal](colu-minimal.md)" in readme and "quick mode only" in readme
    assert "the runs here had none (CPU only)" in not_run_reason(EXPERIMENTS["colu-resnet56"], [stored])


def test_the_seeds_figures_appear_as_printed():
    table = "\n".join(seeds_table("resnet56"))
    assert "92.7282 ± 0.357" in table and "93.5851 ± 0.442" in table and "read as 0.252 G" in table
    assert "no numbers" in seeds_table("minimal")[0]


def test_command_line_and_device():
    opts = RunOptions(quick=True, device="auto", settings={"arms": ("relu", "colu"), "epochs": 1})
    assert command_line(EXPERIMENTS["colu-resnet56"], opts) == \
        "archsearch experiment colu-resnet56 --quick --device auto --set arms=relu,colu --set epochs=1"
    assert resolve_device("cpu") == "cpu"
    with pytest.raises(ExperimentError, match="unknown device"):
        resolve_device("tpu")
    with pytest.raises(ExperimentError, match="unknown experiment 'nope'"):
        get_experiment("nope")


def test_rewrite_rebuilds_the_page_from_the_record(tmp_path):
    from archsearch.experiments import rewrite_experiment

    run_experiment("colu-minimal", RunOptions(out=tmp_path, quick=True), log=lambda line: None)
    page = (tmp_path / "colu-minimal.md").read_text()
    (tmp_path / "colu-minimal.md").write_text("stale")
    (tmp_path / "colu-minimal.png").unlink()
    record = rewrite_experiment("colu-minimal", tmp_path)
    assert (tmp_path / "colu-minimal.md").read_text() == page and (tmp_path / "colu-minimal.png").is_file()
    assert record["command"] == "archsearch experiment colu-minimal --quick"
    stored = json.loads((tmp_path / "colu-minimal.json").read_text())
    stored["version"] = 0
    (tmp_path / "colu-minimal.json").write_text(json.dumps(stored))
    with pytest.raises(ExperimentError, match="version 0, not colu-minimal version 1: run the experiment again"):
        rewrite_experiment("colu-minimal", tmp_path)
    with pytest.raises(ExperimentError, match="no record .* to rewrite"):
        rewrite_experiment("colu-sample-efficiency", tmp_path)
