"""What the edge families share: a function of one edge S = X W Xᵀ·scale, scale = 1/√C_A.

V = Σ_j Φ(S_j·) for a row function Φ whose gradient is a matrix M(S) (row-softmax for log-sum-exp,
σ(S) entrywise for Σ φ(S)); then

    F = M X Wᵀ·scale + Mᵀ X W·scale          (the "src" and "dst" branches)

and the untied branch b reads M⁽ᵇ⁾ X O⁽ᵇ⁾·scale with its own W⁽ᵇ⁾ and output weight O⁽ᵇ⁾ (Q, K, V, O).
Both families depend on X only through the edge (centralizer) and are only S_N-invariant: a
function of the entries of S is not invariant under S ↦ O S Oᵀ.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from archsearch.families.base import CompiledParts, Family, Symmetry

_REAL = frozenset({"real"})


class EdgeFamily(Family):
    """Base of Softmax and Entrywise: subclasses give M(S), its printed name and the block's kernel."""

    symmetry = Symmetry(left="perm", centralizer=True, fields=_REAL, potential=True)

    # ---- what a subclass provides ------------------------------------------------------------------
    def matrix(self, s: np.ndarray) -> np.ndarray:
        """M(S): the gradient of V with respect to S (numpy)."""
        raise NotImplementedError

    def reduce(self, s: np.ndarray) -> float:
        """V from the scaled edge S (numpy)."""
        raise NotImplementedError

    def matrix_symbol(self, branch, style: str) -> str:
        """M as printed in the field, e.g. ``P`` or ``exp(S)``."""
        raise NotImplementedError

    def matrix_sympy_name(self) -> str:
        raise NotImplementedError

    def kernel(self):
        """The archsearch.compiler.edge_blocks.EdgeKernel of this family's block."""
        raise NotImplementedError

    # ---- shared ----------------------------------------------------------------------------------------
    def branch_ends(self, field: str) -> list[tuple[int, str]]:
        return [(0, "src"), (0, "dst")]

    def output_source(self, branch) -> tuple[str, bool]:
        return self.weight_base(0), branch.end == "src"  # P X Wᵀ  /  Pᵀ X W

    def potential(self, X, weights: dict, scale: float | None = None):
        return self.reduce(_edge(X, weights["W1"], scale))

    def branch_value(self, branch, X, weights: dict, scale: float | None = None):
        w = weights[branch.weight(0)]
        sc = _scale(X, scale)
        m = self.matrix(_edge(X, w, sc))
        if branch.end == "dst":
            m = m.T
        out = weights[branch.output] if branch.output else (w.T if branch.end == "src" else w)
        return m @ X @ out * sc

    def branch_string(self, branch, style: str, real: bool) -> str:
        from archsearch.calculus.symbolic import param_display

        sqrt = "/sqrt(C_A)" if style == "text" else "/√C_A"
        m = self.matrix_symbol(branch, style)
        if branch.end == "dst":
            m += "^T" if style == "text" else "ᵀ"
        out = branch.output or branch.weight(0)
        return f"{m} X {param_display(out, style, branch.output is None and branch.end == 'src')}{sqrt}"

    def branch_sympy(self, branch, real: bool) -> Any:
        import sympy as sp

        from archsearch.calculus.symbolic import Named, Tp, nc

        X, XT = nc("X"), nc("X^T")
        ca = Named("C_A", positive=True)
        s = X * nc(branch.weight(0)) * XT / sp.sqrt(ca)
        m = sp.Function(self.matrix_sympy_name(), commutative=False)(self.matrix_argument(s))
        if branch.end == "dst":
            m = Tp(m)
        out = nc(branch.output) if branch.output else nc(branch.weight(0) + ("^T" if branch.end == "src" else ""))
        return m * X * out / sp.sqrt(ca)

    def matrix_argument(self, s: Any) -> Any:
        """What the entrywise function is applied to, given the sympy score S = X W Xᵀ/√C_A (S itself)."""
        return s

    def cost(self, field: str, tied: bool, causal: bool, sizes: Any, lowrank: bool) -> str:
        return "O(N² C)"

    def emit(self, note: str, tied: bool, causal: bool, class_name: str, lowrank: bool, chosen: tuple,
             branches: str) -> str:
        from archsearch.compiler.edge_blocks import edge_source

        return edge_source(self.kernel(), note, tied, causal, class_name, lowrank, chosen, branches)

    def compile(self, field: str, tied: bool, causal: bool, class_name: str, sizes: Any, lowrank: bool,
                naive: bool) -> CompiledParts:
        from archsearch.compiler.families import family_source

        source = family_source(self, field, tied, causal, class_name, lowrank=lowrank)
        return CompiledParts(source, self.cost(field, tied, causal, sizes, lowrank))


def _scale(X: np.ndarray, scale: float | None) -> float:
    """1/√C_A; the reference's default is the full-rank 1/√C."""
    return 1.0 / np.sqrt(X.shape[1]) if scale is None else scale


def _edge(X: np.ndarray, w: np.ndarray, scale: float | None) -> np.ndarray:
    return X @ w @ X.T * _scale(X, scale)
