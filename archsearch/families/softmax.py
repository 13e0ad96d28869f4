"""Softmax attention as a potential: the row-wise log-sum-exp of one edge, with a temperature.

    V = τ Σ_j log Σ_k exp(S_jk/τ),   S = X W Xᵀ/√C_A,   P = row-softmax(S/τ)
    F = P X Wᵀ/√C_A + Pᵀ X W/√C_A

τ = 1 is the plain log-sum-exp; for τ ≠ 1 this is the free energy of the entropy-regularised
assignment (τ → 0: V → Σ_j max_k S_jk). The paper keeps only the first branch ("softmax
attention"); the second is needed for the gradient. Key ``lse`` (τ = 1) or ``lse@τ``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from archsearch.families.base import Named, tie_note
from archsearch.families.edge import EdgeFamily

MAX_TEMPERATURE = 1e3


@dataclass(frozen=True)
class Softmax(EdgeFamily):
    """Row-wise log-sum-exp of one edge at temperature τ (see the module docstring)."""

    temperature: float = 1.0

    kind = "softmax"
    has_paper_branch: ClassVar[bool] = True

    def __post_init__(self) -> None:
        try:
            t = float(self.temperature)
        except (TypeError, ValueError):
            t = math.nan
        if not (math.isfinite(t) and 1.0 / MAX_TEMPERATURE <= t <= MAX_TEMPERATURE):
            raise ValueError(f"softmax temperature must be a number in [{1 / MAX_TEMPERATURE:g}, {MAX_TEMPERATURE:g}], "
                             f"not {self.temperature!r}")
        object.__setattr__(self, "temperature", t)

    @classmethod
    def named(cls, families) -> list[Named]:
        return [Named(cls(families.temperature), "softmax")] if families.softmax else []

    @property
    def key(self) -> str:
        return "lse" if self.temperature == 1.0 else f"lse@{self.temperature!r}"

    @classmethod
    def parse(cls, key: str) -> Softmax | None:
        if key == "lse":
            return cls()
        if not key.startswith("lse@"):
            return None
        try:
            value = float(key[4:])
        except ValueError:
            raise ValueError(f"softmax key {key!r}: the temperature after '@' must be a number, e.g. lse@0.5") from None
        return cls(value)

    def formula(self, style: str) -> str:
        tau = self.temperature != 1.0
        if style == "latex":
            arg = r"(X W X^{\top})_{jk}/(\tau\sqrt{C_A})" if tau else r"(X W X^{\top})_{jk}/\sqrt{C_A}"
            return (rf"\tau \sum_j \log \sum_k \exp\!\big({arg}\big),\ \tau = {self.temperature!r}" if tau
                    else rf"\sum_j \log \sum_k \exp\!\big({arg}\big)")
        if style == "text":
            arg = "(X W X^T)_jk / (t sqrt(C_A))" if tau else "(X W X^T)_jk / sqrt(C_A)"
            head = f"t sum_j log sum_k exp({arg}), t = {self.temperature!r}" if tau else f"sum_j log sum_k exp({arg})"
            return head
        arg = "(X W Xᵀ)_jk / (τ√C_A)" if tau else "(X W Xᵀ)_jk / √C_A"
        return f"τ Σ_j log Σ_k exp({arg}), τ = {self.temperature!r}" if tau else f"Σ_j log Σ_k exp({arg})"

    def matrix_argument(self, s: Any) -> Any:
        """P = row-softmax(S/τ): the score over the temperature (τ = 1: S)."""
        import sympy as sp

        return s if self.temperature == 1.0 else s / sp.Symbol("tau", positive=True)

    def reduce(self, s: np.ndarray) -> float:
        z = s / self.temperature
        m = z.max(axis=1)
        return float(self.temperature * np.sum(m + np.log(np.exp(z - m[:, None]).sum(axis=1))))

    def matrix(self, s: np.ndarray) -> np.ndarray:
        z = s / self.temperature
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    def matrix_symbol(self, branch, style: str) -> str:
        if branch.index is None:
            return "P"
        return f"P_b{branch.index}" if style == "text" else f"P⁽{_sup(branch.index)}⁾"

    def matrix_sympy_name(self) -> str:
        return "softmax"

    def kernel(self):
        from archsearch.compiler.edge_blocks import EdgeKernel

        return EdgeKernel("Softmax" if self.temperature == 1.0 else f"Softmax (τ = {self.temperature!r})",
                          softmax=True, temperature=self.temperature)

    def note(self, field: str, tied: bool) -> str:
        tau = self.temperature != 1.0
        head = (
            ("V = τ Σ_j log Σ_k exp(S_jk/τ) (the free energy at temperature τ), S = X W₁ Xᵀ/√C_A, "
             "P = row-softmax(S/τ). " if tau else
             "V = Σ_j log Σ_k exp(S_jk), S = X W₁ Xᵀ/√C_A, P = row-softmax(S). ")
            + "The full gradient keeps both branches, F = P X W₁ᵀ/√C_A + Pᵀ X W₁/√C_A (as tied energies do, "
            "cf. Energy Transformer, Hoover et al. 2023). The paper keeps only the first branch, P X W₁ᵀ "
            "('softmax attention'), which is not the gradient of V (not even for a symmetric W₁ up to a "
            "factor: Pᵀ ≠ P)."
        )
        if not tied:
            head += " Untied branch b: P⁽ᵇ⁾ = row-softmax(X W₁⁽ᵇ⁾ Xᵀ/√C_A" + ("/τ" if tau else "") + \
                    ") and a separate output weight O⁽ᵇ⁾."
            if tau:
                head += " Untied, τ only rescales the query weights and the output (F_τ(W) = τ F_1(W/τ))."
        return head + tie_note(tied)

    def recognise(self) -> str | None:
        if self.temperature == 1.0:
            return "softmax attention"
        return f"softmax attention (temperature {self.temperature:g})"


def _sup(i: int) -> str:
    return str(i).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))
