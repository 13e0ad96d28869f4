"""Shared by tests/report, tests/export and tests/cli: the session's small studies
(tests/report/results_helpers.py), built once per test session (per xdist worker); and the known-field
Euler step check of tests/train/train_helpers.py, which tests/export runs on the exported copy."""

import os
import sys
from pathlib import Path

import pytest

for _helpers in (str(Path(__file__).parent / "report"), str(Path(__file__).parent / "train")):
    if _helpers not in sys.path:
        sys.path.insert(0, _helpers)

import results_helpers  # noqa: E402


@pytest.fixture(scope="session")
def results(tmp_path_factory):
    """A results directory with the studies of results_helpers.STUDIES (read only: copy before changing)."""
    return results_helpers.results_dir(tmp_path_factory)


@pytest.fixture(autouse=True)
def _fresh_caches_under_mutation():
    """Under mutmut (MUTANT_UNDER_TEST set) each mutant's tests run in a child forked from a process whose
    module caches hold what the unmutated code computed: empty them, or a mutant behind a cache never runs."""
    if os.environ.get("MUTANT_UNDER_TEST"):
        diagrams = sys.modules.get("archsearch.enumeration.diagrams")
        if diagrams is not None:
            diagrams._CACHE.clear()
        for name in ("archsearch.compiler.plan", "archsearch.compiler.block"):
            module = sys.modules.get(name)
            for value in vars(module).values() if module is not None else ():
                if callable(getattr(value, "cache_clear", None)):
                    value.cache_clear()
    yield
