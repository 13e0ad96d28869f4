"""Are the listed diagrams linearly independent at the grammar's N and C?

Proved range: if N ≥ v and C ≥ v (v = the most vertices of a listed diagram) they are. Restrict X
to v non-zero rows: with C ≥ v the edges X W X* of those rows are arbitrary v × v matrices (arbitrary
symmetric ones for symmetric weights), and the sums over injective vertex labellings of distinct
diagrams are polynomials with disjoint monomials in the entries, hence independent; the plain sums
are unitriangular combinations of those (merging vertices), so they are independent too.

Below that range identities can appear (few tokens, or edges of rank ≤ C < v), and the rank is
measured: the diagrams evaluated at (count + 20) random inputs, one random weight per letter (free
weights: one shared weight — a specialisation, so a lower rank is a real identity at least there).
The rank only grows with N and with C (zero rows and columns embed the smaller sizes), and it is
exactly the rank at C' = min(C, N) (for C ≥ N the edges are arbitrary N × N matrices already) and at
N' = min(N, Σ_types dim Sym) (with that many rows the moment tensors Σ_j x_j^{⊗a} ⊗ x̄_j^{⊗b} the
diagrams contract are generic), so it is computed at (N', C').
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb

import numpy as np

from archsearch.enumeration.axioms import Axioms

#: above this many diagrams below the proved range, the rank is not measured (it would take minutes)
MAX_RANK_CHECK = 240


@dataclass(frozen=True)
class Stability:
    """stable: the listed diagrams are linearly independent at (N, C) — True, False, or None when unknown;
    rank: the measured rank (None when proved or not measured); count: how many were listed."""

    stable: bool | None
    rank: int | None
    count: int
    how: str

    def describe(self) -> str:
        return self.how


def stability(diagrams, axioms: Axioms, tokens: int, features: int, seed: int = 0) -> Stability:
    """Whether ``diagrams`` are independent at N = ``tokens``, C = ``features`` (see the module docstring)."""
    n = len(diagrams)
    if n == 0:
        return Stability(True, None, 0, "no diagrams")
    v = max(g.n_vertices for g in diagrams)
    if tokens >= v and features >= v:
        return Stability(True, None, n, f"yes (proved: N, C ≥ {v} {'vertex' if v == 1 else 'vertices'})")
    if n > MAX_RANK_CHECK:
        return Stability(None, None, n, f"unknown: N = {tokens}, C = {features} below {v} vertices and "
                                        f"{n} terms too many to measure the rank")
    c_eval = min(features, tokens)
    n_eval = min(tokens, _saturation(diagrams, axioms, c_eval))
    rank = diagram_rank(diagrams, axioms, n_eval, c_eval, np.random.default_rng(seed))
    if rank == n:
        return Stability(True, rank, n, f"yes (rank {rank} of {n} at N = {tokens}, C = {features})")
    return Stability(False, rank, n, f"no — rank {rank} of {n} at N = {tokens}, C = {features}: "
                                     f"{n - rank} identit{'y' if n - rank == 1 else 'ies'} between terms")


def _saturation(diagrams, axioms: Axioms, c: int) -> int:
    """Σ over vertex types (a X-ends, b X*-ends) of dim Sym^a(C) · dim Sym^b(C) (real: Sym^{a+b})."""
    types = set()
    for g in diagrams:
        out, inc = [0] * g.n_vertices, [0] * g.n_vertices
        for e in g.rep:
            out[e.src] += 1
            inc[e.dst] += 1
        for a, b in zip(out, inc, strict=True):
            types.add((a + b, 0) if axioms.field == "real" else (a, b))
    return sum(comb(c + a - 1, a) * comb(c + b - 1, b) for a, b in types)


def diagram_rank(diagrams, axioms: Axioms, n: int, c: int, rng: np.random.Generator) -> int:
    """Numerical rank of the diagrams evaluated at (count + 20) random X ∈ F^{n×c} (see the docstring)."""
    from archsearch.calculus.evaluate import einsum_value, potential_einsum

    cplx = axioms.field == "complex"
    letters = sorted({e.letter for g in diagrams for e in g.edges})
    specs = [(potential_einsum(g), g.tied_parameters()) for g in diagrams]
    rows = []
    for _ in range(len(diagrams) + 20):
        X = rng.standard_normal((n, c)) + (1j * rng.standard_normal((n, c)) if cplx else 0)
        mats = {}
        for lt in letters:
            w = rng.standard_normal((c, c)) + (1j * rng.standard_normal((c, c)) if cplx else 0)
            mats[lt] = (w + w.conj().T) / 2 if axioms.reversible(lt) else w
        # free weights (W1, W2, …: no letter) all read the one shared weight mats[""]
        rows.append([einsum_value(spec, X, {p: mats.get(p, mats.get("")) for p in params}) for spec, params in specs])
    values = np.array(rows)
    values = values / np.maximum(np.abs(values).max(axis=0, keepdims=True), 1e-300)
    s = np.linalg.svd(values, compute_uv=False)
    return int((s > s[0] * 1e-9).sum())
