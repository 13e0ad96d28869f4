"""Fields → contraction plans (pure, printable) → PyTorch source and modules.

    from archsearch.compiler import compile_term
    block = compile_term(term, field="real", tied=False, causal=False)
    layer = block.build(features=64, rank=16, heads=4)

plan:     branch einsums → pairwise steps (opt_einsum order), costs as polynomials in N, C, C_A, H;
          field plans share subexpressions and merge final products across branches (full weights)
cores:    low-rank branch cores (networks of projected slots), canonical forms, groups of branches
order:    contraction paths of small networks (exact up to 7 operands, greedy above), cached by shape
lowrank:  the low-rank block's program: fused projections, batched cores, one output product (or a
          Gram program for paths and cycles), the cheapest at the declared sizes
causal:   causal semantics (BFS-tree masks), the masked quadratic reference, the linear plan
          (stacked causal linear attentions on lifted features)
codegen:  plans → the source of a standalone nn.Module (low rank: every factor a row of ``weight``)
block:    compile_term / CompiledBlock
kernels/: the hot-path kernels (Triton with pure-torch fallbacks)
"""

from archsearch.compiler.block import CompiledBlock, compile_term, term_cost
from archsearch.compiler.causal import CausalFieldPlan, causal_reference, causal_tree, plan_causal
from archsearch.compiler.plan import FieldPlan, Plan, PlanSizes, plan_branch, plan_field

__all__ = [
    "CausalFieldPlan",
    "CompiledBlock",
    "FieldPlan",
    "Plan",
    "PlanSizes",
    "causal_reference",
    "causal_tree",
    "compile_term",
    "plan_branch",
    "plan_field",
    "plan_causal",
    "term_cost",
]
