"""Potentials → fields: Wirtinger (complex) and real derivatives of contraction diagrams and of the
named non-polynomial families, their numerical evaluation (numpy) and symbolic printing (sympy).
No torch here."""

from archsearch.calculus.evaluate import (
    EinsumSpec,
    branch_einsum,
    branch_value,
    field_value,
    potential,
    potential_einsum,
    random_weights,
    resolve_operands,
)
from archsearch.calculus.fields import Branch, Field, derive

__all__ = [
    "Branch",
    "EinsumSpec",
    "Field",
    "branch_einsum",
    "branch_value",
    "derive",
    "field_value",
    "potential",
    "potential_einsum",
    "random_weights",
    "resolve_operands",
]
