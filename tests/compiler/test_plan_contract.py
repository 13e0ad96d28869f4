"""archsearch/compiler/plan.py: what its plans say. Field plans compute the sum of their branches' einsums; every
step's kind, inputs, subscripts and index notation agree with its own torch expression; printed plans word for
word; the cost polynomials at their edges (empty, ties at the dominance ratio, merged monomials)."""

from __future__ import annotations

import re

import pytest
import torch
from compiler_helpers import letter_sizes, plan_test_fields, random_leaves

from archsearch.calculus import derive
from archsearch.compiler import PlanSizes, plan_branch, plan_field
from archsearch.compiler.plan import Monomial, Polynomial, Step
from archsearch.terms import Diagram

SIZES = PlanSizes(N=3, C=4, C_A=5, H=2)
BIG_N = PlanSizes(N=8192, C=64, C_A=16, H=1)
LA = Diagram.from_key("0-1.0-1")
KINDS = ("contract", "reduce", "add")


FIELDS = plan_test_fields()


def _read(expr: str, known) -> list[str]:
    """The variables an expression reads, in order (repeats kept)."""
    return [n for n in re.findall(r"(?<![\w.])[A-Za-z_]\w*", expr) if n in known]


def _check_steps(steps, leaves: dict[str, torch.Tensor], n_branches: int) -> dict[str, torch.Tensor]:
    """Run the steps; each one must say what it computes (kind, inputs, subscripts, math, shared)."""
    scope: dict[str, torch.Tensor] = dict(leaves)
    for s in steps:
        assert s.kind in KINDS, s
        assert list(s.inputs) == _read(s.expr, scope), s
        assert s.output not in scope, s
        value = eval(s.expr, {"torch": torch, **scope})  # noqa: S307 - the plan's own expression
        ins, out = s.subscripts.split("->")
        args = [scope[v] for v in s.inputs]
        if s.kind == "add":
            parts = ins.split("+")
            assert len(parts) == len(args) >= 2 and "," not in ins, s
            want = sum(torch.einsum(f"{p}->{out}", a) for p, a in zip(parts, args, strict=True))
        else:
            assert len(ins.split(",")) == len(args) == (2 if s.kind == "contract" else 1), s
            want = torch.einsum(s.subscripts, *args)
        assert value.shape == want.shape and torch.allclose(value, want), s
        summed = "".join(dict.fromkeys(c for c in ins if c not in out and c not in "+,"))
        assert s.math.startswith(f"{s.output}[{out}] = "), s
        if s.kind == "add":
            assert s.math == f"{s.output}[{out}] = {s.expr}", s
        else:
            assert (f"Σ_{summed} " in s.math) if summed else ("Σ" not in s.math), s
        assert 1 <= s.shared <= n_branches, s
        scope[s.output] = value
    return scope


@pytest.mark.parametrize("naive", [False, True], ids=["optimised", "naive"])
@pytest.mark.parametrize("lowrank", [False, True], ids=["full", "lowrank"])
def test_field_plans_compute_the_sum_of_their_branch_einsums(lowrank, naive):
    """A field plan's steps (shared subexpressions, merged products, sums of permuted terms) and result give
    the sum of its branches' einsums; each branch plan alone gives its own einsum; every step checked."""
    gen = torch.Generator().manual_seed(1)
    for f in FIELDS:
        fp = plan_field(f, SIZES, lowrank=lowrank, naive=naive)
        leaves = random_leaves(fp.branches, gen)
        made = {s.output for s in fp.steps}
        read = {v for s in fp.steps for v in s.inputs if v not in made} | set(_read(fp.result, leaves))
        assert set(fp.leaves) == read, (f.term.key, fp.leaves)
        weights = [v for v in fp.leaves if v not in ("x", "xc", "ones")]
        assert weights and all(v.endswith(("_q", "_k")) == lowrank for v in weights), (f.term.key, fp.leaves)
        scope = _check_steps(fp.steps, leaves, len(f.branches))
        want = sum(torch.einsum(p.subscripts, *[leaves[n] for n in p.operands]) for p in fp.branches)
        got = eval(fp.result, {"torch": torch, **scope})  # noqa: S307
        assert got.shape == want.shape and torch.allclose(got, want), (f.term.key, f.field, f.tied)
        for p in fp.branches:
            assert p.naive is naive and p.lowrank is lowrank
            bscope = _check_steps(p.steps, leaves, 1)
            got = eval(p.result, {"torch": torch, **bscope})  # noqa: S307
            assert torch.allclose(got, torch.einsum(p.subscripts, *[leaves[n] for n in p.operands]))


def test_a_field_plan_prints_word_for_word():
    """Header (term, field, tie, branch count, weights, order, sizes), one line per step, the result, the cost
    with its dominant term, and the cost of the branches planned one by one."""
    plan = plan_field(derive(LA, "real", tied=True), BIG_N, lowrank=False)
    lines = str(plan).splitlines()
    assert lines[0] == ("FieldPlan 0-1.0-1 real tied: 4 branches, full weights, optimised, "
                        "sizes PlanSizes(N=8192, C=64, C_A=16, H=1)")
    assert lines[1:-3] == [f"  {s}" for s in plan.steps]
    assert [line.split("cost ")[-1] for line in lines[1:-3]] == [  # each step's cost and sharing (reviewed)
        "N·C²  [shared by 4 branches]", "H·C³  [shared by 2 branches]", "H·C³  [shared by 2 branches]",
        "H·C³  [shared by 2 branches]", "H·C³  [shared by 2 branches]", "3·C²  [shared by 4 branches]",
        "N·C²  [shared by 4 branches]"]
    assert lines[1] == ("  t0[zad] = Σ_i x[zia] x[zid]                      zia,zid->zad             cost N·C²  "
                        "[shared by 4 branches]")
    assert lines[6] == ("  t5[zcb] = t2 + t4.mT + t4 + t2.mT                zcb+zbc+zcb+zbc->zcb     cost 3·C²  "
                        "[shared by 4 branches]")
    assert lines[-3:] == ["  result = t6", "  cost 2·N·C² + 4·H·C³ + 3·C²  ~ O(N C²)",
                          "  (branches separately: 8·N·C² + 8·H·C³)"]
    assert plan.separate_cost_polynomial() == "8·N·C² + 8·H·C³"
    assert sum(p.cost() for p in plan.branches) == 8 * 8192 * 64**2 + 8 * 64**3
    naive = plan_field(derive(LA, "real", tied=False), BIG_N, lowrank=True, naive=True)
    assert str(naive).splitlines()[0] == ("FieldPlan 0-1.0-1 real untied: 4 branches, low-rank weights, naive (edges "
                                          "materialised), sizes PlanSizes(N=8192, C=64, C_A=16, H=1)")


def test_a_branch_plan_prints_word_for_word():
    """Header (opened edge and end, ``copy b`` for an untied branch, einsum, operands), the order line (naive or
    optimised, low-rank or full, sizes), one line per step, the cost with its dominant terms."""
    plan = plan_branch(derive(LA, "real", tied=False).branches[1], BIG_N, lowrank=True, naive=True)
    lines = str(plan).splitlines()
    assert lines[:2] == [
        "branch edge 1 (dst) copy 1: zia,yaR,ybR,zjb,zjc,ycS,ydS->zid  [x, W1_b1_q, W1_b1_k, x, x, W2_b1_q, W2_b1_k]",
        "  order: naive (edges materialised); low-rank weights; sizes PlanSizes(N=8192, C=64, C_A=16, H=1)",
    ]
    assert lines[2:-1] == [f"  {s}" for s in plan.steps]
    assert lines[-1] == "  cost H·N²·C + H·N²·C_A + 4·H·N·C·C_A  ~ O(H N² C + H N² C_A)"
    tied = plan_branch(derive(LA, "real", tied=True).branches[0], BIG_N, lowrank=False)
    assert str(tied).splitlines()[:2] == [
        "branch edge 0 (dst): zia,yab,zjc,ycd,zid->zjb  [x, W1, x, W2, x]",
        "  order: optimised; full weights; sizes PlanSizes(N=8192, C=64, C_A=16, H=1)",
    ]


def test_a_step_prints_its_math_subscripts_cost_and_sharing():
    """``math`` padded to 48, ``subscripts`` to 24, the cost (like monomials merged, a zero total as 0), and
    ``[shared by k branches]`` only when k > 1."""
    n, c = Monomial(1, (0, 1, 0, 0)), Monomial(1, (0, 0, 1, 0))
    step = Step("t0", "contract", ("a", "b"), "ij,jk->ik", "torch.matmul(a, b)", "t0[ik] = Σ_j a[ij] b[jk]", n)
    assert str(step) == f"{'t0[ik] = Σ_j a[ij] b[jk]':<48} {'ij,jk->ik':<24} cost N"
    shared = Step(*step.__dict__.values()).__class__(**{**step.__dict__, "shared": 2, "extra": (n, c)})
    assert shared.cost_text() == "2·N + C"
    assert str(shared).endswith("cost 2·N + C  [shared by 2 branches]")
    zero = Step(**{**step.__dict__, "cost": Monomial(0, (0, 1, 0, 0))})
    assert zero.cost_text() == "0"


def test_polynomials_at_their_edges():
    """The empty polynomial prints 0, is O(1) and of degree 0; ``dominant`` keeps a monomial exactly 8 times
    below the largest and drops one just past that; scaling multiplies the coefficient."""
    empty = Polynomial.of([], SIZES)
    assert (str(empty), empty.big_o(), empty.degree("N"), empty.dominant()) == ("0", "O(1)", 0, ())
    n, one = Monomial(1, (0, 1, 0, 0)), Monomial(1, (0, 0, 0, 0))
    assert Polynomial.of([n, one], PlanSizes(N=8)).dominant() == (n, one)
    assert Polynomial.of([n, one], PlanSizes(N=9)).dominant() == (n,)
    assert Polynomial.of([n, one], PlanSizes(N=9)).big_o() == "O(N)"
    assert Polynomial.of([n.scaled(3), n], SIZES).degree("C") == 0
    assert Monomial(3, (1, 0, 2, 0)).scaled(2) == Monomial(6, (1, 0, 2, 0))
    assert str(Monomial(2, (0, 0, 0, 0))) == "2" and Monomial(1, (2, 1, 0, 3)).symbols(" ") == "H² N C_A³"


@pytest.mark.parametrize("lowrank", [False, True], ids=["full", "lowrank"])
def test_field_cost_reaches_is_a_certain_lower_bound(lowrank):
    """``field_cost_reaches(f, sizes, bound)`` (True: the plan certainly costs at least ``bound``) is never True
    above the plan's cost, always True for a bound of 1 (below any step's cost) and monotone in the bound, at
    the trial sizes and the defaults, for every field here; for the pooled 0-2.1-2 a quarter of the cost is
    certain."""
    from archsearch.compiler.plan import field_cost_reaches

    for sizes in (PlanSizes(N=11, C=32, C_A=16, H=2), PlanSizes()):
        for f in FIELDS:
            cost = plan_field(f, sizes, lowrank=lowrank).cost()
            assert field_cost_reaches(f, sizes, cost * (1 + 1e-9), lowrank) is False, f.term.key
            assert field_cost_reaches(f, sizes, float("inf"), lowrank) is False
            assert field_cost_reaches(f, sizes, 1.0, lowrank) is True, f.term.key
            answers = [field_cost_reaches(f, sizes, cost * k, lowrank) for k in (0.01, 0.3, 0.7, 0.99)]
            assert answers == sorted(answers, reverse=True), (f.term.key, answers)  # monotone in the bound
    pooled = derive(Diagram.from_key("0-2.1-2"), "real", False)
    cost = plan_field(pooled, PlanSizes(), lowrank=lowrank).cost()
    assert field_cost_reaches(pooled, PlanSizes(), cost / 4, lowrank) is True


@pytest.mark.parametrize("sizes", [PlanSizes(N=1, C=1, C_A=2, H=2), SIZES, PlanSizes()], ids=["tiny", "small", "large"])
def test_branch_plan_contractions_are_lowered_at_its_sizes(sizes):
    """Each contraction of a branch plan is written as ``_lower`` writes it at the plan's own sizes, the
    operands in the order the step lists them."""
    from archsearch.compiler.plan import _lower

    for f in FIELDS:
        for b in f.branches:
            for s in plan_branch(b, sizes, lowrank=True).steps:
                if s.kind == "contract":
                    ins, out = s.subscripts.split("->")
                    a, c = ins.split(",")
                    lowered, expr, _ = _lower(a, c, frozenset(out), letter_sizes(a + c, sizes))
                    assert (lowered, expr.format(*s.inputs)) == (out, s.expr), (f.term.key, s)


def test_defaults_of_the_plan_functions():
    """plan_branch and field_cost_reaches plan low-rank weights unless told otherwise (for untied linear
    attention at the default sizes, 1.5 times the low-rank plan's cost is not certain, but is for full
    weights); Polynomial.value evaluates at other sizes when given them."""
    from archsearch.compiler.plan import field_cost_reaches

    b = derive(LA, "real", False).branches[0]
    assert plan_branch(b).lowrank is True and plan_branch(b) == plan_branch(b, lowrank=True)
    assert plan_branch(b).naive is False and plan_branch(b).sizes == PlanSizes()
    f = derive(LA, "real", False)
    bound = 1.5 * plan_field(f, PlanSizes()).cost()
    assert plan_field(f, PlanSizes(), lowrank=False).cost() > bound
    assert field_cost_reaches(f, PlanSizes(), bound) is False
    assert field_cost_reaches(f, PlanSizes(), bound, lowrank=False) is True
    n = Monomial(2, (0, 1, 0, 0))
    assert Polynomial.of([n], SIZES).value() == 6 and Polynomial.of([n], SIZES).value(PlanSizes(N=10)) == 20


@pytest.mark.parametrize("lowrank, naive_cost, cost", [
    (False, "2·N·C² + H·C² + 5·N·C", "2·C² + H·C² + 2·N·C + C"),
    (True, "4·H·N·C·C_A + 5·N·C", "4·H·C·C_A + 2·N·C + C"),
])
def test_a_naive_plan_keeps_each_edges_tokens_until_its_product(lowrank, naive_cost, cost):
    """The naive plan (the baseline the optimised one is compared with) multiplies each X into its edge's
    weight before any token is summed; for the mean-pooling mixer 0-1 that costs N·C² (N·C·C_A) per X,
    where the optimised plan sums the tokens first."""
    f = derive(Diagram.from_key("0-1"), "real", True)
    small = PlanSizes(N=11, C=32, C_A=16, H=2)
    assert plan_field(f, small, lowrank=lowrank, naive=True).cost_polynomial() == naive_cost
    assert plan_field(f, small, lowrank=lowrank).cost_polynomial() == cost


@pytest.mark.parametrize("key, field, sizes, lowrank, polynomial, variant", [
    ("0~1.0~1", "complex", PlanSizes(N=11, C=32, C_A=16, H=2), False, "2·H·N·C² + 4·H·N²·C + N·C", "declared"),
    ("0-2.1-2.1-2", "real", PlanSizes(N=64, C=64, C_A=4, H=2), False,
     "4·H·C³ + 3·H·N·C² + 2·N·C² + 7·H·N·C + 5·N·C + 2·H·C² + C²", "64·N"),
    ("0-0.1-1.2-2", "real", PlanSizes(), True, "2·N·C² + 3·H·C²·C_A + 6·H·C² + 5·C² + 3·H", "rank 4·C"),
])
def test_each_planning_variant_is_kept_where_it_is_cheapest(key, field, sizes, lowrank, polynomial, variant):
    """plan_field plans a field at the declared sizes, in opt_einsum's combo order, at 64·N (orders that stay
    linear in N) and, for low-rank weights, at a rank of 4·C, and keeps the cheapest at the declared sizes.
    Each tied field here gets its plan from one variant only: planned any other way it costs at least 15 %
    more (the combo variant has its own test in test_plan.py)."""
    from archsearch.compiler.plan import _einsums, _plan_field

    f = derive(Diagram.from_key(key), field, True)
    plan = plan_field(f, sizes, lowrank=lowrank)
    assert plan.cost_polynomial() == polynomial
    einsums = _einsums(f, lowrank)
    ways = {"declared": (sizes, False), "combo": (sizes, True),
            "64·N": (PlanSizes(sizes.N * 64, sizes.C, sizes.C_A, sizes.H), False)}
    if lowrank:
        ways["rank 4·C"] = (PlanSizes(sizes.N, sizes.C, sizes.C * 4, sizes.H), False)
    costs = {name: _plan_field(f, einsums, sizes, at, lowrank, False, combo).cost()
             for name, (at, combo) in ways.items()}
    assert costs[variant] == plan.cost()
    assert all(cost >= 1.15 * plan.cost() for name, cost in costs.items() if name != variant), costs


def _pre_merge_cost(f, sizes: PlanSizes, lowrank: bool) -> float:
    """The cheapest variant's cost before the cross-branch merging: every branch through one builder, its last
    product left out (what ``field_cost_reaches`` bounds the plan's cost by), at ``sizes``."""
    from archsearch.compiler.plan import PlanBuilder, _einsums, _variants, plan_one

    totals = []
    for at, combo in _variants(sizes, lowrank, False):  # the documented variants (pinned by a test below)
        builder = PlanBuilder(sizes=at)
        for e in _einsums(f, lowrank):
            plan_one(builder, e, at, False, True, combo)
        totals.append(sum(m.value(sizes) for s in builder.steps for m in s.monomials()))
    return min(totals)


@pytest.mark.parametrize("key, lowrank", [("0-1.0-1", True), ("0-1.0-1", False), ("0-0.1-1.2-2", True),
                                          ("0-0.1-1.2-2.3-3", True)])
def test_field_cost_reaches_flips_at_the_cheapest_variants_cost_before_merging(key, lowrank):
    """The bound is certain up to the cheapest variant's cost before merging, and not a half flop above it. For
    0-0.1-1.2-2 (low rank) only the rank-4·C variant is that cheap; for the order-8 0-0.1-1.2-2.3-3 too, and
    its branches have more than 12 operands, so the combo variant is skipped but the two after it are not."""
    from archsearch.compiler.plan import _einsums, field_cost_reaches

    f = derive(Diagram.from_key(key), "real", True)
    sizes = PlanSizes()
    threshold = _pre_merge_cost(f, sizes, lowrank)
    assert field_cost_reaches(f, sizes, threshold, lowrank) is True
    assert field_cost_reaches(f, sizes, threshold + 0.5, lowrank) is False
    if key.count(".") == 4:
        assert min(len(e.inputs) for e in _einsums(f, lowrank)) > 12


def test_plan_field_keeps_the_first_of_equally_cheap_variants():
    """A later variant replaces the plan only when it is cheaper (by more than a part in 10⁹): for untied linear
    attention with full weights at small sizes two variants cost the same, and the declared one is kept."""
    from archsearch.compiler.plan import _einsums, _plan_field, _variants

    sizes = PlanSizes(N=11, C=32, C_A=16, H=2)
    for f in FIELDS + [derive(LA, "real", tied=False)]:
        for lowrank in (False, True):
            einsums = _einsums(f, lowrank)
            plans = [_plan_field(f, einsums, sizes, at, lowrank, False, combo)
                     for at, combo in _variants(sizes, lowrank, False)]
            cheapest = min(p.cost() for p in plans)
            first = next(p for p in plans if p.cost() <= cheapest * (1 + 1e-9))
            assert plan_field(f, sizes, lowrank=lowrank) == first, f.term.key


def test_the_planning_variants_are_the_documented_ones():
    """As declared; the combo order; 64·N; and for low-rank weights a rank of 4·C — naive plans only as declared."""
    from archsearch.compiler.plan import _variants

    s = PlanSizes(N=7, C=5, C_A=3, H=2)
    full = [(s, False), (s, True), (PlanSizes(N=448, C=5, C_A=3, H=2), False)]
    assert _variants(s, False, False) == full
    assert _variants(s, True, False) == full + [(PlanSizes(N=7, C=5, C_A=20, H=2), False)]
    assert _variants(s, True, True) == _variants(s, False, True) == [(s, False)]


@pytest.mark.parametrize("lowrank", [False, True], ids=["full", "lowrank"])
def test_a_naive_field_plan_is_planned_as_declared_branch_by_branch(lowrank):
    """A naive field plan is the declared sizes' plan (no variants), its branch plans are ``plan_branch``'s naive
    plans, and its products are lowered at its own sizes (tiny sizes write some as broadcast products)."""
    from archsearch.compiler.plan import _einsums, _lower, _plan_field

    for sizes in (PlanSizes(N=11, C=32, C_A=16, H=2), PlanSizes(N=1, C=1, C_A=2, H=2)):
        for f in FIELDS:
            plan = plan_field(f, sizes, lowrank=lowrank, naive=True)
            assert plan == _plan_field(f, _einsums(f, lowrank), sizes, sizes, lowrank, True, False), f.term.key
            assert plan.branches == tuple(plan_branch(b, sizes, lowrank, True, field=f) for b in f.branches)
            for s in plan.steps:
                if s.kind == "contract":
                    ins, out = s.subscripts.split("->")
                    a, c = ins.split(",")
                    lowered, expr, _ = _lower(a, c, frozenset(out), letter_sizes(a + c, sizes))
                    assert (lowered, expr.format(*s.inputs)) == (out, s.expr), (f.term.key, s)


@pytest.mark.parametrize("lowrank, polynomial", [
    (False, "2·H·N·C² + 4·H·N²·C + N·C"),
    (True, "6·H·N·C·C_A + 2·H·N²·C + 2·H·N²·C_A + N·C"),
])
def test_a_complex_naive_plan_materialises_each_edge_with_x_and_its_conjugate(lowrank, polynomial):
    """In the complex field an edge's operands are x on one end and conj(x) on the other: the naive plan of
    0~1.0~1 multiplies both into the edge's weight before any token is summed (the N² terms)."""
    f = derive(Diagram.from_key("0~1.0~1"), "complex", True)
    plan = plan_field(f, PlanSizes(N=11, C=32, C_A=16, H=2), lowrank=lowrank, naive=True)
    assert plan.cost_polynomial() == polynomial


def test_a_merged_sum_is_laid_out_in_the_outputs_axis_order():
    """Final products that share their left factor are summed first (L·Σ R_b), the sum's axes in the order the
    output needs them, so the last product needs no transpose (the two sums of 0-0.0-0, reviewed)."""
    plan = plan_field(derive(Diagram.from_key("0-0.0-0"), "real", True), PlanSizes(N=11, C=32, C_A=16, H=2),
                      lowrank=False)
    adds = [(s.output, s.expr, s.subscripts) for s in plan.steps if s.kind == "add"]
    assert adds == [("t6", "t0.permute(0, 2, 1, 3) + t4.permute(1, 3, 0, 2)", "zyib+yzbi->ziyb"),
                    ("t8", "t3.permute(0, 2, 1, 3) + t1.permute(1, 3, 0, 2)", "zyid+yzdi->ziyd"),
                    ("t10", "t7 + t9", "zjb+zjb->zjb")]
