"""Every bad value and every unbounded input the reliability review found: one line on stderr, exit 2, nothing
written (no study directory), and quickly — never a traceback, a MemoryError or minutes of silent work."""

from __future__ import annotations

import os
import time

import pytest
from search_helpers import TINY

SEARCH = ["search", "--trials", "1", "--no-progress", *TINY]


def one_line(res, command: str, *needles: str) -> str:
    assert res.code == 2, (res.code, res.out[-500:], res.err[-2000:])
    lines = res.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.err, res.err[-2000:]
    assert lines[0].startswith(f"archsearch {command}: ") and "error: " in lines[0], lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize(("options", "needles"), [
    (["--space", "step=inf"], ["step", "finite"]),
    (["--space", "lr=1e400"], ["lr", "finite"]),
    (["--space", "lr=nan"], ["lr", "finite"]),
    (["--space", "width=99999999999999999999"], ["width", "16384"]),
    (["--space", "depth=100000"], ["depth", "256"]),
    (["--task-option", "d=abc"], ["option d must be an integer, not 'abc'"]),
    (["--task-option", "d=1e30"], ["option d must be an integer"]),
    (["--task-option", "d=99999999999999999999"], ["out of range"]),
    (["--study", ""], ["study name"]),
])
def test_bad_search_values(run, tmp_path, options, needles):
    res = run(*SEARCH, "--results", str(tmp_path / "results"), *options)
    one_line(res, "search", *needles)
    assert not (tmp_path / "results").exists()  # nothing written


def _grammar(tmp_path, extra: str, name: str = "g.toml") -> str:
    path = tmp_path / name
    path.write_text('[grammar]\nname = "g"\n' + extra + '[axioms]\nleft = "perm"\nright = "none"\nmax_order = 2\n')
    return str(path)


def test_huge_cone_size_is_refused_at_the_grammar(run, tmp_path):
    path = _grammar(tmp_path, '[families]\nconic = ["soc"]\ncone_size = 100000000000\n')
    for command in (["enumerate", "--grammar", path], [*SEARCH, "--grammar", path, "--results", str(tmp_path / "r")]):
        line = one_line(run(*command), command[0], "cone_size")
        assert "g.toml:" in line  # file and line
    assert not (tmp_path / "r").exists()


def test_cone_size_larger_than_every_width_is_refused_before_a_study(run, tmp_path):
    path = _grammar(tmp_path, '[families]\nconic = ["soc"]\ncone_size = 64\n')
    res = run(*SEARCH, "--grammar", path, "--results", str(tmp_path / "r"))
    one_line(res, "search", "cone", "64", "width")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("kind", ["dev-zero", "fifo", "six-megabytes", "directory"])
def test_unbounded_grammar_files(run, tmp_path, kind):
    if kind == "dev-zero":
        path = "/dev/zero"
    elif kind == "fifo":
        path = str(tmp_path / "pipe.toml")
        os.mkfifo(path)  # nobody writes: reading it would block forever
    elif kind == "directory":
        path = str(tmp_path)
    else:
        path = _grammar(tmp_path, f'description = "{"x" * (6 << 20)}"\n')  # in [grammar]
    start = time.monotonic()
    for command in (["enumerate", "--grammar", path], [*SEARCH, "--grammar", path, "--results", str(tmp_path / "r")]):
        one_line(run(*command), command[0], path)
    assert time.monotonic() - start < 60
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(("key", "needle"), [("glu100000000", "up to 16"), ("glu1000", "up to 16"),
                                             ("glu17", "up to order 16"), ("lse@1e400", "temperature"),
                                             ("0-1." * 20 + "0-1", "more than 16 edges"), ("0-1" * 100, "too long")])
def test_show_of_huge_terms_is_refused(run, key, needle):
    start = time.monotonic()
    one_line(run("show", key), "show", needle)
    assert time.monotonic() - start < 10


def test_alphabet_of_more_than_26_letters(run):
    letters = ",".join(f"{chr(65 + i % 26)}{'a' * (i // 26)}" for i in range(100))
    one_line(run("enumerate", "--alphabet", letters), "enumerate", "at most 26 letters, not 100")


def test_an_enumeration_past_the_term_cap_is_refused_from_its_estimate(run):
    """Eight letters to order 10 are about 10^7 terms (minutes and gigabytes): refused after the cheap low
    orders, with the estimate."""
    start = time.monotonic()
    line = one_line(run("enumerate", "--alphabet", "A,B,C,D,E,F,G,H", "--max-order", "10"), "enumerate",
                    "terms up to order 10", "20,000", "--force")
    assert "about" in line and time.monotonic() - start < 30


def test_a_slow_cost_column_is_refused_with_its_estimate(run):
    """A cost column estimated longer than --cost-limit is refused with the estimate (a limit of 1 ms: the
    default 2 minutes depends on the machine's speed); --no-cost lists the terms; a generous limit plans them."""
    line = one_line(run("enumerate", "--max-order", "12", "--cost-limit", "0.001"), "enumerate", "470 terms",
                    "--no-cost", "--force", "--cost-limit", "over the limit of 0.001 s")
    assert "would take about" in line
    planned = run("enumerate", "--max-order", "6", "--cost-limit", "1000", "--format", "json")
    assert planned.code == 0 and all(t["cost"] for t in planned.json()["terms"])
    assert run("enumerate", "--cost-limit", "-1").code == 2
    listed = run("enumerate", "--max-order", "12", "--no-cost", "--format", "json")
    assert listed.code == 0, listed.err
    terms = listed.json()["terms"]
    assert len(terms) == 470 and all(t["cost"] is None for t in terms)
