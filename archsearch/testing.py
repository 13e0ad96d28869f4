"""Numerical checks of what a family declares (after e3nn's ``assert_equivariant``): library code,
so that a new family, or a user's own, is checked the same way the shipped ones are.

For an axiom, :func:`deviation` draws random inputs and measures how far the term is from the
symmetry: the relative change |V(gX) − V(X)| / |V| of the potential (families without a potential:
of the field, ‖F(gX) − g F(X)‖ / ‖F‖, equivariance), for

* ``perm``:        g = a random token permutation P;
* ``orthogonal``:  g = a Haar-random O ∈ O(N) acting on real X;
* ``unitary``:     g = a Haar-random U ∈ U(N) acting on complex X (the potential written through the
                   edges X W X*); a family defined for the real field only cannot be evaluated there,
                   and is measured under O(N) ⊂ U(N) (if that fails, U(N) fails too);
* ``centralizer``: X ↦ X R* with a random unitary R and scalar weights W = s·I, which R commutes with.

Declared symmetry holds to round-off (``assert_invariant``: 1e-10 in float64); undeclared symmetry
fails clearly (``assert_not_invariant``: > 1e-3) — the negative control that proves the check can
fail. :func:`jacobian_asymmetry` checks "has a potential": the Jacobian of the tied field is
symmetric exactly when the field is a gradient. numpy only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from archsearch.calculus import derive, field_value, random_weights
from archsearch.families import Conic, Family

AXIOMS = ("perm", "orthogonal", "unitary", "centralizer")
HOLDS = 1e-10  # declared symmetry: relative deviation at most this (float64 round-off)
FAILS = 1e-3  # undeclared symmetry: relative deviation at least this


def declared(term: Family, axiom: str) -> bool:
    """Whether ``term``'s family declares the symmetry ``axiom``."""
    sym = term.symmetry
    if axiom == "centralizer":
        return sym.centralizer
    return sym.invariant_under(axiom)


def haar(n: int, rng: np.random.Generator, complex: bool) -> np.ndarray:
    """A Haar-random unitary (complex) or orthogonal (real) n×n matrix: QR of a Gaussian, phases fixed."""
    z = rng.standard_normal((n, n)) + (1j * rng.standard_normal((n, n)) if complex else 0)
    q, r = np.linalg.qr(z)
    d = np.diag(r)
    return q * (d / np.abs(d))


def _inputs(term: Family, axiom: str, n: int, c: int, rng: np.random.Generator):
    cplx = axiom == "unitary" and "complex" in term.symmetry.fields
    X = rng.standard_normal((n, c)) + (1j * rng.standard_normal((n, c)) if cplx else 0)
    if axiom == "centralizer":
        scalars = {}
        for name in term.tied_parameters():
            s = rng.uniform(0.5, 1.5) * (1 if rng.random() < 0.5 else -1)
            scalars[name] = s * np.eye(c) + (0j if cplx else 0)
        weights = scalars
    else:
        weights = random_weights(term, c, rng, complex=cplx)
    return X, weights, cplx


def _magnitude(term: Family, X: np.ndarray, weights: dict, value: complex) -> float:
    """|V|, or for a polynomial family the sum of |monomials| (its potential at |X|, |W|): the scale of
    its round-off, so that cancellations do not inflate the relative deviation."""
    if term.kind in ("diagram", "gated"):
        return float(abs(term.potential(np.abs(X), {k: np.abs(v) for k, v in weights.items()})))
    return abs(value)


def deviation(term: Family, axiom: str, rng: np.random.Generator | None = None, n: int = 7, c: int = 4,
              trials: int = 3) -> float:
    """The largest relative deviation from the symmetry ``axiom`` over ``trials`` random draws."""
    if axiom not in AXIOMS:
        raise ValueError(f"axiom must be one of {', '.join(AXIOMS)}, not {axiom!r}")
    rng = np.random.default_rng(0) if rng is None else rng
    if isinstance(term, Conic) and term.projection != "relu":
        c = max(c, term.cone_size) // term.cone_size * term.cone_size
    worst = 0.0
    for _ in range(trials):
        X, weights, cplx = _inputs(term, axiom, n, c, rng)
        if axiom == "perm":
            p = rng.permutation(n)
            while (p == np.arange(n)).all():
                p = rng.permutation(n)
            left, right = np.eye(n)[p], np.eye(c)
        elif axiom == "centralizer":
            left, right = np.eye(n), haar(c, rng, cplx).conj().T
        else:  # orthogonal, unitary (real-only families: O(N) ⊂ U(N))
            left, right = haar(n, rng, cplx), np.eye(c)
        if term.has_potential:
            v0 = term.potential(X, weights)
            v1 = term.potential(left @ X @ right, weights)
            scale = max(_magnitude(term, X, weights, v0), 1e-300)
            worst = max(worst, abs(v1 - v0) / scale)
        else:
            fld = derive(term, "real", tied=True)
            f0 = field_value(fld, X, weights)
            f1 = field_value(fld, left @ X @ right, weights)
            worst = max(worst, np.abs(f1 - left @ f0 @ right).max() / max(np.abs(f0).max(), 1e-300))
    return float(worst)


def assert_invariant(term: Family, axiom: str, rtol: float = HOLDS, **kwargs) -> float:
    """Assert the symmetry holds to ``rtol``; returns the deviation."""
    dev = deviation(term, axiom, **kwargs)
    if not dev <= rtol:
        raise AssertionError(f"{term.key}: relative deviation {dev:.3g} under {axiom} exceeds {rtol:g}")
    return dev


def assert_not_invariant(term: Family, axiom: str, atol: float = FAILS, **kwargs) -> float:
    """Assert the symmetry clearly fails (deviation > ``atol``); returns the deviation."""
    dev = deviation(term, axiom, **kwargs)
    if not dev > atol:
        raise AssertionError(f"{term.key}: relative deviation {dev:.3g} under {axiom} is not above {atol:g}")
    return dev


def jacobian_asymmetry(term: Family, rng: np.random.Generator | None = None, n: int = 6, c: int = 4,
                       h: float = 1e-6, trials: int = 3) -> float:
    """max|J − Jᵀ| / max|J| of the tied real field, the worst of ``trials`` random points (central
    differences): ≲ 1e-6 for a gradient field, O(1) for a field with no potential (CoLU only where a
    cone is in its clip region 0 < t < ‖u‖; n tokens make that likely)."""
    rng = np.random.default_rng(1) if rng is None else rng
    if isinstance(term, Conic) and term.projection != "relu":
        c = max(c, term.cone_size) // term.cone_size * term.cone_size
    fld = derive(term, "real", tied=True)
    size = n * c
    worst = 0.0
    for _ in range(trials):
        weights = random_weights(term, c, rng)
        X = rng.standard_normal((n, c))
        jac = np.empty((size, size))
        for i in range(size):
            e = np.zeros(size)
            e[i] = h
            plus = field_value(fld, X + e.reshape(n, c), weights)
            minus = field_value(fld, X - e.reshape(n, c), weights)
            jac[:, i] = ((plus - minus) / (2 * h)).ravel()
        worst = max(worst, float(np.abs(jac - jac.T).max() / max(np.abs(jac).max(), 1e-300)))
    return worst


@dataclass(frozen=True)
class Check:
    """One family × axiom cell: what is declared and what was measured."""

    key: str
    axiom: str
    declared: bool
    deviation: float

    @property
    def ok(self) -> bool:
        return self.deviation <= HOLDS if self.declared else self.deviation > FAILS


def symmetry_table(terms: Iterable[Family], seed: int = 0) -> list[Check]:
    """Every term × every axiom: declared or not, and the measured deviation."""
    out = []
    for term in terms:
        for axiom in AXIOMS:
            dev = deviation(term, axiom, np.random.default_rng(seed))
            out.append(Check(term.key, axiom, declared(term, axiom), dev))
    return out


def representatives() -> list[Family]:
    """One member of every family and every scalar function (the docs' table, the tests' cases)."""
    from archsearch.families import (
        ACTIVATIONS,
        EDGE_KERNELS,
        Activation,
        Conic,
        Diagram,
        Entrywise,
        Gated,
        Glu,
        Softmax,
    )

    out: list[Family] = [
        Diagram.from_key("0-0"),  # Tr G: the MLP term (U(N))
        Diagram.from_key("0-1.0-1"),  # Tr(G₁G₂): linear attention (U(N))
        Diagram.from_key("A0~1.A0~1"),  # Tr(G_A G_Aᵀ) = ‖X A Xᵀ‖²: O(N), not U(N)
        Diagram.from_key("0-1"),  # 1ᵀ G 1: pooling (S_N only)
        Diagram.from_key("0-1.1-2"),  # 1ᵀ G₁G₂ 1 (S_N only)
        Softmax(),
        Softmax(0.5),
    ]
    out += [Entrywise(fn) for fn in EDGE_KERNELS]
    out += [Activation(fn) for fn in ACTIVATIONS]
    out += [Glu(fn) for fn in ACTIVATIONS]
    out += [Conic("relu"), Conic("soc", 4), Conic("colu", 4)]
    out += [Gated((1,)), Gated((3,)), Gated((2, 1)), Gated((1, 1, 1))]
    return out
