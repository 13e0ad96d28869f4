"""The einsum specs the compiler reuses: clean operand lists, evaluable by numpy and opt_einsum."""

from __future__ import annotations

import numpy as np
import opt_einsum
import pytest
from calculus_helpers import C, N, diagram_cases, random_x, rel_err

from archsearch.calculus import (
    EinsumSpec,
    branch_einsum,
    derive,
    field_value,
    potential,
    potential_einsum,
    random_weights,
    resolve_operands,
)
from archsearch.calculus.evaluate import TOKEN_LETTERS
from archsearch.terms import Diagram, Softmax

CASES = diagram_cases()
TOKEN = "0123456789abcdefghij"  # vertex names in a key


def test_documented_example():
    d = Diagram.from_key("0~1.1~0")
    assert potential_einsum(d) == EinsumSpec(
        "ia,ab,jb,jc,cd,id->", (("X",), ("W1",), ("Xc",), ("X",), ("W2",), ("Xc",))
    )
    f = derive(d, "complex")
    subs, ops = branch_einsum(f.branches[0])
    assert subs == "ia,ab,jc,cd,id->jb"
    assert ops == (("X",), ("W1",), ("X",), ("W2",), ("Xc",))
    assert branch_einsum(derive(d, "complex", tied=False).branches[1]).operands[1] == ("W1_b1",)


def test_ones_operand_for_a_lonely_opened_vertex():
    f = derive(Diagram.from_key("0-1"), "real")
    for b in f.branches:
        subs, ops = branch_einsum(b)
        inputs, out = subs.split("->")
        assert ("ones",) in ops and inputs.split(",")[ops.index(("ones",))] == out[0]


@pytest.mark.parametrize("case", CASES[::3], ids=[c[0] for c in CASES[::3]])
def test_specs_with_opt_einsum(case):
    _, d, field, _ = case
    rng = np.random.default_rng(0)
    cplx = field == "complex"
    X = random_x(rng, complex=cplx)
    W = random_weights(d, C, rng, complex=cplx)
    spec = potential_einsum(d)
    names = {n for (n,) in spec.operands}
    assert names <= {"X", "Xc", *W} and spec.subscripts.endswith("->")
    v = opt_einsum.contract(spec.subscripts, *resolve_operands(spec, X, W))
    assert np.isclose(v, potential(d, X, W), rtol=1e-12)
    f = derive(d, field)
    total = sum(
        opt_einsum.contract(s.subscripts, *resolve_operands(s, X, W)) for s in map(branch_einsum, f.branches)
    )
    assert total.shape == (N, C)
    assert rel_err(total, field_value(f, X, W)) < 1e-12
    for b in f.branches:
        subs, ops = branch_einsum(b)
        assert len(subs.split("->")[0].split(",")) == len(ops)
        assert len(subs.split("->")[1]) == 2
        assert sum(n in ("X", "Xc") for (n,) in ops) == 2 * d.degree - 1


def test_errors():
    with pytest.raises(TypeError):
        branch_einsum(derive(Softmax()).branches[0])
    with pytest.raises(KeyError, match="W2"):
        potential(Diagram.from_key("0-1.0-1"), np.ones((3, 2)), {"W1": np.eye(2)})
    # potential accepts a Field as well as a term
    f = derive(Diagram.from_key("0-0"))
    assert np.isclose(potential(f, np.eye(2), {"W1": np.eye(2)}), 2.0)


def test_letters_at_the_limit_of_one_einsum():
    """Index letters on diagrams larger than any grammar asks for: a 17-edge trace uses all 34 feature letters
    and 17 vertex letters, eight disjoint edges 16 vertex letters; both evaluate to their closed forms
    (Tr Π_e X W_e Xᵀ and Π_e sᵀ W_e s, s = Σ_j x_j), and one edge more is refused."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(3, 2)) / 2
    cycle = Diagram.from_key(".".join(f"{chr(ord('A') + e % 2)}{TOKEN[e]}~{TOKEN[(e + 1) % 17]}" for e in range(17)))
    pairs = Diagram.from_key(".".join(f"{TOKEN[2 * e]}-{TOKEN[2 * e + 1]}" for e in range(8)))
    for d, closed in [
        (cycle, lambda W: np.trace(np.linalg.multi_dot([X @ W[e.letter] @ X.T for e in cycle.rep]))),
        (pairs, lambda W: np.prod([X.sum(0) @ W[f"W{i + 1}"] @ X.sum(0) for i in range(8)])),
    ]:
        W = random_weights(d, 2, rng)
        spec = potential_einsum(d)
        inputs = spec.subscripts.rstrip("->").split(",")
        tokens = {c for s in inputs for c in s if c in TOKEN_LETTERS}
        features = [c for s in inputs[1::3] for c in s]  # each edge's weight carries its two feature letters
        assert len(tokens) == d.n_vertices and len(set(features)) == len(features) == 2 * d.degree
        assert not tokens & set(features)
        assert np.isclose(opt_einsum.contract(spec.subscripts, *resolve_operands(spec, X, W)), closed(W), rtol=1e-10)
    longer = Diagram.from_key(".".join(f"{TOKEN[e]}~{TOKEN[(e + 1) % 18]}" for e in range(18)))
    with pytest.raises(ValueError, match="too large"):
        potential_einsum(longer)


def test_potential_entry_points_check_their_input_and_pass_the_scale():
    """potential_einsum takes diagrams only; potential refuses complex X for a real-only family and passes
    ``scale`` on (softmax: V = Σ_j log Σ_k exp(s · x_j W x_kᵀ), checked written out)."""
    with pytest.raises(TypeError, match="potential_einsum needs a diagram, not a softmax term"):
        potential_einsum(Softmax())
    rng = np.random.default_rng(7)
    X = rng.normal(size=(5, 4))
    W = random_weights(Softmax(), 4, rng)
    with pytest.raises(ValueError, match="defined for the real field only"):
        potential(Softmax(), X + 1j * X, W)
    (name,) = W
    for s in (0.3, 1.7):
        scores = s * X @ W[name] @ X.T
        expected = np.log(np.exp(scores).sum(axis=1)).sum()
        assert abs(potential(Softmax(), X, W, scale=s) - expected) < 1e-9 * abs(expected), s
