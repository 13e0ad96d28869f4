"""enumeration/catalogue.py: what enumerate_terms lists and in which order, its progress reports, the cap
refused before the expensive orders (the extrapolated count) or after them (the listed count), and the
count rows."""

from __future__ import annotations

import pytest

from archsearch.enumeration.axioms import Axioms
from archsearch.enumeration.catalogue import count_summary, enumerate_terms, gated_terms
from archsearch.enumeration.diagrams import diagrams
from archsearch.enumeration.limits import TooManyTerms
from archsearch.families import Gated, InadmissibleFamily
from archsearch.grammar.model import Families, Grammar


def grammar(families: Families | None = None, **axioms) -> Grammar:
    return Grammar("g", Axioms(**axioms), families=families or Families())


def test_diagrams_of_the_listed_orders_then_gated_then_named_families():
    g = grammar(Families(softmax=True, activation=("gelu",)), min_order=3, max_order=6, right="none")
    terms = enumerate_terms(g)
    want = [*diagrams(g.axioms, 2), *diagrams(g.axioms, 3), *gated_terms(g.axioms)]
    assert terms[:len(want)] == want
    assert [t.kind for t in terms[len(want):]] == ["softmax", "activation"]
    assert [t.parts for t in gated_terms(g.axioms)] == [(3,), (2, 1), (1, 1, 1), (4,), (3, 1), (2, 2), (2, 1, 1),
                                                        (1, 1, 1, 1), (5,), (4, 1), (3, 2), (3, 1, 1), (2, 2, 1),
                                                        (2, 1, 1, 1), (1, 1, 1, 1, 1), (6,), (5, 1), (4, 2),
                                                        (4, 1, 1), (3, 3), (3, 2, 1), (3, 1, 1, 1), (2, 2, 2),
                                                        (2, 2, 1, 1), (2, 1, 1, 1, 1), (1, 1, 1, 1, 1, 1)]
    assert gated_terms(g.axioms, 4) == [Gated(p) for p in ((4,), (3, 1), (2, 2), (2, 1, 1), (1, 1, 1, 1))]
    assert gated_terms(g.axioms, 2) == [] and gated_terms(Axioms(), 3) == []


def test_orders_outside_the_range_are_not_listed():
    assert enumerate_terms(grammar(min_order=1, max_order=1)) == []
    assert enumerate_terms(grammar(min_order=5, max_order=6)) == list(diagrams(Axioms(max_order=6), 3))
    assert len(enumerate_terms(grammar(max_order=4))) == 2 + 4


def test_progress_counts_the_orders():
    calls = []
    enumerate_terms(grammar(max_order=6), progress=lambda *a: calls.append(a))
    assert calls == [("enumerate", 0, 3), ("enumerate", 1, 3), ("enumerate", 2, 3), ("enumerate", 3, 3)]
    calls.clear()
    enumerate_terms(grammar(min_order=1, max_order=1), progress=lambda *a: calls.append(a))
    assert calls == [("enumerate", 0, 0)]


def test_the_cap_is_refused_from_the_extrapolated_count_before_the_expensive_orders():
    # connected counts 2, 4, …: after degree 2 the next two are extrapolated as 4·2 = 8, 16; after degree
    # 3 (11 found) as 11·11/4 = 30.25 → 30: 2 + 4 + 8 + 16 = 30 ≤ 30 passes, then 17 + 30 = 47 > 30
    with pytest.raises(TooManyTerms) as err:
        enumerate_terms(grammar(max_order=8), max_terms=30)
    assert (err.value.terms, err.value.order, err.value.cap, err.value.estimated) == (47, 8, 30, True)
    with pytest.raises(TooManyTerms) as err:
        enumerate_terms(grammar(max_order=8), max_terms=29)  # 30 > 29 already after degree 2
    assert (err.value.terms, err.value.estimated) == (30, True)
    assert len(enumerate_terms(grammar(max_order=8), max_terms=47)) == 2 + 4 + 11 + 30
    assert len(enumerate_terms(grammar(max_order=8), max_terms=None)) == 47


def test_the_cap_is_refused_from_the_listed_count_when_nothing_predicts_it():
    with pytest.raises(TooManyTerms) as err:  # degree 1: nothing to extrapolate from yet
        enumerate_terms(grammar(max_order=2), max_terms=1)
    assert (err.value.terms, err.value.order, err.value.cap, err.value.estimated) == (2, 2, 1, False)
    assert len(enumerate_terms(grammar(max_order=2), max_terms=2)) == 2
    # order 6 alone: extrapolated from 2, 4 as 8 ≤ 10, then 11 are found
    with pytest.raises(TooManyTerms) as err:
        enumerate_terms(grammar(min_order=6, max_order=6), max_terms=10)
    assert (err.value.terms, err.value.order, err.value.estimated) == (11, 6, False)


def test_an_inadmissible_family_is_refused():
    with pytest.raises(InadmissibleFamily):
        enumerate_terms(grammar(Families(softmax=True), left="unitary", field="complex"))


def test_count_rows():
    rows = count_summary(grammar(max_order=6))
    assert [(r.order, r.connected, r.total, r.reference_connected, r.reference_total, r.gated) for r in rows] == [
        (2, 2, 2, 2, 2, 0), (4, 4, 7, 4, 7, 0), (6, 11, 23, 11, 23, 0)]
    assert rows[0].source_connected == "OEIS A007719" and rows[0].source_total == "OEIS A007717"
    assert all(r.stable for r in rows)
    none = count_summary(grammar(min_order=1, max_order=4, right="none"))
    assert [(r.order, r.connected, r.total, r.gated, r.reference_connected) for r in none] == [
        (1, 0, 0, 1, None), (2, 2, 2, 0, 2), (3, 0, 0, 3, None), (4, 4, 7, 5, 4)]
    assert none[0].stability.how == none[2].stability.how == "no diagrams"  # odd orders list no diagram
    labelled = count_summary(grammar(max_order=8, weights="labelled", connected=False))
    assert [r.total for r in labelled] == [2, 15, 203, 4140]  # Bell numbers: labelled edges are listed
    all_ = count_summary(grammar(max_order=4, connected=False))  # both references, whichever is listed
    assert [(r.source_connected, r.source_total) for r in all_] == [("OEIS A007719", "OEIS A007717")] * 2
    odd = count_summary(grammar(min_order=1, max_order=1, right="none"))  # no even order at all
    assert [(r.order, r.connected, r.total, r.gated) for r in odd] == [(1, 0, 0, 1)]
    bare = count_summary(grammar(max_order=4, left="orthogonal"))
    assert [(r.reference_connected, r.source_connected) for r in bare] == [(None, None), (None, None)]
