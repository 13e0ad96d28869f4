"""Fixtures of the reliability tests: faults injected at chosen points (a kill after the k-th journal append,
an append cut short, a full or read-only disk) into real searches, then the promise checked on the study.

Most cases run a tiny search in a forked child of the test process (after one warm-up search in the parent,
a run takes well under a second instead of the seconds a fresh interpreter needs to import torch), so a test
can kill a search at every one of its ~60 journal appends. The CLI cases run ``python -m archsearch``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

for _path in (str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1] / "search")):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from faults import warm_up  # noqa: E402


@pytest.fixture(scope="module")
def warm(tmp_path_factory):
    """One tiny search in this process first: forked children then start with everything compiled."""
    warm_up(tmp_path_factory.mktemp("warm"))
