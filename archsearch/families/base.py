"""What every term family declares: its symmetry, its weights and branches, its numbers, its prints,
its name, its cost and its compiled block. One subclass of :class:`Family` per family
(archsearch/families/*.py); nothing outside the family's own module branches on its type.

Symmetry is declared, not inferred, and tested numerically (archsearch.testing):

* ``left``: the largest group G acting on the tokens, X → g X, under which the potential is
  invariant (families without a potential: under which the field is equivariant, F(gX) = g F(X)).
  The groups are nested, S_N ⊂ O(N) ⊂ U(N), so invariance under a larger group implies it under a
  smaller: "perm" (S_N) < "orthogonal" (O(N), real X) < "unitary" (U(N): the potential, written
  through edges X W X*, is U(N)-invariant for complex X; its restriction to real X is then
  O(N)-invariant).
* ``centralizer``: V depends on X only through the edges G = X W X* (the paper's Axiom 3), so
  V(X R*) = V(X) for every unitary R that commutes with the weights.
* ``fields``: the scalar fields ("real", "complex") the family is defined in.
* ``potential``: whether the field is the gradient of a potential (False: CoLU, activated GLU).

No torch here: compiled blocks are Python source strings, generated on request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from archsearch.calculus.fields import Branch
    from archsearch.enumeration.axioms import Axioms

#: left groups in increasing size: invariance under a later one implies invariance under the earlier
GROUPS = ("perm", "orthogonal", "unitary")
GROUP_NAMES = {"perm": "S_N", "orthogonal": "O(N)", "unitary": "U(N)"}
_SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def subscript(i: int) -> str:
    """Unicode subscript digits: 12 → ₁₂."""
    return str(i).translate(_SUB)


#: the tied sentence of a causal block's note (the mask breaks the symmetry of the Jacobian)
CAUSAL_TIE = (" Tied: all branches share the weights; causal: future tokens are masked, so the field is not "
              "the gradient of a potential (its Jacobian is not symmetric).")


def tie_note(tied: bool) -> str:
    """The sentence every field note ends with: what tied or untied weights mean."""
    if tied:
        return " Tied: all branches share the weights, so the field is exactly the gradient of V."
    return (
        " Untied: each branch has its own copy of every weight it uses (named …_b0, …_b1, …), as practical "
        "Transformers have separate Q, K, V, O; the field is then in general not the gradient of a potential."
    )


@dataclass(frozen=True)
class Symmetry:
    """The symmetry a family declares (see the module docstring)."""

    left: str
    centralizer: bool
    fields: frozenset[str]
    potential: bool

    def __post_init__(self) -> None:
        if self.left not in GROUPS:
            raise ValueError(f"left group must be one of {', '.join(GROUPS)}, not {self.left!r}")

    def invariant_under(self, left: str) -> bool:
        """Whether the declared left group contains ``left`` (S_N ⊂ O(N) ⊂ U(N))."""
        return GROUPS.index(self.left) >= GROUPS.index(left)

    def violations(self, axioms: Axioms) -> list[tuple[str, str]]:
        """(axiom, reason) for every axiom of ``axioms`` this symmetry does not meet, [] if admissible
        (for the field: the fields it needs)."""
        out = []
        if axioms.field not in self.fields:
            out.append(("field", " or ".join(f'field = "{f}"' for f in sorted(self.fields))))
        if not self.invariant_under(axioms.left):
            out.append(("left", f"is not invariant under left = {axioms.left} (it is only "
                                f"{GROUP_NAMES[self.left]}-invariant); use left = {self.left}"))
        if axioms.right == "centralizer" and not self.centralizer:
            out.append(("right", "does not respect the right centralizer action (V depends on X W, not only "
                                 'on the edges X W X*); use right = "none" (with left = "perm")'))
        return out


@dataclass(frozen=True)
class CompiledParts:
    """What a family's compiler returns: the module source, its plans and its big-O cost."""

    source: str
    cost: str
    plan: Any = None
    plans: tuple = ()


@dataclass(frozen=True)
class Named:
    """A family a grammar names: the term, the [families] key that names it and its list index."""

    term: Family
    key: str
    index: int | None = None


class Family:
    """A family of potential terms V(X) (one frozen dataclass per concrete family).

    Subclasses set ``kind`` and implement the abstract methods; the defaults below fit the
    non-polynomial families, which are defined in the real field and have untied output weights.
    """

    #: registry name of the family ("diagram", "softmax", …)
    kind: ClassVar[str] = ""
    #: name of an untied branch's separate output weight ("O", "B"); None: no output weight
    output_base: ClassVar[str | None] = "O"
    #: whether the block has the paper's single-branch variant (softmax: P X W₁ᵀ only)
    has_paper_branch: ClassVar[bool] = False

    # ---- identity ------------------------------------------------------------------------------------
    @property
    def key(self) -> str:
        """The canonical term id (what ``enumerate`` prints and ``show`` reads)."""
        raise NotImplementedError

    @property
    def family(self) -> str:
        return self.kind

    @property
    def order(self) -> int:
        """Polynomial order in X; 0 for the non-polynomial families (sorted after the polynomials)."""
        return 0

    @property
    def symmetry(self) -> Symmetry:
        raise NotImplementedError

    @property
    def has_potential(self) -> bool:
        return self.symmetry.potential

    @classmethod
    def named(cls, families: Any) -> list[Named]:
        """The members of this family a grammar's [families] table names (grammar.model.Families)."""
        return []

    @classmethod
    def parse(cls, key: str) -> Family | None:
        """The family member with this key, None if the key is not of this family; ValueError if it is
        of this family but malformed."""
        raise NotImplementedError

    # ---- printing of the potential -------------------------------------------------------------------
    def formula(self, style: str) -> str:
        """V(X) in ``style`` ("unicode", "text" or "latex")."""
        raise NotImplementedError

    def unicode(self) -> str:
        return self.formula("unicode")

    def text(self) -> str:
        return self.formula("text")

    def latex(self) -> str:
        return self.formula("latex")

    def short(self) -> str:
        return self.formula("unicode")

    def __str__(self) -> str:
        return self.unicode()

    # ---- weights and branches ------------------------------------------------------------------------
    def weight_base(self, i: int) -> str:
        """The tied name of weight i (W1, W2, …)."""
        return f"W{i + 1}"

    def tied_parameters(self) -> list[str]:
        """Weight names of the tied field (= of the potential), in a stable order."""
        return [self.weight_base(0)]

    def weight_indices(self) -> range:
        """Indices i of the weights (``weight_base(i)``) a tied branch uses."""
        return range(len(self.tied_parameters()))

    def symmetric_parameters(self) -> frozenset[str]:
        """Tied weights that are symmetric (Hermitian) by declaration."""
        return frozenset()

    def branch_ends(self, field: str) -> list[tuple[int, str]]:
        """(edge, end) of each branch of the field in ``field``."""
        raise NotImplementedError

    def branch_inputs(self, branch: Branch) -> list[int]:
        """Indices of the weights an untied branch copies (all but the one its output weight replaces)."""
        return [0]

    def output_source(self, branch: Branch) -> tuple[str, bool]:
        """(tied weight, transposed?) that an untied branch's output weight stands for."""
        return self.weight_base(0), True

    def note(self, field: str, tied: bool) -> str:
        """What the field is, in words (and where the literature differs)."""
        raise NotImplementedError

    # ---- numbers (numpy, float64 / complex128) -------------------------------------------------------
    def potential(self, X: np.ndarray, weights: dict, scale: float | None = None) -> Any:
        """V(X) for tied weights (names as :meth:`tied_parameters`)."""
        raise NotImplementedError

    def branch_value(self, branch: Branch, X: np.ndarray, weights: dict, scale: float | None = None) -> np.ndarray:
        """One branch's value (N×C); weights named as the branch's parameters."""
        raise NotImplementedError

    # ---- printing of the field -----------------------------------------------------------------------
    def branch_string(self, branch: Branch, style: str, real: bool) -> str:
        raise NotImplementedError

    def branch_sympy(self, branch: Branch, real: bool) -> Any:
        raise NotImplementedError

    def index_form_field(self) -> bool:
        """Whether the field prints as an entry F_jc = Σ … (not as a matrix expression)."""
        return False

    @property
    def mixes_tokens(self) -> bool:
        """Whether the field at a token reads other tokens (so a causal mask changes it, and the masked
        field is no gradient); False for the per-token families."""
        return True

    def default_field(self) -> str:
        """The field ``show`` derives in when none is asked for."""
        return "real"

    # ---- names, costs, compiled blocks ---------------------------------------------------------------
    def recognise(self) -> str | None:
        """The established name of the block this term's field is, None if it has none."""
        return None

    def cost(self, field: str, tied: bool, causal: bool, sizes: Any, lowrank: bool) -> str:
        """The big-O cost of the compiled block at the declared sizes."""
        raise NotImplementedError

    def compile(self, field: str, tied: bool, causal: bool, class_name: str, sizes: Any, lowrank: bool,
                naive: bool) -> CompiledParts:
        """The PyTorch module source of this term's field (see archsearch.compiler.block)."""
        raise NotImplementedError

    def emit(self, note: str, tied: bool, causal: bool, class_name: str, lowrank: bool, chosen: tuple,
             branches: str) -> str:
        """The hand-written block's source of a non-diagram family (archsearch.compiler.families; diagrams go
        through the contraction plans instead)."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """Extra fields for ``archsearch show --format json``."""
        return {}
