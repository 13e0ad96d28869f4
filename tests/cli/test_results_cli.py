"""archsearch leaderboard / report / export: output, and one-line errors with exit code 2 and nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
import results_helpers  # tests/report, put on sys.path by tests/conftest.py (as is the `results` fixture)


def _one_line_error(res, command: str) -> str:
    assert res.code == 2, (res.out, res.err)
    lines = res.err.strip().splitlines()
    assert len(lines) == 1, res.err
    assert lines[0].startswith(f"archsearch {command}: error: "), lines[0]
    return lines[0]


def test_leaderboard_table_and_json(run, results):
    res = run("leaderboard", "--study", "multi", "--results", str(results), "--format", "table")
    assert res.code == 0, res.err
    assert "linear attention" in res.out and "val mse" in res.out and "Pareto" in res.out
    piped = run("leaderboard", "--study", "multi", "--results", str(results))  # not a terminal: TSV
    header, *lines = piped.out.splitlines()
    assert header.split("\t")[:2] == ["trial", "val mse"] and header.split("\t")[-1] == "pareto"
    assert all(line.split("\t")[0].isdigit() for line in lines) and lines
    for hyper in ("width", "depth", "lr"):
        assert hyper in header.split("\t")
    csv = run("leaderboard", "--study", "multi", "--results", str(results), "--format", "csv")
    assert csv.out.startswith("trial,val mse,")
    latex = run("leaderboard", "--study", "multi", "--results", str(results), "--format", "latex")
    assert latex.out.startswith("\\begin{tabular}") and "trial & val mse" in latex.out
    res = run("leaderboard", "--study", "causal", "--results", str(results), "--top", "2", "--json")
    assert res.code == 0, res.err
    rows = res.json()
    assert len(rows) == 2
    for row in rows:
        for key in ("number", "state", "values", "term_ids", "names", "n_params", "flops", "wall_time", "device",
                    "duplicate_of", "hyper"):
            assert key in row
    assert rows[0]["values"][0] >= rows[1]["values"][0]  # accuracy: higher first


def test_report_prints_paths(run, results, tmp_path):
    out = tmp_path / "rep"
    res = run("report", "--study", "causal", "--results", str(results), "-o", str(out))
    assert res.code == 0, res.err
    paths = [Path(p) for p in res.out.split()]
    assert {p.name for p in paths} >= {"history.png", "pareto.png", "terms.png", "index.html"}
    assert all(p.is_file() and p.parent == out for p in paths)
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in paths if p.suffix == ".png")


def test_export_with_weights(run, results, tmp_path):
    res = run("export", "--study", "multi", "--results", str(results), "--trial", "best", "-o",
              str(tmp_path / "winner.py"), "--weights", str(tmp_path / "winner.safetensors"))
    assert res.code == 0, res.err
    assert res.out.split() == [str(tmp_path / p) for p in ("winner.py", "winner.safetensors", "config.json")]
    text = (tmp_path / "winner.py").read_text()
    assert "WEIGHTS = 'winner.safetensors'" in text and "def load_model" in text
    res = run("export", "--study", "causal", "--results", str(results), "--trial", "0", "-o",
              str(tmp_path / "t0.py"))
    assert res.code == 0, res.err
    assert "TRIAL = 0\n" in (tmp_path / "t0.py").read_text()


def _corrupt_copy(results: Path, dest: Path) -> Path:
    copy = results_helpers.copy_study(results, "multi", dest)
    with open(copy / "multi" / "journal.log", "ab") as fh:
        fh.write(b"{not json\n")
    return copy


ALL = ("leaderboard", "report", "export")
CASES = [(command, case) for case, commands in (
    ("unknown study", ALL), ("no finished trials", ALL), ("corrupt storage", ALL), ("bad storage url", ALL),
    ("trial not found", ("export",)), ("pruned trial", ("export",)), ("unwritable output", ("report", "export")),
) for command in commands]


@pytest.mark.parametrize("command, case", CASES)
def test_errors_are_one_line_and_write_nothing(run, results, tmp_path, command, case):
    out = tmp_path / "out"
    out.mkdir()
    where, study, extra = results, "multi", []
    if case == "unknown study":
        study, expect = "nope", "no study named 'nope'"
    elif case == "no finished trials":
        where = results_helpers.synthetic_study(tmp_path / "res", "failed", failed_only=True)
        study, expect = "failed", "no finished (COMPLETE) trials"
    elif case == "corrupt storage":
        where, expect = _corrupt_copy(results, tmp_path / "res"), "corrupt study journal"
    elif case == "bad storage url":
        extra, expect = ["--storage", "sqlite:///x.db"], "unsupported storage URL"
    elif case == "trial not found":
        extra, expect = ["--trial", "42"], "has no trial 42"
    elif case == "pruned trial":
        where = results_helpers.synthetic_study(tmp_path / "res", "synth")
        study, extra, expect = "synth", ["--trial", "10"], "is PRUNED, not COMPLETE"
    else:  # unwritable output: the output's parent is a file
        blocker = out / "file"
        blocker.write_text("")
        verb = "create output directory" if command == "report" else "write to"
        out, expect = blocker / "sub", f"cannot {verb} {blocker}"
    args = {"leaderboard": ["leaderboard"], "report": ["report", "-o", str(out)],
            "export": ["export", "-o", str(out / "w.py"), "--weights", str(out / "w.safetensors")]}[command]
    res = run(*args, "--study", study, "--results", str(where), *extra)
    line = _one_line_error(res, command)
    assert expect in line
    assert res.out == ""
    written = [p for p in (tmp_path / "out").rglob("*") if p.name != "file"]
    assert written == [], written
