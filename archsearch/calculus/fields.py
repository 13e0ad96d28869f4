"""Fields of potentials: F(X) = ∂V/∂X̄ (complex, Wirtinger) or ∇_X V (real), as sums of branches.

A term's field is a sum of *branches*, each one opened copy of the term. For a contraction diagram
V(X) = Σ_{vertices} Π_e (G_e)_{src(e),dst(e)}, (G_e)_{jk} = x_j W_e x_k*, a branch is the diagram with
one endpoint opened (that endpoint's token index and feature index left free):

* complex field: X and X̄ are independent (Wirtinger); only the X* end (``"dst"``) of each edge
  depends on X̄, so there is one branch per edge: opening edge e at its dst gives (x_src W_e)_c.
* real field: every endpoint depends on X: two branches per edge, the dst end (x_src W_e) and
  the src end (x_dst W_eᵀ).

The other families say which branches they have and what each computes (archsearch.families: the
softmax P X W₁ᵀ and Pᵀ X W₁ branches, one branch per factor of a gated product, …).

Tied fields share each weight across branches (F is exactly the gradient of V, for a family with a
potential). Untied fields give every branch its own copy of every weight it uses (``W1_b0``,
``A_b2``; the non-polynomial families also get a separate output weight ``O_b…`` / ``B_b…``), as
Transformers have separate Q, K, V, O; such a field is in general not a gradient.

No torch here: evaluation is in :mod:`archsearch.calculus.evaluate` (numpy), printing in
:mod:`archsearch.calculus.symbolic` (sympy).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from archsearch.families import Diagram, Family

Term = Family
FIELDS = ("real", "complex")
ENDS = ("dst", "src")


def tied_parameters(term: Term) -> list[str]:
    """Weight names of the tied field (= of the potential), in a stable order."""
    return term.tied_parameters()


def symmetric_letters(term: Term) -> frozenset[str]:
    """Weights declared symmetric (a diagram's letters stored on unoriented edges)."""
    return term.symmetric_parameters()


def _copy(name: str, index: int | None) -> str:
    return name if index is None else f"{name}_b{index}"


@dataclass(frozen=True)
class Branch:
    """One opened copy of a term.

    term:  the term.
    edge:  diagrams: the index of the opened edge in ``term.rep``; gated products: the factor m
           (0-based) whose projection W_m becomes the output weight; the other families: 0.
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
        if (self.edge, self.end) not in self.term.branch_ends("real"):
            raise ValueError(f"no branch ({self.edge}, {self.end!r}) in {self.term.key!r}")

    @property
    def tied(self) -> bool:
        return self.index is None

    def weight(self, i: int) -> str:
        """Parameter name this branch uses for weight i (rep edge i; factor i of a gated product)."""
        return _copy(self.term.weight_base(i), self.index)

    @property
    def output(self) -> str | None:
        """Untied non-polynomial branches: the separate output weight (``O_b…``, ``B_b…``)."""
        base = self.term.output_base
        return None if self.index is None or base is None else _copy(base, self.index)

    @property
    def vertex(self) -> int:
        """Diagrams: the rep vertex of the opened endpoint (the free token index)."""
        if not isinstance(self.term, Diagram):
            raise TypeError(f"a {self.term.kind} branch has no vertex: only diagram branches open a token index")
        return self.term.branch_vertex(self.edge, self.end)

    def parameters(self) -> list[str]:
        """The parameter names this branch uses, in a stable order."""
        indices: Sequence[int]
        if self.output is None:
            indices = self.term.weight_indices()
        else:
            indices = self.term.branch_inputs(self)
        out = list(dict.fromkeys(self.weight(i) for i in indices))
        return out + ([self.output] if self.output else [])

    def parameter_sources(self) -> dict[str, tuple[str, bool]]:
        """Each parameter of this branch → (the tied weight it copies, whether transposed).

        Setting every untied parameter to its source (transposed where flagged) reproduces the
        tied branch exactly."""
        out = {}
        for name in self.parameters():
            if name == self.output:
                out[name] = self.term.output_source(self)
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
        return list(dict.fromkeys(name for b in self.branches for name in b.parameters()))

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

    tied=True: all branches share the weights, so the field is exactly the gradient of V (for a
    family with a potential). tied=False: each branch has its own copy of every weight it uses
    (generally not a gradient). The families say which fields they are defined in.
    """
    if field not in FIELDS:
        raise ValueError(f"field must be 'real' or 'complex', not {field!r}")
    if not isinstance(term, Family):
        raise TypeError(f"cannot derive a field for {term!r}: not a term")
    if field not in term.symmetry.fields:
        raise ValueError(
            f"the {term.family} term {term.key!r} is defined for the real field only "
            "(its potential is not a function of edges X W X*); use field='real'"
        )
    ends = term.branch_ends(field)
    branches = tuple(Branch(term, e, end, None if tied else b) for b, (e, end) in enumerate(ends))
    return Field(term, field, tied, branches, term.has_potential, term.note(field, tied))
