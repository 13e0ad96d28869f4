"""The Python standard library's own source as a byte corpus: present on every machine, no download.

Files: every regular ``*.py`` file under ``sysconfig.get_paths()["stdlib"]``, walked without following
links, except the directories ``site-packages``, ``dist-packages``, ``__pycache__``, ``test``, ``tests`` and
``idle_test`` (the test suites, ``lib2to3/tests`` among them) and the build-specific files
(``_sysconfigdata_*.py``, the ``config-*`` directory), sorted by their relative POSIX path.

Split by FILE, so train/val/test are disjoint by construction: the first 8 bytes of
sha256("archsearch/stdlib/" + relative path), little-endian, modulo 20 → 0: val, 1: test, else train
(about 5 % / 5 % / 90 % of the files; a file never moves between splits).

Cap: each split has a share of ``max_bytes`` (train 90 %, val 5 %, test 5 %) and takes its files whole, in
sorted order, each followed by :data:`SEPARATOR`, skipping a file that no longer fits its room (first fit), so
no file is ever cut. The text task's default cap (32 MB) holds the whole library (CPython 3.11: 734 files,
12.1 MB, read in under 0.1 s); a small cap keeps the first files of each split. The corpus is loaded once
per process, root and cap.

Different Python versions ship different standard libraries: a result on this corpus holds for the Python
version and the file/byte counts that :meth:`StdlibCorpus.describe` records (with a sha256 of the bytes).
"""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archsearch.tasks.base import SPLITS

SEPARATOR = b"\x1c"  # ASCII "file separator" after every file
SHARES = {"train": 0.9, "val": 0.05, "test": 0.05}
EXCLUDED_DIRS = frozenset({"site-packages", "dist-packages", "__pycache__", "test", "tests", "idle_test"})
HASH_MODULUS = 20


def stdlib_root() -> Path:
    """The standard library directory of this interpreter (``sysconfig.get_paths()["stdlib"]``)."""
    return Path(sysconfig.get_paths()["stdlib"])


def _excluded_dir(name: str) -> bool:
    return name in EXCLUDED_DIRS or name.startswith("config-")


def _excluded_file(name: str) -> bool:
    return not name.endswith(".py") or name.startswith("_sysconfigdata_")


def stdlib_files(root: Path) -> list[str]:
    """The relative POSIX paths of the corpus's files under ``root``, sorted (see the module docstring)."""
    found: list[str] = []
    stack = [root]
    while stack:
        folder = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if not _excluded_dir(entry.name):
                        stack.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False) and not _excluded_file(entry.name):
                    found.append(Path(entry.path).relative_to(root).as_posix())
    return sorted(found)


def file_split(relative_path: str) -> str:
    """The split of a file, from a hash of its relative path: val (1/20), test (1/20) or train."""
    digest = hashlib.sha256(f"archsearch/stdlib/{relative_path}".encode()).digest()
    bucket = int.from_bytes(digest[:8], "little") % HASH_MODULUS
    return "val" if bucket == 0 else "test" if bucket == 1 else "train"


@dataclass(frozen=True)
class StdlibCorpus:
    """The loaded corpus: ``parts[split]`` the bytes of the split (files in order, each + SEPARATOR);
    ``files[split]`` their relative paths, in that order."""

    root: str
    python: str
    max_bytes: int
    parts: dict[str, bytes]
    files: dict[str, tuple[str, ...]]

    def describe(self) -> dict[str, Any]:
        """What was trained on: Python version, directory, cap, files and bytes per split, sha256 of all bytes."""
        digest = hashlib.sha256()
        for split in SPLITS:
            digest.update(self.parts[split])
        return {
            "corpus": "stdlib",
            "python": self.python,
            "root": self.root,
            "max_bytes": self.max_bytes,
            "files": {s: len(self.files[s]) for s in SPLITS},
            "bytes": {s: len(self.parts[s]) for s in SPLITS},
            "sha256": digest.hexdigest(),
        }


def load_stdlib(max_bytes: int, root: Path | None = None) -> StdlibCorpus:
    """The stdlib corpus capped at ``max_bytes`` (cached per process, root and cap).

    Raises ValueError naming ``corpus=stdlib`` when the directory does not exist or holds no source file.
    """
    return _load(str(stdlib_root() if root is None else root), max_bytes)


@functools.lru_cache(maxsize=4)
def _load(root: str, max_bytes: int) -> StdlibCorpus:
    base = Path(root)
    if not base.is_dir():
        raise ValueError(
            f"text: corpus=stdlib: the standard library directory {root!r} (sysconfig.get_paths()['stdlib']) does "
            "not exist; this Python ships no library source (use path=FILE instead)"
        )
    names = stdlib_files(base)
    if not names:
        raise ValueError(f"text: corpus=stdlib: no Python source files under {root!r} (an empty corpus)")
    room = {s: int(max_bytes * share) for s, share in SHARES.items()}
    chunks: dict[str, list[bytes]] = {s: [] for s in SPLITS}
    taken: dict[str, list[str]] = {s: [] for s in SPLITS}
    for name in names:
        split = file_split(name)
        path = base / name
        if path.stat().st_size + len(SEPARATOR) > room[split]:
            continue
        data = path.read_bytes()
        room[split] -= len(data) + len(SEPARATOR)
        chunks[split].append(data + SEPARATOR)
        taken[split].append(name)
    return StdlibCorpus(
        root=root,
        python=f"{platform.python_implementation()} {platform.python_version()}",
        max_bytes=max_bytes,
        parts={s: b"".join(chunks[s]) for s in SPLITS},
        files={s: tuple(taken[s]) for s in SPLITS},
    )
