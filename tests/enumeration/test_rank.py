"""Linear independence: the enumerated invariants, evaluated at (count + 20) random inputs, have
numerical rank equal to their count (stable range N ≥ number of vertices); and below the stable
range (N = 2) identities appear, so the rank drops."""

from __future__ import annotations

import numpy as np
import pytest

from archsearch.enumeration.axioms import Axioms
from archsearch.enumeration.diagrams import all_diagrams, connected_diagrams
from archsearch.terms import Diagram

_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def evaluate_on_edges(g: Diagram, mats: dict[str, np.ndarray], free: list[np.ndarray]) -> complex:
    """Σ over vertex indices of Π_e (G_e)[src, dst], G_e from its letter (or free edge i)."""
    ops, subs = [], []
    for i, e in enumerate(g.rep):
        ops.append(mats[e.letter] if e.letter else free[i])
        subs.append(_LETTERS[e.src] + _LETTERS[e.dst])
    return np.einsum(",".join(subs) + "->", *ops, optimize="greedy")


def _rank(values: np.ndarray) -> int:
    values = values / np.maximum(np.abs(values).max(axis=0, keepdims=True), 1e-300)
    s = np.linalg.svd(values, compute_uv=False)
    return int((s > s[0] * 1e-9).sum())


def _random_edge(ax: Axioms, letter: str, n: int, rng: np.random.Generator) -> np.ndarray:
    cplx = ax.field == "complex"
    m = rng.standard_normal((n, n)) + (1j * rng.standard_normal((n, n)) if cplx else 0)
    if ax.reversible(letter):
        m = m + m.T  # free / symmetric weights in the real field: G = X W Xᵀ symmetric family
    return m


def _matrix(ax: Axioms, diagrams: tuple[Diagram, ...], n: int, rng: np.random.Generator) -> np.ndarray:
    rows = []
    letters = set(ax.alphabet) or {""}
    for _ in range(len(diagrams) + 20):
        shared = {lt: _random_edge(ax, lt, n, rng) for lt in letters}
        # free weights: one symmetric edge matrix G for every edge (invariants of one matrix)
        free = [shared.get("", None)] * max(g.degree for g in diagrams)
        rows.append([evaluate_on_edges(g, shared, free) for g in diagrams])
    return np.array(rows)


CASES = [
    ("perm-real", Axioms(), 3),
    ("perm-complex", Axioms(field="complex"), 3),
    ("unitary-real", Axioms(left="unitary"), 3),
    ("unitary-two-letters", Axioms(left="unitary", weights="alphabet", alphabet=("A", "B")), 3),
]


@pytest.mark.parametrize(("ax", "max_d"), [pytest.param(a, d, id=n) for n, a, d in CASES])
@pytest.mark.parametrize("connected", [True, False], ids=["connected", "all"])
def test_rank_equals_count(ax, max_d, connected):
    rng = np.random.default_rng(1)
    for d in range(1, max_d + 1):
        diagrams = connected_diagrams(ax, d) if connected else all_diagrams(ax, d)
        n = max(g.n_vertices for g in diagrams)
        values = _matrix(ax, diagrams, n, rng)
        assert _rank(values) == len(diagrams), f"order {2 * d}"


def test_rank_detects_a_duplicate():
    """The check can fail: a repeated invariant lowers the rank below the count."""
    rng = np.random.default_rng(2)
    ax = Axioms()
    diagrams = connected_diagrams(ax, 2)
    values = _matrix(ax, (*diagrams, diagrams[0]), 4, rng)
    assert _rank(values) == len(diagrams)


def test_below_stable_range_identities_appear():
    """At N = 2 the 23 order-6 families of one symmetric matrix are not independent."""
    rng = np.random.default_rng(3)
    ax = Axioms()
    diagrams = all_diagrams(ax, 3)
    assert _rank(_matrix(ax, diagrams, 2, rng)) < len(diagrams)
