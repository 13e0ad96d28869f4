"""Text compared word for word with a reviewed copy (generated block sources, printed plans, the families' printed
text): ``ARCHSEARCH_UPDATE_GENERATED=1`` rewrites the copies, whose diff is then reviewed."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

UPDATE = os.environ.get("ARCHSEARCH_UPDATE_GENERATED") == "1"


def check_reviewed(path: Path, text: str, what: str) -> None:
    """Fail with the first 4000 characters of the diff if ``text`` is not ``path``'s reviewed copy (``what``: the
    thing that changed, for the message); with ARCHSEARCH_UPDATE_GENERATED=1 write the copy first."""
    if UPDATE:
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"no reviewed copy {path.name}: run with ARCHSEARCH_UPDATE_GENERATED=1 and review it"
    reviewed = path.read_text()
    if text != reviewed:
        diff = "".join(difflib.unified_diff(reviewed.splitlines(True), text.splitlines(True), "reviewed", "new", n=1))
        pytest.fail(f"{what} changed (ARCHSEARCH_UPDATE_GENERATED=1 rewrites the copies)\n" + diff[:4000])
