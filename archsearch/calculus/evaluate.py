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

import operator
from functools import reduce
from typing import NamedTuple

import numpy as np

from archsearch.calculus.fields import Branch, Field, Term, tied_parameters

TOKEN_LETTERS = "ijklmnopqrstuvwxyz"
FEATURE_LETTERS = "abcdefghABCDEFGHIJKLMNOPQRSTUVWXYZ"


class EinsumSpec(NamedTuple):
    """An einsum: ``subscripts`` (explicit output) and one ``(name,)`` operand spec per operand."""

    subscripts: str
    operands: tuple[tuple[str], ...]


def _edge_subscripts(d) -> list[tuple[str, str, str]]:
    rep = d.rep
    n_vertices = 1 + max(max(e.src, e.dst) for e in rep)
    if n_vertices > len(TOKEN_LETTERS) or 2 * len(rep) > len(FEATURE_LETTERS):
        raise ValueError(f"diagram {d.key} is too large for a single einsum")
    out = []
    for i, e in enumerate(rep):
        a, b = FEATURE_LETTERS[2 * i], FEATURE_LETTERS[2 * i + 1]
        out.append((TOKEN_LETTERS[e.src] + a, a + b, TOKEN_LETTERS[e.dst] + b))
    return out


def potential_einsum(d) -> EinsumSpec:
    """A diagram's potential V = Σ Π_e x_src W_e x_dst* as one einsum (scalar output), tied weight names."""
    if d.kind != "diagram":
        raise TypeError(f"potential_einsum needs a diagram, not a {d.kind} term")
    subs, ops = [], []
    for i, (s_x, s_w, s_xc) in enumerate(_edge_subscripts(d)):
        subs += [s_x, s_w, s_xc]
        ops += [("X",), (d.rep[i].letter or f"W{i + 1}",), ("Xc",)]
    return EinsumSpec(",".join(subs) + "->", tuple(ops))


def branch_einsum(branch: Branch) -> EinsumSpec:
    """One opened diagram branch as one einsum with output ``<token><feature>`` (an N×C matrix)."""
    d = branch.term
    if d.kind != "diagram":
        raise TypeError(f"branch_einsum needs a diagram branch; {d.kind} branches are not einsums")
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


def einsum_value(spec: EinsumSpec, X: np.ndarray, weights: dict):
    """``np.einsum`` of a spec with its operands resolved (greedy contraction order)."""
    return np.einsum(spec.subscripts, *resolve_operands(spec, X, weights), optimize="greedy")


# --------------------------------------------------------------------------------------------------
# Potentials and fields (each family computes its own; see archsearch.families)
# --------------------------------------------------------------------------------------------------


def _defined_for(term: Term, X: np.ndarray) -> None:
    if np.iscomplexobj(X) and "complex" not in term.symmetry.fields:
        raise ValueError(f"the {term.family} term {term.key!r} is defined for the real field only (X is complex)")


def potential(term: Term | Field, X: np.ndarray, weights: dict, scale: float | None = None):
    """V(X) for a term (tied weight names); ``scale`` is 1/√C_A (default 1/√C) for the edge families.
    ValueError for a family without a potential (CoLU, the activated GLU)."""
    if isinstance(term, Field):
        term = term.term
    X = np.asarray(X)
    _defined_for(term, X)
    return term.potential(X, weights, scale)


def branch_value(branch: Branch, X: np.ndarray, weights: dict, scale: float | None = None) -> np.ndarray:
    """The value (N×C) of one branch; weights are looked up by the branch's parameter names."""
    X = np.asarray(X)
    _defined_for(branch.term, X)
    return branch.term.branch_value(branch, X, weights, scale)


def field_value(field: Field, X: np.ndarray, weights: dict, scale: float | None = None) -> np.ndarray:
    """F(X) (N×C): the sum of the field's branches."""
    X = np.asarray(X)
    return reduce(operator.add, (branch_value(b, X, weights, scale) for b in field.branches))


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
    sym = term.symmetric_parameters()
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
    "EinsumSpec",
    "FEATURE_LETTERS",
    "TOKEN_LETTERS",
    "branch_einsum",
    "branch_value",
    "einsum_value",
    "field_value",
    "potential",
    "potential_einsum",
    "random_weights",
    "resolve_operands",
]
