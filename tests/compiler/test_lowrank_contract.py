"""archsearch/compiler/lowrank.py: what its plans say and when its shortcuts apply — the printed header of a
causal plan, the output line of a plan with several core groups, ``only_batched`` (when the cost column may
use ``lowrank_cost`` instead of the plan) and ``lowrank_cost`` against a count by hand."""

from __future__ import annotations

import re

import pytest
from compiler_helpers import letter_sizes, perm_diagrams

from archsearch.calculus import derive
from archsearch.compiler.block import diagram_plan
from archsearch.compiler.cores import lowrank_ok
from archsearch.compiler.lowrank import (
    STEP_COST,
    _fused,
    _gram,
    gram_eligible,
    lowrank_cost,
    only_batched,
    plan_lowrank,
    storage_order,
)
from archsearch.compiler.plan import PlanSizes
from archsearch.terms import Diagram

SMALL = PlanSizes.of({"N": 11, "C": 32, "C_A": 16, "H": 2})  # the search's default trial
LARGE = PlanSizes.of(None)
SIZES_TEXT = "PlanSizes(N=11, C=32, C_A=16, H=2)"

# a vertex with three endpoints (neither a path nor a cycle): untied, the batched program is the only candidate
NOT_PATHS = ("0-0.0-1.1-1", "0-1.0-1.0-1")
PATHS = ("0-0", "0-1.0-1", "0-1.1-2.2-0", "0-2.1-2")  # every vertex with at most two endpoints: gram competes


def _field(key: str, tied: bool = False, field: str = "real"):
    return derive(Diagram.from_key(key), field, tied)


@pytest.mark.parametrize("causal", [False, True], ids=["plain", "causal"])
def test_printed_header_says_causal_exactly_for_causal_plans(causal):
    """The first line of a printed plan: term, field, tie, ' causal' for a causal program (and nothing for a
    plain one), branches, kind and sizes, word for word."""
    plan = _fused(_field("0-1.0-1"), SMALL, causal, True)
    assert plan.causal is causal
    tag = " causal" if causal else ""
    assert str(plan).splitlines()[0] == (f"LowRankPlan 0-1.0-1 real untied{tag}: 4 branches, fused program, "
                                         f"sizes {SIZES_TEXT}")


def test_printed_output_line_lists_every_group():
    """A fused plan with two core groups prints one ``out = [g…, g…] · [factors]`` line naming each group's
    result, comma-separated, then its output factors in ``out_rows`` order."""
    plan = plan_lowrank(_field("0-0.0-1.1-1"), SMALL)
    assert plan.kind == "fused" and len(plan.outputs) == 2
    lines = [ln for ln in str(plan).splitlines() if ln.startswith("  out = ")]
    assert len(lines) == 1
    m = re.fullmatch(r"  out = \[(.*)\] · \[(.*)\]  cost (\d+)·H·N·C·C_A", lines[0])
    assert m, lines[0]
    assert m.group(1).split(", ") == [o.expr for o in plan.outputs]
    assert m.group(2).split(", ") == list(plan.out_rows)
    assert int(m.group(3)) == len(plan.out_rows) == len(plan.field.branches) == 6
    assert lines[0] == ("  out = [g0_3, g1_3.mT] · [W1_b0_k, W3_b2_k, W1_b3_q, W3_b5_q, W2_b1_k, W2_b4_q]"
                        "  cost 6·H·N·C·C_A")


@pytest.mark.parametrize("key", NOT_PATHS)
def test_only_batched_for_untied_fields_that_are_not_paths(key):
    """Untied and not a union of paths and cycles: the batched program is the only candidate, so
    ``only_batched`` holds, the plan is the batched program and ``lowrank_cost`` is its cost at any sizes."""
    f = _field(key)
    assert only_batched(f, False) is True
    for sizes in (SMALL, LARGE):
        plan = plan_lowrank(f, sizes)
        assert plan == _fused(f, sizes, False, True)
        assert lowrank_cost(f, sizes) == plan.polynomial()


def test_only_batched_fails_where_other_programs_compete():
    """Tied fields (one core per branch competes) and paths and cycles (the Gram program competes) are not
    ``only_batched``; for the pooled term 0-2.1-2 the Gram program is indeed chosen."""
    for key in NOT_PATHS:
        assert only_batched(_field(key, tied=True), False) is False, key
    for key in PATHS:
        for tied in (False, True):
            assert only_batched(_field(key, tied), False) is False, (key, tied)
    assert plan_lowrank(_field("0-2.1-2"), LARGE).kind == "gram"


@pytest.mark.parametrize("key", NOT_PATHS + PATHS)
def test_only_batched_never_for_causal_blocks(key):
    """Causal blocks are planned by plan_causal, whose cost is not ``lowrank_cost`` (the non-causal batched
    cost): ``only_batched(f, causal=True)`` is false for every field, the untied non-paths included."""
    for tied in (False, True):
        for field in ("real", "complex"):
            assert only_batched(_field(key, tied, field), True) is False, (key, tied, field)
    f = _field("0-1.0-1.0-1")
    assert lowrank_cost(f, SMALL) != diagram_plan(f, True, SMALL, True).polynomial()


def test_lowrank_cost_counts_projections_outputs_and_core_steps():
    """lowrank_cost of untied 0-0.0-1.1-1 (6 branches of 3 weights: 5 slot rows and 1 output factor each) at the
    trial sizes: 36·H·N·C·C_A of products with X, and 4 per-token steps of H·N·C_A per branch."""
    f = _field("0-0.0-1.1-1")
    assert len(f.branches) == 6
    cost = lowrank_cost(f, SMALL)
    assert str(cost) == "36·H·N·C·C_A + 24·H·N·C_A"
    assert cost.value() == 36 * 2 * 11 * 32 * 16 + 24 * 2 * 11 * 16


@pytest.mark.parametrize("key, field, program, calls", [
    ("0-0", "real", "fused", 2),  # the MLP: one product in, one out, nothing else
    ("0~0", "complex", "fused", 2),
    ("0-1.0-1", "real", "fused", 2 + 2 + 2),  # 2 core steps, x's product and layout, the output's
    ("0-1.0-1.0-1", "real", "fused", 4 + 2 + 2),
    ("0-0.0-1.1-1", "real", "fused", 8 + 2 + 2 + 1),  # two core groups: + one concatenation
    ("0~1.0~1", "complex", "fused", 2 + 2 * 2 + 2),  # projections of x and of conj(x)
    ("0-1.0-1", "real", "gram", 19),  # a gram program: its steps, nothing more
    ("0-2.1-2", "real", "gram", 25),
])
def test_n_steps_counts_the_kernel_calls(key, field, program, calls):
    """n_steps (the plans' fixed cost per kernel call): a gram program's steps; a fused one's core steps, per
    projection its product and layout, the output product and layout, one concatenation for several groups —
    2 for the MLP; score = cost + STEP_COST·n_steps."""
    f = _field(key, False, field)
    plan = _fused(f, SMALL, False, True) if program == "fused" else _gram(f, SMALL)
    assert plan.kind == program
    assert plan.n_steps() == calls
    assert plan.score() == plan.cost() + STEP_COST * calls


GRAM_FIELDS = [(t, field, tied) for field, order in (("real", 6), ("complex", 4)) for t in perm_diagrams(field, order)
               for tied in (False, True)]


def test_gram_leaves_are_what_the_program_reads():
    """A gram plan's ``leaves`` are exactly the tensors its steps and result read that no step makes (x, xc,
    the weight operands; ``ones`` is never read), for every path and cycle up to order 6 (complex: 4)."""
    seen = 0
    for term, field, tied in GRAM_FIELDS:
        f = derive(term, field, tied)
        if not (lowrank_ok(f) and gram_eligible(f)):
            continue
        plan = _gram(f, SMALL)
        made = {s.output for s in plan.steps}
        read = {v for s in plan.steps for v in s.inputs if v not in made}
        read |= set(re.findall(r"\bxc?\b", plan.result))
        assert "ones" not in read and len(plan.leaves) == len(set(plan.leaves)), (term.key, field, tied)
        assert set(plan.leaves) == read, (term.key, field, tied, plan.leaves)
        seen += 1
    assert seen > 40


def test_plan_lowrank_refuses_with_the_reason():
    """plan_lowrank refuses symmetric weights (use plan_field) and causal blocks (use plan_causal), naming the
    term and the planner to use; a falsy ``causal`` plans the non-causal program (``causal`` False, not None)."""
    with pytest.raises(ValueError) as sym:
        plan_lowrank(_field("A0-0"), SMALL)
    assert str(sym.value) == "A0-0: symmetric weights have no slot program; use plan_field"
    f = _field("0-1.0-1")
    with pytest.raises(ValueError) as causal:
        plan_lowrank(f, SMALL, causal=True)
    assert str(causal.value) == "0-1.0-1: causal blocks are planned by archsearch.compiler.causal.plan_causal"
    for falsy in (False, 0, None):
        plan = plan_lowrank(f, SMALL, falsy)
        assert plan.causal is False and "causal" not in str(plan).splitlines()[0]
        assert plan == plan_lowrank(f, SMALL)


@pytest.mark.parametrize("key, field", [("0-2.1-2", "real"), ("0-0.1-2", "real"), ("0-1.0-1.0-1", "real"),
                                        ("0~1.0~1", "complex")])
def test_storage_order_is_the_batched_layout(key, field):
    """Untied fields store the factors as the batched program reads them: each projection's rows, then the
    output factors; by default the non-causal program's (for 0-2.1-2 and 0-0.1-2 the causal layout differs)."""
    f = _field(key, False, field)
    layouts = {}
    for causal in (False, True):
        plan = _fused(f, SMALL, causal, True)
        layouts[causal] = (*(r for p in plan.projections for r in p.rows), *plan.out_rows)
        assert storage_order(f, causal) == layouts[causal]
    assert storage_order(f) == layouts[False]
    if key in ("0-2.1-2", "0-0.1-2"):
        assert layouts[True] != layouts[False]


@pytest.mark.parametrize("key, field, tied", [("0~1", "complex", True), ("0~0", "complex", True),
                                              ("0-1.0-1", "real", True), ("A0-0", "real", False),
                                              ("A0-1.B0-1", "real", False)])
def test_storage_order_of_shared_and_symmetric_weights(key, field, tied):
    """Tied fields (shared factors; one branch or several) and symmetric weights store each weight's Q then K,
    in the order of ``parameters()``."""
    f = _field(key, tied, field)
    assert storage_order(f) == storage_order(f, True) == tuple(f"{p}_{s}" for p in f.parameters() for s in "qk")


def test_core_steps_are_named_by_their_group():
    """Core steps of single-branch groups (one core per branch, tied) are t0, t1, … in order; those of a group of
    G > 1 branches g{k}_0, g{k}_1, …; each output expression names one of them."""
    per_branch = _fused(_field("0-1.0-1.0-1", tied=True), SMALL, False, False)
    assert [s.output for s in per_branch.steps] == [f"t{i}" for i in range(len(per_branch.steps))]
    assert all(o.size == 1 and re.fullmatch(r"t\d+(\.mT|\.permute\(.*\))?", o.expr) for o in per_branch.outputs)
    batched = _fused(_field("0-0.0-1.1-1"), SMALL, False, True)
    assert [s.output for s in batched.steps] == [f"g{k}_{i}" for k in (0, 1) for i in range(4)]
    assert [(o.expr, o.size) for o in batched.outputs] == [("g0_3", 4), ("g1_3.mT", 2)]


TINY = PlanSizes.of({"N": 1, "C": 1, "C_A": 2, "H": 2})  # one token: per-token products are cheapest broadcast


@pytest.mark.parametrize("batch", [True, False], ids=["batched", "one-core-per-branch"])
@pytest.mark.parametrize("sizes", [TINY, SMALL, LARGE], ids=["tiny", "small", "large"])
@pytest.mark.parametrize("causal", [False, True], ids=["plain", "causal"])
def test_core_steps_are_lowered_at_the_plans_sizes(causal, batch, sizes):
    """Every contraction of a fused plan is written as ``_lower`` writes it at the plan's own sizes (batch 1,
    heads H, tokens N, ranks C_A): the builder of each batched group and the shared builder of one-core
    groups are planned at the declared sizes, not the defaults. For the causal 0-2.1-2 at one token, the
    per-token products are broadcast products where the defaults would write einsums."""
    from archsearch.compiler.plan import _lower

    plan = _fused(_field("0-2.1-2"), sizes, causal, batch)
    contractions = [s for s in plan.steps if s.kind == "contract"]
    assert contractions
    differs = 0
    for s in contractions:
        operands, out = s.subscripts.split("->")
        a, b = operands.split(",")
        lowered_out, expr, _ = _lower(a, b, frozenset(out), letter_sizes(a + b, sizes))
        assert lowered_out == out, s
        assert expr.format(*s.inputs) == s.expr, s
        differs += _lower(a, b, frozenset(out), letter_sizes(a + b, LARGE))[1] != expr
    if causal and sizes == TINY:  # the witness that the sizes matter: at the defaults, einsums
        assert differs == (2 if batch else 4), differs


def _reads(plan, var: str) -> set[str]:
    """The variables ``var`` depends on, through the plan's steps (itself included)."""
    by_output = {s.output: s for s in plan.steps}
    seen, todo = set(), [var]
    while todo:
        v = todo.pop()
        if v not in seen:
            seen.add(v)
            todo += list(by_output[v].inputs) if v in by_output else []
    return seen


@pytest.mark.parametrize("key, tied, batch", [("0-1.0-1.0-1", True, False), ("0-0.0-1.1-1", False, False),
                                              ("0-0.0-1.1-1", False, True), ("0-1.0-1", True, False)])
def test_shared_counts_the_groups_that_use_a_step(key, tied, batch):
    """A core step's ``shared`` is the number of groups whose output depends on it (one core per branch shares
    its common subexpressions across branches: "shared by 4 branches"), and the printed plan says so."""
    plan = _fused(_field(key, tied), SMALL, False, batch)
    roots = [re.match(r"\w+", o.expr).group(0) for o in plan.outputs]
    for s in plan.steps:
        users = sum(s.output in _reads(plan, r) for r in roots)
        assert s.shared == users, (s.output, s.shared, users)
    if (key, tied, batch) == ("0-1.0-1.0-1", True, False):
        assert max(s.shared for s in plan.steps) > 1
        assert "[shared by 4 branches]" in str(plan)


@pytest.mark.parametrize("causal", [False, True], ids=["plain", "causal"])
@pytest.mark.parametrize("key, field", [("0-2.1-2", "real"), ("0-0.1-2", "real"), ("0~1.0~1", "complex"),
                                        ("0-1.0-1", "real")])
def test_fused_leaves_are_the_special_tensors_it_reads(key, field, causal):
    """A fused plan's ``leaves`` name the special tensors its core steps read — ``ones``, the causal mask
    ``tril`` — and ``xc`` when conj(X) is projected, so the generated prelude defines exactly those."""
    f = _field(key, False, field)
    plan = _fused(f, SMALL, causal, True)
    read = {v for s in plan.steps for v in s.inputs} | {re.match(r"\w+", o.expr).group(0) for o in plan.outputs}
    expect = tuple(v for v in ("ones", "tril") if v in read) + ("xc",) * any(p.leaf == "xc" for p in plan.projections)
    assert plan.leaves == expect
    if causal:
        assert "tril" in plan.leaves


@pytest.mark.parametrize("batch", [True, False])
def test_fused_plan_fields(batch):
    """A fused plan has no ``result`` expression (its output is the projection of the groups), is linear, and
    says whether its cores are batched."""
    plan = _fused(_field("0-1.0-1.0-1", tied=True), SMALL, False, batch)
    assert plan.kind == "fused"
    assert plan.result == ""
    assert plan.linear is True
    assert plan.batched is batch


def test_gram_eligible_only_for_diagrams():
    """Only a diagram can be a union of paths and cycles: the log-sum-exp term is never gram-eligible."""
    from archsearch.terms import term_from_key

    assert gram_eligible(derive(term_from_key("lse"), "real", False)) is False
    assert gram_eligible(_field("0-2.1-2")) is True
    assert gram_eligible(_field("0-0.0-1.1-1")) is False
