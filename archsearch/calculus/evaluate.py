"""Numerical evaluation of potentials and fields (numpy; float64 and complex128).

Einsum specs
------------
A diagram's potential and each opened branch are single einsums. :func:`potential_einsum` and
:func:`branch_einsum` return an :class:`EinsumSpec` ``(subscripts, operands)``:

* ``subscripts`` — a numpy/opt_einsum subscript string with explicit output, e.g. for
  Tr(X W₁ X* X W₂ X*)::

      potential:            "ia,ab,jb,jc,cd,id->"
      branch (edge 0, dst): "ia,ab,jc,cd,id->jb"   (= X W₂ X* X W₁; free: token j, feature b)

  Token (vertex) indices are drawn from ``i j k … z`` (vertex v of ``Diagram.rep`` is
  ``TOKEN_LETTERS[v]``); feature indices from ``a…h A…Z`` (edge e uses ``FEATURE_LETTERS[2e]`` on its X
  side and ``FEATURE_LETTERS[2e+1]`` on its X* side). A branch's output is always ``<token><feature>``,
  an N×C matrix.
* ``operands`` — one tuple per operand, in subscript order, each holding one name:

  ``("X",)``     X, shape (N, C)
  ``("Xc",)``    conj(X), shape (N, C) (the X* side of an edge; equal to X in the real field)
  ``("ones",)``  ones(N): only when the opened vertex has no other endpoint (the branch is
                 then the same for every token, and the ones vector carries the output token index)
  ``(name,)``    a weight, shape (C, C): ``"W1"``, ``"A"``, or an untied copy ``"W1_b0"``

  Each edge e contributes, in rep order, ``(X, W_e, Xc)`` with subscripts ``src+a_e, a_e+b_e,
  dst+b_e``; the opened endpoint's X or Xc operand is left out. :func:`resolve_operands` turns a
  spec's operands into arrays; ``np.einsum(spec.subscripts, *arrays)`` or
  ``opt_einsum.contract(spec.subscripts, *arrays)`` evaluates it.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from archsearch.calculus.fields import (
    Branch,
    Field,
    symmetric_letters,
    tied_parameters,
)
from archsearch.terms import Conic, Diagram, Entrywise, Gated, Softmax, Term

TOKEN_LETTERS = "ijklmnopqrstuvwxyz"
FEATURE_LETTERS = "abcdefghABCDEFGHIJKLMNOPQRSTUVWXYZ"
COLU_EPS = 1e-6  # the ε in CoLU(x) = (x₁, clip(x₁/(‖x_⊥‖+ε), 0, 1)·x_⊥)


class EinsumSpec(NamedTuple):
    """An einsum: ``subscripts`` (explicit output) and one ``(name,)`` operand spec per operand."""

    subscripts: str
    operands: tuple[tuple[str], ...]


def _edge_subscripts(d: Diagram) -> list[tuple[str, str, str]]:
    rep = d.rep
    n_vertices = 1 + max(max(e.src, e.dst) for e in rep)
    if n_vertices > len(TOKEN_LETTERS) or 2 * len(rep) > len(FEATURE_LETTERS):
        raise ValueError(f"diagram {d.key} is too large for a single einsum")
    out = []
    for i, e in enumerate(rep):
        a, b = FEATURE_LETTERS[2 * i], FEATURE_LETTERS[2 * i + 1]
        out.append((TOKEN_LETTERS[e.src] + a, a + b, TOKEN_LETTERS[e.dst] + b))
    return out


def potential_einsum(d: Diagram) -> EinsumSpec:
    """The potential V = Σ Π_e x_src W_e x_dst* as one einsum (scalar output), tied weight names."""
    if not isinstance(d, Diagram):
        raise TypeError(f"potential_einsum needs a Diagram, not {type(d).__name__}")
    subs, ops = [], []
    for i, (s_x, s_w, s_xc) in enumerate(_edge_subscripts(d)):
        subs += [s_x, s_w, s_xc]
        ops += [("X",), (d.rep[i].letter or f"W{i + 1}",), ("Xc",)]
    return EinsumSpec(",".join(subs) + "->", tuple(ops))


def branch_einsum(branch: Branch) -> EinsumSpec:
    """One opened diagram branch as one einsum with output ``<token><feature>`` (an N×C matrix)."""
    d = branch.term
    if not isinstance(d, Diagram):
        raise TypeError(f"branch_einsum needs a diagram branch; {type(d).__name__} branches are not einsums")
    subs, ops = [], []
    out = ""
    for i, (s_x, s_w, s_xc) in enumerate(_edge_subscripts(d)):
        w = branch.weight(i)
        if i == branch.edge and branch.end == "dst":
            subs += [s_x, s_w]
            ops += [("X",), (w,)]
            out = s_xc
        elif i == branch.edge:
            subs += [s_w, s_xc]
            ops += [(w,), ("Xc",)]
            out = s_x
        else:
            subs += [s_x, s_w, s_xc]
            ops += [("X",), (w,), ("Xc",)]
    token = out[0]
    if not any(token in s for s in subs):
        subs.append(token)
        ops.append(("ones",))
    return EinsumSpec(",".join(subs) + "->" + out, tuple(ops))


def resolve_operands(spec: EinsumSpec, X: np.ndarray, weights: dict) -> list[np.ndarray]:
    """Arrays for a spec's operands: X, conj(X), ones(N), or ``weights[name]``."""
    arrays = []
    for (name,) in spec.operands:
        if name == "X":
            arrays.append(X)
        elif name == "Xc":
            arrays.append(np.conj(X))
        elif name == "ones":
            arrays.append(np.ones(X.shape[0], dtype=X.dtype))
        else:
            if name not in weights:
                raise KeyError(f"missing weight {name!r} (have: {', '.join(sorted(weights)) or 'none'})")
            arrays.append(np.asarray(weights[name]))
    return arrays


def _einsum(spec: EinsumSpec, X: np.ndarray, weights: dict):
    return np.einsum(spec.subscripts, *resolve_operands(spec, X, weights), optimize="greedy")


# --------------------------------------------------------------------------------------------------
# Elementwise functions and cone projections
# --------------------------------------------------------------------------------------------------


def _sigmoid(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def entrywise_value(fn: str, s: np.ndarray) -> np.ndarray:
    """f(s) for f in exp, cosh, logcosh, softplus (numerically stable)."""
    if fn == "exp":
        return np.exp(s)
    if fn == "cosh":
        return np.cosh(s)
    if fn == "logcosh":
        a = np.abs(s)
        return a + np.log1p(np.exp(-2.0 * a)) - np.log(2.0)
    if fn == "softplus":
        return np.logaddexp(0.0, s)
    raise ValueError(f"unknown entrywise function {fn!r}")


def entrywise_derivative(fn: str, s: np.ndarray) -> np.ndarray:
    """f'(s): exp, sinh, tanh, sigmoid."""
    if fn == "exp":
        return np.exp(s)
    if fn == "cosh":
        return np.sinh(s)
    if fn == "logcosh":
        return np.tanh(s)
    if fn == "softplus":
        return _sigmoid(s)
    raise ValueError(f"unknown entrywise function {fn!r}")


def row_softmax(s: np.ndarray) -> np.ndarray:
    m = s.max(axis=-1, keepdims=True)
    e = np.exp(s - m)
    return e / e.sum(axis=-1, keepdims=True)


def _cones(y: np.ndarray, size: int) -> np.ndarray:
    c = y.shape[-1]
    if c % size:
        raise ValueError(f"the feature size C = {c} is not divisible by the cone size {size}")
    return y.reshape(*y.shape[:-1], c // size, size)


def cone_projection(projection: str, y: np.ndarray, cone_size: int = 4, eps: float = COLU_EPS) -> np.ndarray:
    """π(y) along the last axis: relu (orthant), soc (orthogonal projection onto a product of
    Lorentz cones of size ``cone_size``), colu (CoLU, the skew cone projection)."""
    if projection == "relu":
        return np.maximum(y, 0.0)
    if projection not in ("soc", "colu"):
        raise ValueError(f"unknown conic projection {projection!r}")
    g = _cones(y, cone_size)
    t, u = g[..., :1], g[..., 1:]
    nu = np.linalg.norm(u, axis=-1, keepdims=True)
    if projection == "colu":
        out = np.concatenate([t, np.clip(t / (nu + eps), 0.0, 1.0) * u], axis=-1)
    else:
        safe = np.where(nu > 0, nu, 1.0)
        coef = (t + nu) / 2.0
        outside = np.concatenate([coef, coef * u / safe], axis=-1)
        out = np.where(nu <= t, g, np.where(nu <= -t, 0.0, outside))
    return out.reshape(y.shape)


# --------------------------------------------------------------------------------------------------
# Potentials and fields
# --------------------------------------------------------------------------------------------------


def _scale(X: np.ndarray, scale: float | None) -> float:
    return 1.0 / np.sqrt(X.shape[1]) if scale is None else scale


def _real_only(term: Term, X: np.ndarray) -> None:
    if np.iscomplexobj(X):
        raise ValueError(f"the {term.family} term {term.key!r} is defined for the real field only (X is complex)")


def potential(term: Term | Field, X: np.ndarray, weights: dict, scale: float | None = None):
    """V(X) for a term (tied weight names); ``scale`` is 1/√C_A (default 1/√C) for Softmax/Entrywise."""
    if isinstance(term, Field):
        term = term.term
    X = np.asarray(X)
    if isinstance(term, Diagram):
        return _einsum(potential_einsum(term), X, weights)[()]
    _real_only(term, X)
    if isinstance(term, (Softmax, Entrywise)):
        s = X @ weights["W1"] @ X.T * _scale(X, scale)
        if isinstance(term, Softmax):
            m = s.max(axis=1)
            return float(np.sum(m + np.log(np.exp(s - m[:, None]).sum(axis=1))))
        return float(entrywise_value(term.fn, s).sum())
    if isinstance(term, Conic):
        if not term.has_potential:
            raise ValueError(f"{term.key}: CoLU is a skew projection with no potential (only its field is defined)")
        p = cone_projection(term.projection, X @ weights["A"], term.cone_size)
        return float(0.5 * np.sum(p * p))
    if isinstance(term, Gated):
        prod = np.ones_like(X)
        for m in range(term.k):
            prod = prod * (X @ weights[f"W{m + 1}"])
        return float(prod.sum())
    raise TypeError(f"not a term: {term!r}")


def branch_value(branch: Branch, X: np.ndarray, weights: dict, scale: float | None = None) -> np.ndarray:
    """The value (N×C) of one branch; weights are looked up by the branch's parameter names."""
    X = np.asarray(X)
    t = branch.term
    if isinstance(t, Diagram):
        return _einsum(branch_einsum(branch), X, weights)
    _real_only(t, X)
    if isinstance(t, (Softmax, Entrywise)):
        w = weights[branch.weight(0)]
        sc = _scale(X, scale)
        s = X @ w @ X.T * sc
        p = row_softmax(s) if isinstance(t, Softmax) else entrywise_derivative(t.fn, s)
        if branch.end == "dst":
            p = p.T
        out = weights[branch.output] if branch.output else (w.T if branch.end == "src" else w)
        return p @ X @ out * sc
    if isinstance(t, Conic):
        a = weights[branch.weight(0)]
        out = weights[branch.output] if branch.output else a.T
        return cone_projection(t.projection, X @ a, t.cone_size) @ out
    if isinstance(t, Gated):
        prod = np.ones_like(X)
        for m in range(t.k):
            if m != branch.edge:
                prod = prod * (X @ weights[branch.weight(m)])
        out = weights[branch.output] if branch.output else weights[branch.weight(branch.edge)].T
        return prod @ out
    raise TypeError(f"not a term: {t!r}")


def field_value(field: Field, X: np.ndarray, weights: dict, scale: float | None = None) -> np.ndarray:
    """F(X) (N×C): the sum of the field's branches."""
    X = np.asarray(X)
    total = None
    for b in field.branches:
        v = branch_value(b, X, weights, scale)
        total = v if total is None else total + v
    return total


def random_weights(field_or_term: Field | Term, C: int, rng: np.random.Generator, complex: bool = False) -> dict:
    """Gaussian C×C weights (entries of variance 1/C) for every parameter of a field, or of a term's
    tied potential. Symmetric letters of a diagram (unoriented lettered edges) get symmetric
    (complex: Hermitian) weights, copies included."""
    if isinstance(field_or_term, Field):
        names = field_or_term.parameters()
        sources = field_or_term.parameter_sources()
        term = field_or_term.term
    else:
        term = field_or_term
        names = tied_parameters(term)
        sources = {n: (n, False) for n in names}
    sym = symmetric_letters(term)
    out = {}
    for name in names:
        if complex:
            w = (rng.standard_normal((C, C)) + 1j * rng.standard_normal((C, C))) / np.sqrt(2 * C)
        else:
            w = rng.standard_normal((C, C)) / np.sqrt(C)
        if sources[name][0] in sym:
            w = (w + w.conj().T) / 2
        out[name] = w
    return out


__all__ = [
    "COLU_EPS",
    "EinsumSpec",
    "FEATURE_LETTERS",
    "TOKEN_LETTERS",
    "branch_einsum",
    "branch_value",
    "cone_projection",
    "entrywise_derivative",
    "entrywise_value",
    "field_value",
    "potential",
    "potential_einsum",
    "random_weights",
    "resolve_operands",
    "row_softmax",
]
