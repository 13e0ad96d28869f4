"""Whether the listed diagrams are independent at the grammar's N and C: proved for N, C ≥ the vertices,
measured by numerical rank below that — small C drops the rank as small N does."""

from __future__ import annotations

import numpy as np
import pytest

from archsearch.enumeration.axioms import Axioms
from archsearch.enumeration.catalogue import count_summary
from archsearch.enumeration.diagrams import all_diagrams, connected_diagrams
from archsearch.enumeration.stability import MAX_RANK_CHECK, diagram_rank, stability
from archsearch.grammar.model import Grammar, Sizes

SYMMETRIC_A = Axioms(weights="alphabet", alphabet=("A",), symmetric=frozenset("A"), connected=False)
DIRECTED_A = Axioms(weights="alphabet", alphabet=("A",), connected=False)


def test_proved_range_needs_no_evaluation():
    st = stability(all_diagrams(Axioms(), 3), Axioms(), tokens=1024, features=256)
    assert st.stable is True and st.rank is None and "proved" in st.how


def test_small_c_drops_the_rank():
    """Order 8, one symmetric letter, N = 8 ≥ every diagram's vertices but C = 3: two identities."""
    st = stability(all_diagrams(SYMMETRIC_A, 4), SYMMETRIC_A, tokens=8, features=3)
    assert (st.stable, st.rank, st.count) == (False, 77, 79)
    assert "2 identities" in st.how


def test_rank_grows_with_c_at_fixed_n():
    """Order 6, one non-symmetric letter, N = 6: rank 11, 43, 52 (all 52 independent) at C = 1, 2, 3."""
    diagrams = all_diagrams(DIRECTED_A, 3)
    assert len(diagrams) == 52
    ranks = [stability(diagrams, DIRECTED_A, tokens=6, features=c).rank for c in (1, 2, 3)]
    assert ranks == [11, 43, 52]


def test_small_n_drops_the_rank_too():
    st = stability(all_diagrams(Axioms(), 3), Axioms(), tokens=2, features=256)
    assert st.stable is False and st.rank < 23


def test_rank_is_monotone_in_n_and_c():
    diagrams = connected_diagrams(Axioms(), 3)
    ax = Axioms()
    ranks = {(n, c): diagram_rank(diagrams, ax, n, c, np.random.default_rng(0)) for n in (2, 3, 4) for c in (1, 2, 4)}
    for (n, c), r in ranks.items():
        for (n2, c2), r2 in ranks.items():
            if n2 >= n and c2 >= c:
                assert r2 >= r


def test_rank_detects_a_duplicate():
    """The measurement can fail: a repeated diagram is one identity."""
    diagrams = connected_diagrams(Axioms(), 2)
    st = stability((*diagrams, diagrams[0]), Axioms(), tokens=2, features=2)
    assert st.rank is not None and st.rank <= len(diagrams)


def test_too_many_terms_are_not_measured():
    diagrams = all_diagrams(Axioms(), 6)
    assert len(diagrams) > MAX_RANK_CHECK
    st = stability(diagrams, Axioms(), tokens=4, features=4)
    assert st.stable is None and "unknown" in st.how


@pytest.mark.parametrize("features", [3, 256])
def test_count_summary_reports_the_flag(features):
    grammar = Grammar("g", SYMMETRIC_A.__class__(**{**SYMMETRIC_A.__dict__, "max_order": 8}),
                      sizes=Sizes(tokens=8, features=features, rank=min(features, 64)))
    row = {r.order: r for r in count_summary(grammar)}[8]
    assert row.stable is (features == 256)
