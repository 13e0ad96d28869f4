"""A training step of the library model against the same model with hand-written blocks, on CPU.

The search's default trial: the paper's baseline terms 0-0 (linear MLP) and 0-1.0-1 (linear
attention), untied, width 32, depth 2, heads 2, rank 16, on icl-regression (N = 11 tokens), batch 32.
The hand-written model is the library model with each compiled block swapped for what a person
would write for the same math, holding the same weights (checked: outputs and gradients equal):

* 0-0 untied, W = Q Kᵀ per head: x ↦ x·[K₀ Q₁]·[Q₀ K₁]ᵀ, two ``nn.Linear`` (a linear MLP of width 2·H·C_A);
* 0-1.0-1 untied: four linear attentions (one per opened endpoint), one fused qkv ``nn.Linear`` for all
  of them, heads and branches batched, ``(q kᵀ) v`` when N ≤ C_A else ``q (kᵀ v)``, one output ``nn.Linear``.

A step is forward, loss, backward, gradient clipping and the AdamW step of the trainer
(archsearch.train.loop), on one pre-generated batch. Both models run in the same process, interleaved
in blocks of ``--block`` steps, one torch thread; the table gives medians over ``--repeats`` blocks and
the ratio library / hand-written (goal ≤ 1.1). Also each block alone (forward + backward).

    python benchmarks/train_step.py [--repeats 15] [--block 20] [--out results/benchmarks/train_step_cpu.md]
"""

from __future__ import annotations

import argparse
import copy
import datetime
import os
import statistics
import time
from pathlib import Path

import torch
from bench_common import device_name  # benchmarks/bench_common.py, beside this script
from torch import nn

from archsearch.search.factories import make_task
from archsearch.train.loop import TrainConfig, make_optimizer
from archsearch.train.model import ModelConfig, build_model

ROOT = Path(__file__).resolve().parents[1]


class HandMLP(nn.Module):
    """x ↦ out(inp(x)): the untied low-rank field of Tr(X W Xᵀ), two linear maps."""

    def __init__(self, w_in: torch.Tensor, w_out: torch.Tensor) -> None:
        super().__init__()
        self.inp = nn.Linear(w_in.shape[1], w_in.shape[0], bias=False)
        self.out = nn.Linear(w_out.shape[1], w_out.shape[0], bias=False)
        with torch.no_grad():
            self.inp.weight.copy_(w_in)
            self.out.weight.copy_(w_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.inp(x))


class HandLinearAttention(nn.Module):
    """G linear attentions with H heads of width C_A each: fused qkv, batched, one output map."""

    def __init__(self, w_qkv: torch.Tensor, w_out: torch.Tensor, groups: int, heads: int, rank: int) -> None:
        super().__init__()
        self.g, self.h, self.r = groups, heads, rank
        self.qkv = nn.Linear(w_qkv.shape[1], w_qkv.shape[0], bias=False)
        self.out = nn.Linear(w_out.shape[1], w_out.shape[0], bias=False)
        with torch.no_grad():
            self.qkv.weight.copy_(w_qkv)
            self.out.weight.copy_(w_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.g * self.h, self.r).permute(2, 0, 3, 1, 4).unbind(0)
        y = (q @ k.mT) @ v if n <= self.r else q @ (k.mT @ v)
        return self.out(y.transpose(1, 2).reshape(b, n, -1))


def hand_block(block: nn.Module) -> nn.Module:
    """The hand-written block holding ``block``'s weights (0-0 and 0-1.0-1, untied, low rank)."""
    w = block.weight.detach()  # (factors, H, C_A, C), rows in block.factor_names order
    c, h, r = block.features, block.heads, block.rank
    names = block.factor_names
    if block.term == "0-0":
        # the block's layout: slots K_b0, Q_b1 (projection), then outputs Q_b0, K_b1
        return HandMLP(w[0:2].reshape(-1, c), w[2:4].reshape(-1, c).T)
    if block.term == "0-1.0-1":
        assert len(names) == 16
        # 12 slot rows (3 roles × 4 branches), then 4 output factors; core_b = (s2 s0ᵀ) s1 per branch
        qkv = torch.cat([w[8:12], w[0:4], w[4:8]]).reshape(-1, c)
        return HandLinearAttention(qkv, w[12:16].reshape(-1, c).T, 4, h, r)
    raise ValueError(f"no hand-written block for {block.term}")


def handwritten(model: nn.Module) -> nn.Module:
    out = copy.deepcopy(model)
    for step in out.steps:
        step.blocks = nn.ModuleList(hand_block(b) for b in step.blocks)
    return out


def measure(fns: dict[str, object], repeats: int, block: int) -> dict[str, list[float]]:
    """Seconds per call of each fn, interleaved: repeats × (block calls of each fn in turn)."""
    for fn in fns.values():
        for _ in range(max(3, block // 4)):
            fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(block):
                fn()
            times[k].append((time.perf_counter() - t0) / block)
    return times


def train_step_fn(model: nn.Module, task, batch: dict, cfg: TrainConfig):
    optimizer = make_optimizer(model, cfg)
    params = [p for p in model.parameters() if p.requires_grad]

    def step():
        loss = task.loss(model(batch["inputs"]), batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        optimizer.step()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--block", type=int, default=20)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "benchmarks" / "train_step_cpu.md")
    args = parser.parse_args()
    torch.set_num_threads(1)
    task = make_task("icl-regression", {})
    cfg = ModelConfig(terms=("0-0", "0-1.0-1"), tied=False, width=32, depth=2, heads=2, rank=16, seed=0)
    lib = build_model(cfg, task)
    hand = handwritten(lib)
    batch = task.batch("train", args.batch, torch.Generator().manual_seed(0))
    n = batch["inputs"].shape[1]

    # same math: outputs and gradients equal
    for a, b in ((lib, hand),):
        ya, yb = a(batch["inputs"]), b(batch["inputs"])
        err = ((ya - yb).norm() / yb.norm()).item()
        assert err < 1e-5, f"library and hand-written models differ: {err:.2e}"
        task.loss(ya, batch).backward()
        task.loss(yb, batch).backward()
        ga = torch.cat([p.grad.flatten() for p in a.parameters()]).norm()
        gb = torch.cat([p.grad.flatten() for p in b.parameters()]).norm()
        assert abs(ga - gb) / gb < 1e-4, "gradients differ"
        a.zero_grad()
        b.zero_grad()
    print(f"check: outputs equal to {err:.1e} (relative), gradient norms equal")

    tcfg = TrainConfig()
    fns = {"library": train_step_fn(lib, task, batch, tcfg), "hand-written": train_step_fn(hand, task, batch, tcfg)}
    x = torch.randn(args.batch, n, cfg.width, requires_grad=True)
    for i, (bl, bh) in enumerate(zip(lib.steps[0].blocks, hand.steps[0].blocks, strict=True)):
        def fb(m=bl):
            m(x).sum().backward()

        def fh(m=bh):
            m(x).sum().backward()

        fns[f"{cfg.terms[i]} block, library"] = fb
        fns[f"{cfg.terms[i]} block, hand-written"] = fh
    load = os.getloadavg()[0]
    started = time.perf_counter()
    times = measure(fns, args.repeats, args.block)
    med = {k: statistics.median(v) for k, v in times.items()}
    load_end = os.getloadavg()[0]
    ratio = med["library"] / med["hand-written"]
    name = device_name(torch.device("cpu"))
    rows = [("training step (model)", "library", "hand-written")]
    rows += [(f"{t} block fwd+bwd", f"{t} block, library", f"{t} block, hand-written") for t in cfg.terms]
    lines = [
        f"# Training step: library model vs hand-written blocks, {name}",
        "",
        f"{datetime.date.today()}; device `cpu` ({name}, {os.cpu_count()} cores), 1 torch thread; torch "
        f"{torch.__version__}. Model: terms {', '.join(cfg.terms)} untied, width {cfg.width}, depth {cfg.depth}, "
        f"heads {cfg.heads}, rank {cfg.rank}, layer norm, parallel scheme; icl-regression (N = {n}), batch "
        f"{args.batch}. A step = forward, loss, backward, clipping, AdamW (the trainer's). Both models hold the "
        f"same weights (outputs equal to {err:.0e}). Interleaved blocks of {args.block} calls, {args.repeats} "
        f"repeats, medians; load average {load:.1f} at the start, {load_end:.1f} at the end "
        f"({time.perf_counter() - started:.0f} s).",
        "",
        "| what | library (µs) | hand-written (µs) | library / hand-written |",
        "| --- | --- | --- | --- |",
    ]
    for what, a, b in rows:
        lines.append(f"| {what} | {med[a] * 1e6:.0f} | {med[b] * 1e6:.0f} | {med[a] / med[b]:.3f} |")
    verdict = "met" if ratio <= 1.1 else "NOT met"
    lines += ["", f"Library step / hand-written step = {ratio:.3f} (goal ≤ 1.1: {verdict}).", "",
              f"Command: `python benchmarks/train_step.py --repeats {args.repeats} --block {args.block}`"]
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
