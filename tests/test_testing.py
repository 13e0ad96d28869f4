"""archsearch.testing: the checker accepts what is invariant and rejects what is not (negative controls
built from families that declare more than they have)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from archsearch.families import Conic, Diagram, Softmax, Symmetry
from archsearch.testing import (
    assert_invariant,
    assert_not_invariant,
    declared,
    deviation,
    haar,
    jacobian_asymmetry,
    symmetry_table,
)


@dataclass(frozen=True)
class Overclaiming(Softmax):
    """Softmax, claiming U(N) invariance it does not have."""

    @property
    def symmetry(self) -> Symmetry:
        return Symmetry(left="unitary", centralizer=True, fields=frozenset({"real"}), potential=True)


def test_checker_rejects_a_false_declaration():
    term = Overclaiming()
    assert declared(term, "unitary")
    with pytest.raises(AssertionError, match="deviation"):
        assert_invariant(term, "unitary")
    rows = {r.axiom: r for r in symmetry_table([term])}
    assert not rows["unitary"].ok and not rows["orthogonal"].ok and rows["perm"].ok


def test_checker_accepts_and_rejects():
    assert assert_invariant(Diagram.from_key("0-1.0-1"), "unitary") <= 1e-10
    assert assert_not_invariant(Diagram.from_key("0-1"), "orthogonal") > 1e-3
    with pytest.raises(AssertionError, match="not above"):
        assert_not_invariant(Diagram.from_key("0-0"), "perm")
    with pytest.raises(ValueError, match="axiom"):
        deviation(Diagram.from_key("0-0"), "galilean")


def test_haar_matrices_are_unitary():
    rng = np.random.default_rng(0)
    for cplx in (False, True):
        u = haar(5, rng, cplx)
        assert np.allclose(u @ u.conj().T, np.eye(5))


def test_jacobian_asymmetry_separates_gradients():
    assert jacobian_asymmetry(Conic("soc", 4)) < 1e-6
    assert jacobian_asymmetry(Conic("colu", 4)) > 0.1
