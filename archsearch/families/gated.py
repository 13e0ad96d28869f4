"""Multilinear products without the centralizer axiom: the terms right = "none" adds.

A term of order k is an integer partition λ = (n_1 ≥ n_2 ≥ …) of k: k projections X W_m grouped into
token vertices v of sizes n_v, all sharing one feature index c (one hub):

    V_λ = Σ_c Π_v s_v[c],   s_v[c] = Σ_j Π_{m ∈ v} (X W_m)_jc

e.g. λ = (3): Σ_jc (X W₁)_jc (X W₂)_jc (X W₃)_jc (the per-token gated product, GLU); λ = (2, 1):
Σ_jkc (X W₁)_jc (X W₂)_jc (X W₃)_kc; λ = (1): Σ_jc (X W)_jc (the order-1 term: a constant field, a
bias). The field of factor m (at vertex v) is F = (⊙_{m′ ∈ v, m′ ≠ m} X W_m′ ⊙ 1 Π_{v′ ≠ v} s_v′) W_mᵀ.

Why this list is complete: an S_N-invariant polynomial of degree k in X is Σ over token tuples of a
k-tensor T applied to the rows, grouped by which factors share a token: a sum over partitions λ of
Σ_{j_v} T_λ(x_{j_v(1)}, …, x_{j_v(k)}). With a hub of width C and H heads, T_λ = Σ_{h,c} Π_m W_m^h[:, c]
is any tensor (CP rank H·C), so the V_λ span every S_N-invariant polynomial of order k (tested by
numerical rank against an independent count of monomial orbits). At order 2 they are the diagrams
0-0 and 0-1 (T is a matrix, an edge weight), so right = none lists them only for k ≠ 2. At the other
even orders the free-weight diagrams already span the same functions (every degree sequence is a
diagram's, and products of weight matrices span all tensors): there V_λ is another
parametrization (one hub of width C, a CP form, linear in N); at odd orders, order 1 included, the
V_λ are the only admissible terms.

Key ``glu`` + the parts joined by '.': glu3, glu2.1, glu1.1.1, glu1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from archsearch.families.base import Symmetry, subscript, tie_note
from archsearch.families.token import TokenFamily, token_symmetry

MAX_GATED_ORDER = 16
_TOKENS = "jklmnpqrstuvwxyz"


@dataclass(frozen=True)
class Gated(TokenFamily):
    """V_λ for the partition ``parts`` (an int k means the per-token product λ = (k,))."""

    parts: tuple[int, ...]

    kind = "gated"

    def __post_init__(self) -> None:
        parts = (self.parts,) if isinstance(self.parts, int) else tuple(self.parts)
        if not parts or any(not isinstance(p, int) or p < 1 for p in parts):
            raise ValueError(f"gated parts must be positive integers, not {self.parts!r}")
        parts = tuple(sorted(parts, reverse=True))
        k = sum(parts)
        if k == 2:
            raise ValueError("order-2 gated products are the diagrams 0-0 (λ = 2) and 0-1 (λ = 1.1): use those keys")
        if k > MAX_GATED_ORDER:
            raise ValueError(f"gated products go up to order {MAX_GATED_ORDER}, not {k}")
        object.__setattr__(self, "parts", parts)

    @property
    def k(self) -> int:
        return sum(self.parts)

    @property
    def order(self) -> int:
        return self.k

    @property
    def per_token(self) -> bool:
        return len(self.parts) == 1

    @property
    def mixes_tokens(self) -> bool:
        return not self.per_token

    @property
    def key(self) -> str:
        return "glu" + ".".join(map(str, self.parts))

    @classmethod
    def parse(cls, key: str) -> Gated | None:
        body = key[3:]
        if not key.startswith("glu") or not body or not all(p.isascii() and p.isdigit() for p in body.split(".")):
            return None
        if any(len(p) > 2 for p in body.split(".")):
            raise ValueError(f"gated key {key!r}: parts go up to {MAX_GATED_ORDER}")
        return cls(tuple(int(p) for p in body.split(".")))

    @property
    def symmetry(self) -> Symmetry:
        return token_symmetry(True)

    # ---- structure -------------------------------------------------------------------------------------
    @property
    def vertices(self) -> tuple[tuple[int, ...], ...]:
        """Factor indices m (0-based) of each token vertex, in order."""
        out, m = [], 0
        for n in self.parts:
            out.append(tuple(range(m, m + n)))
            m += n
        return tuple(out)

    def vertex_of(self, m: int) -> int:
        return next(v for v, ms in enumerate(self.vertices) if m in ms)

    def tied_parameters(self) -> list[str]:
        return [f"W{m + 1}" for m in range(self.k)]

    def branch_ends(self, field: str) -> list[tuple[int, str]]:
        return [(m, "src") for m in range(self.k)]

    def branch_inputs(self, branch) -> list[int]:
        return [m for m in range(self.k) if m != branch.edge]

    def output_source(self, branch) -> tuple[str, bool]:
        return self.weight_base(branch.edge), True  # O replaces W_mᵀ

    # ---- printing --------------------------------------------------------------------------------------
    def formula(self, style: str) -> str:
        tokens = [_TOKENS[v] for v in range(len(self.parts))]
        factors = []
        for v, ms in enumerate(self.vertices):
            for m in ms:
                if style == "latex":
                    factors.append(f"(X W_{{{m + 1}}})_{{{tokens[v]}c}}")
                elif style == "text":
                    factors.append(f"(X W{m + 1})_{tokens[v]}c")
                else:
                    factors.append(f"(X W{subscript(m + 1)})_{tokens[v]}c")
        idx = "".join(tokens) + "c"
        head = {"latex": rf"\sum_{{{idx}}} ", "text": f"sum_{idx} "}.get(style, f"Σ_{idx} ")
        return head + " ".join(factors)

    def _inputs(self, branch, style: str) -> str:
        from archsearch.calculus.symbolic import param_display

        dot = " .* " if style == "text" else " ⊙ "
        one = "1 1^T" if style == "text" else "1 1ᵀ"
        v = self.vertex_of(branch.edge)
        local = [f"X {param_display(branch.weight(m), style)}" for m in self.vertices[v] if m != branch.edge]
        pooled = []
        for w, ms in enumerate(self.vertices):
            if w != v:
                inner = dot.join(f"X {param_display(branch.weight(m), style)}" for m in ms)
                pooled.append(f"{one}({inner})")
        return dot.join(local + pooled) or ("1 1^T" if style == "text" else "1 1ᵀ")

    def branch_string(self, branch, style: str, real: bool) -> str:
        from archsearch.calculus.symbolic import param_display

        out = (param_display(branch.output, style) if branch.output
               else param_display(branch.weight(branch.edge), style, True))
        return f"({self._inputs(branch, style)}) {out}"

    def branch_sympy(self, branch, real: bool) -> Any:
        from archsearch.calculus.symbolic import Hadamard, nc

        X, ones = nc("X"), nc("1") * nc("1^T")
        v = self.vertex_of(branch.edge)
        args = [X * nc(branch.weight(m)) for m in self.vertices[v] if m != branch.edge]
        for w, ms in enumerate(self.vertices):
            if w != v:
                inner = [X * nc(branch.weight(m)) for m in ms]
                args.append(ones * (inner[0] if len(inner) == 1 else Hadamard(*inner)))
        out = nc(branch.output) if branch.output else nc(branch.weight(branch.edge) + "^T")
        if not args:
            return ones * out
        return (args[0] if len(args) == 1 else Hadamard(*args)) * out

    # ---- numbers ---------------------------------------------------------------------------------------
    def _vertex_product(self, X, weights: dict, names, ms, skip: int | None = None) -> np.ndarray:
        prod = np.ones_like(X)
        for m in ms:
            if m != skip:
                prod = prod * (X @ weights[names(m)])
        return prod

    def potential(self, X, weights: dict, scale: float | None = None):
        total = np.ones(X.shape[1])
        for ms in self.vertices:
            total = total * self._vertex_product(X, weights, self.weight_base, ms).sum(axis=0)
        return float(total.sum())

    def branch_value(self, branch, X, weights: dict, scale: float | None = None):
        m = branch.edge
        v = self.vertex_of(m)
        local = self._vertex_product(X, weights, branch.weight, self.vertices[v], skip=m)
        for w, ms in enumerate(self.vertices):
            if w != v:
                local = local * self._vertex_product(X, weights, branch.weight, ms).sum(axis=0)
        out = weights[branch.output] if branch.output else weights[branch.weight(m)].T
        return local @ out

    # ---- names and notes -------------------------------------------------------------------------------
    def note(self, field: str, tied: bool) -> str:
        k = self.k
        if self.per_token:
            head = (f"V = Σ_jc Π_m (X W_m)_jc (m = 1..{k}, no centralizer axiom): F = Σ_m (⊙_{{m'≠m}} X W_m') W_mᵀ, "
                    "one branch per factor.")
        else:
            head = (f"V = Σ_c Π_v Σ_j Π_{{m∈v}} (X W_m)_jc with token vertices of sizes {self.parts} (no centralizer "
                    "axiom): factor m at vertex v gives F = (⊙_{m'∈v, m'≠m} X W_m' ⊙ 1 Π_{v'≠v} 1ᵀ(⊙_{m'∈v'} X W_m')) "
                    "W_mᵀ, one branch per factor. Causal: the pooled sums run over tokens ≤ the output token "
                    "(prefix sums).")
        if not tied:
            head += " Untied: branch m has its own input copies and a separate output weight O⁽ᵐ⁾ for W_mᵀ."
        return head + tie_note(tied)

    def recognise(self) -> str | None:
        if self.parts == (1,):
            return "bias (constant field)"
        if self.per_token:
            return "gated MLP (GLU)" if self.k == 3 else f"gated MLP (GLU, {self.k} factors)"
        if all(p == 1 for p in self.parts):
            return "pooled multilinear mixer"
        return "gated pooling mixer"

    # ---- compiled block --------------------------------------------------------------------------------
    def emit(self, note: str, tied: bool, causal: bool, class_name: str, lowrank: bool, chosen: tuple,
             branches: str) -> str:
        from archsearch.compiler.emit import (
            FORWARD_DOC,
            HEAD_PROJECTION,
            Code,
            branch_names,
            full_effective,
            full_parameters,
            wrap,
        )

        names = branch_names(chosen)
        pool = "torch.cumsum({}, dim=2)" if causal else "{}.sum(dim=2, keepdim=True)"
        pool_doc = "prefix sums over tokens ≤ j (causal)" if causal else "sums over all tokens"
        doc = [f"Gated field block (λ = {'.'.join(map(str, self.parts))}, {'tied' if tied else 'untied'}), "
               "summed over heads.", ""]
        doc += wrap(note)
        if self.per_token:
            doc += ["", "Per token (causal changes nothing)."]
        else:
            doc += ["", f"Other token vertices enter through {pool_doc}; linear in N."]
        doc += ["Weights are full (H, C, C); rank is ignored.",
                *wrap("effective_weights(): {" + ", ".join(names) + "} → (H, C, C) tensors.")]
        code = Code.module(class_name, doc)
        full_parameters(code, names)
        code.add("def forward(self, x):", 4)
        code.add(FORWARD_DOC, 8)
        if any(len(self.vertices[self.vertex_of(br.edge)]) == 1 for br in chosen):
            code.add("b, n, c = x.shape", 8)
            code.add("ones = x.new_ones(b, self.heads, n, c)  # the empty product at the output token", 8)
        shared = tied  # tied: every branch reads the same projections
        if shared:
            code.add("# projections p_m = X W_m per head (B, H, N, C)", 8)
            for m in range(self.k):
                code.add(f"p{m + 1} = {HEAD_PROJECTION.format(w=f'W{m + 1}')}", 8)
            if not self.per_token:
                for v, ms in enumerate(self.vertices):
                    prod = " * ".join(f"p{m + 1}" for m in ms)
                    code.add(f"s{v} = {pool.format(f'({prod})')}  # vertex {v}: {pool_doc}", 8)
        for j, br in enumerate(chosen):
            m = br.edge
            v = self.vertex_of(m)
            if not shared:
                code.add(f"# branch {br.index}: factor {m + 1} opened, output {br.output}", 8)
                for i in self.branch_inputs(br):
                    code.add(f"q{i + 1} = {HEAD_PROJECTION.format(w=br.weight(i))}", 8)
            proj = "p" if shared else "q"
            factors = [f"{proj}{i + 1}" for i in self.vertices[v] if i != m] or ["ones"]
            for w, ms in enumerate(self.vertices):
                if w == v:
                    continue
                if shared:
                    factors.append(f"s{w}")
                else:
                    prod = " * ".join(f"q{i + 1}" for i in ms)
                    factors.append(pool.format(f"({prod})"))
            inner = " * ".join(factors)
            if br.output:
                line = f'torch.einsum("bhnd,hdc->bnc", {inner}, self.{br.output})'
            else:
                line = f'torch.einsum("bhnd,hcd->bnc", {inner}, self.W{m + 1})'
            code.accumulate(line, j == 0)
        code.add("return out", 8)
        code.add()
        full_effective(code, names)
        return code.render()
