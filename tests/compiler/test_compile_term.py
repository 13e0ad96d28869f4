"""archsearch/compiler/block.py: compile_term's options and defaults; the cost column (``term_cost`` and
``diagram_plan(cost_only=True)`` report what the compiled block runs, without generating code); the rule
that picks the general low-rank program over the gram one."""

from __future__ import annotations

import pytest
from compiler_helpers import perm_diagrams

from archsearch.calculus import derive
from archsearch.compiler import compile_term
from archsearch.compiler.block import GENERAL_MARGIN, GENERAL_SAVING, _clearly_cheaper, diagram_plan, term_cost
from archsearch.compiler.causal import plan_causal
from archsearch.compiler.lowrank import plan_lowrank
from archsearch.compiler.plan import CostReport, PlanSizes, plan_field
from archsearch.terms import Conic, Diagram, Entrywise, Gated, Softmax

SMALL = {"N": 11, "C": 32, "C_A": 16, "H": 2}  # the search's default trial


PLAN_CASES = ([(t, "real") for t in perm_diagrams("real", 6, connected=True)]
              + [(t, "complex") for t in perm_diagrams("complex", 4, connected=True)])


@pytest.mark.parametrize("term, field", PLAN_CASES, ids=[f"{t.key}-{f}" for t, f in PLAN_CASES])
def test_cost_only_plans_cost_what_the_plans_cost(term, field):
    """``cost_only`` may skip building the program, never change its cost; sizes may be a mapping."""
    for tied in (False, True):
        f = derive(term, field, tied)
        for causal in (False, True):
            for lowrank in (True, False):
                for sizes in (None, SMALL):
                    plan = diagram_plan(f, causal, PlanSizes.of(sizes), lowrank)
                    quick = diagram_plan(f, causal, sizes, lowrank, cost_only=True)
                    assert quick.polynomial() == plan.polynomial(), (tied, causal, lowrank, sizes)
                    assert quick.big_o() == plan.big_o()


def test_diagram_plan_reads_its_sizes():
    """A mapping of sizes is the plan at those sizes, not at the default ones (checked on the terms whose
    cheapest program changes with the sizes)."""
    small = {"N": 4, "C": 2048, "C_A": 1024, "H": 1}
    differs = [t for t in perm_diagrams("real", 6, connected=True)
               if set(diagram_plan(derive(t, "real", False), False, small, True).polynomial().terms)
               != set(diagram_plan(derive(t, "real", False), False, None, True).polynomial().terms)]
    assert differs, "no term's plan depends on the sizes"
    for t in differs:
        g = derive(t, "real", False)
        assert diagram_plan(g, False, small, True).polynomial() == diagram_plan(g, False, PlanSizes.of(small),
                                                                                True).polynomial()


TERM_CASES = ([(t, "real") for t in perm_diagrams("real", 4, connected=True)]
              + [(t, "complex") for t in perm_diagrams("complex", 4, connected=True)]
              + [(t, "real") for t in (Softmax(), Entrywise("exp"), Conic("relu"), Gated(3))])


@pytest.mark.parametrize("term, field", TERM_CASES, ids=[f"{t.key}-{f}" for t, f in TERM_CASES])
def test_term_cost_is_the_compiled_blocks_cost(term, field):
    for tied in (False, True):
        for causal in (False, True):
            for lowrank in (True, False):
                for sizes in (None, SMALL):
                    block = compile_term(term, field, tied, causal, sizes, lowrank)
                    assert term_cost(term, field, tied, causal, sizes, lowrank) == block.cost, \
                        (tied, causal, lowrank, sizes)


class _Fixed(CostReport):
    def __init__(self, value: float) -> None:
        self.value = value

    def cost(self) -> float:
        return self.value


@pytest.mark.parametrize("general, special, cheaper", [
    (1e6, 4e6 + 1, True),  # under a quarter and 3e6 saved
    (1e6, 4e6, False),  # exactly a quarter: not under it
    (100.0, 1e6 + 100, False),  # a quarter, but saves exactly GENERAL_SAVING: not more
    (100.0, 1e6 + 101, True),
    (1e7, 3e7, False),  # saves 2e7, but a third, not a quarter
    (0.0, 1e6, False),  # free, but saves only 1e6
])
def test_the_general_program_must_be_clearly_cheaper(general, special, cheaper):
    assert (GENERAL_MARGIN, GENERAL_SAVING) == (4.0, 1e6)
    assert _clearly_cheaper(_Fixed(general), _Fixed(special)) is cheaper


def test_defaults_and_options_reach_the_block():
    """term_cost's and compile_term's defaults (real, untied, not causal, default sizes, low rank) agree, each
    option changes the cost of a term whose cost depends on it, and build() defaults to one head."""
    t = Diagram.from_key("0-2.1-2")
    default = term_cost(t)
    assert default == term_cost(t, "real", False, False, None, True) == compile_term(t).cost
    for option in ({"tied": True}, {"causal": True}, {"lowrank": False}):
        assert term_cost(t, **option) != default, option
        assert term_cost(t, **option) == compile_term(t, **option).cost, option
    assert term_cost(t, field="complex") == compile_term(t, field="complex").cost
    block = compile_term(t)
    assert block.naive is False and block.build(8).heads == 1
    naive = compile_term(t, naive=True)
    assert naive.naive is True and naive.cost != block.cost and naive.source != block.source
    assert (block.class_name, naive.class_name) == ("Field_0_2_1_2_real_untied", "Field_0_2_1_2_real_untied_naive")
    causal, masked = compile_term(t, causal=True), compile_term(t, causal=True, naive=True)
    assert "N²" in masked.cost and "N²" not in causal.cost  # the naive causal block: every branch a masked einsum


def test_the_general_program_is_chosen_where_it_is_clearly_cheaper():
    """At the default sizes the pooled term 0-2.1-2 runs the general low-rank program (pooling X before
    projecting), which costs under a quarter of the gram program's."""
    for tied in (False, True):
        f = derive(Diagram.from_key("0-2.1-2"), "real", tied)
        sizes = PlanSizes.of(None)
        chosen, gram = diagram_plan(f, False, sizes, True), plan_lowrank(f, sizes)
        assert gram.kind == "gram" and getattr(chosen, "kind", None) != "gram"
        assert _clearly_cheaper(chosen, gram) and chosen.polynomial() == diagram_plan(f, False, sizes, True,
                                                                                      cost_only=True).polynomial()


@pytest.mark.parametrize("key, tied, sizes", [
    ("0-2.1-2", False, {"N": 1024, "C": 32, "C_A": 8, "H": 1}),  # general chosen; at the default sizes it costs more
    ("0-2.1-2", True, {"N": 8192, "C": 32, "C_A": 64, "H": 1}),
    ("0-2.1-3.2-3", False, {"N": 64, "C": 32, "C_A": 64, "H": 4}),
])
def test_the_general_program_at_other_sizes(key, tied, sizes):
    """Where the general program wins at sizes other than the default, it is planned at those sizes, and the
    cost column's shortcut (stop once the general program's steps reach a quarter of the gram one's) is
    taken at those sizes too."""
    f = derive(Diagram.from_key(key), "real", tied)
    s = PlanSizes.of(sizes)
    expected = plan_field(f, s, lowrank=True).polynomial()
    assert diagram_plan(f, False, sizes, True).polynomial() == expected
    assert diagram_plan(f, False, sizes, True, cost_only=True).polynomial() == expected
    assert expected.sizes == s


def test_causal_and_full_plans_are_planned_at_the_given_sizes():
    s = PlanSizes.of(SMALL)
    for term in perm_diagrams("real", 6, connected=True):
        for tied in (False, True):
            f = derive(term, "real", tied)
            for lowrank in (True, False):
                causal = diagram_plan(f, True, SMALL, lowrank)
                assert causal.polynomial() == plan_causal(f, s, lowrank=lowrank, masked=False).polynomial()
                assert causal.polynomial().sizes == s
                if not lowrank:
                    full = plan_field(f, s, lowrank=False)
                    assert diagram_plan(f, False, SMALL, False).polynomial() == full.polynomial()
