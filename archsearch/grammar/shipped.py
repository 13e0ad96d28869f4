"""The grammars shipped inside the package (``archsearch/grammars/*.toml``), addressable by name.

    shipped_grammars()          {"paper": Path(…/archsearch/grammars/paper.toml), …}
    grammar_path("paper")       the shipped file; a path that exists is returned as is
    load_grammar("paper")       (archsearch.grammar.load_grammar) accepts a name or a path

The files are package data (``importlib.resources``), so an installed wheel finds them from any directory.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

__all__ = ["grammar_path", "shipped_grammars"]

SUFFIX = ".toml"


def _directory() -> Path:
    """The shipped grammars' directory (a real directory: setuptools installs package data as files)."""
    return Path(str(resources.files("archsearch") / "grammars"))


def shipped_grammars() -> dict[str, Path]:
    """Every shipped grammar's name (its file stem) and file, sorted by name."""
    folder = _directory()
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.glob(f"*{SUFFIX}")) if p.is_file()}


def grammar_path(spec: str | os.PathLike[str]) -> Path:
    """The file a ``--grammar`` value names: an existing path as is; else a shipped grammar's name (``paper``,
    also ``paper.toml``); else the path unchanged (reading it then fails with "grammar file not found")."""
    path = Path(spec)
    if path.exists():
        return path
    text = str(spec)
    if os.sep in text or (os.altsep and os.altsep in text):
        return path
    name = text[: -len(SUFFIX)] if text.endswith(SUFFIX) else text
    return shipped_grammars().get(name, path)


def is_name(spec: str | os.PathLike[str]) -> bool:
    """Whether ``spec`` looks like a bare grammar name rather than a path (no directory, no suffix)."""
    text = str(spec)
    return not (os.sep in text or (os.altsep and os.altsep in text) or text.endswith(SUFFIX))
