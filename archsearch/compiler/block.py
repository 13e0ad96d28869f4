"""compile_term: a term → planned, generated, executable PyTorch block.

    block = compile_term(Diagram.from_key("0-1.0-1"), field="real", tied=False)
    print(block.cost)          # O(N C²) at the declared sizes
    print(block.plan)          # the contraction steps, costs, sharing
    print(block.source)        # the standalone module source (what runs, what export writes)
    layer = block.build(features=64, rank=16, heads=4)
    y = layer(x)               # x (B, N, C)

Each family compiles itself (``Family.compile``): diagrams are planned
(:mod:`~archsearch.compiler.plan`, causal: :mod:`~archsearch.compiler.causal`) and generated
(:mod:`~archsearch.compiler.codegen`); the other families write their blocks through
``archsearch.compiler.families.family_source``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from archsearch.calculus.fields import FIELDS
from archsearch.compiler.causal import CausalFieldPlan
from archsearch.compiler.codegen import class_name_for
from archsearch.compiler.cores import lowrank_ok
from archsearch.compiler.emit import exec_generated
from archsearch.compiler.plan import CostReport, FieldPlan, PlanSizes, Polynomial
from archsearch.families import Family

Term = Family

__all__ = ["CompiledBlock", "compile_term", "term_cost"]


@dataclass(frozen=True)
class CompiledBlock:
    """A compiled term: the generated source, its plan and its cost.

    plan:  the plan of the weights chosen at compile time (``lowrank``): a FieldPlan (non-causal),
           a CausalFieldPlan (causal) or None (non-polynomial families). The module handles both
           weight kinds (rank=None → full weights); ``plans`` holds both plans.
    cost:  the plan's big-O at the declared sizes, e.g. ``O(N C²)``.

    A tied block of a family with a potential computes exactly ∇V — unless it is causal: the mask
    breaks the symmetry of the Jacobian, so a causal block is never a gradient (``is_gradient``).
    """

    term: Term
    field: str
    tied: bool
    causal: bool
    class_name: str
    source: str
    plan: FieldPlan | CausalFieldPlan | None
    cost: str
    plans: tuple = ()
    naive: bool = False

    @property
    def is_gradient(self) -> bool:
        """Whether the block computes exactly the gradient of the term's potential."""
        return self.tied and self.term.has_potential and not (self.causal and self.term.mixes_tokens)

    @property
    def filename(self) -> str:
        return f"<archsearch {self.class_name}>"

    def module_class(self):
        """The generated ``torch.nn.Module`` subclass (the source executed once, cached)."""
        return _exec_source(self.source, self.class_name, self.filename)

    def build(self, features: int, rank: int | None = None, heads: int = 1, dtype=None, device=None):
        """An instance: ``features`` C, ``rank`` C_A (None: full weights), ``heads`` H; dtype default
        float32 (real field) or complex64 (complex field); ``device`` to move it to. Its input is checked
        and may be unbatched (archsearch.compiler.checked)."""
        import torch

        from archsearch.compiler.checked import checked_class

        if dtype is None:
            dtype = torch.complex64 if self.field == "complex" else torch.float32
        cls = checked_class(self.module_class(), self.field, self.causal)
        module = cls(features, rank=rank, heads=heads, dtype=dtype)
        return module if device is None else module.to(device)


@lru_cache(maxsize=512)
def _exec_source(source: str, class_name: str, filename: str):
    return exec_generated(source, class_name, filename)


def compile_term(
    term: Term,
    field: str = "real",
    tied: bool = False,
    causal: bool = False,
    sizes=None,
    lowrank: bool = True,
    naive: bool = False,
) -> CompiledBlock:
    """Compile a term's field into a PyTorch block.

    field:   "real" (∇_X V) or "complex" (∂V/∂X̄)
    tied:    branches share weights (exactly the gradient of V) or each has its own
    causal:  mask future tokens: each summed token index ≤ its parent's along a spanning tree rooted
             at the output token (archsearch.compiler.causal; linear-time scans); not a gradient
    sizes:   declared sizes the contraction order is chosen for (PlanSizes, a grammar Sizes, a
             mapping N/C/C_A/H; default N=1024, C=256, C_A=64, H=4)
    lowrank: which weight kind ``plan``/``cost`` report (the module supports both)
    naive:   the quadratic baseline (edge matrices materialised; causal: masked einsums) — for
             benchmarks
    """
    if field not in FIELDS:
        raise ValueError(f"field must be one of {FIELDS}, not {field!r}")
    return _compile(term, field, bool(tied), bool(causal), PlanSizes.of(sizes), bool(lowrank), bool(naive))


@lru_cache(maxsize=1024)
def _compile(term, field, tied, causal, sizes, lowrank, naive) -> CompiledBlock:
    name = class_name_for(term, field, tied, causal, naive)
    if naive and term.kind != "diagram":
        raise ValueError("naive plans exist for diagram terms only")
    parts = term.compile(field, tied, causal, name, sizes, lowrank, naive)
    return CompiledBlock(term, field, tied, causal, name, parts.source, parts.plan, parts.cost, parts.plans, naive)


def diagram_plan(field, causal: bool, sizes, lowrank: bool, naive: bool = False, cost_only: bool = False):
    """The plan a diagram block runs: full weights — a FieldPlan (CausalFieldPlan); low rank — the
    LowRankPlan of archsearch.compiler.lowrank (symmetric weights and ``naive`` baselines: the general
    plans). ``cost_only``: an object with the plan's ``polynomial()`` / ``big_o()``, skipping the program
    where its cost is known without it (untied, non-causal fields that are neither paths nor cycles)."""
    from archsearch.compiler.causal import plan_causal
    from archsearch.compiler.lowrank import lowrank_cost, only_batched, plan_lowrank
    from archsearch.compiler.plan import field_cost_reaches, plan_field

    sizes = PlanSizes.of(sizes)
    if lowrank and not naive and lowrank_ok(field) and not causal:
        special: CostReport
        if cost_only and only_batched(field, causal):
            special = _Cost(lowrank_cost(field, sizes))
        else:
            special = plan_lowrank(field, sizes, causal)
        if getattr(special, "kind", None) != "gram":  # planning the general program is slow: only where it can win
            return special
        if cost_only and field_cost_reaches(field, sizes, special.cost() / GENERAL_MARGIN * (1 + 1e-6)):
            return special  # the general program cannot be clearly cheaper (its steps so far already cost too much)
        general = plan_field(field, sizes, lowrank=True)
        return general if _clearly_cheaper(general, special) else special
    if causal:  # naive: every branch as its masked einsum (quadratic or worse)
        return plan_causal(field, sizes, lowrank=lowrank, masked=naive)
    return plan_field(field, sizes, lowrank=lowrank, naive=naive)


GENERAL_MARGIN = 4.0  # the general program must cost under 1/4 of the fused one …
GENERAL_SAVING = 1e6  # … and save this many multiply-adds: below that, launches dominate and fused wins


def _clearly_cheaper(general: CostReport, special: CostReport) -> bool:
    """Whether the per-branch general low-rank program beats the gram one at the declared sizes by enough to
    pay for its extra kernel launches: a global-pooling term at N = 1024, C = 256 pools X before projecting
    (8·H·N·C) where the gram program forms XᵀX (2·N·C²). Only gram programs are compared: planning the
    general program costs about 0.2 s a term at order 12, too slow for every term of the cost column."""
    g, s = general.cost(), special.cost()
    return g * GENERAL_MARGIN < s and s - g > GENERAL_SAVING


@dataclass(frozen=True)
class _Cost(CostReport):
    """A cost polynomial standing for a plan (see :func:`diagram_plan`)."""

    poly: Polynomial

    def polynomial(self) -> Polynomial:
        return self.poly


def term_cost(term: Term, field: str = "real", tied: bool = False, causal: bool = False, sizes=None,
              lowrank: bool = True) -> str:
    """The big-O cost of a term's compiled block at the declared sizes — the ``cost`` of
    :func:`compile_term` without generating code or the other weight kind's plan (for tables)."""
    return term.cost(field, tied, causal, PlanSizes.of(sizes), lowrank)
