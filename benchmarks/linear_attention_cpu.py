"""The compiled linear-attention block against its two dominant matmuls, on CPU.

Term 0-1.0-1 (Tr(X W₁ Xᵀ X W₂ Xᵀ), linear attention), real field, untied (4 branches, 8 weights),
non-causal, full-rank weights, B = 1, H = 1, float32, N = 8192, C = 256 by default. The compiled
plan shares S = XᵀX across the branches and sums the four C × C matrices before the one product
X·M, so its work is two N·C² matmuls plus 8 C³ products. Timed side by side in one run:

* compiled      the generated block's forward
* two matmuls   torch.matmul(X.mT, X) and torch.matmul(X, M), timed directly (the floor)
* hand, shared  S = Xᵀ X; M = Σ_b W…S W…; X @ M — what a person would write after the algebra
* hand, per branch  Σ_b X @ (Wa @ (Xᵀ @ (X @ Wb)))-style, each branch on its own (3 big matmuls each)

Prints the ratio compiled / two matmuls (goal ≤ 1.3) and writes a markdown table to
results/benchmarks/linear_attention_cpu.md.

    python benchmarks/linear_attention_cpu.py [--N 8192] [--C 256] [--threads 2]
"""

from __future__ import annotations

import argparse
import datetime
import os
from pathlib import Path

import torch
import torch.utils.benchmark as tbench
from bench_common import device_name  # benchmarks/bench_common.py, beside this script

from archsearch.compiler import compile_term
from archsearch.terms import Diagram

ROOT = Path(__file__).resolve().parents[1]


def measure(fn, min_run_time: float) -> tuple[float, float]:
    """(median, best) seconds per call: torch.utils.benchmark blocks after a warm-up."""
    for _ in range(3):  # warm-up
        fn()
    timer = tbench.Timer(stmt="fn()", globals={"fn": fn})
    m = timer.blocked_autorange(min_run_time=min_run_time)
    return m.median, min(m.times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--N", type=int, default=8192)
    parser.add_argument("--C", type=int, default=256)
    parser.add_argument("--threads", type=int, nargs="+", default=[os.cpu_count()],
                        help="torch thread counts to measure, one table each (default: the machine's cores)")
    parser.add_argument("--min-run-time", type=float, default=2.0, help="seconds per measurement")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "benchmarks" / "linear_attention_cpu.md")
    args = parser.parse_args()
    torch.manual_seed(0)
    n, c = args.N, args.C

    block = compile_term(Diagram.from_key("0-1.0-1"), "real", tied=False, causal=False,
                         sizes={"N": n, "C": c, "C_A": c, "H": 1}, lowrank=False)
    layer = block.build(c, rank=None, heads=1, dtype=torch.float32).eval()
    x = torch.randn(1, n, c)
    w = {k: v[0].detach() for k, v in layer.effective_weights().items()}
    m = torch.randn(1, c, c)

    def compiled():
        with torch.no_grad():
            return layer(x)

    def gram():
        return torch.matmul(x.mT, x)

    def product():
        return torch.matmul(x, m)

    def both():
        return torch.matmul(x.mT, x), torch.matmul(x, m)

    x2 = x[0]

    def hand_shared():  # the four branches of ∇ Tr(X W₁ Xᵀ X W₂ Xᵀ) with S = XᵀX shared
        s = x2.T @ x2
        mm = (w["W2_b0"] @ s @ w["W1_b0"] + w["W1_b1"] @ s @ w["W2_b1"]
              + w["W2_b2"].T @ s @ w["W1_b2"].T + w["W1_b3"].T @ s @ w["W2_b3"].T)
        return x2 @ mm

    def hand_branches():  # the same field, each branch as X @ (Wa @ (Xᵀ @ (X @ Wb)))
        return (x2 @ (w["W2_b0"] @ (x2.T @ (x2 @ w["W1_b0"])))
                + x2 @ (w["W1_b1"] @ (x2.T @ (x2 @ w["W2_b1"])))
                + x2 @ (w["W2_b2"].T @ (x2.T @ (x2 @ w["W1_b2"].T)))
                + x2 @ (w["W1_b3"].T @ (x2.T @ (x2 @ w["W2_b3"].T))))

    ref = hand_branches()
    err = ((compiled()[0] - ref).norm() / ref.norm()).item()
    err_shared = ((hand_shared() - ref).norm() / ref.norm()).item()
    print(f"check: compiled vs hand per-branch relative error {err:.2e} (hand shared {err_shared:.2e})")
    fns = {
        "compiled block": compiled,
        "XᵀX alone": gram,
        "X·M alone": product,
        "two matmuls together": both,
        "hand-written, S shared": hand_shared,
        "hand-written, per branch": hand_branches,
    }
    name = device_name(torch.device("cpu"))
    print(f"device: {name} (cpu), {os.cpu_count()} cores; N={n} C={c} B=1 H=1 float32, full-rank weights")
    print(f"plan: {block.plan.cost_polynomial()}  ~ {block.cost}")
    lines = [
        f"# Compiled linear attention vs its two dominant matmuls: {name}",
        "",
        f"{datetime.date.today()}; device `cpu` ({name}, {os.cpu_count()} cores); torch {torch.__version__}. "
        f"Term 0-1.0-1 (linear attention) real field, untied (4 branches), non-causal, full-rank weights, "
        f"N = {n}, C = {c}, B = 1, H = 1, float32; torch.utils.benchmark after a warm-up: median and best "
        "block time; all variants measured one after another in the same run.",
        f"Plan: `{block.plan.cost_polynomial()}` ~ `{block.cost}` (S = XᵀX shared, the 4 branches summed before X·M; "
        "the 8·C³ products are the work beyond the two matmuls, 12.5 % of their flops here).",
        f"Relative error compiled vs the hand-written per-branch field: {err:.1e}.",
    ]
    summaries = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        rows = {k: measure(f, args.min_run_time) for k, f in fns.items()}
        two = rows["XᵀX alone"][0] + rows["X·M alone"][0]
        two_best = rows["XᵀX alone"][1] + rows["X·M alone"][1]
        ratio = rows["compiled block"][0] / two
        ratio_best = rows["compiled block"][1] / two_best
        lines += [
            "",
            f"## {threads} torch thread{'s' if threads > 1 else ''} (load average {load:.1f} at the start)",
            "",
            "| variant | median (ms) | / two matmuls | best (ms) | / two matmuls (best) |",
            "| --- | --- | --- | --- | --- |",
        ]
        print(f"-- {threads} threads (load average {load:.1f})")
        for k, (med, best) in rows.items():
            lines.append(f"| {k} | {med * 1e3:.2f} | {med / two:.3f} | {best * 1e3:.2f} | {best / two_best:.3f} |")
            print(f"{k:28s} median {med * 1e3:9.2f} ms {med / two:6.3f}×   "
                  f"best {best * 1e3:9.2f} ms {best / two_best:6.3f}×")
        verdict = "met" if ratio <= 1.3 else "MISSED"
        summary = (
            f"{threads} thread{'s' if threads > 1 else ''}: compiled / two matmuls (XᵀX + X·M, each timed alone) = "
            f"{ratio:.3f} on medians, {ratio_best:.3f} on best times (goal ≤ 1.3: {verdict})"
        )
        print(summary)
        summaries.append(summary)
        lines += ["", summary + "."]
    lines += ["", "Command: `python benchmarks/linear_attention_cpu.py --N "
              f"{n} --C {c} --threads {' '.join(map(str, args.threads))}`"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
