"""colu-sample-efficiency: test accuracy against the number of training images on scikit-learn's 8×8 digits,
for a Transformer block whose MLP activation is ReLU, CoLU or the orthogonal SOC projection.

The poster plots test accuracy against the number of training examples (0–120 K), CoLU above ReLU, without
naming the data set. Here: the ``digits`` task (1 797 images; 2×2 patches as 16 tokens, mean-pooled; a fixed
stratified 70/15/15 split), ``train_fraction`` f keeping a nested stratified subset of the 1 259 training
images (so a smaller set is part of every larger one) while the 269 test images stay the same. Each arm is
the block softmax attention + MLP (archsearch.experiments.training), the same shape and training budget for
every arm and training-set size; the test accuracy after the last step is reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archsearch.experiments.base import Context, Experiment, Findings
from archsearch.experiments.stats import CONFIRMED, NOT_CONFIRMED, Comparison, Verdict, fmt, mean_std
from archsearch.experiments.training import ArmsConfig, mlp_label, train_arm


@dataclass(frozen=True)
class SampleEfficiencyConfig(ArmsConfig):
    """The shared block and budget (archsearch.experiments.training.ArmsConfig), the training-set fractions
    and the digits task's patch."""

    fractions: tuple[float, ...] = (0.05, 0.1, 0.2, 0.4, 0.7, 1.0)
    patch: int = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.fractions or any(not 0 < f <= 1 for f in self.fractions):
            raise ValueError(f"fractions must lie in (0, 1], not {self.fractions}")


def _sizes(images: list[int]) -> str:
    """`` (60, 126 images)`` or nothing."""
    return f" ({', '.join(map(str, images))} images)" if images else ""


class SampleEfficiency(Experiment):
    name = "colu-sample-efficiency"
    version = 1
    title = "Sample efficiency on 8×8 digits: test accuracy against training images, ReLU / CoLU / SOC"
    seed_key = "sample-efficiency"
    claim = "CoLU reaches a higher test accuracy than ReLU for the same number of training examples"
    reading = __doc__.split("\n\n", 1)[1].strip()
    Config = SampleEfficiencyConfig
    quick = {"fractions": (0.1, 1.0), "seeds": 2, "steps": 4, "eval_size": 32}

    def run(self, config: SampleEfficiencyConfig, ctx: Context) -> dict[str, Any]:
        from archsearch.tasks import make_task

        points = []
        for fraction in config.fractions:
            task = make_task("digits", train_fraction=fraction, patch=config.patch, eval_size=config.eval_size)
            arms = {}
            for arm in config.arms:
                arms[arm] = [train_arm(config.block, arm, task, seed, ctx.device, eval_every=0,
                                       **config.train_options()) for seed in range(config.seeds)]
            train_images = task.describe()["data"]["samples"]["train"]
            points.append({"fraction": fraction, "train_images": train_images,
                           "test_images": len(task.dataset("test")["targets"]), "arms": arms})
            ctx.log(f"{train_images} training images: " + ", ".join(
                f"{arm} {fmt(*mean_std([r['test'] for r in runs]))}" for arm, runs in arms.items()))
        return {"points": points}

    def findings(self, config: SampleEfficiencyConfig, results: dict[str, Any]) -> Findings:
        arms = config.arms
        paired = {"relu", "colu4"} <= set(arms)
        columns = ["training images", *(f"{mlp_label(a)} test accuracy" for a in arms)]
        columns += ["CoLU − ReLU (vs 2 × spread)"] if paired else []
        lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
        comparisons = []
        for point in results["points"]:
            tests = {a: [r["test"] for r in point["arms"][a]] for a in arms}
            row = f"| {point['train_images']} | " + " | ".join(fmt(*mean_std(tests[a])) for a in arms)
            if paired:
                cmp = Comparison.of("CoLU", tests["colu4"], "ReLU", tests["relu"], "maximize")
                comparisons.append((point["train_images"], cmp))
                mark = " (real)" if cmp.real else " (ReLU, real)" if cmp.reverse_real else ""
                row += f" | {cmp.margin:+.3f} vs 2 × {cmp.spread:.3f}{mark}"
            lines.append(row + " |")
        flops = {a: results["points"][0]["arms"][a][0]["flops"] for a in arms}
        notes = ["Forward FLOPs per image (matrix products, measured): " +
                 ", ".join(f"{mlp_label(a)} {f:,}" for a, f in flops.items()) + "."]
        verdicts = []
        if comparisons:
            wins = [n for n, c in comparisons if c.real]
            losses = [n for n, c in comparisons if c.reverse_real]
            label = CONFIRMED if len(wins) * 2 > len(comparisons) and not losses else NOT_CONFIRMED
            margins = [c.margin for _, c in comparisons]
            reason = (f"CoLU's test accuracy is higher than ReLU's by more than twice the seed spread at "
                      f"{len(wins)} of {len(comparisons)} training-set sizes{_sizes(wins)} and lower by more than "
                      f"twice the spread at {len(losses)}{_sizes(losses)}; largest CoLU − ReLU difference "
                      f"{max(margins):+.3f}, smallest {min(margins):+.3f}"
                      f" ({config.seeds} seeds per point). Confirmed needs a real advantage at most sizes and a real "
                      "disadvantage at none")
            verdicts.append(Verdict(self.claim, label, reason))
        headline = {str(n): c.to_dict() for n, c in comparisons}
        ends = [results["points"][0], results["points"][-1]] if len(results["points"]) > 1 else results["points"]
        summary = "test accuracy — " + "<br>".join(f"{p['train_images']} images: " + ", ".join(
            f"{mlp_label(a).split(' ')[0]} {fmt(*mean_std([r['test'] for r in p['arms'][a]]), 3)}" for a in arms)
            for p in ends)
        return Findings(lines, verdicts, notes, {"colu_vs_relu": headline, "flops": flops}, summary)

    def plot(self, config: SampleEfficiencyConfig, results: dict[str, Any], path: Path) -> None:
        from archsearch.experiments.plots import band_plot, figure, save

        colours = {"relu": "#1f77b4", "colu4": "#d62728", "soc4": "#2ca02c", "mlp-gelu": "#9467bd"}
        fig, (ax,) = figure(1, width=6.5, height=4.2)
        xs = [p["train_images"] for p in results["points"]]
        for arm in config.arms:
            stats = [mean_std([r["test"] for r in p["arms"][arm]]) for p in results["points"]]
            band_plot(ax, xs, {"mean": [m for m, _ in stats], "std": [s for _, s in stats]},
                      colours.get(arm, "#7f7f7f"), "-o", mlp_label(arm))
        ax.set_xscale("log")
        ax.set_xlabel("training images (digits, nested stratified subsets)")
        ax.set_ylabel(f"test accuracy, mean ± std over {config.seeds} seeds")
        ax.set_title(f"digits: softmax attention + MLP, C = {config.width}, depth {config.depth}, "
                     f"{config.steps} training steps")
        ax.legend(fontsize=8)
        save(fig, path)
