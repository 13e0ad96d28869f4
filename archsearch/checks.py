"""Validation shared by the dataclasses that are built from user or stored dictionaries."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields


def check_keys(given: Iterable[str], cls: type, what: str, where: str = "") -> None:
    """Raise ValueError when ``given`` names a key that is not a field of the dataclass ``cls``:
    ``unknown {what} 'k'{where} (known: a, b)``, the known fields in declaration order."""
    known = [f.name for f in fields(cls)]
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ValueError(f"unknown {what} {', '.join(map(repr, unknown))}{where} (known: {', '.join(known)})")
