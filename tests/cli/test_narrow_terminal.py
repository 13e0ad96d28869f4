"""Every command's table at 80 columns on a real terminal (a pseudo-terminal) and in a pipe: no line wider than
the terminal, and no cell of an id, order or count column cut to an ellipsis — each id printed whole, the ids
the same as the command's JSON lists.

The commands run as a user runs them, in a subprocess (``python -m archsearch``): on a terminal the output is a
rich table fitted to COLUMNS=80 (and the pty's own size), in a pipe plain TSV.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path

import pytest
from rich.cells import cell_len

ROOT = Path(__file__).resolve().parents[2]
WIDTH = 80
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
# the columns whose cells must never be cut: ids, orders, counts, trial numbers (headers as printed)
WHOLE = {"id", "order", "connected", "all", "name", "left", "orders", "trial", "#", "width", "depth", "heads",
         "params", "FLOPs"}
TINY = ("--trials", "3", "--steps", "5", "--batch-size", "8", "--space", "width=8", "--space", "depth=1",
        "--task-option", "d=2", "--no-baseline")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")}
    return env | {"COLUMNS": str(WIDTH), "LINES": "40", "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "TERM": "xterm"}


def on_terminal(args: tuple[str, ...], cwd: Path) -> str:
    """Run ``archsearch ARGS`` with stdout on an 80-column pseudo-terminal; return what it printed there."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, WIDTH, 0, 0))
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        proc = subprocess.run([sys.executable, "-m", "archsearch", *args], cwd=cwd, env=_env(), stdout=slave,
                              stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=600)
    finally:
        os.close(slave)
    reader.join(timeout=30)
    os.close(master)
    out = ANSI.sub("", b"".join(chunks).decode()).replace("\r\n", "\n")
    assert proc.returncode == 0, f"{args}\n{out[-2000:]}\n{proc.stderr.decode()[-2000:]}"
    return out


def in_pipe(args: tuple[str, ...], cwd: Path) -> str:
    proc = subprocess.run([sys.executable, "-m", "archsearch", *args], cwd=cwd, env=_env(), capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, f"{args}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    return proc.stdout


def terminal_tables(text: str) -> list[dict[str, list[str]]]:
    """The rich tables in ``text`` as {header: cells, one per printed line} (a wrapped header's lines joined)."""
    tables = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if not lines[i].lstrip().startswith("┏"):
            i += 1
            continue
        i += 1
        headers: list[str] = []
        while lines[i].lstrip().startswith("┃"):
            parts = [p.strip() for p in lines[i].strip().strip("┃").split("┃")]
            headers = parts if not headers else [f"{h} {p}".strip() for h, p in zip(headers, parts, strict=True)]
            i += 1
        assert lines[i].lstrip().startswith("┡"), lines[i]
        i += 1
        columns: dict[str, list[str]] = {h: [] for h in headers}
        while lines[i].lstrip().startswith("│"):
            parts = [p.strip() for p in lines[i].strip().strip("│").split("│")]
            assert len(parts) == len(headers), (headers, lines[i])
            for h, p in zip(headers, parts, strict=True):
                columns[h].append(p)
            i += 1
        assert lines[i].lstrip().startswith("└"), lines[i]
        tables.append(columns)
    return tables


def check_terminal(text: str) -> list[dict[str, list[str]]]:
    """At most 80 characters a line; at least one table; no ellipsis in a WHOLE column."""
    wide = [line for line in text.splitlines() if cell_len(line) > WIDTH]  # X̄ is one cell, two characters
    assert not wide, wide[:3]
    tables = terminal_tables(text)
    assert tables, text[-2000:]
    for table in tables:
        for header, cells in table.items():
            if header in WHOLE:
                cut = [c for c in cells if "…" in c or "..." in c]
                assert not cut, (header, cut)
    return tables


def check_pipe(text: str) -> list[list[str]]:
    """TSV: a header line, rows of as many cells, no ellipsis anywhere."""
    rows = [line.split("\t") for line in text.splitlines() if line]
    assert len(rows) >= 2 and all(len(r) == len(rows[0]) for r in rows), text[:500]
    assert "…" not in text
    return rows


def ids_of(args: tuple[str, ...], cwd: Path) -> list[str]:
    return [t["id"] for t in json.loads(in_pipe((*args, "--format", "json"), cwd))["terms"]]


ENUMERATE = [
    ("enumerate", "--max-order", "8"),
    ("enumerate", "--alphabet", "A,B", "--max-order", "4"),
    ("enumerate", "--grammar", "paper"),
]


@pytest.mark.slow
@pytest.mark.parametrize("args", ENUMERATE, ids=[" ".join(a[1:]) for a in ENUMERATE])
def test_enumerate_at_80_columns_and_piped(args, tmp_path):
    ids = ids_of(args, tmp_path)
    assert len(ids) >= 2
    tables = check_terminal(on_terminal(args, tmp_path))
    printed = [c for c in tables[0]["id"] if c]  # a wrapped row leaves its id cell empty on later lines
    assert printed == ids
    assert all(c.isdigit() for c in tables[0]["order"] if c)
    counts = tables[1]
    assert all(c.isdigit() for h in ("order", "connected", "all") for c in counts[h] if c)
    rows = check_pipe(in_pipe(args, tmp_path))
    assert rows[0][:2] == ["id", "order"] and [r[0] for r in rows[1:]] == ids


@pytest.mark.slow
def test_grammars_at_80_columns_and_piped(tmp_path):
    tables = check_terminal(on_terminal(("grammars", "--paths"), tmp_path))
    names = [r[0] for r in check_pipe(in_pipe(("grammars", "--paths"), tmp_path))[1:]]
    assert "paper" in names and [c for c in tables[0]["name"] if c] == names


@pytest.mark.slow
def test_search_and_leaderboard_at_80_columns_and_piped(tmp_path):
    summary = on_terminal(("search", "--study", "narrow", *TINY), tmp_path)
    tables = check_terminal(summary)
    trials = [c.rstrip("*") for c in tables[0]["trial"] if c]
    assert trials and all(t.isdigit() for t in trials), trials
    board = check_terminal(on_terminal(("leaderboard", "--study", "narrow"), tmp_path))
    assert [c.rstrip("*") for c in board[0]["trial"] if c] == trials
    assert "width" in board[0] or "width" in "".join(board[0]), board[0].keys()
    rows = check_pipe(in_pipe(("leaderboard", "--study", "narrow"), tmp_path))
    assert rows[0][0] == "trial" and [r[0] for r in rows[1:]] == trials
