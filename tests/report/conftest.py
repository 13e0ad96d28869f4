"""Make results_helpers importable and share the session's small studies."""

import sys
from pathlib import Path

import pytest

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import results_helpers  # noqa: E402


@pytest.fixture(scope="session")
def results(tmp_path_factory):
    """A results directory with the studies of results_helpers.STUDIES (read only: copy before changing)."""
    return results_helpers.results_dir(tmp_path_factory)
