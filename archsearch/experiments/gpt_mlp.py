"""colu-gpt-mlp: the seeds' GPT-2 MLP swap — a small causal Transformer (softmax attention + MLP) whose MLP
activation is ReLU, GELU, CoLU or the orthogonal SOC projection, trained as a byte-level language model;
test loss mean ± std over seeds at matched FLOPs.

The slides report GPT-2's MLP on FineWeb-10M: test loss 3.4569 ± 0.1182 (ReLU) against 3.3804 ± 0.1159
(CoLU), forward FLOPs 39.064 M against 39.101 M. Here the corpus is the Python standard library's source at
the byte level (``text`` task, ``corpus=stdlib``; split by file) or a text file given with ``--data`` (read
byte by byte, split 90/5/5 by position). Every arm is the same block (archsearch.experiments.training):
H = 4 attention heads of width C/4 and an MLP of 4C hidden units, with learned absolute positions and
pre-norm Euler steps; the arms differ only in the activation, so their matrix FLOPs are equal (measured).
The loss is the test cross-entropy in bits per byte (and nats per byte, ×ln 2): bytes, not GPT-2 tokens,
so our numbers and the seeds' are compared by the sign and size of the CoLU − ReLU difference against the
seed spread, not by value.

``colu-gpt-mlp-gpu`` is the same experiment at the seeds' scale, for a GPU: C = 384, 8 steps, 256-byte
context — 39.5 M forward FLOPs per token (measured), reading the seeds' 39.064 M as per token — 5 000 steps
of 32 sequences (41 M bytes, about four passes over a 10 MB corpus), bf16 autocast.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archsearch.experiments.base import Context, Experiment, ExperimentError, Findings, positive
from archsearch.experiments.seeds import seed_comparison, seed_figures
from archsearch.experiments.stats import CONFIRMED, NOT_CONFIRMED, Comparison, Verdict, band, fmt, mean_std
from archsearch.experiments.training import ArmsConfig, mlp_label, train_arm

ARMS = ("relu", "mlp-gelu", "colu4", "soc4")
SEED_QUANTITY = "test loss (nats/token)"


@dataclass(frozen=True)
class GptMlpConfig(ArmsConfig):
    """The shared block and budget (archsearch.experiments.training.ArmsConfig) at this experiment's sizes,
    the context length, validation every k steps, bf16 autocast (CUDA only) and a cap on the stdlib corpus."""

    arms: tuple[str, ...] = ARMS
    width: int = 64
    steps: int = 1500
    batch_size: int = 32
    warmup_steps: int = 100
    seeds: int = 3
    seq_len: int = 64
    eval_every: int = 100
    amp: bool = False
    max_bytes: int = 32_000_000

    def __post_init__(self) -> None:
        super().__post_init__()
        positive(seq_len=self.seq_len, max_bytes=self.max_bytes)


@dataclass(frozen=True)
class GptMlpGpuConfig(GptMlpConfig):
    """The seeds' scale (see the module docstring)."""

    width: int = 384
    depth: int = 8
    seq_len: int = 256
    steps: int = 5000
    lr: float = 1e-3
    warmup_steps: int = 250
    eval_every: int = 500
    amp: bool = True
    eval_size: int = 4096


def make_text_task(config: GptMlpConfig, data: Path | None) -> Any:
    """The stdlib corpus at the byte level, or the file ``data`` read byte by byte; ExperimentError (one line)
    for a missing, empty or too short file."""
    from archsearch.tasks import make_task

    try:
        if data is not None:
            return make_task("text", path=str(data), level="byte", seq_len=config.seq_len,
                             eval_size=config.eval_size)
        return make_task("text", corpus="stdlib", seq_len=config.seq_len, eval_size=config.eval_size,
                         max_bytes=config.max_bytes)
    except (OSError, ValueError) as err:
        raise ExperimentError(f"colu-gpt-mlp: {err}") from None


def paired_note(colu: list[float], relu: list[float], metric: str) -> str:
    """CoLU − ReLU seed by seed (a seed fixes the initial weights and the batches, so the arms are paired):
    mean ± std of the differences, the same two-spread rule on them, and in how many seeds CoLU is lower."""
    diffs = [a - b for a, b in zip(colu, relu, strict=True)]
    m, s = mean_std(diffs)
    wins = sum(d < 0 for d in diffs)
    real = "beyond" if len(diffs) > 1 and abs(m) > 2 * s else "within"
    return (f"Paired by seed (same initial weights and batches): CoLU − ReLU {fmt(m, s, digits=3)} {metric}, "
            f"{real} twice its spread; CoLU lower in {wins} of {len(diffs)} seeds.")


class GptMlp(Experiment):
    name = "colu-gpt-mlp"
    version = 1
    title = "GPT-2-style MLP swap at CPU scale: byte-level LM, ReLU / GELU / CoLU / SOC at matched FLOPs"
    seed_key = "gpt2-mlp"
    claim = "CoLU's test loss is lower than ReLU's in a Transformer's MLP at matched FLOPs"
    reading = __doc__.split("\n\n", 1)[1].strip()
    Config = GptMlpConfig
    quick = {"steps": 3, "seeds": 2, "width": 16, "seq_len": 16, "eval_size": 8, "eval_every": 2,
             "max_bytes": 200_000, "warmup_steps": 1}

    def run(self, config: GptMlpConfig, ctx: Context) -> dict[str, Any]:
        task = make_text_task(config, ctx.data)
        arms: dict[str, list[dict[str, Any]]] = {}
        for arm in config.arms:
            arms[arm] = []
            for seed in range(config.seeds):
                arms[arm].append(train_arm(config.block, arm, task, seed, ctx.device, eval_every=config.eval_every,
                                           amp=config.amp, **config.train_options()))
                ctx.log(f"{arm} seed {seed}: test {arms[arm][-1]['test']:.4f} {task.metric_name}, "
                        f"{arms[arm][-1]['seconds']:.0f} s")
        return {"task": task.describe(), "metric": task.metric_name, "arms": arms}

    def findings(self, config: GptMlpConfig, results: dict[str, Any]) -> Findings:
        metric = results["metric"]
        seeds = seed_figures(self.seed_key, SEED_QUANTITY)
        lines = [f"| MLP activation | test {metric} | test nats/byte | val {metric} | forward FLOPs per token | "
                 "parameters | seeds: test loss (nats/token, GPT-2 on FineWeb-10M) |", "|" + " --- |" * 7]
        tests = {arm: [r["test"] for r in runs] for arm, runs in results["arms"].items()}
        for arm, runs in results["arms"].items():
            m, s = mean_std(tests[arm])
            seed = seeds.get(arm.rstrip("0123456789"))
            quoted = fmt(seed.value, seed.spread) if seed and seed.value is not None else "—"
            lines.append(f"| {mlp_label(arm)} | {fmt(m, s)} | {fmt(m * math.log(2), s * math.log(2))} | "
                         f"{fmt(*mean_std([r['val'] for r in runs]))} | {runs[0]['flops'] / config.seq_len:,.0f} | "
                         f"{runs[0]['params']:,} | {quoted} |")
        notes, verdicts, headline = [], [], {}
        colu = next((a for a in config.arms if a.startswith("colu")), None)
        if colu and "relu" in tests:
            cmp = Comparison.of("CoLU", tests[colu], "ReLU", tests["relu"], "minimize")
            headline["colu_vs_relu"] = cmp.to_dict()
            verdicts.append(Verdict(self.claim, CONFIRMED if cmp.real else NOT_CONFIRMED, cmp.sentence(metric)))
            notes.append(paired_note(tests[colu], tests["relu"], metric))
            theirs = seed_comparison(self.seed_key, SEED_QUANTITY, "minimize")
            if theirs is not None:
                notes.append(f"The seeds' own figures under the same rule: {theirs.sentence('nats/token')}.")
        for arm in config.arms:
            if arm not in ("relu", colu) and "relu" in tests:
                notes.append(Comparison.of(mlp_label(arm), tests[arm], "ReLU", tests["relu"], "minimize")
                             .sentence(metric) + ".")
        flops = {arm: runs[0]["flops"] for arm, runs in results["arms"].items()}
        notes.append("Matched FLOPs: every arm has " + ("the same" if len(set(flops.values())) == 1 else "different")
                     + " measured forward FLOPs (matrix products; the activations' element-wise work is not counted).")
        headline["flops_per_token"] = {a: f / config.seq_len for a, f in flops.items()}
        summary = f"test {metric} — " + ", ".join(f"{mlp_label(a).split(' ')[0]} {fmt(*mean_std(v))}"
                                                  for a, v in tests.items())
        return Findings(lines, verdicts, notes, headline, summary)

    def plot(self, config: GptMlpConfig, results: dict[str, Any], path: Path) -> None:
        from archsearch.experiments.plots import band_plot, figure, save

        colours = {"relu": "#1f77b4", "mlp-gelu": "#9467bd", "colu4": "#d62728", "soc4": "#2ca02c"}
        metric = results["metric"]
        fig, (curves, final, seeds_ax) = figure(3, width=4.6)
        for i, (arm, runs) in enumerate(results["arms"].items()):
            colour = colours.get(arm, "#7f7f7f")
            steps = [h["step"] for h in runs[0]["history"]]
            band_plot(curves, steps, band([[h["val"] for h in r["history"]] for r in runs]), colour, "-",
                      mlp_label(arm))
            m, s = mean_std([r["test"] for r in runs])
            final.errorbar([i], [m], yerr=[s], fmt="o", color=colour, capsize=4)
        curves.set_xlabel("training step")
        curves.set_ylabel(f"val {metric} (8 batches), mean ± std")
        curves.legend(fontsize=8)
        final.set_xticks(range(len(results["arms"])), [mlp_label(a) for a in results["arms"]], fontsize=7)
        final.set_ylabel(f"test {metric}, mean ± std over {config.seeds} seeds")
        final.set_title("ours (bytes)")
        quoted = seed_figures(self.seed_key, SEED_QUANTITY)
        for i, arm in enumerate(("relu", "colu")):
            if arm in quoted:
                seeds_ax.errorbar([i], [quoted[arm].value], yerr=[quoted[arm].spread], fmt="s",
                                  color=colours["relu" if arm == "relu" else "colu4"], capsize=4)
        seeds_ax.set_xticks([0, 1], ["ReLU", "CoLU"])
        seeds_ax.set_xlim(-0.5, 1.5)
        seeds_ax.set_ylabel("test loss, nats/token (as printed)")
        seeds_ax.set_title("seeds: GPT-2 MLP, FineWeb-10M")
        fig.suptitle(f"{self.name}: C = {config.width}, depth {config.depth}, context {config.seq_len}, "
                     f"{config.steps} training steps of {config.batch_size} sequences")
        save(fig, path)


class GptMlpGpu(GptMlp):
    name = "colu-gpt-mlp-gpu"
    version = 1
    title = "GPT-2-style MLP swap at the seeds' scale (39.5 M FLOPs per token), for a GPU"
    Config = GptMlpGpuConfig
    gpu = True
