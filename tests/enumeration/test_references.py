"""enumeration/references.py: which published sequence each axiom set is compared with."""

from __future__ import annotations

import pytest

from archsearch.enumeration.axioms import Axioms
from archsearch.enumeration.references import TABLE, Reference, reference_for


def test_at_is_one_based_and_none_outside():
    r = Reference((2, 4, 11), "x")
    assert (r.at(0), r.at(1), r.at(3), r.at(4), r.at(-1)) == (None, 2, 11, None, None)


def _axioms(left, field, weights, n_letters, symmetric, connected):
    kw = {"left": left, "field": field, "weights": weights, "connected": connected}
    if weights == "alphabet":
        letters = tuple("ABCDEFG"[:n_letters])
        kw |= {"alphabet": letters, "symmetric": frozenset(letters) if symmetric else frozenset()}
    return Axioms(**kw)


@pytest.mark.parametrize("key", list(TABLE), ids=[str(k) for k in TABLE])
def test_every_table_entry_is_found_from_its_axioms(key):
    ax = _axioms(*key)
    assert reference_for(ax) is TABLE[key]
    assert reference_for(ax, connected=key[5]) is TABLE[key]
    other = (*key[:5], not key[5])
    assert reference_for(ax, connected=not key[5]) is TABLE.get(other)


def test_symmetric_letters_count_only_in_the_real_field_and_only_when_all_are():
    part = Axioms(weights="alphabet", alphabet=("A", "B"), symmetric=frozenset("A"), left="unitary")
    assert reference_for(part) is None
    cx = Axioms(weights="alphabet", alphabet=("A", "B"), symmetric=frozenset("AB"), left="unitary", field="complex")
    assert reference_for(cx) is TABLE[("unitary", "complex", "alphabet", 2, False, True)]
    real = Axioms(weights="alphabet", alphabet=("A", "B"), symmetric=frozenset("AB"), left="unitary")
    assert reference_for(real).source == "bracelets, OEIS A000029"
    assert reference_for(Axioms(left="orthogonal")) is None
    assert reference_for(Axioms(weights="alphabet", alphabet=("A", "B", "C"))) is None
