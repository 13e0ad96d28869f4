"""No shipped grammar admits a family outside its axioms: every term every grammar lists is checked
numerically against the grammar's left group and (where stated) the centralizer axiom, and its
declared symmetry contains the axioms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from archsearch.enumeration import enumerate_terms
from archsearch.grammar import load_grammar
from archsearch.testing import assert_invariant

ROOT = Path(__file__).resolve().parents[2]
GRAMMARS = sorted((ROOT / "grammars").glob("*.toml"))
CASES = [(path.stem, term) for path in GRAMMARS for term in enumerate_terms(load_grammar(path))]


@pytest.mark.parametrize(("grammar", "term"), CASES, ids=[f"{g}:{t.key}" for g, t in CASES])
def test_listed_term_is_invariant_under_the_grammar_axioms(grammar, term):
    ax = load_grammar(ROOT / "grammars" / f"{grammar}.toml").axioms
    assert term.symmetry.violations(ax) == []
    rng = np.random.default_rng(3)
    # O(N) for a real grammar that says unitary: the group that acts on real X (U(N) on the complexified
    # potential is checked too when the family is defined for complex X)
    assert_invariant(term, ax.left, rng=rng)
    if ax.left == "unitary" and ax.field == "real":
        assert_invariant(term, "orthogonal", rng=rng)
    if ax.right == "centralizer":
        assert_invariant(term, "centralizer", rng=rng)


def test_every_grammar_is_checked():
    assert {g for g, _ in CASES} == {p.stem for p in GRAMMARS}
    assert len(CASES) >= 40
