"""The registry of term families: parse a term id, list what a grammar names, check admissibility.

Every family is one class in archsearch/families/ (see :class:`~archsearch.families.base.Family`);
this module only lists them. A grammar's [families] table names non-polynomial families; each class
reads its own keys there (:meth:`named`). Contraction diagrams and the gated products of
right = "none" come from the axioms (archsearch.enumeration).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from archsearch.families.activation import Activation
from archsearch.families.base import Family, Named
from archsearch.families.conic import Conic
from archsearch.families.diagram import Diagram
from archsearch.families.entrywise import Entrywise
from archsearch.families.gated import Gated
from archsearch.families.glu import Glu
from archsearch.families.softmax import Softmax

if TYPE_CHECKING:  # pragma: no cover
    from archsearch.enumeration.axioms import Axioms
    from archsearch.grammar.model import Families

#: every family, in the order keys are tried (the diagram key syntax is the fallback)
FAMILIES: tuple[type[Family], ...] = (Softmax, Entrywise, Activation, Glu, Conic, Gated, Diagram)
MAX_KEY_LENGTH = 256
MAX_DIAGRAM_EDGES = 16


def term_from_key(key: str) -> Family:
    """Parse any term id: a diagram key (``0-1.0-1``), ``lse``, ``lse@0.5``, ``f-exp``, ``mlp-gelu``,
    ``glu-silu``, ``relu``, ``soc4``, ``colu4``, ``glu3``, ``glu2.1``. ValueError with a readable message."""
    if not key or not str.isprintable(key):
        raise ValueError(f"a term id is a non-empty printable string, not {key!r}")
    if len(key) > MAX_KEY_LENGTH:
        raise ValueError(f"term id of {len(key)} characters is too long (at most {MAX_KEY_LENGTH})")
    for cls in FAMILIES[:-1]:
        term = cls.parse(key)
        if term is not None:
            return term
    if key.count(".") >= MAX_DIAGRAM_EDGES:
        raise ValueError(f"diagram {key!r} has more than {MAX_DIAGRAM_EDGES} edges")
    return Diagram.parse(key)


def named_families(families: Families) -> list[Named]:
    """The non-polynomial terms a grammar's [families] table names, in registry order."""
    out: list[Named] = []
    for cls in FAMILIES:
        out.extend(cls.named(families))
    return out


class InadmissibleFamily(ValueError):
    """A named family whose declared symmetry does not contain the grammar's axioms."""

    def __init__(self, named: Named, axiom: str, reason: str) -> None:
        self.named, self.axiom, self.reason = named, axiom, reason
        super().__init__(self.message)

    @property
    def message(self) -> str:
        if self.axiom == "field":
            return f"{self.named.key} families need {self.reason}"
        return f"family {self.named.term.key!r} {self.reason}"


def admission_errors(axioms: Axioms, families: Families) -> list[InadmissibleFamily]:
    """One error per named family that the axioms do not admit (its first violated axiom)."""
    out = []
    for named in named_families(families):
        violations = named.term.symmetry.violations(axioms)
        if violations:
            axiom, reason = violations[0]
            if axiom == "field":
                reason += f' (field is "{axioms.field}")'
            out.append(InadmissibleFamily(named, axiom, reason))
    return out


def check_admissible(axioms: Axioms, families: Families) -> None:
    """Raise the first :class:`InadmissibleFamily`, if any."""
    errors = admission_errors(axioms, families)
    if errors:
        raise errors[0]
