"""All terms a grammar admits, in display order, with the count summary per order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from archsearch.enumeration.diagrams import all_diagrams, connected_diagrams, diagrams
from archsearch.enumeration.references import reference_for
from archsearch.terms import Conic, Entrywise, Gated, Softmax, Term

if TYPE_CHECKING:  # grammar.model imports enumeration.axioms: keep the import one-way at run time
    from archsearch.grammar.model import Grammar


def enumerate_terms(grammar: Grammar) -> list[Term]:
    """Diagrams of every admissible even order, gated products (right = none), then the named
    non-polynomial families, each group sorted by order and key."""
    ax = grammar.axioms
    terms: list[Term] = []
    for order in ax.polynomial_orders:
        terms.extend(diagrams(ax, order // 2))
    if ax.right == "none":
        terms.extend(Gated(k) for k in range(max(3, ax.min_order), ax.max_order + 1))
    fam = grammar.families
    if fam.softmax:
        terms.append(Softmax())
    terms.extend(Entrywise(fn) for fn in fam.entrywise)
    terms.extend(Conic(p, fam.cone_size) for p in fam.conic)
    return terms


@dataclass(frozen=True)
class CountRow:
    """Diagram counts at one order: connected, all, and the published values where known."""

    order: int
    connected: int
    total: int
    reference_connected: int | None
    reference_total: int | None
    source_connected: str | None
    source_total: str | None
    stable: bool  # N ≥ number of vertices, so the invariants are linearly independent


def count_summary(grammar: Grammar) -> list[CountRow]:
    ax = grammar.axioms
    rows = []
    ref_c, ref_t = reference_for(ax, True), reference_for(ax, False)
    for order in ax.polynomial_orders:
        d = order // 2
        conn = connected_diagrams(ax, d)
        total = all_diagrams(ax, d) if ax.weights != "labelled" or d <= 4 else ()
        max_vertices = max(g.n_vertices for g in (conn if ax.connected or not total else total))
        rows.append(
            CountRow(
                order=order,
                connected=len(conn),
                total=len(total),
                reference_connected=ref_c.at(d) if ref_c else None,
                reference_total=ref_t.at(d) if ref_t else None,
                source_connected=ref_c.source if ref_c else None,
                source_total=ref_t.source if ref_t else None,
                stable=grammar.sizes.tokens >= max_vertices,
            )
        )
    return rows
