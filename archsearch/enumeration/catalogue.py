"""All terms a grammar admits, in display order, with the count summary per order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from archsearch.enumeration.diagrams import all_diagrams, connected_diagrams, diagrams
from archsearch.enumeration.limits import MAX_TERMS, Progress, TooManyTerms, extrapolate
from archsearch.enumeration.partitions import integer_partitions, multiset_counts
from archsearch.enumeration.references import reference_for
from archsearch.enumeration.stability import Stability, stability
from archsearch.families import Family, Gated, check_admissible, named_families

if TYPE_CHECKING:  # grammar.model imports enumeration.axioms: keep the import one-way at run time
    from archsearch.enumeration.axioms import Axioms
    from archsearch.grammar.model import Grammar


def gated_terms(axioms: Axioms, order: int | None = None) -> list[Gated]:
    """right = "none": the products V_λ, one per integer partition λ of each order k ≠ 2 (or of ``order``)."""
    orders = axioms.gated_orders if order is None else [k for k in axioms.gated_orders if k == order]
    return [Gated(parts) for k in orders for parts in integer_partitions(k)]


def enumerate_terms(grammar: Grammar, *, max_terms: int | None = MAX_TERMS,
                    progress: Progress | None = None) -> list[Family]:
    """Diagrams of every admissible even order, the gated products (right = none), then the named
    non-polynomial families. Raises archsearch.families.InadmissibleFamily if the grammar names a
    family its axioms do not admit, and TooManyTerms (before the expensive orders) when more than
    ``max_terms`` would be listed (None: no cap)."""
    ax = grammar.axioms
    check_admissible(ax, grammar.families)
    terms: list[Family] = []
    listed = set(ax.polynomial_orders)
    top = max(listed, default=0) // 2
    counts: list[int] = []  # the diagrams of degree 1, 2, …: listed or not, they predict the next degrees
    for d in range(1, top + 1):
        if progress is not None:
            progress("enumerate", d - 1, top)
        if max_terms is not None:
            ahead = extrapolate(counts, top - d + 1)
            predicted = len(terms) + sum(n for k, n in enumerate(ahead, start=d) if 2 * k in listed)
            if predicted > max_terms and counts:
                raise TooManyTerms(predicted, 2 * top, max_terms, estimated=True)
        found = diagrams(ax, d)
        counts.append(len(found))
        if 2 * d in listed:
            terms.extend(found)
        if max_terms is not None and len(terms) > max_terms:
            raise TooManyTerms(len(terms), 2 * d, max_terms, estimated=False)
    if progress is not None:
        progress("enumerate", top, top)
    terms.extend(gated_terms(ax))
    terms.extend(named.term for named in named_families(grammar.families))
    return terms


@dataclass(frozen=True)
class CountRow:
    """Counts at one order: diagrams (connected, all, published values where known), the gated
    products of right = none, and whether the listed diagrams are linearly independent at the
    grammar's N and C (``stability``: proved, or the numerical rank)."""

    order: int
    connected: int
    total: int
    reference_connected: int | None
    reference_total: int | None
    source_connected: str | None
    source_total: str | None
    gated: int
    stability: Stability

    @property
    def stable(self) -> bool | None:
        """Whether the listed diagrams are independent at the declared sizes; None when unknown."""
        return self.stability.stable


def count_summary(grammar: Grammar) -> list[CountRow]:
    ax = grammar.axioms
    rows = []
    ref_c, ref_t = reference_for(ax, True), reference_for(ax, False)
    orders = sorted(set(ax.polynomial_orders) | set(ax.gated_orders))
    top = max((o // 2 for o in ax.polynomial_orders), default=0)
    # all diagrams are multisets of connected ones (labelled edges are not interchangeable: listed, d ≤ 4)
    totals = multiset_counts([len(connected_diagrams(ax, k)) for k in range(1, top + 1)]) \
        if ax.weights != "labelled" else []
    for order in orders:
        d = order // 2
        even = order % 2 == 0 and order >= 2
        conn = connected_diagrams(ax, d) if even else ()
        if not even:
            total = 0
        elif ax.weights == "labelled":
            total = len(all_diagrams(ax, d))  # d ≤ 4: connected_diagrams refuses labelled weights above
        else:
            total = totals[d - 1]
        listed = diagrams(ax, d) if even else ()
        rows.append(
            CountRow(
                order=order,
                connected=len(conn),
                total=total,
                reference_connected=ref_c.at(d) if ref_c and even else None,
                reference_total=ref_t.at(d) if ref_t and even else None,
                source_connected=ref_c.source if ref_c else None,
                source_total=ref_t.source if ref_t else None,
                gated=len(gated_terms(ax, order)),
                stability=stability(listed, ax, grammar.sizes.tokens, grammar.sizes.features),
            )
        )
    return rows
