"""Terms of a potential V(X): the families of archsearch.families, under their historical import path.

``from archsearch.terms import Diagram, Softmax, term_from_key`` keeps working; the families, their
declared symmetries and the registry live in archsearch/families/.
"""

from archsearch.families import (
    Activation,
    Conic,
    Diagram,
    Edge,
    Entrywise,
    Family,
    Gated,
    Glu,
    Softmax,
    Term,
    canonical_edges,
    subscript,
    term_from_key,
)

__all__ = [
    "Activation",
    "Conic",
    "Diagram",
    "Edge",
    "Entrywise",
    "Family",
    "Gated",
    "Glu",
    "Softmax",
    "Term",
    "canonical_edges",
    "subscript",
    "term_from_key",
]
