"""Every `archsearch …` command line in README.md and docs/*.md code blocks runs and exits 0.

Each document's commands run in order in a scratch directory that holds a copy of grammars/, so a
search writes its study there and a later `leaderboard` or `export` finds it."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest

from archsearch.cli import main

ROOT = Path(__file__).resolve().parents[2]
NEEDS_SERVER = "postgresql://"  # run against a real server in tests/search/test_postgres.py


def _commands(path: Path) -> list[str]:
    found = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", path.read_text(), flags=re.S):
        for line in block.splitlines():
            line = line.strip().removeprefix("$ ")
            if line.startswith("archsearch "):
                found.append(line.split("  #")[0].strip())
    return found


DOCS = [p for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))] if p.name != "cli.md"]


def test_docs_have_commands():
    assert sum(len(_commands(p)) for p in DOCS) >= 15


@pytest.mark.parametrize("doc", DOCS, ids=[p.name for p in DOCS])
def test_documented_commands_run_in_order(doc, tmp_path, monkeypatch, capsys):
    shutil.copytree(ROOT / "grammars", tmp_path / "grammars")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    for line in _commands(doc):
        if NEEDS_SERVER in line:
            continue
        try:
            main(shlex.split(line)[1:])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        err = capsys.readouterr().err
        assert code == 0, f"{doc.name}: {line}\n{err}"


@pytest.mark.slow
def test_make_demo_main_job_runs():
    """README's main command: enumerate, a complete small search with the embedded journal storage,
    the leaderboard and the exported winner (re-running resumes the study)."""
    import subprocess
    import sys

    env = {**__import__("os").environ, "PATH": f"{Path(sys.executable).parent}:{__import__('os').environ['PATH']}"}
    res = subprocess.run(["make", "-s", "demo", f"BIN={Path(sys.executable).parent}", "STAMP=pyproject.toml"],
                         cwd=ROOT, capture_output=True, text=True, timeout=900, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "linear attention" in res.stdout and "20 of 20 trials finished" in res.stdout
    assert (ROOT / "results" / "demo" / "winner.py").exists()
