"""Fixtures of the search tests (a tiny budget); helpers in search_helpers.py. The PostgreSQL server fixture
is in tests/conftest.py (the reliability tests use it too)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from search_helpers import TINY  # noqa: E402


@pytest.fixture
def tiny():
    return list(TINY)
