"""The compiled log-sum-exp (softmax) block, both branches, against the same math written by hand, on CPU.

Term lse (V = Σ_j logsumexp_k S_jk, S = X W₁ Xᵀ/√C_A), real field, untied: branch 0 is P X O₀ (standard
attention), branch 1 the transposed Pᵀ X O₁, each with its own low-rank weights (rank C_A per head).
The hand-written block holds the same weights: branch 0 a qkv ``linear``, SDPA and an output ``linear``;
branch 1 a qkv ``linear``, the materialised P = softmax(q kᵀ/√C_A) and Pᵀ v (causal: only the diagonal
P_jj survives the causal rule, so y_j = P_jj v_j), an output ``linear``. Outputs are checked equal first.

Forward and forward + backward, interleaved samples of ≥ 3 calls (about 50 ms), the order reversed every
other repeat, medians, one torch thread; the ratio compiled /
hand-written (goal ≤ 1.05).

    python benchmarks/lse_block.py [--N 256 1024 2048] [--C 256] [--heads 4] [--rank 64] [--dry-run]
"""

from __future__ import annotations

import argparse
import datetime
import os
import time
from pathlib import Path

import torch
import torch.nn.functional as F  # noqa: N812
from bench_common import device_name, interleaved_medians  # benchmarks/bench_common.py, beside this script
from torch import nn

from archsearch.compiler import compile_term
from archsearch.terms import Softmax

ROOT = Path(__file__).resolve().parents[1]


class HandLse(nn.Module):
    def __init__(self, block: nn.Module, causal: bool) -> None:
        super().__init__()
        self.h, self.d, self.c, self.causal = block.heads, block.rank, block.features, causal
        self.scale = block.scale
        self.qkv0 = nn.Linear(self.c, 3 * self.h * self.d, bias=False)
        self.qkv1 = nn.Linear(self.c, 3 * self.h * self.d, bias=False)
        self.out0 = nn.Linear(self.h * self.d, self.c, bias=False)
        self.out1 = nn.Linear(self.h * self.d, self.c, bias=False)
        with torch.no_grad():
            self.qkv0.weight.copy_(block.b0_qkv.reshape(-1, self.c))
            self.qkv1.weight.copy_(block.b1_qkv.reshape(-1, self.c))
            self.out0.weight.copy_(block.b0_out.reshape(self.c, -1))
            self.out1.weight.copy_(block.b1_out.reshape(self.c, -1))

    def _heads(self, t: torch.Tensor):
        b, n, _ = t.shape
        return t.view(b, n, 3, self.h, self.d).permute(2, 0, 3, 1, 4).unbind(0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        q, k, v = self._heads(self.qkv0(x))
        y0 = F.scaled_dot_product_attention(q, k, v, is_causal=self.causal, scale=self.scale)
        q, k, v = self._heads(self.qkv1(x))
        s = (q @ k.mT) * self.scale
        if self.causal:
            s = s.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1), float("-inf"))
            y1 = torch.diagonal(torch.softmax(s, -1), dim1=-2, dim2=-1).unsqueeze(-1) * v
        else:
            y1 = torch.softmax(s, -1).mT @ v
        return self.out0(y0.transpose(1, 2).reshape(b, n, -1)) + self.out1(y1.transpose(1, 2).reshape(b, n, -1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--N", type=int, nargs="+", default=[256, 1024, 2048])
    parser.add_argument("--C", type=int, default=256)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--rank", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--dry-run", action="store_true", help="tiny sizes, 1 repeat, no table written")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "benchmarks" / "lse_block_cpu.md")
    args = parser.parse_args()
    if args.dry_run:
        args.N, args.C, args.heads, args.rank, args.repeats = [32], 16, 2, 8, 1
    torch.set_num_threads(1)
    load = os.getloadavg()[0]
    started = time.perf_counter()
    rows, ratios = [], []
    for causal in (False, True):
        block = compile_term(Softmax(), "real", tied=False, causal=causal).build(args.C, rank=args.rank,
                                                                                  heads=args.heads)
        hand = HandLse(block, causal)
        for n in args.N:
            torch.manual_seed(n)
            x = torch.randn(1, n, args.C)
            with torch.no_grad():
                a, b = block(x), hand(x)
            err = ((a - b).norm() / b.norm()).item()
            assert err < 1e-4, f"compiled and hand-written lse blocks differ (N={n}, causal={causal}): {err:.1e}"
            xg = x.clone().requires_grad_()

            def fwd(m, x=x):
                def f():
                    with torch.no_grad():
                        m(x)
                return f

            def fb(m, xg=xg):
                def f():
                    m(xg).sum().backward()
                return f

            med = interleaved_medians({"lib fwd": fwd(block), "hand fwd": fwd(hand), "lib fb": fb(block),
                                       "hand fb": fb(hand)}, args.repeats)
            rf, rb = med["lib fwd"] / med["hand fwd"], med["lib fb"] / med["hand fb"]
            ratios += [rf, rb]
            rows.append(f"| {n} | {'yes' if causal else 'no'} | {med['lib fwd'] * 1e3:.3f} | "
                        f"{med['hand fwd'] * 1e3:.3f} | {rf:.3f} | {med['lib fb'] * 1e3:.3f} | "
                        f"{med['hand fb'] * 1e3:.3f} | {rb:.3f} |")
            print(rows[-1], flush=True)
    name = device_name(torch.device("cpu"))
    worst = max(ratios)
    lines = [
        f"# lse block (both branches): compiled vs hand-written, {name}",
        "",
        f"{datetime.date.today()}; device `cpu` ({name}, {os.cpu_count()} cores), 1 torch thread; torch "
        f"{torch.__version__}. Untied lse block, C = {args.C}, H = {args.heads}, C_A = {args.rank}, B = 1, "
        f"float32; same weights, outputs equal to ≤ 1e-4. Interleaved samples of ≥ 3 calls, the order reversed "
        f"every other repeat, {args.repeats} repeats, medians; load "
        f"average {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end "
        f"({time.perf_counter() - started:.0f} s).",
        "",
        "| N | causal | fwd compiled (ms) | fwd hand (ms) | fwd ratio | fwd+bwd compiled (ms) | fwd+bwd hand (ms) "
        "| fwd+bwd ratio |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        *rows,
        "",
        f"Worst compiled / hand-written: {worst:.3f} (goal ≤ 1.05: {'met' if worst <= 1.05 else 'NOT met'}).",
        "",
        f"Command: `python benchmarks/lse_block.py --N {' '.join(map(str, args.N))} --C {args.C} --heads "
        f"{args.heads} --rank {args.rank} --repeats {args.repeats}`",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.dry_run:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
