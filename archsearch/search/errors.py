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


_DISK = {
    "ENOSPC": "no space left on device",
    "EDQUOT": "disk quota exceeded",
    "EFBIG": "file too large (the file-size limit, ulimit -f)",
    "EROFS": "read-only file system",
    "EACCES": "permission denied",
    "EPERM": "operation not permitted",
}


def disk_error(err: OSError, where: str, *, intact: bool = True) -> StorageError | None:
    """A one-line StorageError for a full, read-only or forbidden disk while writing a study (None for other
    OS errors). The journal keeps whole entries only (a cut-short last one is ignored and removed at the next
    append), so an existing study is intact (``intact``: say so)."""
    import errno

    name = errno.errorcode.get(err.errno or -1, "")
    if name not in _DISK:
        return None
    path = err.filename or where
    advice = ("free space and run the same command" + (" with --resume" if intact else "")
              if name in ("ENOSPC", "EDQUOT", "EFBIG")
              else "run it where the results directory is writable (--results), or fix the permissions")
    return StorageError(f"{path}: {_DISK[name]} ({'the study is intact; ' if intact else ''}{advice})")
