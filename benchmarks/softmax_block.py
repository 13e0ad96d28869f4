"""The compiled softmax block against raw scaled_dot_product_attention, side by side.

Variants, all with the same weights:

* raw SDPA      — the minimal module a user would write: a fused qkv ``nn.Linear``, SDPA on the
                  pre-projected q, k, v, an output ``nn.Linear`` (the fair baseline);
* paper block   — ``family_source(Softmax(), "real", tied=False, causal, branches="paper")``:
                  the compiled standard-attention branch P X O/√C_A (goal: ≤ 1.05 × raw on GPU);
* exact block   — the tied two-branch field P X W₁ᵀ/√C_A + Pᵀ X W₁/√C_A, the exact gradient of
                  V = Σ_j logsumexp_k S_jk (reference only: its transposed branch is not SDPA-native).

Each in the non-causal and the causal variant. Median times after warm-up, with synchronisation
(CUDA events on GPU, perf_counter on CPU); raw and block samples are interleaved so drift hits both.
Defaults: CUDA — bf16, B=4, H=8, head dim 64, model dim 512, T = 2k, 4k, 8k, 16k; CPU — fp32, B=1,
H=4, head dim 64, model dim 256, T = 512 … 4096. Writes results/benchmarks/softmax_block_<device>.md.

    python benchmarks/softmax_block.py                      # defaults for the device found
    python benchmarks/softmax_block.py --T 1024 2048 --mode fwdbwd
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F  # noqa: N812
from bench_common import device_name, device_tag  # benchmarks/bench_common.py, beside this script

from archsearch.compiler.families import family_class
from archsearch.terms import Softmax

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
ROOT = Path(__file__).resolve().parent.parent






class RawAttention(torch.nn.Module):
    """Multi-head attention as a user writes it: qkv Linear → SDPA → output Linear."""

    def __init__(self, c: int, heads: int, d: int, causal: bool):
        super().__init__()
        self.heads, self.d, self.causal = heads, d, causal
        self.qkv = torch.nn.Linear(c, 3 * heads * d, bias=False)
        self.out = torch.nn.Linear(heads * d, c, bias=False)

    def forward(self, x):
        b, n, _ = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, self.d).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=self.causal)
        return self.out(y.transpose(1, 2).reshape(b, n, self.heads * self.d))


def make_modules(c: int, heads: int, d: int, causal: bool, device, dtype):
    """(raw, paper block, exact block) with shared weights where they share a meaning."""
    paper_cls = family_class(Softmax(), "real", False, causal, "PaperAttention", branches="paper")
    exact_cls = family_class(Softmax(), "real", True, causal, "ExactSoftmaxField")
    paper = paper_cls(c, rank=d, heads=heads).to(device=device, dtype=dtype)
    exact = exact_cls(c, rank=d, heads=heads).to(device=device, dtype=dtype)
    raw = RawAttention(c, heads, d, causal).to(device=device, dtype=dtype)
    with torch.no_grad():
        raw.qkv.weight.copy_(paper.b0_qkv.reshape(3 * heads * d, c))
        raw.out.weight.copy_(paper.b0_out.reshape(c, heads * d))
        exact.W1_qk.copy_(paper.b0_qkv[:2])
    return raw, paper, exact


def make_call(module, x, mode: str) -> Callable[[], object]:
    if mode == "fwd":

        def call():
            with torch.no_grad():
                return module(x)

        return call
    xg = x.detach().requires_grad_()
    params = [p for p in module.parameters()]
    with torch.no_grad():
        dy = torch.randn_like(module(x))

    def call_bwd():
        return torch.autograd.grad(module(xg), [xg, *params], dy)

    return call_bwd


def sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def sample(fn, device, inner: int) -> float:
    """Seconds per call, averaged over ``inner`` back-to-back calls, synchronised."""
    if device.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(inner):
            fn()
        end.record()
        torch.cuda.synchronize(device)
        return start.elapsed_time(end) / 1e3 / inner
    sync(device)
    t0 = time.perf_counter()
    for _ in range(inner):
        fn()
    sync(device)
    return (time.perf_counter() - t0) / inner


def median_times(fns: dict[str, Callable], device, reps: int, warmup: int, target_s: float) -> dict[str, float]:
    """Median seconds per call of each fn; samples are interleaved across the fns."""
    inner = {}
    for name, fn in fns.items():
        for _ in range(warmup):
            fn()
        one = sample(fn, device, 1)
        inner[name] = max(1, min(100, int(target_s / max(one, 1e-7))))
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(reps):
        for name, fn in fns.items():
            samples[name].append(sample(fn, device, inner[name]))
    return {name: statistics.median(v) for name, v in samples.items()}


def check_accuracy(c, heads, d, device, dtype) -> float:
    """Max |paper − raw| / max |raw| at a small T, both causal modes (catches a broken block)."""
    worst = 0.0
    for causal in (False, True):
        raw, paper, _ = make_modules(c, heads, d, causal, device, dtype)
        x = torch.randn(2, 256, c, device=device, dtype=dtype)
        with torch.no_grad():
            a, b = raw(x).float(), paper(x).float()
        worst = max(worst, ((a - b).abs().max() / a.abs().max()).item())
    return worst


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--T", type=int, nargs="+", help="sequence lengths")
    p.add_argument("--batch", type=int)
    p.add_argument("--heads", type=int)
    p.add_argument("--dim", type=int, default=64, help="head dimension C_A")
    p.add_argument("--model-dim", type=int, help="model dimension C")
    p.add_argument("--dtype", choices=list(DTYPES))
    p.add_argument("--mode", choices=["fwd", "fwdbwd"], default="fwd")
    p.add_argument("--reps", type=int, help="timed samples per variant (median)")
    p.add_argument("--exact-max-T", type=int, default=None, help="skip the exact block above this T")
    p.add_argument("--out", type=Path, help="markdown output (default results/benchmarks/softmax_block_<device>.md)")
    args = p.parse_args(argv)

    device = torch.device(args.device)
    gpu = device.type == "cuda"
    ts = args.T or ([2048, 4096, 8192, 16384] if gpu else [512, 1024, 2048, 4096])
    batch = args.batch or (4 if gpu else 1)
    heads = args.heads or (8 if gpu else 4)
    c = args.model_dim or (512 if gpu else 256)
    d = args.dim
    dtype_name = args.dtype or ("bf16" if gpu else "fp32")
    dtype = DTYPES[dtype_name]
    reps = args.reps or (15 if gpu else 7)
    target = 0.02 if gpu else 0.05  # seconds per sample: short calls are batched
    torch.manual_seed(0)

    err = check_accuracy(c, heads, d, device, dtype)
    print(f"device: {device_name(device)} ({device}); {dtype_name}; B={batch}, H={heads}, head dim {d}, C={c}; "
          f"{args.mode}; paper block vs raw SDPA max rel. error {err:.2e}")
    header = "| T | causal | raw SDPA (ms) | paper block (ms) | block / raw | exact tied block (ms) | exact / raw |"
    rows = [header, "| --- | --- | --- | --- | --- | --- | --- |"]
    print(header)
    started = time.perf_counter()
    for t in ts:
        for causal in (False, True):
            raw, paper, exact = make_modules(c, heads, d, causal, device, dtype)
            x = torch.randn(batch, t, c, device=device, dtype=dtype)
            fns = {"raw": make_call(raw, x, args.mode), "paper": make_call(paper, x, args.mode)}
            if args.exact_max_T is None or t <= args.exact_max_T:
                fns["exact"] = make_call(exact, x, args.mode)
            times = median_times(fns, device, reps, warmup=3 if gpu else 1, target_s=target)
            ex = times.get("exact")
            row = (
                f"| {t} | {'yes' if causal else 'no'} | {times['raw'] * 1e3:.3f} | {times['paper'] * 1e3:.3f} | "
                f"{times['paper'] / times['raw']:.3f} | "
                + (f"{ex * 1e3:.3f} | {ex / times['raw']:.2f} |" if ex is not None else "skipped | |")
            )
            rows.append(row)
            print(row, flush=True)
            del raw, paper, exact, x, fns
            if gpu:
                torch.cuda.empty_cache()
    elapsed = time.perf_counter() - started

    tag = device_tag(device)
    out = args.out or ROOT / "results" / "benchmarks" / f"softmax_block_{tag}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    threads = f", {torch.get_num_threads()} CPU threads" if not gpu else ""
    given = sys.argv[1:] if argv is None else argv
    command = " ".join(["python benchmarks/softmax_block.py", *given])
    text = [
        f"# Softmax block vs raw SDPA: {device_name(device)}",
        "",
        f"{datetime.date.today().isoformat()}; device `{device}` ({device_name(device)}); B={batch}, H={heads}, "
        f"head dim {d}, model dim {c}, {dtype_name}, {args.mode}; median of {reps} interleaved samples after warm-up"
        f"{threads}; torch {torch.__version__}; {elapsed:.0f} s.",
        "",
        "raw SDPA = qkv `nn.Linear` → `F.scaled_dot_product_attention` → output `nn.Linear` (the minimal module). "
        "paper block = the compiled untied softmax block with `branches=\"paper\"` (standard attention, same "
        "weights; goal ≤ 1.05 × raw on GPU). exact tied block = both branches of the gradient of "
        "V = Σ_j logsumexp_k S_jk (SDPA for P X W₁ᵀ, exact row-chunked sums for Pᵀ X W₁), for reference.",
        f"Paper block vs raw SDPA, max relative difference at T = 256: {err:.2e}.",
        *(
            []
            if gpu
            else [
                "On a shared CPU the absolute times move between runs; raw and block samples are interleaved, "
                "so the block / raw ratio is the robust figure."
            ]
        ),
        "",
        *rows,
        "",
        f"Command: `{command}`",
        "",
    ]
    out.write_text("\n".join(text))
    print(f"wrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out} ({elapsed:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
