"""Fields of potentials: F(X) = ∂V/∂X̄ (complex, Wirtinger) or ∇_X V (real), as sums of branches.

A contraction diagram V(X) = Σ_{vertices} Π_e (G_e)_{src(e),dst(e)}, (G_e)_{jk} = x_j W_e x_k*, is
read off its oriented representative ``Diagram.rep``. Its field is a sum of *branches*: the
diagram with one endpoint opened (that endpoint's token index and feature index left free).

* complex field: X and X̄ are independent (Wirtinger); only the X* end (``"dst"``) of each edge
  depends on X̄, so there is one branch per edge: opening edge e at its dst gives (x_src W_e)_c.
* real field: every endpoint depends on X: two branches per edge, the dst end (x_src W_e) and
  the src end (x_dst W_eᵀ).

Tied fields share each weight across branches (F is exactly the gradient of V). Untied fields
give every branch its own copy of every weight it uses (``W1_b0``, ``A_b2``; the non-polynomial
families also get a separate output weight ``O_b…`` / ``B_b…``), as Transformers have separate
Q, K, V, O; such a field is in general not a gradient.

The named non-polynomial families (real field only):

* ``Softmax``   V = Σ_j log Σ_k exp(S_jk), S = X W₁ Xᵀ/√C_A, P = row-softmax(S):
                F = P X W₁ᵀ/√C_A + Pᵀ X W₁/√C_A (two branches; the paper keeps the first).
* ``Entrywise`` V = Σ_jk f(S_jk): F = f'(S) X W₁ᵀ/√C_A + f'(S)ᵀ X W₁/√C_A.
* ``Conic``     V = ½‖π(X A)‖² (relu, soc): F = π(X A) Aᵀ; CoLU has no potential, F = CoLU(X A) Aᵀ.
* ``Gated(k)``  V = Σ_{j,c} Π_m (X W_m)_jc: F = Σ_m (⊙_{m'≠m} X W_m') W_mᵀ.

No torch here: evaluation is in :mod:`archsearch.calculus.evaluate` (numpy), printing in
:mod:`archsearch.calculus.symbolic` (sympy).
"""

from __future__ import annotations

from dataclasses import dataclass

from archsearch.terms import Conic, Diagram, Entrywise, Gated, Softmax, Term

FIELDS = ("real", "complex")
ENDS = ("dst", "src")

#: f'(x) of each entrywise function f (display name): V = Σ f(S_jk) ⇒ F uses f'(S).
ENTRYWISE_DERIVATIVE = {"exp": "exp", "cosh": "sinh", "logcosh": "tanh", "softplus": "sigmoid"}


def weight_base(term: Term, i: int) -> str:
    """The tied name of weight i: for a diagram rep edge i its letter, else ``W{i+1}``.

    (For lettered diagrams this reads the letter of ``rep[i]``: the rep walk may reorder edges.)
    """
    if isinstance(term, Diagram):
        return term.rep[i].letter or f"W{i + 1}"
    if isinstance(term, Conic):
        return "A"
    return f"W{i + 1}"


def tied_parameters(term: Term) -> list[str]:
    """Weight names of the tied field (= of the potential), in a stable order (first use in rep order)."""
    if isinstance(term, Diagram):
        out: list[str] = []
        for i in range(term.degree):
            name = weight_base(term, i)
            if name not in out:
                out.append(name)
        return out
    if isinstance(term, (Softmax, Entrywise)):
        return ["W1"]
    if isinstance(term, Conic):
        return ["A"]
    if isinstance(term, Gated):
        return [f"W{m + 1}" for m in range(term.k)]
    raise TypeError(f"not a term: {term!r}")


def symmetric_letters(term: Term) -> frozenset[str]:
    """Letters of a diagram stored on unoriented edges: symmetric weights (real field alphabet)."""
    if isinstance(term, Diagram):
        return frozenset(e.letter for e in term.edges if e.letter and not e.oriented)
    return frozenset()


def _copy(name: str, index: int | None) -> str:
    return name if index is None else f"{name}_b{index}"


@dataclass(frozen=True)
class Branch:
    """One opened copy of a term.

    term:  the term.
    edge:  diagrams: the index of the opened edge in ``term.rep``; Gated: the factor m (0-based)
           whose projection W_m becomes the output weight; Softmax/Entrywise/Conic: 0.
    end:   "dst" (the X* end: x_src W) or "src" (the X end: x_dst Wᵀ, real field only). For
           Softmax/Entrywise "src" is the P X Wᵀ branch and "dst" the Pᵀ X W branch.
    index: None for a tied branch (weights shared, named as in the potential); b for an untied
           branch, whose weights are its own copies named ``{name}_b{b}``.
    """

    term: Term
    edge: int
    end: str
    index: int | None = None

    def __post_init__(self) -> None:
        if self.end not in ENDS:
            raise ValueError(f"end must be 'dst' or 'src', not {self.end!r}")
        if isinstance(self.term, Diagram) and not 0 <= self.edge < self.term.degree:
            raise ValueError(f"edge {self.edge} out of range for a diagram with {self.term.degree} edges")

    @property
    def tied(self) -> bool:
        return self.index is None

    def weight(self, i: int) -> str:
        """Parameter name this branch uses for weight i (rep edge i; factor i of Gated)."""
        return _copy(weight_base(self.term, i), self.index)

    @property
    def output(self) -> str | None:
        """Untied non-polynomial branches: the separate output weight (``O_b…``, ``B_b…`` for conic)."""
        if self.index is None or isinstance(self.term, Diagram):
            return None
        return _copy("B" if isinstance(self.term, Conic) else "O", self.index)

    @property
    def vertex(self) -> int:
        """Diagrams: the rep vertex of the opened endpoint (the free token index)."""
        if not isinstance(self.term, Diagram):
            raise TypeError("only diagram branches have an opened vertex")
        e = self.term.rep[self.edge]
        return e.dst if self.end == "dst" else e.src

    def parameters(self) -> list[str]:
        """The parameter names this branch uses, in a stable order."""
        t = self.term
        if isinstance(t, Diagram):
            out: list[str] = []
            for i in range(t.degree):
                if self.weight(i) not in out:
                    out.append(self.weight(i))
            return out
        if isinstance(t, (Softmax, Entrywise, Conic)):
            return [self.weight(0)] if self.index is None else [self.weight(0), self.output]
        if isinstance(t, Gated):
            if self.index is None:
                return [self.weight(m) for m in range(t.k)]
            return [self.weight(m) for m in range(t.k) if m != self.edge] + [self.output]
        raise TypeError(f"not a term: {t!r}")

    def parameter_sources(self) -> dict[str, tuple[str, bool]]:
        """Each parameter of this branch → (the tied weight it copies, whether transposed).

        Setting every untied parameter to its source (transposed where flagged) reproduces the
        tied branch exactly."""
        t = self.term
        out = {}
        for name in self.parameters():
            if name == self.output:
                if isinstance(t, Gated):
                    out[name] = (weight_base(t, self.edge), True)  # O replaces W_mᵀ
                elif isinstance(t, Conic):
                    out[name] = (weight_base(t, 0), True)  # B replaces Aᵀ
                else:
                    out[name] = (weight_base(t, 0), self.end == "src")  # P X Wᵀ  /  Pᵀ X W
            else:
                out[name] = (name if self.index is None else name.rsplit("_b", 1)[0], False)
        return out


@dataclass(frozen=True)
class Field:
    """The field of a term: the sum of its branches.

    field: "real" (∇_X V) or "complex" (∂V/∂X̄, Wirtinger).
    tied:  branches share the weights (the field is exactly the gradient of V) or not.
    has_potential: whether the term has a potential at all (False for CoLU).
    note:  what the field is, in words (and where the literature differs).
    """

    term: Term
    field: str
    tied: bool
    branches: tuple[Branch, ...]
    has_potential: bool
    note: str

    @property
    def is_gradient(self) -> bool:
        """Whether the field is exactly the gradient of the term's potential (tied, with a potential)."""
        return self.tied and self.has_potential

    def parameters(self) -> list[str]:
        """Weight names (each a C×C matrix), stable order: tied — first use in rep order;
        untied — branch by branch."""
        out: list[str] = []
        for b in self.branches:
            for name in b.parameters():
                if name not in out:
                    out.append(name)
        return out

    def parameter_sources(self) -> dict[str, tuple[str, bool]]:
        """Each parameter → (tied weight it copies, transposed?). Identity for a tied field."""
        out: dict[str, tuple[str, bool]] = {}
        for b in self.branches:
            out.update(b.parameter_sources())
        return out

    def untie_weights(self, tied_weights: dict) -> dict:
        """Values for this field's parameters with every copy equal to its tied weight (transposed
        where the copy stands for Wᵀ): the untied field then equals the tied one."""
        out = {}
        for name, (source, transposed) in self.parameter_sources().items():
            if source not in tied_weights:
                raise KeyError(f"missing tied weight {source!r} (for {name!r})")
            w = tied_weights[source]
            out[name] = w.T if transposed else w
        return out

    # ---- printing (sympy; see archsearch.calculus.symbolic) --------------------------------------
    def sympy(self):
        """The field as a sympy expression (non-commutative symbols for words, index sums otherwise)."""
        from archsearch.calculus.symbolic import field_sympy

        return field_sympy(self)

    def latex(self) -> str:
        from archsearch.calculus.symbolic import field_latex

        return field_latex(self)

    def unicode(self) -> str:
        from archsearch.calculus.symbolic import field_string

        return field_string(self, "unicode")

    def text(self) -> str:
        from archsearch.calculus.symbolic import field_string

        return field_string(self, "text")

    def __str__(self) -> str:
        return self.unicode()


# --------------------------------------------------------------------------------------------------
# Derivation
# --------------------------------------------------------------------------------------------------


def derive(term: Term, field: str = "real", tied: bool = True) -> Field:
    """The field of ``term``: ∇_X V (field="real") or ∂V/∂X̄ (field="complex", Wirtinger).

    tied=True: all branches share the weights, so the field is exactly the gradient of V.
    tied=False: each branch has its own copy of every weight it uses (generally not a gradient).
    Non-polynomial families (Softmax, Entrywise, Conic, Gated) are defined for the real field only.
    """
    if field not in FIELDS:
        raise ValueError(f"field must be 'real' or 'complex', not {field!r}")
    if isinstance(term, Diagram):
        return _derive_diagram(term, field, tied)
    if not isinstance(term, (Softmax, Entrywise, Conic, Gated)):
        raise TypeError(f"cannot derive a field for {term!r}: not a term")
    if field != "real":
        raise ValueError(
            f"the {term.family} term {term.key!r} is defined for the real field only "
            "(its potential is not a function of edges X W X*); use field='real'"
        )
    if isinstance(term, Conic) and term.projection not in ("relu", "soc", "colu"):
        raise ValueError(f"unknown conic projection {term.projection!r} (known: relu, soc, colu)")
    if isinstance(term, Entrywise) and term.fn not in ENTRYWISE_DERIVATIVE:
        raise ValueError(f"unknown entrywise function {term.fn!r} (known: {', '.join(ENTRYWISE_DERIVATIVE)})")
    if isinstance(term, (Softmax, Entrywise)):
        ends = [(0, "src"), (0, "dst")]
    elif isinstance(term, Conic):
        ends = [(0, "src")]
    else:
        ends = [(m, "src") for m in range(term.k)]
    branches = tuple(Branch(term, e, end, None if tied else b) for b, (e, end) in enumerate(ends))
    return Field(term, field, tied, branches, term.has_potential, _note(term, field, tied))


def _derive_diagram(d: Diagram, field: str, tied: bool) -> Field:
    ends = [(i, "dst") for i in range(d.degree)]
    if field == "real":
        ends += [(i, "src") for i in range(d.degree)]
    branches = tuple(Branch(d, i, end, None if tied else b) for b, (i, end) in enumerate(ends))
    return Field(d, field, tied, branches, True, _note(d, field, tied))


_UNTIED = (
    " Untied: each branch has its own copy of every weight it uses (named …_b0, …_b1, …), as practical "
    "Transformers have separate Q, K, V, O; the field is then in general not the gradient of a potential."
)


def _note(term: Term, field: str, tied: bool) -> str:
    tie = (
        " Tied: all branches share the weights, so the field is exactly the gradient of V."
        if tied
        else _UNTIED
    )
    if isinstance(term, Diagram):
        if field == "complex":
            head = (
                f"F = ∂V/∂X̄ (Wirtinger: X and X̄ independent): the sum over the {term.degree} X* endpoints "
                "of the diagram with that endpoint opened (edge e opened at its X* end gives x_src W_e)."
            )
        else:
            head = (
                f"F = ∇_X V: the sum over all {term.order} endpoints of the diagram with that endpoint "
                "opened (X* end of edge e: x_src W_e; X end: x_dst W_eᵀ)."
            )
        return head + tie
    if isinstance(term, Softmax):
        head = (
            "V = Σ_j log Σ_k exp(S_jk), S = X W₁ Xᵀ/√C_A, P = row-softmax(S). The full gradient keeps both "
            "branches, F = P X W₁ᵀ/√C_A + Pᵀ X W₁/√C_A (as tied energies do, cf. Energy Transformer, Hoover "
            "et al. 2023). The paper keeps only the first branch, P X W₁ᵀ ('softmax attention'), which is "
            "not the gradient of V (not even for a symmetric W₁ up to a factor: Pᵀ ≠ P)."
        )
        if not tied:
            head += " Untied branch b: P⁽ᵇ⁾ = row-softmax(X W₁⁽ᵇ⁾ Xᵀ/√C_A) and a separate output weight O⁽ᵇ⁾."
        return head + tie
    if isinstance(term, Entrywise):
        fp = ENTRYWISE_DERIVATIVE[term.fn]
        head = (
            f"V = Σ_jk {term.fn}(S_jk), S = X W₁ Xᵀ/√C_A. F = {fp}(S) X W₁ᵀ/√C_A + {fp}(S)ᵀ X W₁/√C_A "
            f"({fp} = {term.fn}′ entrywise; both branches of the gradient)."
        )
        if not tied:
            head += " Untied branch b: S⁽ᵇ⁾ = X W₁⁽ᵇ⁾ Xᵀ/√C_A and a separate output weight O⁽ᵇ⁾."
        return head + tie
    if isinstance(term, Conic):
        if term.projection == "relu":
            head = (
                "V = ½ Σ_j ‖relu(x_j A)‖², F = relu(X A) Aᵀ (relu is the orthogonal projection onto the "
                "orthant, and ∇½‖π_K(y)‖² = π_K(y) by Moreau)."
            )
        elif term.projection == "soc":
            head = (
                f"V = ½‖π(X A)‖², π the orthogonal projection onto the product of Lorentz cones of size "
                f"{term.cone_size} along the features; F = π(X A) Aᵀ (Moreau: ∇½‖π_K(y)‖² = π_K(y)). "
                f"C must be divisible by {term.cone_size}."
            )
        else:
            head = (
                f"No potential: CoLU (cones of size {term.cone_size}) is a skew projection onto the Lorentz "
                "cone, its Jacobian is not symmetric, so no potential exists; the field F = CoLU(X A) Aᵀ is "
                f"defined directly. C must be divisible by {term.cone_size}."
            )
        if not tied:
            head += " Untied: Aᵀ is replaced by a separate weight B."
        return head + (tie if term.has_potential or not tied else "")
    k = term.k
    head = (
        f"V = Σ_jc Π_m (X W_m)_jc (m = 1..{k}, no centralizer axiom): F = Σ_m (⊙_{{m'≠m}} X W_m') W_mᵀ, "
        f"one branch per factor."
    )
    if not tied:
        head += " Untied: branch m has its own input copies and a separate output weight O⁽ᵐ⁾ for W_mᵀ."
    return head + tie
