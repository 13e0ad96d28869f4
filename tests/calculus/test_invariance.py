"""Invariance of every enumerated potential: V(PX) = V(X) for token permutations; V(UX) = V(X) for a
Haar unitary/orthogonal U under left = unitary; V(X R*) = V(X) for R in the centralizer of scalar
weights. Deliberately non-invariant controls must fail the same checker."""

from __future__ import annotations

import numpy as np
import pytest
from calculus_helpers import C, N, abs_scale, diagram_cases, haar, is_invariant, random_x

from archsearch.calculus import potential, random_weights
from archsearch.terms import Diagram

CASES = diagram_cases()


def _setup(d: Diagram, field: str, seed: int):
    rng = np.random.default_rng(seed)
    cplx = field == "complex"
    X = random_x(rng, complex=cplx)
    W = random_weights(d, C, rng, complex=cplx)
    return rng, cplx, X, W


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_permutation_invariance(case):
    _, d, field, _ = case
    rng, _, X, W = _setup(d, field, 1)
    perms = [rng.permutation(N) for _ in range(3)]
    assert all((p != np.arange(N)).any() for p in perms)
    assert is_invariant(lambda x: potential(d, x, W), X, [lambda x, p=p: x[p] for p in perms],
                        scale=abs_scale(d, X, W))


@pytest.mark.parametrize("case", [c for c in CASES if c[3] == "unitary"], ids=lambda c: c[0])
def test_unitary_invariance(case):
    _, d, field, _ = case
    assert d.is_trace
    rng, cplx, X, W = _setup(d, field, 2)
    U = haar(N, rng, complex=cplx)
    assert np.allclose(U @ U.conj().T, np.eye(N))
    assert is_invariant(lambda x: potential(d, x, W), X, [lambda x: U @ x], scale=abs_scale(d, X, W))


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_centralizer_invariance_with_scalar_weights(case):
    _, d, field, _ = case
    rng, cplx, X, W = _setup(d, field, 3)
    scalars = {k: (rng.standard_normal() + (1j * rng.standard_normal() if cplx else 0)) * np.eye(C) for k in W}
    R = haar(C, rng, complex=cplx)
    assert is_invariant(lambda x: potential(d, x, scalars), X, [lambda x: x @ R.conj().T],
                        scale=abs_scale(d, X, scalars))


# ---- controls: the same checker must reject non-invariant functions ------------------------------


def test_control_weighted_diagonal_is_not_permutation_invariant():
    rng = np.random.default_rng(4)
    X = random_x(rng)
    W = rng.standard_normal((C, C))

    def v(x):  # Σ_j j·(G)_jj
        g = x @ W @ x.T
        return float(np.sum(np.arange(N) * np.diag(g)))

    perms = [rng.permutation(N) for _ in range(3)]
    scale = float(np.sum(np.arange(N) * np.diag(np.abs(X) @ np.abs(W) @ np.abs(X).T)))
    assert not is_invariant(v, X, [lambda x, p=p: x[p] for p in perms], scale=scale)
    # the checker accepts the invariant Σ_j (G)_jj on the same data
    assert is_invariant(lambda x: float(np.trace(x @ W @ x.T)), X, [lambda x, p=p: x[p] for p in perms])


@pytest.mark.parametrize("field", ["real", "complex"])
def test_control_non_scalar_weight_breaks_centralizer(field):
    rng = np.random.default_rng(5)
    cplx = field == "complex"
    d = Diagram.from_key("0~1.1~0" if cplx else "0-1.0-1")
    X = random_x(rng, complex=cplx)
    W = random_weights(d, C, rng, complex=cplx)
    R = haar(C, rng, complex=cplx)
    assert not is_invariant(lambda x: potential(d, x, W), X, [lambda x: x @ R.conj().T], scale=abs_scale(d, X, W))


@pytest.mark.parametrize("field", ["real", "complex"])
def test_control_chain_is_not_unitary_invariant(field):
    rng = np.random.default_rng(6)
    cplx = field == "complex"
    d = Diagram.from_key("0~1.1~2" if cplx else "0-1.1-2")  # 1ᵀ G₁ G₂ 1: permutation- but not U(N)-invariant
    assert not d.is_trace
    X = random_x(rng, complex=cplx)
    W = random_weights(d, C, rng, complex=cplx)
    U = haar(N, rng, complex=cplx)
    fn = lambda x: potential(d, x, W)  # noqa: E731
    assert is_invariant(fn, X, [lambda x: x[::-1]], scale=abs_scale(d, X, W))
    assert not is_invariant(fn, X, [lambda x: U @ x], scale=abs_scale(d, X, W))
