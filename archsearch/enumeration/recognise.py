"""Recognition of known architectures among enumerated terms (each family names its own blocks)."""

from __future__ import annotations

from archsearch.families import Family


def recognise(term: Family) -> str | None:
    """The known block a term's field is, or None for a term with no established name."""
    return term.recognise()
