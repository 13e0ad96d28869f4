"""Whether the listed diagrams are independent at the grammar's N and C: proved for N, C ≥ the vertices,
measured by numerical rank below that — small C drops the rank as small N does."""

from __future__ import annotations

import numpy as np
import pytest

from archsearch.enumeration.axioms import Axioms
from archsearch.enumeration.catalogue import count_summary
from archsearch.enumeration.diagrams import all_diagrams, connected_diagrams
from archsearch.enumeration.stability import MAX_RANK_CHECK, Stability, diagram_rank, stability
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


def test_the_cap_on_measured_terms_is_inclusive(monkeypatch):
    import archsearch.enumeration.stability as module

    monkeypatch.setattr(module, "MAX_RANK_CHECK", 4)
    four = connected_diagrams(Axioms(), 2)
    assert len(four) == 4
    assert stability(four, Axioms(), 2, 2).rank == 3  # 4 terms: at the cap, measured
    assert stability((*four, four[0]), Axioms(), 2, 2).stable is None  # 5: above it


def test_every_verdict_is_worded_exactly():
    ax = Axioms()
    assert stability((), ax, 1, 1) == stability([], ax, 5, 5)
    assert stability((), ax, 1, 1) == Stability(True, None, 0, "no diagrams")
    loop = [d for d in connected_diagrams(ax, 1) if d.n_vertices == 1]
    assert stability(loop, ax, 1, 1).how == "yes (proved: N, C ≥ 1 vertex)"
    st = stability(connected_diagrams(ax, 1), ax, 2, 2)
    assert (st.stable, st.rank, st.count, st.how) == (True, None, 2, "yes (proved: N, C ≥ 2 vertices)")
    st = stability(connected_diagrams(ax, 1), ax, 1, 1)
    assert (st.stable, st.rank, st.how) == (False, 1, "no — rank 1 of 2 at N = 1, C = 1: 1 identity between terms")
    st = stability(connected_diagrams(ax, 2), ax, 3, 1)  # measured at C = 1 < 3 vertices: still independent
    assert (st.stable, st.rank, st.count, st.how) == (True, 4, 4, "yes (rank 4 of 4 at N = 3, C = 1)")
    st = stability(all_diagrams(SYMMETRIC_A, 4), SYMMETRIC_A, tokens=8, features=3)
    assert st.how == "no — rank 77 of 79 at N = 8, C = 3: 2 identities between terms"
    big = all_diagrams(ax, 6)
    assert stability(big, ax, 4, 4) == Stability(None, None, len(big), f"unknown: N = 4, C = 4 below 12 vertices "
                                                 f"and {len(big)} terms too many to measure the rank")
    assert stability(connected_diagrams(ax, 1), ax, 2, 2).describe() == "yes (proved: N, C ≥ 2 vertices)"


def test_saturation_counts_the_moment_tensors_of_each_vertex_type():
    """Σ over vertex types of dim Sym^a(C)·dim Sym^b(C): real 0-0 has one vertex of degree 2, 0-1 two of
    degree 1; complex 0~0 one vertex (1 out, 1 in), 0~1 one (1, 0) and one (0, 1)."""
    from archsearch.enumeration.stability import _saturation

    real = connected_diagrams(Axioms(), 1)
    assert sorted(d.key for d in real) == ["0-0", "0-1"]
    assert _saturation(real, Axioms(), 3) == 6 + 3  # Sym²(R³) + R³
    assert _saturation(real[:1] if real[0].n_vertices == 1 else real[1:], Axioms(), 4) == 10
    cx = Axioms(left="unitary", field="complex", connected=False)
    complex_ = [d for d in all_diagrams(cx, 1)]
    assert {d.key for d in complex_} == {"0~0"}
    assert _saturation(complex_, cx, 3) == 9  # C³ ⊗ C³
    perm_cx = Axioms(field="complex")
    both = connected_diagrams(perm_cx, 1)
    assert sorted(d.key for d in both) == ["0~0", "0~1"]
    assert _saturation(both, perm_cx, 3) == 9 + 3 + 3


def test_complex_diagrams_are_measured_at_complex_inputs():
    """Real inputs are a specialisation that loses rank for complex-field diagrams (X̄ = X): order 4 at
    N = 2, C = 1 has rank 5 at complex X (3 at real X), order 6 at N = 3, C = 2 rank 24 (22)."""
    ax = Axioms(field="complex")
    assert diagram_rank(connected_diagrams(ax, 2), ax, 2, 1, np.random.default_rng(0)) == 5
    assert diagram_rank(connected_diagrams(ax, 3), ax, 3, 2, np.random.default_rng(0)) == 24
    st = stability(connected_diagrams(ax, 2), ax, tokens=2, features=1)
    assert (st.stable, st.rank, st.count) == (False, 5, 8)


def test_generic_inputs_keep_rank_a_specialisation_would_lose():
    """The random point must be generic. A constant imaginary part (one random number for all of X) loses
    rank: the 8 connected order-4 complex diagrams are independent at N = 3, C = 1 (rank 8; 7 at such X).
    Symmetric letters are measured at symmetric weights, where G = X A Xᵀ is symmetric: at N = C = 2 the 7
    order-4 diagrams of one symmetric letter span the 4 swap-invariant quadratics in G₁₁, G₁₂, G₂₂ (a general
    weight would give 6)."""
    ax = Axioms(field="complex")
    assert [diagram_rank(connected_diagrams(ax, 2), ax, 3, 1, np.random.default_rng(s)) for s in range(3)] == [8] * 3
    diagrams = all_diagrams(SYMMETRIC_A, 2)
    assert len(diagrams) == 7
    assert [diagram_rank(diagrams, SYMMETRIC_A, 2, 2, np.random.default_rng(s)) for s in range(3)] == [4] * 3


class _ScaledNormals:
    """A generator drawing standard normals times ``scale`` (every X and W entry): an order-2e diagram with
    e edges then scales by scale^(3e)."""

    def __init__(self, seed: int, scale: float) -> None:
        self.rng, self.scale = np.random.default_rng(seed), scale

    def standard_normal(self, shape=None):
        return self.rng.standard_normal(shape) * self.scale


def test_the_measured_rank_does_not_depend_on_the_scale_of_the_inputs():
    """Each diagram's column is normalised by its own largest value: orders 2 and 6 together, at inputs scaled
    by 10² or 10⁻² (columns 10¹² apart), keep the rank of unit inputs (one global, per-row or floored
    normalisation would drop the small columns under the 10⁻⁹ threshold)."""
    ax = Axioms()
    diagrams = connected_diagrams(ax, 1) + connected_diagrams(ax, 3)
    for n, c, want in ((2, 2, 7), (3, 2, 11)):
        assert [diagram_rank(diagrams, ax, n, c, _ScaledNormals(0, s)) for s in (1.0, 1e2, 1e-2)] == [want] * 3
