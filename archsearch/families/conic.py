"""The quadratic term through a cone projection: V = ½ Σ_j ‖π_K(x_j A)‖², F = π_K(X A) Aᵀ (Moreau).

relu: K = the orthant; soc: a product of Lorentz cones {(t, u): ‖u‖ ≤ t} of size S along the
features (orthogonal projection); colu: CoLU, a skew projection onto the Lorentz cone — its
Jacobian is not symmetric, so it is not the gradient of any potential (the field π(X A) Aᵀ is
defined directly). Keys ``relu``, ``soc<S>``, ``colu<S>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from archsearch.families.base import Named, Symmetry, subscript, tie_note
from archsearch.families.token import TokenFamily, no_potential, token_symmetry

PROJECTIONS = ("relu", "soc", "colu")
COLU_EPS = 1e-6  # the ε in CoLU(x) = (x₁, clip(x₁/(‖x_⊥‖+ε), 0, 1)·x_⊥)
MAX_CONE_SIZE = 4096


@dataclass(frozen=True)
class Conic(TokenFamily):
    """½ Σ_j ‖π(x_j A)‖² for the projection ``projection`` onto cones of size ``cone_size``."""

    projection: str
    cone_size: int = 4

    kind = "conic"
    output_base = "B"

    def __post_init__(self) -> None:
        if self.projection not in PROJECTIONS:
            raise ValueError(f"unknown conic projection {self.projection!r} (known: {', '.join(PROJECTIONS)})")
        if not 2 <= self.cone_size <= MAX_CONE_SIZE:
            raise ValueError(f"cone size must be between 2 and {MAX_CONE_SIZE}, not {self.cone_size}")

    @classmethod
    def named(cls, families) -> list[Named]:
        return [Named(cls(p, families.cone_size), "conic", i) for i, p in enumerate(families.conic)]

    @property
    def key(self) -> str:
        return self.projection if self.projection == "relu" else f"{self.projection}{self.cone_size}"

    @classmethod
    def parse(cls, key: str) -> Conic | None:
        if key == "relu":
            return cls("relu")
        for proj in PROJECTIONS[1:]:
            rest = key[len(proj):]
            if key.startswith(proj) and rest.isascii() and rest.isdigit():
                if len(rest) > 5:
                    raise ValueError(f"cone size in {key!r} is too large (at most {MAX_CONE_SIZE})")
                return cls(proj, int(rest))
        return None

    @property
    def order(self) -> int:
        return 2

    @property
    def symmetry(self) -> Symmetry:
        return token_symmetry(self.projection != "colu")

    def weight_base(self, i: int) -> str:
        return "A"

    def _proj(self, style: str) -> str:
        if self.projection == "relu":
            return {"latex": r"\operatorname{relu}", "text": "relu"}.get(style, "relu")
        if self.projection == "soc":
            return {"latex": rf"\pi_{{\mathcal{{L}}_{{{self.cone_size}}}}}", "text": f"proj_soc{self.cone_size}"}.get(
                style, f"π_L{subscript(self.cone_size)}"
            )
        return {"latex": rf"\operatorname{{CoLU}}_{{{self.cone_size}}}", "text": f"colu{self.cone_size}"}.get(
            style, f"CoLU{subscript(self.cone_size)}"
        )

    def formula(self, style: str) -> str:
        p = self._proj(style)
        if not self.has_potential:
            return {"latex": rf"\text{{(no potential)}}\ {p}(X A) A^{{\top}}",
                    "text": f"(no potential) field {p}(X A) A^T"}.get(style, f"(no potential) field {p}(X A) Aᵀ")
        return {"latex": rf"\tfrac12 \sum_j \lVert {p}(x_j A) \rVert^2",
                "text": f"1/2 sum_j |{p}(x_j A)|^2"}.get(style, f"½ Σ_j ‖{p}(x_j A)‖²")

    def project(self, y: np.ndarray, eps: float = COLU_EPS) -> np.ndarray:
        """π(y) along the last axis (numpy)."""
        if self.projection == "relu":
            return np.maximum(y, 0.0)
        c = y.shape[-1]
        if c % self.cone_size:
            raise ValueError(f"the feature size C = {c} is not divisible by the cone size {self.cone_size}")
        g = y.reshape(*y.shape[:-1], c // self.cone_size, self.cone_size)
        t, u = g[..., :1], g[..., 1:]
        nu = np.linalg.norm(u, axis=-1, keepdims=True)
        if self.projection == "colu":
            out = np.concatenate([t, np.clip(t / (nu + eps), 0.0, 1.0) * u], axis=-1)
        else:
            safe = np.where(nu > 0, nu, 1.0)
            coef = (t + nu) / 2.0
            outside = np.concatenate([coef, coef * u / safe], axis=-1)
            out = np.where(nu <= t, g, np.where(nu <= -t, 0.0, outside))
        return out.reshape(y.shape)

    def potential(self, X, weights: dict, scale: float | None = None):
        if not self.has_potential:
            raise no_potential(self.key, "CoLU is a skew projection and")
        p = self.project(X @ weights["A"])
        return float(0.5 * np.sum(p * p))

    def branch_value(self, branch, X, weights: dict, scale: float | None = None):
        a = weights[branch.weight(0)]
        out = weights[branch.output] if branch.output else a.T
        return self.project(X @ a) @ out

    def branch_string(self, branch, style: str, real: bool) -> str:
        from archsearch.calculus.symbolic import param_display

        a = branch.weight(0)
        out = param_display(branch.output, style) if branch.output else param_display(a, style, True)
        return f"{self._proj(style)}(X {param_display(a, style)}) {out}"

    def branch_sympy(self, branch, real: bool) -> Any:
        import sympy as sp

        from archsearch.calculus.symbolic import nc

        name = {"relu": "relu", "soc": f"pi_L{self.cone_size}", "colu": f"CoLU_{self.cone_size}"}[self.projection]
        out = nc(branch.output) if branch.output else nc(branch.weight(0) + "^T")
        return sp.Function(name, commutative=False)(nc("X") * nc(branch.weight(0))) * out

    def note(self, field: str, tied: bool) -> str:
        if self.projection == "relu":
            head = ("V = ½ Σ_j ‖relu(x_j A)‖², F = relu(X A) Aᵀ (relu is the orthogonal projection onto the "
                    "orthant, and ∇½‖π_K(y)‖² = π_K(y) by Moreau).")
        elif self.projection == "soc":
            head = (f"V = ½‖π(X A)‖², π the orthogonal projection onto the product of Lorentz cones of size "
                    f"{self.cone_size} along the features; F = π(X A) Aᵀ (Moreau: ∇½‖π_K(y)‖² = π_K(y)). "
                    f"C must be divisible by {self.cone_size}.")
        else:
            head = (f"No potential: CoLU (cones of size {self.cone_size}) is a skew projection onto the Lorentz "
                    "cone, its Jacobian is not symmetric, so no potential exists; the field F = CoLU(X A) Aᵀ is "
                    f"defined directly. C must be divisible by {self.cone_size}.")
        if not tied:
            head += " Untied: Aᵀ is replaced by a separate weight B."
        return head + (tie_note(tied) if self.has_potential or not tied else "")

    def recognise(self) -> str | None:
        return {"relu": "ReLU MLP", "soc": "cone-projection MLP", "colu": "CoLU MLP (no potential)"}[self.projection]

    def emit(self, note: str, tied: bool, causal: bool, class_name: str, lowrank: bool, chosen: tuple,
             branches: str) -> str:
        from archsearch.compiler.emit import FORWARD_DOC, HEAD_PROJECTION, Code, full_effective, full_parameters, wrap

        branch = chosen[0]
        a, out = branch.weight(0), branch.output
        names = branch.parameters()
        proj = self.projection
        cones = "" if proj == "relu" else f", cones of size {self.cone_size}"
        doc = [f"Conic field block ({proj}{cones}, {'tied' if tied else 'untied'}), summed over heads.", ""]
        doc += wrap(note)
        doc += ["", f"F(X) = Σ_h π(X {a}_h) {out + '_h' if out else a + '_hᵀ'}, per token (causal changes nothing).",
                "Weights are full (H, C, C): the cones act on the C columns of X A; rank is ignored.",
                *wrap("effective_weights(): {" + ", ".join(names) + "} → (H, C, C) tensors.")]
        code = Code.module(class_name, doc)
        if proj != "relu":
            code.add(f"self.cone_size = {self.cone_size}", 8)
            code.add("if features % self.cone_size:", 8)
            code.add('raise ValueError(f"the feature size C = {features} is not divisible by the cone size '
                     '{self.cone_size}")', 12)
        if proj == "colu":
            code.add(f"self.eps = {COLU_EPS!r}  # CoLU(x) = (x₁, clip(x₁/(‖x_⊥‖+ε), 0, 1)·x_⊥)", 8)
        full_parameters(code, names)
        code.add("def forward(self, x):", 4)
        code.add(FORWARD_DOC, 8)
        code.add(f"y = {HEAD_PROJECTION.format(w=a)}  # X {a} per head, (B, H, N, C)", 8)
        if out:
            code.add(f'return torch.einsum("bhnd,hdc->bnc", self._project(y), self.{out})  # Σ_h π(X {a}_h) {out}_h',
                     8)
        else:
            code.add(f'return torch.einsum("bhnd,hcd->bnc", self._project(y), self.{a})  # Σ_h π(X {a}_h) {a}_hᵀ', 8)
        code.add()
        full_effective(code, names)
        code.add()
        code.add(_PROJECT_SOURCE[proj], 4)
        return code.render()


_PROJECT_SOURCE = {
    "relu": '''
        @staticmethod
        def _project(y):
            """Orthogonal projection onto the orthant: relu."""
            return torch.relu(y)
        ''',
    "soc": '''
        def _project(self, y):
            """Orthogonal projection onto the product of Lorentz cones {(t, u): ‖u‖ ≤ t} of size S along
            the features: inside → unchanged; in the polar cone (‖u‖ ≤ −t) → 0; else ((t + ‖u‖)/2)·(1, u/‖u‖).
            """
            g = y.unflatten(-1, (-1, self.cone_size))
            t, u = g[..., :1], g[..., 1:]
            nu = torch.linalg.vector_norm(u, dim=-1, keepdim=True)
            safe = torch.where(nu > 0, nu, torch.ones_like(nu))
            coef = (t + nu) / 2
            outside = torch.cat([coef, coef * u / safe], dim=-1)
            out = torch.where(nu <= t, g, torch.where(nu <= -t, torch.zeros_like(g), outside))
            return out.flatten(-2)
        ''',
    "colu": '''
        def _project(self, y):
            """CoLU on each cone of size S: (t, u) → (t, clip(t/(‖u‖+ε), 0, 1)·u), a skew projection onto
            the Lorentz cone (its Jacobian is not symmetric: no potential).
            """
            g = y.unflatten(-1, (-1, self.cone_size))
            t, u = g[..., :1], g[..., 1:]
            nu = torch.linalg.vector_norm(u, dim=-1, keepdim=True)
            out = torch.cat([t, torch.clamp(t / (nu + self.eps), 0.0, 1.0) * u], dim=-1)
            return out.flatten(-2)
        ''',
}
