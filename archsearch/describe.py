"""Descriptions of terms and grammars as plain data (dicts) for the CLI's table, JSON and LaTeX output.

Everything the CLI prints comes from here, so scripts can get the same data from Python.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from functools import partial
from typing import Any

from archsearch.calculus import derive
from archsearch.enumeration import MAX_TERMS, count_summary, enumerate_terms, recognise
from archsearch.enumeration.axioms import Axioms
from archsearch.enumeration.limits import Progress
from archsearch.families import GROUP_NAMES, Term, term_from_key
from archsearch.families.base import CAUSAL_TIE, tie_note
from archsearch.grammar.model import Grammar
from archsearch.parallel import ordered_map

MAX_COST_SECONDS = 120.0  # `enumerate` refuses (unless --force or --no-cost) a cost column estimated longer

#: what a causal block computes (archsearch.compiler.causal), in words
CAUSAL_RULE = (
    "future tokens are masked: each summed token index is ≤ its parent's along a spanning tree of the "
    "diagram rooted at the output token (for a trace word: (L∘G₁)(L∘G₂)…, stacked causal linear "
    "attentions; softmax: keys k ≤ j). The masked field is not the gradient of any potential."
)


class TermLookupError(ValueError):
    """An unknown or malformed term id."""


def default_field_kind(term: Term) -> str:
    """The field a term key implies (free oriented diagram edges only exist in the complex field)."""
    return term.default_field()


def symmetry_of(term: Term) -> dict[str, Any]:
    """The symmetry the term's family declares, as plain data."""
    sym = term.symmetry
    return {
        "left": sym.left,
        "left_group": GROUP_NAMES[sym.left],
        "centralizer": sym.centralizer,
        "fields": sorted(sym.fields),
        "potential": sym.potential,
    }


def lookup_term(term_id: str) -> Term:
    """Parse a term id (the canonical key printed by ``archsearch enumerate``)."""
    try:
        return term_from_key(term_id)
    except ValueError as err:
        raise TermLookupError(f"unknown term id {term_id!r}: {err}") from None


def describe_term(term: Term, field: str | None = None, untied: bool = False, sizes: Any = None,
                  causal: bool = False, code: bool = False, cost: bool = True) -> dict[str, Any]:
    """Potential, field (tied and untied), recognised name, notes, compiled cost (at the declared
    sizes; None without ``cost``) and, with ``code``, the plan and the generated module source of one term."""
    from archsearch.compiler import compile_term, term_cost

    field = field or default_field_kind(term)
    tied = derive(term, field=field, tied=True)
    loose = derive(term, field=field, tied=False)
    chosen = loose if untied else tied
    out: dict[str, Any] = {
        "id": term.key,
        "family": term.family,
        "order": term.order if term.order else None,
        "field_kind": field,
        "potential": term.unicode(),
        "potential_text": term.text(),
        "potential_latex": term.latex(),
        "has_potential": term.has_potential,
        "symmetry": symmetry_of(term),
        "field": chosen.unicode(),
        "field_text": chosen.text(),
        "field_latex": chosen.latex(),
        "tied": not untied,
        "branches": len(chosen.branches),
        "parameters": list(chosen.parameters()),
        "tied_parameters": len(tied.parameters()),
        "untied_parameters": len(loose.parameters()),
        "name": recognise(term),
        "note": _note(term, chosen, causal),
        "cost": term_cost(term, field=field, tied=not untied, causal=causal, sizes=sizes) if cost else None,
        "causal": causal,
        "is_gradient": chosen.is_gradient and not (causal and term.mixes_tokens),
    }
    if causal:
        out["causal_rule"] = CAUSAL_RULE
    if code:
        block = compile_term(term, field=field, tied=not untied, causal=causal, sizes=sizes)
        out["class_name"] = block.class_name
        out["plan"] = str(block.plan) if block.plan is not None else None
        out["code"] = block.source
    out.update(term.describe())
    return out


def _note(term: Term, field, causal: bool) -> str:
    """The field's note; a causal tied block says that the mask makes it no gradient."""
    if causal and field.tied and term.mixes_tokens:
        return field.note.replace(tie_note(True), CAUSAL_TIE)
    return field.note or ""


class CostTooSlow(ValueError):
    """Planning the cost column would take longer than MAX_COST_SECONDS (an estimate from one term per order)."""


def describe_grammar(grammar: Grammar, *, cost: bool = True, force: bool = False,
                     progress: Progress | None = None, cost_limit: float = MAX_COST_SECONDS,
                     workers: int | None = None) -> dict[str, Any]:
    """All admissible terms of a grammar with their fields, names and (with ``cost``) compiled costs, and the
    count summary. Unless ``force``: TooManyTerms above MAX_TERMS terms, CostTooSlow when the cost column is
    estimated to take more than ``cost_limit`` seconds. ``progress(stage, done, total)`` follows the long parts.
    The terms are described in ``workers`` processes (default: the CPUs available; archsearch.parallel), in
    order, so the result does not depend on it."""
    found = enumerate_terms(grammar, max_terms=None if force else MAX_TERMS, progress=progress)
    known = _cost_estimate(found, grammar, force, cost_limit) if cost else {}
    job = partial(_describe_listed, field=grammar.axioms.field, sizes=grammar.sizes)
    report = (lambda done, total: progress("cost", done, total)) if cost and progress is not None else None
    terms = ordered_map(job, [(term, cost and i not in known) for i, term in enumerate(found)], workers, report)
    for i, costed in known.items():
        terms[i]["cost"] = costed
    counts = []
    for row in count_summary(grammar):
        data = asdict(row)
        st = data.pop("stability")
        counts.append({**data, "stable": st["stable"], "rank": st["rank"], "stability": st["how"]})
    ax = grammar.axioms
    return {
        "grammar": grammar.name,
        "path": str(grammar.path) if grammar.path else None,
        "description": grammar.description,
        "axioms": {
            "left": ax.left,
            "right": ax.right,
            "field": ax.field,
            "min_order": ax.min_order,
            "max_order": ax.max_order,
            "connected": ax.connected,
            "weights": ax.weights,
            "alphabet": list(ax.alphabet),
            "symmetric": sorted(ax.symmetric),
        },
        "tokens": grammar.sizes.tokens,
        "features": grammar.sizes.features,
        "sizes": asdict(grammar.sizes),
        "terms": terms,
        "counts": counts,
    }


def _describe_listed(item: tuple[Term, bool], field: str, sizes: Any) -> dict[str, Any]:
    """One row of :func:`describe_grammar`: the term's description, with its cost when the flag asks
    (None otherwise); a module-level function, so worker processes can run it."""
    term, with_cost = item
    out = describe_term(term, field=field, sizes=sizes, cost=False)
    out["cost"] = _plan_cost(term, field, sizes) if with_cost else None
    return out


def _plan_cost(term: Term, field: str, sizes: Any) -> str:
    from archsearch.compiler import term_cost

    return term_cost(term, field=field, sizes=sizes)


def _cost_estimate(terms: list[Term], grammar: Grammar, force: bool,
                   limit: float = MAX_COST_SECONDS) -> dict[int, str]:
    """The cost of one term of each (family, order), planned and timed; unless ``force``, CostTooSlow when
    the estimate Σ (group size × that time) of the whole column exceeds ``limit`` seconds. Returns
    {index in ``terms``: cost} of the terms planned."""
    import time

    groups: dict[tuple[str, int], list[int]] = {}
    for i, term in enumerate(terms):
        groups.setdefault((term.family, term.order or 0), []).append(i)
    out: dict[int, str] = {}
    estimate, slowest = 0.0, (0.0, 0)
    for (_, order), members in groups.items():
        start = time.perf_counter()
        out[members[0]] = _plan_cost(terms[members[0]], grammar.axioms.field, grammar.sizes)
        took = time.perf_counter() - start
        estimate += took * (len(members) - 1)
        slowest = max(slowest, (took, order))
    if not force and estimate > limit:
        raise CostTooSlow(
            f"planning the cost column of {len(terms):,} terms would take about {_duration(estimate)} (measured on "
            f"one term of each order: {_duration(slowest[0])} for an order-{slowest[1]} term), over the limit of "
            f"{_duration(limit)} (--cost-limit); add --no-cost to list the terms without it, or --force to plan them "
            "all")
    return out


def _duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.2g} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def grammar_with_overrides(grammar: Grammar, **overrides: Any) -> Grammar:
    """A grammar with some axioms replaced (CLI options win over the file); ValueError if invalid."""
    changes = {k: v for k, v in overrides.items() if v is not None}
    if not changes:
        return grammar
    return replace(grammar, axioms=replace(grammar.axioms, **changes))


def grammar_with_sizes(grammar: Grammar, **sizes: Any) -> Grammar:
    """The grammar with some declared sizes replaced (tokens N, features C: for the independence check)."""
    changes = {k: v for k, v in sizes.items() if v is not None}
    return replace(grammar, sizes=replace(grammar.sizes, **changes)) if changes else grammar


def grammar_from_options(**options: Any) -> Grammar:
    """A grammar built from axiom options alone (``archsearch enumerate --left perm …``)."""
    changes = {k: v for k, v in options.items() if v is not None}
    return Grammar(name="command line", axioms=Axioms(**changes))


def describe_shipped_grammars() -> list[dict[str, Any]]:
    """The grammars shipped with archsearch (``--grammar NAME``): name, axioms, orders, named families,
    description and file, one dict each, sorted by name."""
    from dataclasses import fields

    from archsearch.grammar import load_grammar
    from archsearch.grammar.shipped import shipped_grammars

    out = []
    for name, path in shipped_grammars().items():
        grammar = load_grammar(path)
        ax, fam = grammar.axioms, grammar.families
        named = []
        for f in fields(fam):
            value = getattr(fam, f.name)
            if f.name in ("temperature", "cone_size") or not value:
                continue
            named += [f.name] if value is True else [f"{f.name}:{v}" for v in value]
        out.append({"name": name, "left": ax.left, "right": ax.right, "field": ax.field,
                    "orders": f"{ax.min_order}–{ax.max_order}", "connected": ax.connected, "weights": ax.weights,
                    "families": named, "description": grammar.description, "path": str(path)})
    return out
