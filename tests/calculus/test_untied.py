"""Untied fields: each branch has its own parameters; with every copy equal to its tied weight the
untied field equals the tied one; with independent copies it is in general not a gradient."""

from __future__ import annotations

import numpy as np
import pytest
from calculus_helpers import NONPOLY, C, diagram_cases, random_x, rel_err

from archsearch.calculus import derive, field_value, random_weights
from archsearch.terms import Conic, Diagram, Softmax

DIAGRAMS = [c for c in diagram_cases() if c[1].degree <= 2 or c[0].startswith(("unitary", "perm-real-conn"))]
TERMS = [(c[0], c[1], c[2]) for c in DIAGRAMS] + [(t.key, t, "real") for t in NONPOLY] + [
    ("colu4", Conic("colu", 4), "real")
]


def _c(term) -> int:
    return 12 if isinstance(term, Conic) else C


@pytest.mark.parametrize("case", TERMS, ids=[c[0] for c in TERMS])
def test_untied_copies_equal_reproduce_tied(case):
    _, term, field = case
    rng = np.random.default_rng(8)
    c = _c(term)
    cplx = field == "complex"
    tied, untied = derive(term, field, tied=True), derive(term, field, tied=False)
    assert tied.tied and not untied.tied and len(tied.branches) == len(untied.branches)
    # each branch owns its parameters: disjoint sets, and the field's list is their concatenation
    per_branch = [b.parameters() for b in untied.branches]
    flat = [p for ps in per_branch for p in ps]
    assert len(flat) == len(set(flat)) and untied.parameters() == flat
    assert all(all(p.endswith(f"_b{b.index}") for p in b.parameters()) for b in untied.branches)
    sources = untied.parameter_sources()
    assert {src for src, _ in sources.values()} == set(tied.parameters())
    if isinstance(term, Diagram):
        assert not any(transposed for _, transposed in sources.values())
    X = random_x(rng, n=7, c=c, complex=cplx)
    W = random_weights(term, c, rng, complex=cplx)
    assert sorted(W) == sorted(tied.parameters())
    assert rel_err(field_value(untied, X, untied.untie_weights(W)), field_value(tied, X, W)) < 1e-12
    # independent copies give another field
    Wu = random_weights(untied, c, rng, complex=cplx)
    assert sorted(Wu) == sorted(untied.parameters())
    assert rel_err(field_value(untied, X, Wu), field_value(tied, X, W)) > 1e-3


def test_untied_names():
    f = derive(Diagram.from_key("A0~1.B1~0"), "complex", tied=False)
    assert f.parameters() == ["A_b0", "B_b0", "A_b1", "B_b1"]
    assert derive(Conic("relu"), tied=False).parameters() == ["A_b0", "B_b0"]
    assert derive(Softmax(), tied=False).parameter_sources() == {
        "W1_b0": ("W1", False),
        "O_b0": ("W1", True),
        "W1_b1": ("W1", False),
        "O_b1": ("W1", False),
    }


def _jacobian_asymmetry(field, X, W, rng, h=1e-4) -> float:
    """|⟨u, DF[v]⟩ − ⟨v, DF[u]⟩| relative: zero for a gradient field (symmetric Hessian)."""
    u, v = rng.standard_normal(X.shape), rng.standard_normal(X.shape)

    def d(direction):
        return (field_value(field, X + h * direction, W) - field_value(field, X - h * direction, W)) / (2 * h)

    a, b = np.sum(u * d(v)), np.sum(v * d(u))
    return abs(a - b) / max(abs(a), abs(b))


@pytest.mark.parametrize("term", [Diagram.from_key("0-1.0-1"), Diagram.from_key("0-1.1-2"), Softmax()],
                         ids=lambda t: t.key)
def test_untied_field_is_not_a_gradient(term):
    rng = np.random.default_rng(12)
    X = random_x(rng, n=6, c=3)
    tied, untied = derive(term, "real"), derive(term, "real", tied=False)
    assert tied.is_gradient and not untied.is_gradient
    assert _jacobian_asymmetry(tied, X, random_weights(tied, 3, rng), rng) < 1e-6
    assert _jacobian_asymmetry(untied, X, random_weights(untied, 3, rng), rng) > 1e-2


def test_untie_weights_names_the_missing_tied_weight():
    f = derive(Diagram.from_key("0-1.0-1"), "real", tied=False)
    with pytest.raises(KeyError, match=r"missing tied weight 'W2' \(for 'W2_b0'\)"):
        f.untie_weights({"W1": np.eye(2)})
