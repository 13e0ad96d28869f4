"""What the per-token families share (conic projections, activation MLPs, gated products, GLUs).

Their potentials are functions of the projections X W_m (no centralizer axiom), summed over tokens
(or over token vertices, for the cross-token gated products): S_N-invariant and nothing more, since
a function of X W is not invariant under X ↦ O X. Their blocks keep full (H, C, C) weights: the
nonlinearity acts on the C columns of X W, and a factorised W would only put it on a rank-C_A image.
"""

from __future__ import annotations

from typing import Any

from archsearch.families.base import CompiledParts, Family, Symmetry

REAL = frozenset({"real"})


def token_symmetry(potential: bool) -> Symmetry:
    """S_N only, no centralizer, real field."""
    return Symmetry(left="perm", centralizer=False, fields=REAL, potential=potential)


class TokenFamily(Family):
    """Base of the per-token families: one "src" branch per output weight, full weights, O(N C²)."""

    def branch_ends(self, field: str) -> list[tuple[int, str]]:
        return [(0, "src")]

    @property
    def mixes_tokens(self) -> bool:
        return False

    def cost(self, field: str, tied: bool, causal: bool, sizes: Any, lowrank: bool) -> str:
        return "O(N C²)"

    def compile(self, field: str, tied: bool, causal: bool, class_name: str, sizes: Any, lowrank: bool,
                naive: bool) -> CompiledParts:
        from archsearch.compiler.families import family_source

        source = family_source(self, field, tied, causal, class_name, lowrank=lowrank)
        return CompiledParts(source, self.cost(field, tied, causal, sizes, lowrank))

    def emit(self, note: str, tied: bool, causal: bool, class_name: str, lowrank: bool, chosen: tuple,
             branches: str) -> str:
        """The block's source (archsearch.compiler.emit helpers; the family writes its forward)."""
        raise NotImplementedError


def no_potential(key: str, what: str) -> ValueError:
    return ValueError(f"{key}: {what} has no potential (only its field is defined)")
