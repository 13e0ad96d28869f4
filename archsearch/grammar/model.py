"""Validated grammar objects: what a grammar file says, after parsing and checking."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from archsearch.enumeration.axioms import Axioms

# Names the grammar may use for non-polynomial families (see archsearch/terms.py for the math).
ENTRYWISE_FUNCTIONS = ("exp", "cosh", "logcosh", "softplus")
CONIC_PROJECTIONS = ("relu", "soc", "colu")


@dataclass(frozen=True)
class Families:
    """Non-polynomial families a grammar names in addition to the contraction diagrams.

    softmax:   V = Σ_j log Σ_k exp(G_jk/√C_A)          (row-wise log-sum-exp of one edge)
    entrywise: V = Σ_jk f(G_jk) for each named analytic f
    conic:     V = ½ Σ_j ‖π_K(x_j A)‖² for the orthant (relu) and the second-order cone (soc);
               colu is CoLU, a skew cone projection with no potential (flagged as such)
    cone_size: size S of each cone in the grouped soc/colu projections
    """

    softmax: bool = False
    entrywise: tuple[str, ...] = ()
    conic: tuple[str, ...] = ()
    cone_size: int = 4


@dataclass(frozen=True)
class Sizes:
    """Declared problem sizes: tokens N, features C, rank C_A of W = Q Kᵀ, number of heads."""

    tokens: int = 1024
    features: int = 256
    rank: int = 64
    heads: int = 4


@dataclass(frozen=True)
class Grammar:
    """A parsed, validated grammar: axioms + named families + declared sizes."""

    name: str
    axioms: Axioms
    families: Families = field(default_factory=Families)
    sizes: Sizes = field(default_factory=Sizes)
    description: str = ""
    path: Path | None = None
