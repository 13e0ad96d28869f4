"""Shared by the compiler tests (imported by name: tests/compiler/conftest.py puts this directory on sys.path)."""

from __future__ import annotations

from archsearch.enumeration.axioms import Axioms
from archsearch.enumeration.diagrams import diagrams
from archsearch.terms import Diagram


def perm_diagrams(field: str, max_order: int, connected: bool = False) -> list[Diagram]:
    """The diagrams of permutation symmetry of every even order up to ``max_order``, in enumeration order."""
    ax = Axioms(left="perm", field=field, max_order=max_order, connected=connected)
    return [t for d in range(1, max_order // 2 + 1) for t in diagrams(ax, d)]
