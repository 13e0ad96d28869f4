"""Shared by the compiler tests (imported by name: tests/compiler/conftest.py puts this directory on sys.path)."""

from __future__ import annotations

from typing import Any

from archsearch.calculus import derive
from archsearch.calculus.evaluate import TOKEN_LETTERS
from archsearch.compiler.plan import BATCH, HEAD, RANK_LETTERS, PlanSizes
from archsearch.enumeration.axioms import Axioms
from archsearch.enumeration.diagrams import diagrams
from archsearch.terms import Diagram

#: diagrams with symmetric (unoriented, lettered) weights, for the planners' tests
SYMMETRIC_KEYS = ("A0-1.A0-1", "A0-0.A0-1", "A0-1.B1-2", "A0-1.A1-1")


def perm_diagrams(field: str, max_order: int, connected: bool = False) -> list[Diagram]:
    """The diagrams of permutation symmetry of every even order up to ``max_order``, in enumeration order."""
    ax = Axioms(left="perm", field=field, max_order=max_order, connected=connected)
    return [t for d in range(1, max_order // 2 + 1) for t in diagrams(ax, d)]


def plan_test_fields() -> list[Any]:
    """Fields whose plans the planner tests check: every diagram to order 4 (real and complex) and the diagrams
    with symmetric weights, tied and untied."""
    terms = [(d, field) for field in ("real", "complex") for d in perm_diagrams(field, 4)]
    terms += [(Diagram.from_key(k), "real") for k in SYMMETRIC_KEYS]
    return [derive(d, field, tied) for d, field in terms for tied in (True, False)]


def random_leaves(plans, gen) -> dict[str, Any]:
    """One random float64 tensor per leaf name the plans' einsums read (x and conj(x) independent), shaped by
    its letters: batch 2, heads 2, tokens 3, ranks 5, features 4."""
    import torch

    size = {BATCH: 2, HEAD: 2, **{c: 3 for c in TOKEN_LETTERS}, **{c: 5 for c in RANK_LETTERS}}
    leaves: dict[str, Any] = {}
    for p in plans:
        for name, letters in zip(p.operands, p.subscripts.split("->")[0].split(","), strict=True):
            if name not in leaves:
                leaves[name] = torch.randn(*(size.get(c, 4) for c in letters), generator=gen, dtype=torch.float64)
    return leaves


def letter_sizes(letters: str, sizes: PlanSizes) -> dict[str, int]:
    """Planning sizes of a plan's letters: batch 1, heads H, ranks C_A, tokens N, features C."""
    return {c: 1 if c == BATCH else sizes.H if c == HEAD else sizes.C_A if c in RANK_LETTERS
            else sizes.N if c in TOKEN_LETTERS else sizes.C for c in letters}
