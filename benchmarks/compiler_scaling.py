"""N-scaling of every compiled polynomial term: the planned order vs the naive order, and causal.

For every contraction diagram of grammars/permutation.toml (orders 2–6, 17 terms), real field,
untied, low-rank weights: time the compiled block's forward at N = 1k, 2k, 4k, 8k, 16k

* compiled   the planned order (opt_einsum for the declared sizes, cross-branch sharing/merging)
* naive      the textbook order: every edge matrix G = X W Xᵀ (N × N) materialised first
* causal     the causal block (stacked causal linear attentions on lifted features)

and fit the log-log slope of time vs N (≈ 1: linear; ≈ 2: quadratic). The naive order stops at
--max-naive-N (default 4096) and any variant stops growing N once one forward takes longer than
--max-seconds (the table says where). Trace-word terms (Tr of a word of edges, the attention
family) whose compiled or causal slope exceeds 1.1 are flagged. Writes a markdown table to
results/benchmarks/compiler_scaling_<device>.md.

    python benchmarks/compiler_scaling.py [--N 1024 2048 4096 8192 16384] [--C 64 --rank 16 --heads 4]
"""

from __future__ import annotations

import argparse
import datetime
import os
import time
from pathlib import Path

import torch
from bench_common import device_name, slope  # benchmarks/bench_common.py, beside this script

from archsearch.compiler import compile_term
from archsearch.enumeration import enumerate_terms
from archsearch.grammar import load_grammar
from archsearch.terms import Diagram

ROOT = Path(__file__).resolve().parents[1]




def run_seconds(fn, device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def sweep(fns: dict[int, object], device: torch.device, repeats: int, max_seconds: float) -> dict[int, float]:
    """Best time per N, the N values measured round-robin (a burst of other load then hits one run of
    several sizes, not every run of one size). Sizes above the first whose warm-up exceeds
    ``max_seconds`` are skipped; runs slower than max_seconds / 2 are repeated only twice."""
    active = []
    for n, fn in fns.items():
        active.append(n)
        if run_seconds(fn, device) > max_seconds:  # warm-up doubles as the growth check
            break
    samples: dict[int, list[float]] = {n: [] for n in active}
    for rep in range(repeats):
        for n in active:
            if rep >= 2 and samples[n] and min(samples[n]) > max_seconds / 2:
                continue
            samples[n].append(run_seconds(fns[n], device))
    return {n: min(s) for n, s in samples.items()}




def fmt(s: float | None) -> str:
    return "—" if s is None else f"{s * 1e3:.1f}"


def fmt_slope(s: float | None) -> str:
    return "—" if s is None else f"{s:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--grammar", type=Path, default=ROOT / "grammars" / "permutation.toml")
    parser.add_argument("--max-order", type=int, default=6)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--N", type=int, nargs="+", default=[1024, 2048, 4096, 8192, 16384])
    parser.add_argument("--C", type=int, default=64)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--max-naive-N", type=int, default=4096)
    parser.add_argument("--max-seconds", type=float, default=1.0, help="stop growing N after a forward this slow")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per measurement (best is kept)")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--out", type=Path, help="markdown (default results/benchmarks/compiler_scaling_<device>.md)")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cpu":
        torch.set_num_threads(args.threads)
    ns = sorted(args.N)
    c, r, h = args.C, args.rank, args.heads
    sizes = {"N": ns[len(ns) // 2], "C": c, "C_A": r, "H": h}
    terms = [t for t in enumerate_terms(load_grammar(args.grammar))
             if isinstance(t, Diagram) and t.order <= args.max_order]
    name = device_name(device)
    print(f"device: {name} ({device}); B={args.batch} C={c} C_A={r} H={h} float32, untied, low-rank; "
          f"plans for {sizes}")
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    started = time.perf_counter()
    variants = ("compiled", "naive", "causal")
    results = []
    for term in terms:
        blocks = {
            "compiled": compile_term(term, "real", False, False, sizes, lowrank=True),
            "naive": compile_term(term, "real", False, False, sizes, lowrank=True, naive=True),
            "causal": compile_term(term, "real", False, True, sizes, lowrank=True),
        }
        torch.manual_seed(0)
        layers = {k: b.build(c, rank=r, heads=h).to(device).eval() for k, b in blocks.items()}
        state = layers["compiled"].state_dict()
        layers["naive"].load_state_dict(state)
        xs = {n: torch.randn(args.batch, n, c, device=device) for n in ns}
        times: dict[str, list[float | None]] = {}
        stopped: dict[str, int | None] = {}
        for v in variants:
            sizes_v = [n for n in ns if v != "naive" or n <= args.max_naive_N]

            def fwd(layer=layers[v], x=None):
                with torch.no_grad():
                    return layer(x)

            fns = {n: (lambda f=fwd, x=xs[n]: f(x=x)) for n in sizes_v}
            best = sweep(fns, device, args.repeats, args.max_seconds)
            times[v] = [best.get(n) for n in ns]
            last = max(best)
            stopped[v] = last if last < max(sizes_v) else None
        slopes = {v: slope(ns, times[v]) for v in variants}
        upper = [i for i, n in enumerate(ns) if n >= ns[len(ns) // 2]]  # the large-N half: past the cache effects
        for v in variants:
            slopes[v + " large"] = slope([ns[i] for i in upper], [times[v][i] for i in upper])
        flag = term.is_trace and any((slopes[v] or 0) > 1.1 for v in ("compiled", "causal"))
        results.append((term, blocks, times, slopes, stopped, flag))
        print(f"{term.key:14s} {blocks['compiled'].cost:26s} compiled slope {fmt_slope(slopes['compiled'])}  "
              f"naive slope {fmt_slope(slopes['naive'])}  causal slope {fmt_slope(slopes['causal'])}"
              f"{'  <-- FLAG: trace word with slope > 1.1' if flag else ''}  "
              f"[{time.perf_counter() - started:.0f} s]")

    # the kernel alone, as the generated code calls it (one causal linear attention, D = C_A, Dv = C)
    helper = blocks["causal"].module_class()._forward_lowrank.__globals__["_causal_linear_attention"]
    calls = {}
    for n in ns:
        q = torch.randn(args.batch, h, n, r, device=device)
        v = torch.randn(args.batch, h, n, c, device=device)

        def call(q=q, v=v):
            with torch.no_grad():
                return helper(q, q, v)

        calls[n] = call
    kernel_best = sweep(calls, device, args.repeats, args.max_seconds)
    kernel_times: list[float | None] = [kernel_best.get(n) for n in ns]
    kernel_slope = slope(ns, kernel_times)
    upper = [i for i, n in enumerate(ns) if n >= ns[len(ns) // 2]]
    kernel_slope_large = slope([ns[i] for i in upper], [kernel_times[i] for i in upper])
    print(f"kernel alone (D={r}, Dv={c}, H={h}): slope {fmt_slope(kernel_slope)}  "
          f"(N ≥ {ns[len(ns) // 2]}: {fmt_slope(kernel_slope_large)})")

    header = ["term", "plan (compiled)"]
    big = ns[len(ns) // 2]
    header += [f"compiled {n}" for n in ns] + ["slope", f"slope N≥{big}"]
    header += [f"naive {n}" for n in ns if n <= args.max_naive_N] + ["naive slope"]
    header += [f"causal {n}" for n in ns] + ["causal slope", f"causal slope N≥{big}"]
    lines = [
        f"# Compiler scaling: {name}",
        "",
        f"{datetime.date.today()}; device `{device}` ({name}); "
        f"{f'{args.threads} torch threads of {os.cpu_count()} cores; ' if device.type == 'cpu' else ''}"
        f"torch {torch.__version__}. Every diagram of "
        f"`{args.grammar.name}` up to order {args.max_order}, real field, untied, low-rank weights, "
        f"B = {args.batch}, C = {c}, C_A = {r}, H = {h}, float32, forward only; plans chosen for {sizes}. "
        f"Times in ms: best of {args.repeats} runs (2 for slow ones) after a warm-up, the sizes of one variant "
        "timed round-robin; slope = least-squares "
        f"log-log exponent of time vs N (over all N, and over N ≥ {big}, past the cache-size effects of the small "
        f"sizes). Load average (1 min) {load_before:.1f} at the start, "
        f"{os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan'):.1f} at the end (a shared machine: "
        "the best run is the robust estimate).",
        f"Naive = every edge matrix G = X W Xᵀ materialised (timed up to N = {args.max_naive_N}); a variant "
        f"stops growing N after a forward slower than {args.max_seconds} s (— in the table).",
        "",
        "| " + " | ".join(header) + " |",
        "| " + " | ".join("---" for _ in header) + " |",
    ]
    for term, blocks, times, slopes, _, flag in results:
        row = [f"`{term.key}`" + (" (trace)" if term.is_trace else ""), blocks["compiled"].cost]
        row += [fmt(s) for s in times["compiled"]]
        row += [fmt_slope(slopes["compiled"]), fmt_slope(slopes["compiled large"])]
        naive = [fmt(s) for n, s in zip(ns, times["naive"], strict=True) if n <= args.max_naive_N]
        row += naive + [fmt_slope(slopes["naive"])]
        row += [fmt(s) for s in times["causal"]]
        row += [fmt_slope(slopes["causal"]) + (" **FLAG**" if flag else ""), fmt_slope(slopes["causal large"])]
        lines.append("| " + " | ".join(row) + " |")
    naive_cols = sum(1 for n in ns if n <= args.max_naive_N) + 1
    row = ["causal_linear_attention alone", f"D = C_A = {r}, Dv = C = {c}"] + ["" for _ in ns] + ["", ""]
    row += ["" for _ in range(naive_cols)] + [fmt(s) for s in kernel_times]
    row += [fmt_slope(kernel_slope), fmt_slope(kernel_slope_large)]
    lines.append("| " + " | ".join(row) + " |")
    stops = [f"`{t.key}` {v} stopped after N = {s}" for t, _, _, _, st, _ in results for v, s in st.items() if s]
    flagged = [t.key for t, *_, f in results if f]
    lines += [
        "",
        "Stopped early: " + ("; ".join(stops) if stops else "none") + ".",
        "The last row times one call of the causal linear-attention kernel as the generated code makes it "
        "(the library kernel through the generated helper, its chunk choice included): the causal blocks are "
        "sums and stacks of such calls, so their slopes follow the kernel's on this machine.",
        "Trace-word terms with slope > 1.1 (over all N): "
        + (", ".join(f"`{k}`" for k in flagged) if flagged else "none") + ".",
        f"Total run time {time.perf_counter() - started:.0f} s.",
        "",
        f"Command: `python benchmarks/compiler_scaling.py --N {' '.join(map(str, ns))} --C {c} --rank {r} "
        f"--heads {h} --max-naive-N {args.max_naive_N} --threads {args.threads}`",
    ]
    tag = "cpu" if device.type == "cpu" else "cuda"
    out = args.out or ROOT / "results" / "benchmarks" / f"compiler_scaling_{tag}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
