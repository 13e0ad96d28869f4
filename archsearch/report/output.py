"""Writing output files all-or-nothing: every file is staged as a temporary file beside its target, then
all are moved into place with ``os.replace``. A failure while staging leaves no file behind."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from archsearch.report.studies import ResultsError


def check_writable_dir(directory: Path, create: bool = False) -> Path:
    """``directory`` if files can be written into it, else a ResultsError saying why. ``create``: it may be
    missing (its nearest existing ancestor must then be a writable directory); it is not created here."""
    directory = Path(directory)
    probe = directory
    if create:
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
    what = "cannot create output directory" if probe != directory else "cannot write to"
    if not probe.is_dir():
        why = "is not a directory" if probe.exists() else "does not exist"
        shown = "it" if probe == directory else str(probe)
        raise ResultsError(f"{what} {directory}: {shown} {why}")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ResultsError(f"{what} {directory}: permission denied")
    return directory


def make_dir(directory: Path) -> Path:
    """Create ``directory`` (and its parents) if missing; a ResultsError on failure."""
    try:
        Path(directory).mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ResultsError(f"cannot create output directory {directory}: {err.strerror or err}") from None
    return Path(directory)


def write_files(files: Mapping[Path, bytes]) -> list[Path]:
    """Write every ``path: data`` pair, all or nothing (as far as the file system allows); return the paths."""
    staged: list[tuple[str, Path]] = []
    try:
        for path, data in files.items():
            path = Path(path)
            if path.is_dir():
                raise ResultsError(f"cannot write {path}: it is a directory")
            try:
                fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            except OSError as err:
                raise ResultsError(f"cannot write {path}: {err.strerror or err}") from None
            staged.append((tmp, path))
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                os.chmod(tmp, 0o644)
            except OSError as err:
                raise ResultsError(f"cannot write {path}: {err.strerror or err}") from None
        for tmp, path in staged:
            os.replace(tmp, path)
    except BaseException:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)
        raise
    return [path for _, path in staged]
