"""FLOPs of one forward pass for one example.

The estimate is *measured*, not modelled: one example goes through the model under
``torch.utils.flop_counter.FlopCounterMode``, which counts 2 FLOPs per multiply-add of every
matrix-class op the model actually runs (mm, bmm, addmm, einsum → bmm, convolutions,
scaled_dot_product_attention). It therefore follows the contraction order each compiled block
chose (linear-time X (W_A (XᵀX) W_B) rather than quadratic-time (X W_A Xᵀ)(X W_B)), the embedding's
linear map (an nn.Embedding lookup is free) and the readout. Element-wise work (norms, softmax
exponentials, residual adds, cone projections) is O(N·C) per op and is not counted, as is usual.

Why measured rather than the plan costs alone: the compiled diagram blocks carry contraction plans
whose cost polynomials (``CompiledBlock.plans``, in multiply-adds) agree with the measured count for
non-causal blocks (up to the O(C²) additions the plans also list), but causal blocks run a chunked
scan whose within-chunk quadratic part the plan's asymptotic cost leaves out (at N = 32 the measured
count is about twice the plan's), and the non-polynomial families (softmax, entrywise, conic, gated)
have no plan at all. :func:`plan_flops` returns the plan-based figure (blocks only, 2 FLOPs per
multiply-add) for comparison, or None when a term has no plan.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from archsearch.tasks.base import Task


def _example_inputs(task: Task) -> torch.Tensor:
    return task.generate(1, torch.Generator().manual_seed(0))["inputs"]


def count_forward_flops(model: nn.Module, inputs: torch.Tensor) -> int:
    """FLOPs (2 per multiply-add of matrix-class ops) of ``model(inputs)``, counted by FlopCounterMode."""
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(inputs)
    finally:
        model.train(was_training)
    return int(counter.get_total_flops())


def estimate_flops(model_cfg: Any, task: Task, model: nn.Module | None = None) -> int:
    """Forward FLOPs per example of ``model_cfg`` on ``task`` (see the module docstring).

    ``model``: an already built model for (model_cfg, task) (built on the CPU otherwise); it is run once
    on one generated example, on whichever device it lives.
    """
    if model is None:
        from archsearch.train.model import build_model

        model = build_model(model_cfg, task)
    inputs = _example_inputs(task)
    try:
        device = next(model.parameters()).device
    except StopIteration:
        device = torch.device("cpu")
    return count_forward_flops(model, inputs.to(device))


def plan_flops(model_cfg: Any, task: Task) -> float | None:
    """2 × the plan cost (multiply-adds) of every block at (N, C, C_A, H) × depth; None if a term has no
    plan (non-polynomial families). Blocks only: no embedding, readout or norms."""
    from archsearch.compiler.plan import PlanSizes
    from archsearch.train.model import compile_blocks

    sizes = PlanSizes(
        N=task.sequence_length(), C=model_cfg.width, C_A=model_cfg.rank or model_cfg.width, H=model_cfg.heads
    )
    total = 0.0
    for cb in compile_blocks(model_cfg, task):
        plans = getattr(cb, "plans", ())
        if not plans:
            return None
        plan = plans[0] if model_cfg.rank is None else plans[1]  # the module runs full weights iff rank is None
        total += plan.polynomial().value(sizes)
    return 2.0 * total * model_cfg.depth
