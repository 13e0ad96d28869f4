"""Settings from the command line become the Config's types, or one-line errors; where results go."""

from __future__ import annotations

from pathlib import Path

import pytest

from archsearch.experiments.base import DEFAULT_OUT, QUICK_OUT, ExperimentError, RunOptions, coerce
from archsearch.experiments.machine import describe_machine, machine_line


@pytest.mark.parametrize(("value", "default", "want"), [
    ("0.1,0.5", (0.05, 1.0), (0.1, 0.5)),
    ([1, 2], (82, 123), (1, 2)),
    ("relu, colu4", ("relu",), ("relu", "colu4")),
    (3, 0.01, 3.0),
    (True, False, True),
    (7, 5, 7),
    (12, "lse", "12"),
])
def test_coerce(value, default, want):
    got = coerce("x", "k", value, default)
    assert got == want and type(got) is type(want)


@pytest.mark.parametrize(("value", "default", "message"), [
    ("fast", 0.01, "takes a number"),
    (float("nan"), 0.01, "takes a number"),
    (True, 5, "takes an integer"),
    (2.5, 5, "takes an integer"),
    ("yes", False, "true or false"),
    ("a,b", (1, 2), "takes an integer"),
    ({"a": 1}, ("relu",), "comma-separated list"),
])
def test_coerce_refuses(value, default, message):
    with pytest.raises(ExperimentError, match=message):
        coerce("x", "k", value, default)


def test_out_dir_keeps_quick_runs_apart():
    assert RunOptions().out_dir == DEFAULT_OUT == Path("results/seeds")
    assert RunOptions(quick=True).out_dir == QUICK_OUT
    assert RunOptions(quick=True, out=Path("x")).out_dir == Path("x")


def test_machine_line_names_cpu_and_versions():
    machine = describe_machine("cpu", 1)
    line = machine_line(machine)
    assert machine["gpu"] is None and machine["torch"] in line and "1 torch thread" in line
