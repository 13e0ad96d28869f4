"""Blocks under bf16 autocast (what the trainer runs on CUDA by default), reproduced on the CPU.

Autocast hands a block's ops a mix of bfloat16 (matmul outputs) and float32 (everything else); the causal
scan must accept the mix, scan in float32 and give gradients of the right dtypes. Checked: forward and
backward run, everything is finite, and the output is within bf16 rounding of the float32 output
(relative error < 3 %), one pass and streamed over segments (a carried state).
"""

from __future__ import annotations

import pytest
import torch

from archsearch.compiler import compile_term
from archsearch.terms import term_from_key

pytestmark = pytest.mark.filterwarnings("ignore:.*autocast.*")

KEYS = ["0-0", "0-1.0-1", "0-1.1-1", "0-1.0-1.0-1", "0-2.1-2.1-2", "0-1.0-2.1-2", "0-1", "lse"]


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("rank", [None, 4])
def test_block_runs_under_bf16_autocast(key, causal, rank):
    torch.manual_seed(hash((key, causal, rank)) % 2**31)
    block = compile_term(term_from_key(key), tied=False, causal=causal).build(8, rank=rank, heads=2)
    for n, segment in ((40, None), (70, 16)):  # 70 tokens in segments of 16: the streamed pass with states
        if segment is not None:
            if not causal:
                continue
            block.segment = segment
        x = torch.randn(2, n, 8, requires_grad=True)
        ref = block(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = block(x)
        y.float().square().sum().backward()
        assert torch.isfinite(y).all() and torch.isfinite(x.grad).all(), (key, n)
        assert all(p.grad is None or torch.isfinite(p.grad).all() for p in block.parameters())
        err = ((y.float() - ref).norm() / ref.norm()).item()
        assert err < 3e-2, (key, causal, rank, n, err)
        x.grad = None
        block.zero_grad()
