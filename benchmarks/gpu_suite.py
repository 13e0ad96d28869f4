"""One prepared GPU run (≤ 8 minutes on one H100/H200): kernels, the softmax block, a search's GPU use.

1. Causal linear attention, bf16, B=4, H=8, D=Dv=64, T = 2k, 4k, 8k, 16k, forward and forward +
   backward: archsearch's kernel (Triton on CUDA) against flash-linear-attention's chunk kernel
   (``fla.ops.linear_attn.chunk_linear_attn``, unscaled and unnormalised: the same math; column empty
   when fla is not installed) and causal SDPA for scale. Goal: archsearch / fla ≤ 1/0.9.
2. The compiled softmax block, paper branch (``branches="paper"``), against a raw qkv Linear → SDPA →
   Linear module holding the same weights, bf16, B=4, H=8, head dim 64, model dim 512, causal and not.
   Goal: block / SDPA ≤ 1.05.
3. A time-budgeted mqar search (``archsearch search --task mqar --device cuda``) with the GPU's
   utilisation sampled every second (``torch.cuda.utilization``, else nvidia-smi). Goal: mean ≥ 70 %.

Every timing is side by side in this run (medians, CUDA events); outputs are checked against the
fp32 reference first. Writes results/benchmarks/gpu_suite_<device>.md naming the device.

    python benchmarks/gpu_suite.py                 # on a CUDA machine
    python benchmarks/gpu_suite.py --dry-run       # CPU, tiny sizes, a 2-trial search: checks the script
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch
import torch.nn.functional as F  # noqa: N812
from bench_common import device_name, device_tag  # benchmarks/bench_common.py, beside this script
from causal_linear_attention import load_fla
from softmax_block import make_call as block_call
from softmax_block import make_modules, median_times

from archsearch.compiler.kernels import causal_linear_attention
from archsearch.compiler.kernels.reference import causal_linear_attention_chunked

ROOT = Path(__file__).resolve().parents[1]


def _kernel_call(fn, q, k, v, mode: str):
    if mode == "fwd":
        def call():
            with torch.no_grad():
                return fn(q, k, v)
        return call
    leaves = [x.detach().requires_grad_() for x in (q, k, v)]
    do = torch.randn_like(fn(*leaves))

    def call_bwd():
        return torch.autograd.grad(fn(*leaves), leaves, do)
    return call_bwd


def kernels(device, dtype, ts, b, h, d, reps) -> tuple[list[str], list[float]]:
    """Rows of the causal linear attention table and the ratios archsearch / fla."""
    fla = load_fla(device)
    ours = causal_linear_attention  # Triton on CUDA, the chunked torch scan elsewhere

    def fla_bhtd(q, k, v):  # fla's layout is (B, T, H, D)
        return fla(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)).transpose(1, 2)

    def sdpa(q, k, v):
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)

    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 2, 300, d, generator=gen).to(device=device, dtype=dtype) * d ** -0.5 for _ in range(3))
    ref = causal_linear_attention_chunked(q.float(), k.float(), v.float())
    checks = {"archsearch": ours(q, k, v)}
    if fla is not None:
        checks["fla"] = fla_bhtd(q, k, v)
    for name, out in checks.items():
        err = ((out.float() - ref).abs().max() / ref.abs().max()).item()
        assert err < 3e-2, f"{name} differs from the fp32 reference: {err:.1e}"
    rows, ratios = [], []
    for t in ts:
        q, k, v = (torch.randn(b, h, t, d, device=device, dtype=dtype) * d ** -0.5 for _ in range(3))
        for mode in ("fwd", "fwdbwd"):
            fns = {"archsearch": _kernel_call(ours, q, k, v, mode), "sdpa": _kernel_call(sdpa, q, k, v, mode)}
            if fla is not None:
                fns["fla"] = _kernel_call(fla_bhtd, q, k, v, mode)
            med = median_times(fns, device, reps, 3, 0.05)
            ratio = med["archsearch"] / med["fla"] if "fla" in med else None
            if ratio is not None:
                ratios.append(ratio)
            fla_ms = f"{med['fla'] * 1e3:.3f}" if "fla" in med else "not installed"
            rows.append(f"| {t} | {mode} | {med['archsearch'] * 1e3:.3f} | {fla_ms} | "
                        f"{'' if ratio is None else f'{ratio:.3f}'} | {med['sdpa'] * 1e3:.3f} |")
            print(rows[-1], flush=True)
    return rows, ratios


def softmax(device, dtype, ts, b, c, h, d, reps) -> tuple[list[str], list[float]]:
    rows, ratios = [], []
    for causal in (False, True):
        raw, paper, _ = make_modules(c, h, d, causal, device, dtype)
        x = torch.randn(2, 128, c, device=device, dtype=dtype)
        with torch.no_grad():
            err = ((raw(x).float() - paper(x).float()).abs().max() / raw(x).float().abs().max()).item()
        assert err < 3e-2, f"paper block differs from SDPA: {err:.1e}"
        for t in ts:
            x = torch.randn(b, t, c, device=device, dtype=dtype)
            for mode in ("fwd", "fwdbwd"):
                med = median_times({"sdpa": block_call(raw, x, mode), "block": block_call(paper, x, mode)},
                                   device, reps, 3, 0.05)
                ratio = med["block"] / med["sdpa"]
                ratios.append(ratio)
                rows.append(f"| {t} | {'yes' if causal else 'no'} | {mode} | {med['sdpa'] * 1e3:.3f} | "
                            f"{med['block'] * 1e3:.3f} | {ratio:.3f} |")
                print(rows[-1], flush=True)
    return rows, ratios


def _utilisation(device) -> float | None:
    if device.type != "cuda":
        return None
    try:
        return float(torch.cuda.utilization(device))
    except Exception:  # noqa: BLE001 - pynvml missing: ask nvidia-smi
        exe = shutil.which("nvidia-smi")
        if exe is None:
            return None
        out = subprocess.run([exe, "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits",
                              f"--id={device.index or 0}"], capture_output=True, text=True, check=False)
        try:
            return float(out.stdout.split()[0])
        except (IndexError, ValueError):
            return None


def search(device, budget: str, extra: list[str]) -> tuple[dict, list[float], float]:
    """Run ``archsearch search`` on mqar with ``budget`` while sampling the GPU's utilisation."""
    samples: list[float] = []
    done = threading.Event()

    def sampler():
        while not done.wait(1.0):
            u = _utilisation(device)
            if u is not None:
                samples.append(u)

    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-c", "from archsearch.cli import main; main()", "search", "--task", "mqar",
               "--study", "gpu-suite", "--results", tmp, "--device", "cuda" if device.type == "cuda" else "cpu",
               "--no-progress", "--json", "--seed", "0", *(["--budget", budget] if budget else []), *extra]
        thread = threading.Thread(target=sampler, daemon=True)
        thread.start()
        started = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
        took = time.perf_counter() - started
        done.set()
        thread.join()
    if proc.returncode != 0:
        raise RuntimeError(f"search failed ({proc.returncode}): {proc.stderr[-2000:]}")
    try:
        result = json.loads(proc.stdout)
    except json.JSONDecodeError:
        result = {"output": proc.stdout[-500:]}
    return result, samples, took


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry-run", action="store_true", help="CPU, tiny sizes, a 2-trial search")
    parser.add_argument("--search-budget", default="5m", help="the search's --budget on the GPU")
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--out", type=Path, help="markdown file (default results/benchmarks/gpu_suite_<device>.md)")
    args = parser.parse_args(argv)
    if args.dry_run:
        device, dtype = torch.device("cpu"), torch.float32
        ts, b, h, d, c, reps = [128], 1, 2, 16, 32, 1
        budget, extra = "", ["--trials", "2", "--steps", "3", "--no-baseline"]
    else:
        if not torch.cuda.is_available():
            print("no CUDA device: run with --dry-run to check the script on CPU", file=sys.stderr)
            return 2
        device, dtype = torch.device("cuda"), torch.bfloat16
        ts, b, h, d, c, reps = [2048, 4096, 8192, 16384], 4, 8, 64, 512, args.reps
        budget, extra = args.search_budget, []
    name = device_name(device)
    started = time.perf_counter()
    print(f"device: {name}", flush=True)
    k_rows, k_ratios = kernels(device, dtype, ts, b, h, d, reps)
    s_rows, s_ratios = softmax(device, dtype, ts, b, c, h, d, reps)
    result, util, took = search(device, budget, extra)
    mean_util = statistics.mean(util) if util else None
    worst_k = max(k_ratios) if k_ratios else None
    worst_s = max(r for r in s_ratios) if s_ratios else None
    dt = {torch.float32: "fp32", torch.bfloat16: "bf16"}[dtype]
    lines = [
        f"# GPU suite: {name}{' (dry run on CPU: sizes too small to mean anything)' if args.dry_run else ''}",
        "",
        f"{datetime.date.today()}; device `{device.type}` ({name}); torch {torch.__version__}; {dt}; "
        f"{time.perf_counter() - started:.0f} s in all.",
        "",
        f"## Causal linear attention (B={b}, H={h}, D=Dv={d})",
        "",
        "| T | mode | archsearch (ms) | fla chunk (ms) | archsearch / fla | causal SDPA (ms) |",
        "| --- | --- | --- | --- | --- | --- |",
        *k_rows,
        "",
        "Worst archsearch / fla: " + (
            f"{worst_k:.3f} (goal ≤ {1 / 0.9:.3f}: {'met' if worst_k <= 1 / 0.9 else 'NOT met'})" if worst_k
            else "fla not installed"),
        "",
        f"## Softmax block, paper branch, vs SDPA (B={b}, H={h}, head dim {d}, model dim {c})",
        "",
        "| T | causal | mode | SDPA module (ms) | compiled block (ms) | block / SDPA |",
        "| --- | --- | --- | --- | --- | --- |",
        *s_rows,
        "",
        f"Worst block / SDPA: {worst_s:.3f} (goal ≤ 1.05: {'met' if worst_s <= 1.05 else 'NOT met'})",
        "",
        "## mqar search",
        "",
        f"`archsearch search --task mqar {'--budget ' + budget if budget else ' '.join(extra)}`: {took:.0f} s; "
        + (f"GPU utilisation mean {mean_util:.0f} % over {len(util)} samples (goal ≥ 70 %: "
           f"{'met' if mean_util >= 70 else 'NOT met'})." if mean_util is not None
           else "GPU utilisation not sampled (no CUDA device)."),
        "",
        "Search result (JSON, cut): `" + json.dumps(result)[:400] + "`",
        "",
        f"Command: `python benchmarks/gpu_suite.py{' --dry-run' if args.dry_run else ''}`",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    out = args.out or ROOT / "results" / "benchmarks" / f"gpu_suite_{device_tag(device)}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
