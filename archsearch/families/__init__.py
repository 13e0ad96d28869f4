"""Term families: one class per family holding everything about it (see base.Family), and the
registry that lists them. No torch here."""

from archsearch.families.activation import Activation
from archsearch.families.base import GROUP_NAMES, GROUPS, CompiledParts, Family, Symmetry, subscript
from archsearch.families.canonical import Edge, canonical_edges
from archsearch.families.conic import Conic
from archsearch.families.diagram import Diagram
from archsearch.families.entrywise import Entrywise
from archsearch.families.functions import ACTIVATIONS, EDGE_KERNELS, ScalarFunction
from archsearch.families.gated import Gated
from archsearch.families.glu import Glu
from archsearch.families.registry import (
    FAMILIES,
    InadmissibleFamily,
    Named,
    admission_errors,
    check_admissible,
    named_families,
    term_from_key,
)
from archsearch.families.softmax import Softmax

Term = Family

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "CompiledParts",
    "Conic",
    "Diagram",
    "EDGE_KERNELS",
    "Edge",
    "Entrywise",
    "FAMILIES",
    "Family",
    "GROUPS",
    "GROUP_NAMES",
    "Gated",
    "Glu",
    "InadmissibleFamily",
    "Named",
    "ScalarFunction",
    "Softmax",
    "Symmetry",
    "Term",
    "admission_errors",
    "canonical_edges",
    "check_admissible",
    "named_families",
    "subscript",
    "term_from_key",
]
