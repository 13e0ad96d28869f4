"""Axioms: which potentials V(X), X ∈ F^{N×C}, are admissible.

left  = "perm"     V(PX) = V(X) for permutations P (every contraction diagram is admissible);
        "unitary"  V(UX) = V(X) for U ∈ U(N) (only disjoint unions of directed cycles: traces).
right = "centralizer"  V depends on X only through edges G = X W X*;
        "none"         also per-token (gated) products Σ_{j,c} Π_m (X W_m)_{jc}.
weights = "free"      a free weight per edge; families up to edge relabelling (and reversal,
                      W → Wᵀ, in the real field);
          "labelled"  one distinguishable weight per edge (W₁ … W_d), no relabelling, no reversal;
          "alphabet"  edges carry letters of a named alphabet; letters listed as symmetric
                      (real field) may be reversed.
"""

from __future__ import annotations

from dataclasses import dataclass

LEFT = ("perm", "unitary")
RIGHT = ("centralizer", "none")
FIELDS = ("real", "complex")
WEIGHTS = ("free", "labelled", "alphabet")


@dataclass(frozen=True)
class Axioms:
    """The symmetry axioms and the order range of an enumeration."""

    left: str = "perm"
    right: str = "centralizer"
    field: str = "real"
    max_order: int = 4
    min_order: int = 2
    connected: bool = True
    weights: str = "free"
    alphabet: tuple[str, ...] = ()
    symmetric: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.left not in LEFT:
            raise ValueError(f"left must be one of {', '.join(LEFT)}, not {self.left!r}")
        if self.right not in RIGHT:
            raise ValueError(f"right must be one of {', '.join(RIGHT)}, not {self.right!r}")
        if self.field not in FIELDS:
            raise ValueError(f"field must be one of {', '.join(FIELDS)}, not {self.field!r}")
        if self.weights not in WEIGHTS:
            raise ValueError(f"weights must be one of {', '.join(WEIGHTS)}, not {self.weights!r}")
        if not (isinstance(self.max_order, int) and isinstance(self.min_order, int)):
            raise ValueError("orders must be integers")
        if self.min_order < 1 or self.max_order < self.min_order:
            raise ValueError(f"need 1 <= min_order <= max_order, got {self.min_order}..{self.max_order}")
        if self.max_order > 16:
            raise ValueError(f"max_order {self.max_order} is above the supported 16")
        if self.weights == "alphabet":
            if not self.alphabet:
                raise ValueError("weights = 'alphabet' needs at least one letter")
            for letter in self.alphabet:
                if not is_letter(letter):
                    raise ValueError(
                        f"alphabet letter {letter!r} must be an uppercase letter followed by lowercase letters"
                    )
            if len(set(self.alphabet)) != len(self.alphabet):
                raise ValueError("alphabet letters must be distinct")
            unknown = set(self.symmetric) - set(self.alphabet)
            if unknown:
                raise ValueError(f"symmetric letters {sorted(unknown)} are not in the alphabet")
        elif self.alphabet or self.symmetric:
            raise ValueError("alphabet/symmetric letters need weights = 'alphabet'")

    @property
    def polynomial_orders(self) -> range:
        """Even orders 2d of the contraction diagrams in range."""
        lo = max(2, self.min_order + (self.min_order % 2))
        return range(lo, self.max_order + 1, 2)

    def reversible(self, letter: str) -> bool:
        """Whether an edge carrying ``letter`` equals its reversal as a function of X.

        Real field: G = X W Xᵀ with W → Wᵀ is G ↦ Gᵀ, a symmetry for free and symmetric weights.
        Complex field: G_kj = x_k W x_j* is not a polynomial in x_j alone, so never.
        """
        if self.field != "real":
            return False
        if self.weights == "free":
            return True
        return letter in self.symmetric


def is_letter(name: str) -> bool:
    """Letters are an uppercase ASCII letter followed by lowercase ASCII letters (A, B, Wq, …)."""
    return (
        bool(name)
        and name[0].isascii()
        and name[0].isupper()
        and all(ch.isascii() and ch.islower() for ch in name[1:])
    )
