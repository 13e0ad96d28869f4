"""Errors a user can cause in a search (bad storage URL, unreachable database, corrupt or missing study).

Each carries a one-line message; the CLI prints it as ``archsearch search: error: …`` with exit code 2.
"""

from __future__ import annotations


class SearchError(Exception):
    """A user-facing search error with a one-line message."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


class StorageError(SearchError):
    """An unsupported storage URL, an unreachable database or a corrupt journal file."""


class StudyError(SearchError):
    """A study that should exist but does not, or should not exist but does, or whose settings clash."""
