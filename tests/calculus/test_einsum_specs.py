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
from archsearch.terms import Diagram, Softmax

CASES = diagram_cases()


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
