"""Causal linear attention, out_t = Σ_{s ≤ t} (q_t · k_s) v_s: time the variants side by side.

Variants: the quadratic reference tril(q kᵀ) v, the chunked torch scan, our Triton kernel (CUDA
only) and flash-linear-attention's ``chunk_linear_attn`` (CUDA only, when the package ``fla`` —
PyPI fla-core / flash-linear-attention — imports). Median times: triton.testing.do_bench on CUDA,
torch.utils.benchmark on CPU (both warm up and synchronise). Prints a table with ratios and the
N-scaling exponent (log-log slope of time vs T) of each variant, and writes it as markdown to
results/benchmarks/causal_linear_attention_<device>.md.

    python benchmarks/causal_linear_attention.py                  # defaults for the device found
    python benchmarks/causal_linear_attention.py --T 2048 4096 --heads 8 --mode fwdbwd
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import inspect
from collections.abc import Callable
from pathlib import Path

import torch
import torch.utils.benchmark as tbench
from bench_common import device_name, device_tag, slope  # benchmarks/bench_common.py, beside this script

from archsearch.compiler.kernels import causal_linear_attention_chunked, causal_linear_attention_quadratic

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}






def load_triton(device: torch.device):
    if device.type != "cuda" or importlib.util.find_spec("triton") is None:
        return None
    from archsearch.compiler.kernels import triton_causal

    return triton_causal.causal_linear_attention


def load_fla(device: torch.device):
    if device.type != "cuda" or importlib.util.find_spec("fla") is None:
        return None
    try:
        from fla.ops.linear_attn import chunk_linear_attn
    except Exception as exc:  # noqa: BLE001 - any import failure just drops the column
        print(f"fla present but chunk_linear_attn does not import: {exc!r}")
        return None
    params = inspect.signature(chunk_linear_attn).parameters
    extra = {"head_first": False} if "head_first" in params else {}

    def fla_fn(q, k, v):  # fla wants (B, T, H, D); the transposes are done outside the timing
        o, _ = chunk_linear_attn(q, k, v, scale=1.0, normalize=False, **extra)
        return o

    return fla_fn


def median_seconds(fn: Callable[[], object], device: torch.device, min_run_time: float) -> float:
    fn()  # warm-up (compilation, autotuning, allocator)
    if device.type == "cuda":
        torch.cuda.synchronize()
        try:
            import triton.testing

            return triton.testing.do_bench(fn, warmup=25, rep=100, return_mode="median") / 1e3
        except ImportError:
            pass
    timer = tbench.Timer(stmt="fn()", globals={"fn": fn})  # synchronises CUDA itself
    return timer.blocked_autorange(min_run_time=min_run_time).median


def make_call(fn, q, k, v, mode: str) -> Callable[[], object]:
    if mode == "fwd":

        def call():
            with torch.no_grad():
                return fn(q, k, v)

        return call
    leaves = [x.detach().requires_grad_() for x in (q, k, v)]
    do = torch.randn_like(fn(*leaves))

    def call_bwd():
        out = fn(*leaves)
        return torch.autograd.grad(out, leaves, do)

    return call_bwd


def check_accuracy(variants, device, dtype, b, h, d, dv, t: int = 1000) -> None:
    """Each fast variant against the fp32 chunked scan on one small input (catches a broken kernel)."""
    gen = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(b, h, t, n, generator=gen).to(device=device, dtype=dtype) for n in (d, d, dv))
    ref = causal_linear_attention_chunked(q.float(), k.float(), v.float())
    for vname, fn in variants.items():
        if vname in ("quadratic", "chunked torch"):
            continue
        with torch.no_grad():
            if vname.startswith("fla"):
                out = fn(*(x.transpose(1, 2).contiguous() for x in (q, k, v))).transpose(1, 2)
            else:
                out = fn(q, k, v)
        err = ((out.float() - ref).abs().max() / ref.abs().max()).item()
        print(f"check T={t}: {vname} max error / max |out| = {err:.2e}")




def fmt_ms(s: float | None) -> str:
    return "—" if s is None else f"{s * 1e3:.3f}"


def fmt_ratio(a: float | None, b: float | None) -> str:
    return "—" if a is None or b is None else f"{a / b:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--T", type=int, nargs="+", help="sequence lengths (default GPU 2k..16k, CPU 1k..8k)")
    parser.add_argument("--batch", type=int, help="default GPU 4, CPU 1")
    parser.add_argument("--heads", type=int, help="default GPU 8, CPU 4")
    parser.add_argument("--dim", type=int, default=64, help="D, the key width")
    parser.add_argument("--dim-v", type=int, default=64, help="Dv, the value width")
    parser.add_argument("--chunk", type=int, default=64)
    parser.add_argument("--dtype", choices=sorted(DTYPES), help="default GPU bf16, CPU fp32")
    parser.add_argument("--mode", choices=["fwd", "fwdbwd"], default="fwd")
    parser.add_argument("--max-quadratic-T", type=int, help="skip the quadratic reference above this T")
    parser.add_argument("--min-run-time", type=float, default=0.5, help="seconds per CPU measurement")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--out", type=Path, help="markdown file (default results/benchmarks/…_<device>.md)")
    args = parser.parse_args()

    device = torch.device(args.device)
    gpu = device.type == "cuda"
    if args.threads:
        torch.set_num_threads(args.threads)
    ts = args.T or ([2048, 4096, 8192, 16384] if gpu else [1024, 2048, 4096, 8192])
    b = args.batch or (4 if gpu else 1)
    h = args.heads or (8 if gpu else 4)
    dtype = DTYPES[args.dtype or ("bf16" if gpu else "fp32")]
    max_quad = args.max_quadratic_T or (16384 if gpu and args.mode == "fwd" else 8192)
    d, dv, chunk = args.dim, args.dim_v, args.chunk

    variants: dict[str, Callable | None] = {
        "quadratic": causal_linear_attention_quadratic,
        "chunked torch": lambda q, k, v: causal_linear_attention_chunked(q, k, v, chunk),
    }
    triton_fn = load_triton(device)
    if triton_fn is not None:
        variants["triton"] = lambda q, k, v: triton_fn(q, k, v, chunk)
    fla_fn = load_fla(device)
    if fla_fn is not None:
        variants["fla chunk_linear_attn"] = fla_fn

    check_accuracy(variants, device, dtype, b, h, d, dv)
    name = device_name(device)
    print(f"device: {name} ({device}); B={b} H={h} D={d} Dv={dv} chunk={chunk} {dtype} mode={args.mode}")
    times: dict[str, list[float | None]] = {v: [] for v in variants}
    gen = torch.Generator().manual_seed(0)
    for t in ts:
        q, k, v = (
            torch.randn(b, h, t, n, generator=gen).to(device=device, dtype=dtype) for n in (d, d, dv)
        )
        for vname, fn in variants.items():
            if vname == "quadratic" and t > max_quad:
                times[vname].append(None)
                continue
            args_ = (q, k, v)
            if vname.startswith("fla"):
                args_ = tuple(x.transpose(1, 2).contiguous() for x in args_)
            try:
                sec = median_seconds(make_call(fn, *args_, args.mode), device, args.min_run_time)
            except torch.OutOfMemoryError:
                sec = None
                torch.cuda.empty_cache()
            times[vname].append(sec)
            print(f"T={t:6d}  {vname:22s} {fmt_ms(sec):>10s} ms", flush=True)
        del q, k, v

    ours = "triton" if "triton" in variants else "chunked torch"
    fla_name = next((n for n in variants if n.startswith("fla")), None)
    cols = list(variants)
    header = ["T", *(f"{c} (ms)" for c in cols), f"{ours} / quadratic"]
    if ours != "chunked torch":
        header.append("chunked torch / quadratic")
    if fla_name:
        header.append(f"{ours} / fla")
    rows = []
    for i, t in enumerate(ts):
        row = [str(t), *(fmt_ms(times[c][i]) for c in cols), fmt_ratio(times[ours][i], times["quadratic"][i])]
        if ours != "chunked torch":
            row.append(fmt_ratio(times["chunked torch"][i], times["quadratic"][i]))
        if fla_name:
            row.append(fmt_ratio(times[ours][i], times[fla_name][i]))
        rows.append(row)
    slopes = {c: slope(ts, times[c]) for c in cols}
    slope_row = ["slope (log t / log T)", *("—" if slopes[c] is None else f"{slopes[c]:.2f}" for c in cols)]
    slope_row += [""] * (len(header) - len(slope_row))

    widths = [max(len(r[i]) for r in [header, *rows, slope_row]) for i in range(len(header))]
    for r in [header, *rows, slope_row]:
        print("  ".join(cell.rjust(w) for cell, w in zip(r, widths, strict=True)))

    versions = [f"torch {torch.__version__}"]
    for mod in ("triton", "fla"):
        if importlib.util.find_spec(mod) is not None:
            try:
                versions.append(f"{mod} {__import__(mod).__version__}")
            except Exception:  # noqa: BLE001
                versions.append(f"{mod} (version unknown)")
    lines = [
        f"# Causal linear attention: {name}",
        "",
        f"{datetime.date.today().isoformat()}; device `{device}` ({name}); B={b}, H={h}, D={d}, Dv={dv}, "
        f"chunk={chunk}, {str(dtype).removeprefix('torch.')}, {args.mode}; median times "
        f"({'triton.testing.do_bench' if gpu else 'torch.utils.benchmark'}), "
        f"{torch.get_num_threads()} CPU threads; {', '.join(versions)}.",
        f"Quadratic reference skipped above T = {max_quad}. slope = least-squares log-log exponent of time vs T.",
        "",
        "| " + " | ".join(header) + " |",
        "| " + " | ".join("---" for _ in header) + " |",
        *("| " + " | ".join(r) + " |" for r in [*rows, slope_row]),
        "",
        "Command: `python benchmarks/causal_linear_attention.py"
        + (f" --device {args.device}" if args.device != ("cuda" if torch.cuda.is_available() else "cpu") else "")
        + f" --T {' '.join(map(str, ts))} --batch {b} --heads {h} --dim {d} --dim-v {dv} --chunk {chunk}"
        f" --dtype {next(k for k, v in DTYPES.items() if v == dtype)} --mode {args.mode}`",
    ]
    out = args.out or Path(f"results/benchmarks/causal_linear_attention_{device_tag(device)}.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
