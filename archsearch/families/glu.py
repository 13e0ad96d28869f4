"""The activated gated linear unit (SwiGLU, GEGLU): F = (σ(X W₁) ⊙ X W₂) W₂ᵀ — a field, no potential.

σ is an entry of archsearch.families.functions.ACTIVATIONS; the key is ``glu-<σ>`` (``glu-silu`` is
SwiGLU, ``glu-gelu`` GEGLU). Untied, W₂ᵀ is replaced by a separate output weight O: the standard
block (σ(X W₁) ⊙ X W₂) O. Like CoLU it is not the gradient of any potential: a potential
Σ g(X W₁) ⊙ (X W₂) would give a second branch through W₁ᵀ (tests check the Jacobian is not
symmetric). The bilinear GLU with σ = identity is the gated product ``glu3`` of right = none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from archsearch.families.base import Symmetry
from archsearch.families.functions import ACTIVATIONS, FunctionFamily
from archsearch.families.token import TokenFamily, no_potential, token_symmetry


@dataclass(frozen=True)
class Glu(FunctionFamily, TokenFamily):
    """(σ(X W₁) ⊙ X W₂) W₂ᵀ for σ = ``fn`` (a name in ACTIVATIONS)."""

    fn: str

    kind = "glu"
    table, prefix, grammar_key, what = ACTIVATIONS, "glu-", "glu", "GLU activation"

    @property
    def order(self) -> int:
        return 0  # not a polynomial

    @property
    def symmetry(self) -> Symmetry:
        return token_symmetry(False)

    def tied_parameters(self) -> list[str]:
        return ["W1", "W2"]

    def branch_inputs(self, branch) -> list[int]:
        return [0, 1]

    def output_source(self, branch) -> tuple[str, bool]:
        return "W2", True

    def formula(self, style: str) -> str:
        s = self.function.name_of(style)
        if style == "latex":
            return rf"\text{{(no potential)}}\ \big({s}(X W_1) \odot X W_2\big) W_2^{{\top}}"
        if style == "text":
            return f"(no potential) field ({s}(X W1) .* X W2) W2^T"
        return f"(no potential) field ({s}(X W₁) ⊙ X W₂) W₂ᵀ"

    def potential(self, X, weights: dict, scale: float | None = None):
        raise no_potential(self.key, "the activated GLU")

    def branch_value(self, branch, X, weights: dict, scale: float | None = None):
        gate = self.function.sigma(X @ weights[branch.weight(0)])
        value = X @ weights[branch.weight(1)]
        out = weights[branch.output] if branch.output else weights[branch.weight(1)].T
        return (gate * value) @ out

    def branch_string(self, branch, style: str, real: bool) -> str:
        from archsearch.calculus.symbolic import param_display

        s = self.function.name_of("text" if style == "text" else "unicode")
        dot = " .* " if style == "text" else " ⊙ "
        w1, w2 = (param_display(branch.weight(i), style) for i in (0, 1))
        out = param_display(branch.output, style) if branch.output else param_display(branch.weight(1), style, True)
        return f"({s}(X {w1}){dot}X {w2}) {out}"

    def branch_sympy(self, branch, real: bool) -> Any:
        import sympy as sp

        from archsearch.calculus.symbolic import Hadamard, nc

        X = nc("X")
        gate = sp.Function(self.fn, commutative=False)(X * nc(branch.weight(0)))
        out = nc(branch.output) if branch.output else nc(branch.weight(1) + "^T")
        return Hadamard(gate, X * nc(branch.weight(1))) * out

    def note(self, field: str, tied: bool) -> str:
        s = self.function.name_of("unicode")
        head = (f"No potential: F = ({s}(X W₁) ⊙ X W₂) W₂ᵀ is the activated GLU; its Jacobian is not symmetric, "
                "so it is not the gradient of any V (a potential Σ g(X W₁) ⊙ X W₂ would add a branch through W₁ᵀ).")
        if not tied:
            head += f" Untied: W₂ᵀ is replaced by a separate output weight O, the standard ({s}(X W₁) ⊙ X W₂) O."
        return head

    def recognise(self) -> str | None:
        return {"silu": "SwiGLU (no potential)", "gelu": "GEGLU (no potential)"}.get(
            self.fn, f"{self.fn}-GLU (no potential)")

    def emit(self, note: str, tied: bool, causal: bool, class_name: str, lowrank: bool, chosen: tuple,
             branches: str) -> str:
        from archsearch.compiler.emit import FORWARD_DOC, HEAD_PROJECTION, Code, full_effective, full_parameters, wrap

        branch = chosen[0]
        w1, w2, out = branch.weight(0), branch.weight(1), branch.output
        names = branch.parameters()
        s = self.function.name_of("unicode")
        doc = [f"Activated GLU block ({self.fn}, {'tied' if tied else 'untied'}), summed over heads.", ""]
        doc += wrap(note)
        doc += ["", f"F(X) = Σ_h ({s}(X {w1}_h) ⊙ X {w2}_h) {out + '_h' if out else w2 + '_hᵀ'}, per token "
                    "(causal changes nothing).",
                "Weights are full (H, C, C); rank is ignored.",
                *wrap("effective_weights(): {" + ", ".join(names) + "} → (H, C, C) tensors.")]
        code = Code.module(class_name, doc)
        full_parameters(code, names)
        code.add("def forward(self, x):", 4)
        code.add(FORWARD_DOC, 8)
        code.add(f"gate = {self.function.sigma_torch.format(HEAD_PROJECTION.format(w=w1))}  # {s}(X {w1})", 8)
        code.add(f"y = gate * {HEAD_PROJECTION.format(w=w2)}  # ⊙ X {w2}", 8)
        pattern = "bhnd,hdc->bnc" if out else "bhnd,hcd->bnc"
        code.add(f'return torch.einsum("{pattern}", y, self.{out or w2})', 8)
        code.add()
        full_effective(code, names)
        return code.render()
