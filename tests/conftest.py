"""Shared by tests/report, tests/export and tests/cli: the session's small studies
(tests/report/results_helpers.py), built once per test session (per xdist worker); and the known-field
Euler step check of tests/train/train_helpers.py, which tests/export runs on the exported copy."""

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
