"""Axioms: which potentials V(X), X ∈ F^{N×C}, are admissible.

left  = "perm"        V(PX) = V(X) for permutations P (every contraction diagram is admissible);
        "orthogonal"  V(OX) = V(X) for O ∈ O(N), real field: every vertex has two endpoints, i.e.
                      products of traces of words in the edges and their transposes (G_A, G_Aᵀ);
        "unitary"     V(UX) = V(X) for U ∈ U(N): only disjoint unions of directed cycles (traces of
                      words in the edges). In the real field this means: the restriction to real X
                      of a U(N)-invariant potential of the edges X W X* — words without transposes of
                      non-symmetric letters. The group acting on real X is O(N), whose invariants
                      are the larger "orthogonal" list; with free or symmetric weights both coincide.
right = "centralizer"  V depends on X only through edges G = X W X*;
        "none"         every S_N-invariant polynomial in X up to the order: the diagrams plus the
                       multilinear products V_λ = Σ_c Π_v Σ_j Π_{m∈v} (X W_m)_jc, one per integer
                       partition λ of each order k ≠ 2 (archsearch.families.gated), odd orders and
                       order 1 included (left = "perm", real field).
weights = "free"      a free weight per edge; families up to edge relabelling (and reversal,
                      W → Wᵀ, in the real field);
          "labelled"  one distinguishable weight per edge (W₁ … W_d), no relabelling, no reversal;
          "alphabet"  edges carry letters of a named alphabet; letters listed as symmetric
                      (real field) may be reversed.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as spec

from archsearch.enumeration.limits import MAX_ALPHABET

LEFT = ("perm", "orthogonal", "unitary")
RIGHT = ("centralizer", "none")
FIELDS = ("real", "complex")
WEIGHTS = ("free", "labelled", "alphabet")
MAX_ORDER = 16


@dataclass(frozen=True)
class Axioms:
    """The symmetry axioms and the order range of an enumeration."""

    left: str = spec(default="perm", metadata={"choices": LEFT})
    right: str = spec(default="centralizer", metadata={"choices": RIGHT})
    field: str = spec(default="real", metadata={"choices": FIELDS})
    max_order: int = spec(default=4, metadata={"low": 1, "high": MAX_ORDER, "required": True})
    min_order: int = spec(default=2, metadata={"low": 1})
    connected: bool = True
    weights: str = spec(default="free", metadata={"choices": WEIGHTS})
    alphabet: tuple[str, ...] = spec(default=(), metadata={"what": "letter"})
    symmetric: frozenset[str] = spec(default=frozenset(), metadata={"what": "letter"})

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
        if self.max_order > MAX_ORDER:
            raise ValueError(f"max_order {self.max_order} is above the supported {MAX_ORDER}")
        if self.left == "orthogonal" and self.field != "real":
            raise ValueError('left = "orthogonal" is the real group O(N); for the complex field use left = "unitary"')
        if self.right == "none" and (self.left != "perm" or self.field != "real"):
            raise ValueError('right = "none" needs left = "perm" and field = "real": the products of projections '
                             "X W_m it adds are only S_N-invariant, and real")
        if self.weights == "alphabet":
            if not self.alphabet:
                raise ValueError("weights = 'alphabet' needs at least one letter")
            if len(self.alphabet) > MAX_ALPHABET:
                raise ValueError(f"an alphabet has at most {MAX_ALPHABET} letters, not {len(self.alphabet)} (the "
                                 "terms grow like letters^order)")
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

    @property
    def gated_orders(self) -> tuple[int, ...]:
        """Orders k of the multilinear products right = "none" adds (every order from 1 but 2, whose
        products are the diagrams 0-0 and 0-1)."""
        if self.right != "none":
            return ()
        return tuple(k for k in range(max(1, self.min_order), self.max_order + 1) if k != 2)

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
