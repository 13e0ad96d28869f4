"""The compiled linear-attention block against hand-written PyTorch doing the same math, on CPU.

Term 0-1.0-1 (Tr(X W₁ Xᵀ X W₂ Xᵀ)), real field, untied (four branches, one per opened endpoint),
low-rank weights W = Q Kᵀ per head (rank C_A), B = 1, float32, one torch thread. Both sides hold the
same weights (outputs checked equal before timing):

* non-causal: the compiled block (planned for the N, C, C_A, H of each row) against four linear
  attentions written by hand — one fused qkv ``linear`` for every branch and head, ``q (kᵀ v)``
  (``(q kᵀ) v`` when N ≤ C_A), one output ``linear``;
* causal: the compiled causal block against the same hand-written block with the plain-PyTorch
  chunked scan (:func:`hand_chunked_scan`, chunk 64, autograd backward: the library's scan before its
  backward was written out) of every branch and head in one call.

Forward and forward + backward, interleaved samples of ≥ 3 calls (about 50 ms), the order reversed every
other repeat, medians; the table gives the ratios
compiled / hand-written (goals: non-causal ≤ 1.0, causal ≤ 1.0).

    python benchmarks/linear_attention_blocks.py [--N 1024 4096 16384] [--C 64 256] [--heads 1 4]
        [--rank 64] [--repeats 7] [--only causal|non-causal] [--dry-run]
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import time
from pathlib import Path

import torch
from bench_common import device_name, interleaved_medians  # benchmarks/bench_common.py, beside this script
from torch import nn

from archsearch.calculus import derive
from archsearch.compiler import compile_term
from archsearch.compiler.lowrank import _fused
from archsearch.terms import Diagram

ROOT = Path(__file__).resolve().parents[1]
LA = Diagram.from_key("0-1.0-1")


def hand_scan_segment(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, state: torch.Tensor | None = None,
                      chunk: int = 64):
    """One segment of the causal scan: (out, S') with out[t] = q_t S + Σ_{s ≤ t} (q_t · k_s) v_s and
    S' = S + Σ_s k_sᵀ v_s, for (B, H, T, D) q, k, (B, H, T, Dv) v and the carried state S (B, H, D, Dv)
    (None: zero). Chunks of ``chunk`` tokens (the last zero-padded: zero keys and values add nothing):
    within a chunk the masked quadratic product, across chunks the prefix sums of the chunk states."""
    b, h, t, d = q.shape
    dv = v.shape[-1]
    if state is None:
        state = q.new_zeros(b, h, d, dv)
    if t == 0:
        return q.new_zeros(b, h, 0, dv), state
    c = min(chunk, t)
    m = -(-t // c)
    pad = m * c - t
    if pad:
        q, k, v = (torch.nn.functional.pad(a, (0, 0, 0, pad)) for a in (q, k, v))
    qc, kc, vc = (a.reshape(b, h, m, c, a.shape[-1]) for a in (q, k, v))
    mask = torch.ones(c, c, dtype=torch.bool, device=q.device).tril()
    intra = (qc @ kc.transpose(-1, -2)).masked_fill(~mask, 0) @ vc  # within a chunk
    after = torch.cumsum(kc.transpose(-1, -2) @ vc, dim=2) + state.unsqueeze(2)  # S after each chunk
    before = torch.cat([state.unsqueeze(2), after[:, :, :-1]], dim=2)  # S before each chunk
    out = (intra + qc @ before).reshape(b, h, m * c, dv)
    return (out[:, :, :t] if pad else out), after[:, :, -1]


def hand_chunked_scan(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, chunk: int = 64, segment: int = 512):
    """The hand-written side's scan: what archsearch.compiler.kernels.reference.chunked_scan was before it got
    its written-out backward — one chunked scan in plain PyTorch, autograd for the backward, walked in
    segments of ``segment`` tokens carrying the state."""
    t = q.shape[2]
    step = max(1, segment // chunk) * chunk
    if t <= step:
        return hand_scan_segment(q, k, v, None, chunk)[0]
    state, outs = None, []
    for s0 in range(0, t, step):
        out, state = hand_scan_segment(q[:, :, s0:s0 + step], k[:, :, s0:s0 + step], v[:, :, s0:s0 + step], state,
                                       chunk)
        outs.append(out)
    return torch.cat(outs, dim=2)


class HandBlock(nn.Module):
    """G linear attentions of H heads (width C_A each) from one fused projection; causal: one
    chunked scan over all of them."""

    def __init__(self, w_qkv: torch.Tensor, w_out: torch.Tensor, groups: int, heads: int, rank: int,
                 causal: bool) -> None:
        super().__init__()
        self.g, self.h, self.r, self.causal = groups, heads, rank, causal
        self.qkv = nn.Linear(w_qkv.shape[1], w_qkv.shape[0], bias=False)
        self.out = nn.Linear(w_out.shape[1], w_out.shape[0], bias=False)
        with torch.no_grad():
            self.qkv.weight.copy_(w_qkv)
            self.out.weight.copy_(w_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.g * self.h, self.r).permute(2, 0, 3, 1, 4).unbind(0)
        if self.causal:
            y = hand_chunked_scan(q, k, v, 64)
        else:
            y = (q @ k.mT) @ v if n <= self.r else q @ (k.mT @ v)
        return self.out(y.transpose(1, 2).reshape(b, n, -1))


def _rows(block: nn.Module, names: list[str]) -> torch.Tensor:
    """The (len(names)·H·C_A, C) rows of the factors ``names`` of a compiled low-rank block."""
    w = block.weight.detach()
    return torch.cat([w[block.factor_names.index(n)] for n in names]).reshape(-1, block.features)


def hand_block(compiled, block: nn.Module, causal: bool) -> HandBlock:
    """The hand-written block holding ``block``'s weights: which factor is q, k, v and the output of each
    branch is read from the compiled plan (non-causal: the batched program's roles; causal: the scans)."""
    plan = compiled.plan
    if causal:
        calls = [re.match(r"_causal_linear_attention\((\w+), (\w+), (\w+),", s.expr) for s in plan.steps]
        qkv = [[a.removeprefix("x_") for a in m.groups()] for m in calls if m]
        out = re.findall(r"(\w+)\.mT", plan.steps[-1].expr)
    else:  # the roles of the batched program (the weight layout; the plan may be another program)
        batched = _fused(derive(LA, "real", False), plan.sizes, False, True)
        (p,) = batched.projections
        roles = {r.var: p.rows[r.start:r.start + r.size] for r in batched.roles}
        s0, s1, s2 = (roles[f"s{i}"] for i in range(3))  # the core Σ_i (s0_i · s2_j) s1_i: q = s2, k = s0, v = s1
        qkv = [list(t) for t in zip(s2, s0, s1, strict=True)]
        out = list(batched.out_rows)
    q = _rows(block, [t[0] for t in qkv])
    k = _rows(block, [t[1] for t in qkv])
    v = _rows(block, [t[2] for t in qkv])
    return HandBlock(torch.cat([q, k, v]), _rows(block, out).T, len(qkv), block.heads, block.rank, causal)


def row(n: int, c: int, h: int, r: int, causal: bool, repeats: int) -> dict:
    torch.manual_seed(0)
    compiled = compile_term(LA, "real", tied=False, causal=causal, sizes={"N": n, "C": c, "C_A": r, "H": h})
    lib = compiled.build(c, rank=r, heads=h)
    hand = hand_block(compiled, lib, causal)
    x = torch.randn(1, n, c)
    with torch.no_grad():
        a, b = lib(x), hand(x)
    err = ((a - b).norm() / b.norm()).item()
    assert err < 1e-4, f"compiled and hand-written blocks differ at N={n} C={c} H={h}: {err:.1e}"
    xg = x.clone().requires_grad_()

    def fwd(m):
        def f():
            with torch.no_grad():
                m(x)
        return f

    def fwdbwd(m):
        def f():
            m(xg).sum().backward()
        return f

    med = interleaved_medians({"lib fwd": fwd(lib), "hand fwd": fwd(hand), "lib fb": fwdbwd(lib),
                               "hand fb": fwdbwd(hand)}, repeats)
    return {"N": n, "C": c, "H": h, "C_A": r, "err": err, **med}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--N", type=int, nargs="+", default=[1024, 4096, 16384])
    parser.add_argument("--C", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--heads", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--rank", type=int, default=64, help="C_A, the rank of each head's weights")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--only", choices=["causal", "non-causal"], help="one of the two tables (the other skipped)")
    parser.add_argument("--dry-run", action="store_true", help="tiny sizes, 1 repeat, no table written")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "benchmarks" / "linear_attention_blocks_cpu.md")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.dry_run:
        args.N, args.C, args.heads, args.rank, args.repeats = [64], [16], [1, 2], 8, 1
    load = os.getloadavg()[0]
    started = time.perf_counter()
    tables = {}
    worst = {}
    for causal in (False, True):
        if args.only is not None and causal != (args.only == "causal"):
            continue
        rows = []
        for n in args.N:
            for c in args.C:
                for h in args.heads:
                    r = min(args.rank, c)
                    res = row(n, c, h, r, causal, args.repeats)
                    rows.append(res)
                    print(f"{'causal' if causal else 'non-causal'} N={n} C={c} H={h} C_A={r}: fwd "
                          f"{res['lib fwd'] / res['hand fwd']:.3f}, fwd+bwd {res['lib fb'] / res['hand fb']:.3f}",
                          flush=True)
        tables[causal] = rows
        worst[causal] = max(max(x["lib fwd"] / x["hand fwd"], x["lib fb"] / x["hand fb"]) for x in rows)
    name = device_name(torch.device("cpu"))
    lines = [
        f"# Linear attention blocks: compiled vs hand-written, {name}",
        "",
        f"{datetime.date.today()}; device `cpu` ({name}, {os.cpu_count()} cores), 1 torch thread; torch "
        f"{torch.__version__}. Term 0-1.0-1 untied, low rank (C_A per head), B = 1, float32; both sides hold the "
        f"same weights (outputs equal to ≤ 1e-4 relative). Interleaved samples of ≥ 3 calls (~50 ms), the order "
        f"reversed every other repeat, {args.repeats} repeats, medians; load "
        f"average {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end "
        f"({time.perf_counter() - started:.0f} s).",
    ]
    for causal, rows in tables.items():
        what = "causal, hand-written: one chunked scan (chunk 64)" if causal else "non-causal, hand-written q (kᵀ v)"
        lines += ["", f"## {what}", "",
                  "| N | C | H | C_A | fwd compiled (ms) | fwd hand (ms) | fwd ratio | fwd+bwd compiled (ms) "
                  "| fwd+bwd hand (ms) | fwd+bwd ratio |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for x in rows:
            lines.append(f"| {x['N']} | {x['C']} | {x['H']} | {x['C_A']} | {x['lib fwd'] * 1e3:.3f} | "
                         f"{x['hand fwd'] * 1e3:.3f} | {x['lib fwd'] / x['hand fwd']:.3f} | {x['lib fb'] * 1e3:.3f} | "
                         f"{x['hand fb'] * 1e3:.3f} | {x['lib fb'] / x['hand fb']:.3f} |")
        verdict = "met" if worst[causal] <= 1.0 else "NOT met"
        lines += ["", f"Worst compiled / hand-written: {worst[causal]:.3f} (goal ≤ 1.0: {verdict})."]
    cmd = (f"python benchmarks/linear_attention_blocks.py --N {' '.join(map(str, args.N))} --C "
           f"{' '.join(map(str, args.C))} --heads {' '.join(map(str, args.heads))} --rank {args.rank} "
           f"--repeats {args.repeats}" + (f" --only {args.only}" if args.only else ""))
    lines += ["", f"Command: `{cmd}`"]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.dry_run:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
