"""Activated MLPs as gradient fields: V = Σ_jc φ(X A)_jc,  F = σ(X A) Aᵀ  (σ = φ′).

The activation σ is an entry of archsearch.families.functions.ACTIVATIONS (relu2, gelu, silu); the
key is ``mlp-<σ>``. Tied, the input and output weights are one matrix A (ReLU²: the input and gate
weights of relu(X A)⊙relu(X A) tied as well); untied, Aᵀ is replaced by a separate weight B — the
standard two-layer MLP σ(X A) B.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from archsearch.families.base import Symmetry, tie_note
from archsearch.families.functions import ACTIVATIONS, FunctionFamily
from archsearch.families.token import TokenFamily, token_symmetry


@dataclass(frozen=True)
class Activation(FunctionFamily, TokenFamily):
    """The per-token MLP with activation σ = ``fn`` (a name in ACTIVATIONS), as a gradient field."""

    fn: str

    kind = "activation"
    output_base = "B"
    table, prefix, grammar_key, what = ACTIVATIONS, "mlp-", "activation", "activation"

    @property
    def symmetry(self) -> Symmetry:
        return token_symmetry(True)

    def weight_base(self, i: int) -> str:
        return "A"

    def formula(self, style: str) -> str:
        phi = self.function.name_of(style, phi=True)
        sigma = self.function.name_of(style)
        if style == "latex":
            return rf"\sum_{{jc}} \phi\big((X A)_{{jc}}\big),\ \phi' = {sigma}"
        if style == "text":
            return f"sum_jc phi((X A)_jc), phi = {phi}, phi' = {sigma}"
        return f"Σ_jc φ((X A)_jc), φ = {phi}, φ′ = {sigma}"

    def potential(self, X, weights: dict, scale: float | None = None):
        return float(self.function.potential(X @ weights["A"]).sum())

    def branch_value(self, branch, X, weights: dict, scale: float | None = None):
        a = weights[branch.weight(0)]
        out = weights[branch.output] if branch.output else a.T
        return self.function.sigma(X @ a) @ out

    def branch_string(self, branch, style: str, real: bool) -> str:
        from archsearch.calculus.symbolic import param_display

        a = branch.weight(0)
        out = param_display(branch.output, style) if branch.output else param_display(a, style, True)
        return f"{self.function.name_of('text' if style == 'text' else 'unicode')}(X {param_display(a, style)}) {out}"

    def branch_sympy(self, branch, real: bool) -> Any:
        import sympy as sp

        from archsearch.calculus.symbolic import nc

        out = nc(branch.output) if branch.output else nc(branch.weight(0) + "^T")
        return sp.Function(self.fn, commutative=False)(nc("X") * nc(branch.weight(0))) * out

    def note(self, field: str, tied: bool) -> str:
        f = self.function
        head = (f"V = Σ_jc φ((X A)_jc) with φ′ = {f.name_of('unicode')} (φ = {f.name_of('unicode', phi=True)}), "
                f"so F = ∇_X V = {f.name_of('unicode')}(X A) Aᵀ: the {self.fn} MLP as a gradient field.")
        if not tied:
            head += f" Untied: Aᵀ is replaced by a separate weight B, the standard MLP {f.name_of('unicode')}(X A) B."
        return head + tie_note(tied)

    def recognise(self) -> str | None:
        return {"relu2": "ReLU² MLP", "gelu": "GELU MLP", "silu": "SiLU MLP"}.get(self.fn, f"{self.fn} MLP")

    def emit(self, note: str, tied: bool, causal: bool, class_name: str, lowrank: bool, chosen: tuple,
             branches: str) -> str:
        from archsearch.compiler.emit import FORWARD_DOC, HEAD_PROJECTION, Code, full_effective, full_parameters, wrap

        branch = chosen[0]
        a, out = branch.weight(0), branch.output
        names = branch.parameters()
        sigma = self.function.name_of("unicode")
        doc = [f"Activation MLP block ({self.fn}, {'tied' if tied else 'untied'}), summed over heads.", ""]
        doc += wrap(note)
        doc += ["", f"F(X) = Σ_h {sigma}(X {a}_h) {out + '_h' if out else a + '_hᵀ'}, per token (causal changes "
                    "nothing).",
                "Weights are full (H, C, C); rank is ignored.",
                *wrap("effective_weights(): {" + ", ".join(names) + "} → (H, C, C) tensors.")]
        code = Code.module(class_name, doc)
        full_parameters(code, names)
        code.add("def forward(self, x):", 4)
        code.add(FORWARD_DOC, 8)
        code.add(f"y = {HEAD_PROJECTION.format(w=a)}  # X {a} per head, (B, H, N, C)", 8)
        code.add(f"y = {self.function.sigma_torch.format('y')}  # {sigma}(X {a})", 8)
        pattern, what = ("bhnd,hdc->bnc", f"{out}_h") if out else ("bhnd,hcd->bnc", f"{a}_hᵀ")
        code.add(f'return torch.einsum("{pattern}", y, self.{out or a})  # Σ_h {sigma}(X {a}_h) {what}', 8)
        code.add()
        full_effective(code, names)
        return code.render()
