"""right = "none" is complete: the products V_λ (one per integer partition λ of each order k ≠ 2) with the
diagrams span every S_N-invariant polynomial in X of that order.

Counts are checked two independent ways: orbit-minimal set partitions of the k factors under S_k
(brute force, small k) and Euler's pentagonal-number recurrence for p(k) (the whole range, k ≤ 16).
Completeness is checked numerically: the listed families, evaluated with many random weights at
random X ∈ ℝ^{N×C}, have exactly the rank of the space of S_N-invariant polynomials of degree k,
whose dimension is counted by brute force as the S_N-orbits of degree-k monomials in the N·C
entries of X. Dropping one family (negative control) loses rank.
"""

from __future__ import annotations

from itertools import combinations_with_replacement, permutations

import numpy as np
import pytest

from archsearch.calculus import random_weights
from archsearch.enumeration import enumerate_terms
from archsearch.enumeration.axioms import Axioms
from archsearch.enumeration.bruteforce import set_partitions
from archsearch.enumeration.catalogue import count_summary, gated_terms
from archsearch.enumeration.diagrams import all_diagrams, connected_diagrams
from archsearch.grammar.model import Grammar


def pentagonal_partition_numbers(n: int) -> list[int]:
    """p(0..n) by Euler's pentagonal number theorem (shares nothing with the enumerator)."""
    p = [1] + [0] * n
    for m in range(1, n + 1):
        total, k = 0, 1
        while True:
            g1, g2 = k * (3 * k - 1) // 2, k * (3 * k + 1) // 2
            if g1 > m:
                break
            sign = 1 if k % 2 else -1
            total += sign * (p[m - g1] + (p[m - g2] if g2 <= m else 0))
            k += 1
        p[m] = total
    return p


def orbit_count_of_factor_partitions(k: int) -> int:
    """Set partitions of k factors into token vertices, up to relabelling the factors (brute force)."""

    def normalise(seq):
        seen: dict[int, int] = {}
        return tuple(seen.setdefault(x, len(seen)) for x in seq)

    perms = list(permutations(range(k)))
    return sum(
        1 for part in set_partitions(k) if all(normalise([part[q[i]] for i in range(k)]) >= part for q in perms)
    )


def test_pentagonal_recurrence_is_right():
    assert pentagonal_partition_numbers(10) == [1, 1, 2, 3, 5, 7, 11, 15, 22, 30, 42]


@pytest.mark.parametrize("k", [1, 3, 4, 5, 6])
def test_gated_count_matches_brute_force(k):
    ax = Axioms(right="none", max_order=k, min_order=1)
    assert len(gated_terms(ax, k)) == orbit_count_of_factor_partitions(k)


def test_gated_counts_over_the_whole_range():
    p = pentagonal_partition_numbers(16)
    ax = Axioms(right="none", max_order=16, min_order=1)
    for k in range(1, 17):
        expected = 0 if k == 2 else p[k]  # order 2: the diagrams 0-0 and 0-1 are the two products
        assert len(gated_terms(ax, k)) == expected, k
        assert len({t.key for t in gated_terms(ax, k)}) == expected


def test_count_summary_lists_every_order_from_one():
    grammar = Grammar("g", Axioms(right="none", max_order=5, min_order=1))
    rows = {r.order: r for r in count_summary(grammar)}
    assert sorted(rows) == [1, 2, 3, 4, 5]
    assert [rows[k].gated for k in range(1, 6)] == [1, 0, 3, 5, 7]
    assert rows[4].connected == 4 and rows[3].connected == 0
    keys = [t.key for t in enumerate_terms(grammar)]
    assert "glu1" in keys and "glu2.1" in keys and "0-1.0-1" in keys


# ---- completeness ------------------------------------------------------------------------------------


def invariant_dimension(n: int, c: int, k: int) -> int:
    """Number of S_N-orbits of degree-k monomials in the entries x_{jc} (brute force)."""
    cells = [(j, f) for j in range(n) for f in range(c)]
    orbits = set()
    for mono in combinations_with_replacement(cells, k):
        orbits.add(min(tuple(sorted((p[j], f) for j, f in mono)) for p in permutations(range(n))))
    return len(orbits)


def _span_rank(terms, n: int, c: int, k: int, draws: int, rng) -> int:
    """Rank of the families' values (``draws`` random weight sets each) at dim + 20 random X: the
    span's dimension, which is at most ``draws`` (= the invariants' dimension) by construction."""
    columns = [(t, random_weights(t, c, rng)) for t in terms for _ in range(draws)]
    rows = draws + 20
    values = np.empty((rows, len(columns)))
    for r in range(rows):
        X = rng.standard_normal((n, c))
        values[r] = [t.potential(X, w) for t, w in columns]
    values /= np.maximum(np.abs(values).max(axis=0, keepdims=True), 1e-300)
    s = np.linalg.svd(values, compute_uv=False)
    return int((s > s[0] * 1e-9).sum())


@pytest.mark.parametrize(("k", "n", "c"), [(1, 3, 2), (3, 3, 2), (4, 3, 2), (3, 2, 3)])
def test_right_none_spans_every_invariant_polynomial(k, n, c):
    ax = Axioms(right="none", max_order=k, min_order=k)
    terms = list(gated_terms(ax, k)) + (list(connected_diagrams(Axioms(), k // 2)) if k % 2 == 0 else [])
    dim = invariant_dimension(n, c, k)
    assert _span_rank(terms, n, c, k, draws=dim, rng=np.random.default_rng(k)) == dim


def test_dropping_a_family_loses_rank():
    """Negative control: without λ = (2, 1), or without λ = (3, 1) at order 4 with the diagrams of the
    same vertex pattern (3, 1) removed too, the listed families do not span the invariants."""
    n, c = 3, 2
    dim3 = invariant_dimension(n, c, 3)
    terms = [t for t in gated_terms(Axioms(right="none", max_order=3), 3) if t.key != "glu2.1"]
    assert _span_rank(terms, n, c, 3, draws=dim3, rng=np.random.default_rng(0)) < dim3
    dim4 = invariant_dimension(n, c, 4)
    pattern = (3, 1)
    kept = [t for t in gated_terms(Axioms(right="none", max_order=4), 4) if t.parts != pattern]
    kept += [g for g in all_diagrams(Axioms(), 2) if tuple(sorted(g.vertex_degrees, reverse=True)) != pattern]
    assert _span_rank(kept, n, c, 4, draws=dim4, rng=np.random.default_rng(1)) < dim4


def test_even_orders_diagrams_already_span():
    """Every degree sequence is a loopy multigraph's, so at even orders the free-weight diagrams span
    the invariants on their own (the products V_λ add a parametrization, not functions); at odd orders
    there are no diagrams, and the products are all there is."""
    n, c = 3, 2
    dim4 = invariant_dimension(n, c, 4)
    assert _span_rank(all_diagrams(Axioms(), 2), n, c, 4, draws=dim4, rng=np.random.default_rng(2)) == dim4
    assert len(Axioms(max_order=3).polynomial_orders) == 1 and invariant_dimension(n, c, 3) > 0
