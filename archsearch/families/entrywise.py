"""Kernel attention as a potential: an entrywise function φ of one edge.

    V = Σ_jk φ(S_jk),   S = X W Xᵀ/√C_A,   F = σ(S) X Wᵀ/√C_A + σ(S)ᵀ X W/√C_A,   σ = φ′

φ is an entry of archsearch.families.functions.EDGE_KERNELS (exp, cosh, logcosh, softplus); the key
is ``f-<φ>``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from archsearch.families.base import tie_note
from archsearch.families.edge import EdgeFamily
from archsearch.families.functions import EDGE_KERNELS, FunctionFamily


@dataclass(frozen=True)
class Entrywise(FunctionFamily, EdgeFamily):
    """V = Σ_jk φ(S_jk) for φ = ``fn`` (a name in EDGE_KERNELS)."""

    fn: str

    kind = "entrywise"
    table, prefix, grammar_key, what = EDGE_KERNELS, "f-", "entrywise", "entrywise function"

    def formula(self, style: str) -> str:
        if style == "latex":
            return rf"\sum_{{jk}} \operatorname{{{self.fn}}}\!\big((X W X^{{\top}})_{{jk}}/\sqrt{{C_A}}\big)"
        if style == "text":
            return f"sum_jk {self.fn}((X W X^T)_jk / sqrt(C_A))"
        return f"Σ_jk {self.fn}((X W Xᵀ)_jk / √C_A)"

    def reduce(self, s: np.ndarray) -> float:
        return float(self.function.potential(s).sum())

    def matrix(self, s: np.ndarray) -> np.ndarray:
        return self.function.sigma(s)

    def matrix_symbol(self, branch, style: str) -> str:
        suffix = ""
        if branch.index is not None:
            suffix = f"_b{branch.index}" if style == "text" else f"⁽{str(branch.index).translate(_SUP)}⁾"
        return f"{self.function.name_of('text' if style == 'text' else 'unicode')}(S{suffix})"

    def matrix_sympy_name(self) -> str:
        return self.function.name_of("text").replace("sigmoid", "sigma")

    def kernel(self):
        from archsearch.compiler.edge_blocks import EdgeKernel

        f = self.function
        return EdgeKernel(f"Entrywise {self.fn}", softmax=False, sigma_torch=f.sigma_torch,
                          sigma_name=f.name_of("text"), phi_name=self.fn)

    def note(self, field: str, tied: bool) -> str:
        fp = self.function.name_of("text")
        head = (
            f"V = Σ_jk {self.fn}(S_jk), S = X W₁ Xᵀ/√C_A. F = {fp}(S) X W₁ᵀ/√C_A + {fp}(S)ᵀ X W₁/√C_A "
            f"({fp} = {self.fn}′ entrywise; both branches of the gradient)."
        )
        if not tied:
            head += " Untied branch b: S⁽ᵇ⁾ = X W₁⁽ᵇ⁾ Xᵀ/√C_A and a separate output weight O⁽ᵇ⁾."
        return head + tie_note(tied)

    def recognise(self) -> str | None:
        return f"kernel attention ({self.fn})"


_SUP = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
