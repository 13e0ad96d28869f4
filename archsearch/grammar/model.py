"""Validated grammar objects: what a grammar file says, after parsing and checking.

The file's schema is read off these dataclasses (and :class:`archsearch.enumeration.axioms.Axioms`):
each field is a key of its table, its type the TOML type, and ``metadata`` adds what a type cannot
say — the allowed names (``choices``), bounds (``low``, ``high``), whether the key is required,
and what one list element is called in messages (``what``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from archsearch.enumeration.axioms import Axioms
from archsearch.families.conic import MAX_CONE_SIZE, PROJECTIONS
from archsearch.families.functions import ACTIVATIONS, EDGE_KERNELS
from archsearch.families.softmax import MAX_TEMPERATURE

# Names the grammar may use for non-polynomial families (one place: archsearch/families/functions.py).
ENTRYWISE_FUNCTIONS = tuple(EDGE_KERNELS)
ACTIVATION_FUNCTIONS = tuple(ACTIVATIONS)
CONIC_PROJECTIONS = PROJECTIONS


@dataclass(frozen=True)
class Families:
    """Non-polynomial families a grammar names in addition to the polynomial terms of its axioms.

    softmax:     V = τ Σ_j log Σ_k exp(G_jk/(τ√C_A))   (row-wise log-sum-exp of one edge: softmax attention)
    temperature: τ of the softmax family (1: the plain log-sum-exp)
    entrywise:   V = Σ_jk φ(G_jk/√C_A) for each named φ (kernel attention)
    activation:  V = Σ_jc φ(X A)_jc with φ′ = the named activation: the activated MLP σ(X A) Aᵀ
    glu:         the activated GLU (σ(X W₁) ⊙ X W₂) W₂ᵀ for each named gate σ (no potential)
    conic:       V = ½ Σ_j ‖π_K(x_j A)‖² for the orthant (relu) and the second-order cone (soc);
                 colu is CoLU, a skew cone projection with no potential (flagged as such)
    cone_size:   size S of each cone in the grouped soc/colu projections
    """

    softmax: bool = False
    temperature: float = field(default=1.0, metadata={"low": 1 / MAX_TEMPERATURE, "high": MAX_TEMPERATURE})
    # the tables themselves are the choices: an entry added there is a name the grammar accepts
    entrywise: tuple[str, ...] = field(default=(), metadata={"choices": EDGE_KERNELS, "what": "entrywise function"})
    activation: tuple[str, ...] = field(default=(), metadata={"choices": ACTIVATIONS, "what": "activation"})
    glu: tuple[str, ...] = field(default=(), metadata={"choices": ACTIVATIONS, "what": "GLU activation"})
    conic: tuple[str, ...] = field(default=(), metadata={"choices": CONIC_PROJECTIONS, "what": "conic projection"})
    cone_size: int = field(default=4, metadata={"low": 2, "high": MAX_CONE_SIZE})


@dataclass(frozen=True)
class Sizes:
    """Declared problem sizes: tokens N, features C, rank C_A of W = Q Kᵀ, number of heads."""

    tokens: int = field(default=1024, metadata={"low": 1})
    features: int = field(default=256, metadata={"low": 1})
    rank: int = field(default=64, metadata={"low": 1})
    heads: int = field(default=4, metadata={"low": 1})


@dataclass(frozen=True)
class Grammar:
    """A parsed, validated grammar: axioms + named families + declared sizes."""

    name: str
    axioms: Axioms
    families: Families = field(default_factory=Families)
    sizes: Sizes = field(default_factory=Sizes)
    description: str = ""
    path: Path | None = None
