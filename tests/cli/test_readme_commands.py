"""Every `archsearch …` command line in README.md and docs/*.md code blocks runs and exits 0."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _commands() -> list[tuple[str, str]]:
    found = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        if path.name == "cli.md":  # generated help text, checked by test_docs.py
            continue
        for block in re.findall(r"```[a-z]*\n(.*?)```", path.read_text(), flags=re.S):
            for line in block.splitlines():
                line = line.strip().removeprefix("$ ")
                if line.startswith("archsearch "):
                    found.append((path.name, line.split("  #")[0].strip()))
    return found


COMMANDS = _commands()


def test_docs_have_commands():
    assert len(COMMANDS) >= 5


@pytest.mark.parametrize(("doc", "line"), COMMANDS, ids=[f"{d}:{c}" for d, c in COMMANDS])
def test_documented_command_runs(run, doc, line):
    res = run(*shlex.split(line)[1:])
    assert res.code == 0, f"{doc}: {line}\n{res.err}"
