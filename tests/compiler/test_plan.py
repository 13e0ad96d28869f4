"""Contraction plans: linear-time orders, costs as polynomials, cross-branch sharing and merging."""

from __future__ import annotations

import pytest
import torch
from compiler_helpers import plan_test_fields, random_leaves

from archsearch.calculus import derive
from archsearch.compiler import FieldPlan, Plan, PlanSizes, plan_branch, plan_field
from archsearch.compiler.plan import Monomial, Polynomial, _lower
from archsearch.grammar.model import Sizes
from archsearch.terms import Diagram

LA = Diagram.from_key("0-1.0-1")  # Tr(X W₁ Xᵀ X W₂ Xᵀ): linear attention
BIG_N = {"N": 8192, "C": 64, "C_A": 16, "H": 1}
N_C2 = (0, 1, 2, 0)  # exponents of H, N, C, C_A
N_C_CA = (0, 1, 1, 1)


def _la_branch():
    """The real linear-attention branch X W₂ Xᵀ X W₁ (edge 0 opened at its X* end)."""
    b = derive(LA, "real", tied=True).branches[0]
    assert (b.edge, b.end) == (0, "dst")
    return b


@pytest.mark.parametrize("lowrank", [False, True])
def test_linear_attention_branch_is_linear_and_naive_is_quadratic(lowrank):
    plan = plan_branch(_la_branch(), BIG_N, lowrank=lowrank)
    naive = plan_branch(_la_branch(), BIG_N, lowrank=lowrank, naive=True)
    assert isinstance(plan, Plan) and not plan.naive and naive.naive
    assert plan.polynomial().degree("N") == 1
    assert "N" in plan.big_o() and "N²" not in plan.big_o()
    assert naive.polynomial().degree("N") == 2 and "N²" in naive.big_o()
    assert plan.cost() < naive.cost() / 10
    # every step costs the product of the sizes of the indices it touches; batch ignored
    for s in plan.steps:
        assert s.cost.coeff >= 1 and s.subscripts.count(",") == (1 if s.kind == "contract" else 0)


def test_linear_attention_branch_full_rank_is_two_big_matmuls():
    plan = plan_branch(_la_branch(), BIG_N, lowrank=False)
    big = [s for s in plan.steps if s.cost.exps == N_C2]
    assert len(big) == 2
    assert big[0].subscripts == "zia,zid->zad" and big[0].expr == "torch.matmul(x.mT, x)"  # XᵀX
    assert plan.cost_polynomial().startswith("2·N·C²")
    assert plan.big_o() == "O(N C²)"


@pytest.mark.parametrize("tied", [True, False])
@pytest.mark.parametrize("lowrank", [False, True])
def test_tied_and_untied_linear_attention_field_costs_two_big_products(tied, lowrank):
    field = derive(LA, "real", tied=tied)
    assert len(field.branches) == 4
    plan = plan_field(field, BIG_N, lowrank=lowrank)
    assert isinstance(plan, FieldPlan)
    n_steps = [s for s in plan.steps if s.cost.power("N") >= 1]
    big = [s for s in n_steps if s.cost.exps in (N_C2, N_C_CA)]
    assert len(big) == 2, str(plan)
    assert all(s.cost.coeff == 1 for s in big)
    assert all(s.cost.power("N") <= 1 for s in plan.steps)
    gram = big[0]
    assert gram.expr == "torch.matmul(x.mT, x)" and gram.shared == 4  # XᵀX computed once for all branches
    assert plan.result.startswith("t")  # one final product, no output sums
    # separately the branches would need 8 big products
    separate = sum(1 for p in plan.branches for s in p.steps if s.cost.exps in (N_C2, N_C_CA))
    assert separate >= 8
    assert plan.cost() < sum(p.cost() for p in plan.branches)


def test_complex_linear_attention_shares_the_gram_matrix():
    field = derive(Diagram.from_key("0~1.1~0"), "complex", tied=True)
    plan = plan_field(field, BIG_N, lowrank=False)
    big = [s for s in plan.steps if s.cost.exps == N_C2]
    assert len(big) == 2 and "xc" in plan.leaves
    assert plan.polynomial().degree("N") == 1


def test_cost_polynomial_and_big_o_formatting():
    sizes = PlanSizes(N=1000, C=10, C_A=5, H=2)
    poly = Polynomial.of([Monomial(1, N_C2), Monomial(1, N_C2), Monomial(1, (0, 0, 3, 0))], sizes)
    assert str(poly) == "2·N·C² + C³"
    assert poly.big_o() == "O(N C²)"
    assert poly.value() == 2 * 1000 * 100 + 1000
    assert str(Monomial(2, (1, 1, 1, 1))) == "2·H·N·C·C_A" and str(Monomial(3, (0, 0, 0, 0))) == "3"
    tie = Polynomial.of([Monomial(1, (0, 1, 2, 0)), Monomial(1, (1, 0, 3, 0))], PlanSizes(N=256, C=64, C_A=8, H=4))
    assert tie.big_o() in ("O(N C² + H C³)", "O(H C³ + N C²)")
    assert tie.degree("N") == 1 and tie.degree("C") == 3


def test_sizes_normalisation():
    assert PlanSizes.of(None) == PlanSizes()
    assert PlanSizes.of(Sizes(tokens=10, features=4, rank=2, heads=3)) == PlanSizes(10, 4, 2, 3)
    assert PlanSizes.of({"N": 7, "C": 3}) == PlanSizes(7, 3, 64, 4)
    assert PlanSizes.of({"tokens": 7, "heads": 1}) == PlanSizes(N=7, H=1)
    with pytest.raises(ValueError, match="unknown sizes"):
        PlanSizes.of({"T": 3})
    for name in ("N", "C", "C_A", "H"):
        with pytest.raises(ValueError, match=f"sizes must be positive, got PlanSizes.*{name}=0"):
            PlanSizes.of({name: 0})


def test_lowering_emits_matmul_for_plain_products():
    assert _lower("zia", "zid", frozenset("zad")) == ("zad", "torch.matmul({0}.mT, {1})", True)
    assert _lower("zjc", "zcb", frozenset("zjb")) == ("zjb", "torch.matmul({0}, {1})", True)
    out, expr, mm = _lower("zia", "yab", frozenset("zyib"))  # x W per head: broadcast batch × heads
    assert mm and out == "zyib" and expr == "torch.matmul({0}[:, None], {1})"
    out, expr, mm = _lower("yab", "zyac", frozenset("zbc"))  # two contracted indices: einsum
    assert not mm and expr.startswith('torch.einsum("yab,zyac->')


def test_plans_print_their_steps_and_costs():
    plan = plan_field(derive(LA, "real", tied=True), BIG_N, lowrank=False)
    text = str(plan)
    assert "shared by 4 branches" in text and "cost 2·N·C²" in text and "~ O(N C²)" in text
    assert "Σ_i x[zia] x[zid]" in text
    branch_text = str(plan.branches[0])
    assert "zia" in branch_text and "order: optimised" in branch_text


def test_plans_are_frozen_and_deterministic():
    f = derive(Diagram.from_key("0-1.0-2.1-2"), "real", tied=False)
    a, b = plan_field(f, BIG_N), plan_field(f, BIG_N)
    assert a.steps == b.steps and a.result == b.result
    with pytest.raises(AttributeError):
        a.result = "x"  # type: ignore[misc]


def test_every_permutation_term_plans_linear_in_n():
    from archsearch.enumeration import enumerate_terms
    from archsearch.grammar import load_grammar

    sizes = {"N": 1 << 16, "C": 64, "C_A": 16, "H": 4}
    for term in enumerate_terms(load_grammar("grammars/permutation.toml")):
        for tied in (True, False):
            plan = plan_field(derive(term, "real", tied=tied), sizes)
            naive = plan_field(derive(term, "real", tied=tied), sizes, naive=True)
            assert plan.polynomial().degree("N") == 1, (term.key, str(plan))
            assert plan.cost() <= naive.cost() * (1 + 1e-9)


def test_plan_field_rejects_non_diagrams():
    from archsearch.terms import Softmax

    with pytest.raises(TypeError, match="diagram"):
        plan_field(derive(Softmax(), "real"))
    from archsearch.compiler.plan import MAX_DEGREE, planned_einsum

    with pytest.raises(TypeError, match="^only diagram branches are planned, not softmax branches$"):
        planned_einsum(derive(Softmax(), "real").branches[0], "real", True, frozenset(), {})
    big = derive(Diagram.from_key(".".join(["0-1"] * (MAX_DEGREE + 1))), "real")
    with pytest.raises(ValueError, match=rf"^diagram {big.term.key} has 9 edges; the compiler supports at most 8$"):
        planned_einsum(big.branches[0], "real", True, frozenset(), big.parameter_sources())


@pytest.mark.parametrize("key, field", [("0-2.1-2", "real"), ("0~1.0~2", "complex")])
def test_the_combo_variant_is_kept_where_it_is_cheapest(key, field):
    """With full weights at the default sizes these pooled terms' cheapest plan comes from the variant that
    orders each branch by dynamic programming on flops + intermediate sizes (opt_einsum's "combo"): every
    flops-only variant costs over 30 times more."""
    from archsearch.compiler.plan import _einsums, _plan_field, _variants

    sizes = PlanSizes.of(None)
    for tied in (True, False):
        f = derive(Diagram.from_key(key), field, tied)
        einsums = _einsums(f, False)
        flops_only = min(_plan_field(f, einsums, sizes, v, False, False, False).cost()
                         for v, combo in _variants(sizes, False, False) if not combo)
        assert plan_field(f, sizes, lowrank=False).cost() * 30 < flops_only


@pytest.mark.parametrize("naive", [False, True], ids=["optimised", "naive"])
@pytest.mark.parametrize("lowrank", [False, True], ids=["full", "lowrank"])
def test_a_branch_plan_computes_its_einsum(lowrank, naive):
    """Running a branch plan's steps and result (the torch expressions the generated code runs) gives the
    branch's einsum over its operands, on random leaves (x, conj(x) as an independent leaf, ones, weights)."""
    gen = torch.Generator().manual_seed(0)
    checked = 0
    for f in plan_test_fields():
        for b in f.branches:
            plan = plan_branch(b, PlanSizes(N=3, C=4, C_A=5, H=2), lowrank=lowrank, naive=naive)
            leaves = random_leaves([plan], gen)
            want = torch.einsum(plan.subscripts, *[leaves[n] for n in plan.operands])
            scope = {"torch": torch, **leaves}
            for s in plan.steps:
                scope[s.output] = eval(s.expr, scope)  # noqa: S307 - the plan's own expressions
            got = eval(plan.result, scope)  # noqa: S307
            assert got.shape == want.shape and torch.allclose(got, want), (f.term.key, f.field, f.tied, b)
            checked += 1
    assert checked > 100


@pytest.mark.parametrize("lowrank", [False, True], ids=["full", "lowrank"])
def test_an_untied_branch_plans_like_its_tied_copy(lowrank):
    """An untied branch differs from the tied one only in its weights' names (``W1_b3`` for ``W1``): the same
    steps at the same costs — symmetric weights included (their rank letters sized 2·C_A either way)."""
    for f in plan_test_fields():
        if not f.tied:
            continue
        untied = derive(f.term, f.field, False)
        assert len(untied.branches) == len(f.branches)
        for tb, ub in zip(f.branches, untied.branches, strict=True):
            a, b = plan_branch(tb, BIG_N, lowrank=lowrank), plan_branch(ub, BIG_N, lowrank=lowrank)
            assert [(s.subscripts, s.cost) for s in a.steps] == [(s.subscripts, s.cost) for s in b.steps], \
                (f.term.key, tb)
            assert str(a.polynomial()) == str(b.polynomial())
    if lowrank:  # a symmetric weight's factors have 2·C_A columns: twice the products of a general weight's
        sym = plan_branch(derive(Diagram.from_key("A0-1.A0-1"), "real", False).branches[0], BIG_N, lowrank=True)
        general = plan_branch(derive(LA, "real", False).branches[0], BIG_N, lowrank=True)
        assert (str(sym.polynomial()), str(general.polynomial())) == ("8·H·N·C·C_A + 8·H·C·C_A²",
                                                                      "4·H·N·C·C_A + 2·H·C·C_A²")


@pytest.mark.parametrize("tied", [True, False])
def test_a_complex_branch_is_planned_in_the_complex_field_by_default(tied):
    """Without ``field``, plan_branch reads the field off the term: free oriented edges are the complex field,
    so conj(X) is the leaf xc — the same plan as with the field given (it used to plan every branch as real,
    reading x where the branch reads conj(x))."""
    f = derive(Diagram.from_key("0~1.1~0"), "complex", tied)
    for b in f.branches:
        plan = plan_branch(b, BIG_N)
        assert "xc" in plan.operands
        assert plan == plan_branch(b, BIG_N, field=f)
    real = derive(LA, "real", tied)
    assert plan_branch(real.branches[0], BIG_N) == plan_branch(real.branches[0], BIG_N, field=real)
