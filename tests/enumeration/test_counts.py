"""Counts: the enumerator, an independent brute force over set partitions, and REFERENCES.md."""

from __future__ import annotations

import pytest

from archsearch.enumeration.axioms import Axioms
from archsearch.enumeration.bruteforce import brute_force_count, set_partitions
from archsearch.enumeration.diagrams import all_diagrams, connected_diagrams
from archsearch.enumeration.references import reference_for

# (name, axioms, max degree checked by default, max degree behind the slow marker)
CASES = [
    ("perm-real-free", Axioms(), 4, 5),
    ("perm-complex-free", Axioms(field="complex"), 4, 4),
    ("perm-one-letter", Axioms(weights="alphabet", alphabet=("A",)), 4, 4),
    ("perm-one-symmetric-letter", Axioms(weights="alphabet", alphabet=("A",), symmetric=frozenset("A")), 4, 4),
    ("unitary-real-free", Axioms(left="unitary"), 5, 5),
    ("unitary-complex-free", Axioms(left="unitary", field="complex"), 5, 5),
    ("unitary-two-letters", Axioms(left="unitary", weights="alphabet", alphabet=("A", "B")), 4, 5),
    (
        "unitary-two-symmetric-letters",
        Axioms(left="unitary", weights="alphabet", alphabet=("A", "B"), symmetric=frozenset("AB")),
        4,
        5,
    ),
    ("perm-labelled", Axioms(weights="labelled"), 3, 3),
    # left = orthogonal (O(N), real field): words in the letters and their transposes
    ("orthogonal-free", Axioms(left="orthogonal"), 5, 5),
    ("orthogonal-one-letter", Axioms(left="orthogonal", weights="alphabet", alphabet=("A",)), 4, 5),
    ("orthogonal-two-letters", Axioms(left="orthogonal", weights="alphabet", alphabet=("A", "B")), 4, 5),
    (
        "orthogonal-symmetric-and-not",
        Axioms(left="orthogonal", weights="alphabet", alphabet=("A", "B"), symmetric=frozenset("A")),
        4,
        5,
    ),
]


def test_bell_numbers_from_set_partitions():
    assert [sum(1 for _ in set_partitions(n)) for n in range(1, 9)] == [1, 2, 5, 15, 52, 203, 877, 4140]


def _params(slow: bool):
    out = []
    for name, ax, fast_d, slow_d in CASES:
        for connected in (True, False):
            lo, hi = (fast_d + 1, slow_d) if slow else (1, fast_d)
            for d in range(lo, hi + 1):
                out.append(pytest.param(ax, d, connected, id=f"{name}-{'conn' if connected else 'all'}-d{d}"))
    return out


def _check(ax: Axioms, d: int, connected: bool) -> None:
    enumerated = connected_diagrams(ax, d) if connected else all_diagrams(ax, d)
    assert len({g.key for g in enumerated}) == len(enumerated), "duplicate canonical keys"
    assert all(g.is_connected == connected or not connected for g in enumerated)
    if ax.left == "unitary":
        assert all(g.is_trace for g in enumerated)
    if ax.left == "orthogonal":
        assert all(g.is_orthogonal_trace for g in enumerated)
    assert len(enumerated) == brute_force_count(ax, d, connected)
    ref = reference_for(ax, connected)
    if ref is not None and ref.at(d) is not None:
        assert len(enumerated) == ref.at(d), ref.source


@pytest.mark.parametrize(("ax", "d", "connected"), _params(slow=False))
def test_enumerator_matches_brute_force_and_references(ax, d, connected):
    _check(ax, d, connected)


@pytest.mark.slow
@pytest.mark.parametrize(("ax", "d", "connected"), _params(slow=True))
def test_enumerator_matches_brute_force_order_10(ax, d, connected):
    _check(ax, d, connected)


def test_reference_sequences_up_to_order_10():
    """The acceptance sequences of issue 2, from the enumerator alone (fast; brute force above)."""
    perm = Axioms()
    assert [len(connected_diagrams(perm, d)) for d in range(1, 6)] == [2, 4, 11, 30, 95]
    assert [len(all_diagrams(perm, d)) for d in range(1, 6)] == [2, 7, 23, 79, 274]
    directed = Axioms(field="complex")
    assert [len(all_diagrams(directed, d)) for d in range(1, 5)] == [2, 11, 52, 296]
    unitary = Axioms(left="unitary")
    assert [len(connected_diagrams(unitary, d)) for d in range(1, 6)] == [1] * 5
    assert [len(all_diagrams(unitary, d)) for d in range(1, 6)] == [1, 2, 3, 5, 7]


def test_brute_force_is_not_the_enumerator():
    """A sanity check that the brute force can disagree: dropping reversal changes its count."""
    real, complex_ = Axioms(), Axioms(field="complex")
    assert brute_force_count(real, 2, True) == 4
    assert brute_force_count(complex_, 2, True) == 8


def test_orthogonal_sequences():
    """O(N) with one non-symmetric letter A: words in A, Aᵀ up to rotation and reversal-with-transpose;
    the free and symmetric cases coincide with U(N) (one trace per order). Checked against the brute
    force above; the unitary list is strictly smaller once a letter is not symmetric."""
    one = Axioms(left="orthogonal", weights="alphabet", alphabet=("A",))
    assert [len(connected_diagrams(one, d)) for d in range(1, 9)] == [1, 2, 2, 4, 4, 9, 10, 22]
    assert [len(connected_diagrams(Axioms(left="unitary", weights="alphabet", alphabet=("A",)), d))
            for d in range(1, 9)] == [1] * 8
    two = Axioms(left="orthogonal", weights="alphabet", alphabet=("A", "B"))
    assert [len(connected_diagrams(two, d)) for d in range(1, 6)] == [2, 6, 12, 39, 104]
    # ‖X A Xᵀ‖²_F = Tr(G_A G_Aᵀ) is O(N)-invariant but not a U(N) trace word
    from archsearch.terms import Diagram

    frobenius = Diagram.from_key("A0~1.A0~1")
    assert frobenius in connected_diagrams(one, 2) and not frobenius.is_trace and frobenius.is_orthogonal_trace
    free = Axioms(left="orthogonal")
    assert [len(connected_diagrams(free, d)) for d in range(1, 9)] == [1] * 8
    assert [len(all_diagrams(free, d)) for d in range(1, 8)] == [1, 2, 3, 5, 7, 11, 15]


def test_unitary_labelled_counts_are_cyclic_orders_and_permutations():
    """U(N) with d distinguishable weights: a connected trace is a cyclic order of the d labels, (d − 1)! of
    them; a product of traces is a permutation of the labels (its cycles), d! of them."""
    from math import factorial

    ax = Axioms(left="unitary", weights="labelled")
    assert [len(connected_diagrams(ax, d)) for d in range(1, 5)] == [factorial(d - 1) for d in range(1, 5)]
    assert [len(all_diagrams(ax, d)) for d in range(1, 5)] == [factorial(d) for d in range(1, 5)]


def test_diagrams_follows_the_connected_axiom():
    from archsearch.enumeration.diagrams import diagrams

    for connected in (True, False):
        ax = Axioms(connected=connected)
        assert diagrams(ax, 3) == (connected_diagrams(ax, 3) if connected else all_diagrams(ax, 3))
    assert len(diagrams(Axioms(connected=True), 3)) == 11 and len(diagrams(Axioms(connected=False), 3)) == 23


def test_labelled_weights_up_to_their_limit():
    """Labelled weights: every set partition of the 8 endpoints at order 8 (Bell(8) = 4140, by the brute
    force's own partition count), and a readable refusal above it."""
    from archsearch.enumeration.diagrams import LABELLED_MAX_DEGREE

    ax = Axioms(weights="labelled")
    assert len(all_diagrams(ax, LABELLED_MAX_DEGREE)) == sum(1 for _ in set_partitions(2 * LABELLED_MAX_DEGREE))
    with pytest.raises(ValueError, match=rf"^labelled weights are enumerated up to order {2 * LABELLED_MAX_DEGREE}$"):
        connected_diagrams(ax, LABELLED_MAX_DEGREE + 1)
