"""The seeds' CoLU experiments as they report them (the talk slides ``001_059340edfc13bdf4.txt``, "Conic
Activation Functions", and the poster text ``000_b66a017fbaa616e0.txt``, both OCR extractions).

These are quoted figures, not results of this tool: every table in results/seeds/ puts them beside what the
experiments measured. Where the extraction is ambiguous the reading is stated next to the number.
"""

from __future__ import annotations

from dataclasses import dataclass

from archsearch.experiments.stats import Comparison

SLIDES = "001_059340edfc13bdf4.txt"
POSTER = "000_b66a017fbaa616e0.txt"


@dataclass(frozen=True)
class SeedFigure:
    """One reported figure: ``value`` ± ``spread`` (None: not given) for one arm of one experiment."""

    experiment: str
    arm: str
    quantity: str
    value: float | None
    spread: float | None = None
    note: str = ""


SEED_FIGURES: tuple[SeedFigure, ...] = (
    SeedFigure("resnet56", "relu", "test accuracy (%)", 92.7282, 0.357),
    SeedFigure("resnet56", "colu", "test accuracy (%)", 93.5851, 0.442),
    SeedFigure("resnet56", "relu", "forward FLOPs", 0.252, None,
               "printed '0.252M'; read as 0.252 G: ResNet-56 has 125.7 M multiply-adds per image"),
    SeedFigure("resnet56", "colu", "forward FLOPs", 0.257, None, "printed '0.257M'; read as 0.257 G"),
    SeedFigure("gpt2-mlp", "relu", "test loss (nats/token)", 3.4569, 0.1182),
    SeedFigure("gpt2-mlp", "colu", "test loss (nats/token)", 3.3804, 0.1159),
    SeedFigure("gpt2-mlp", "relu", "forward FLOPs", 39.064e6, None, "printed '39.064M'; read as per token"),
    SeedFigure("gpt2-mlp", "colu", "forward FLOPs", 39.101e6, None, "printed '39.101M'; read as per token"),
    SeedFigure("diffusion", "relu", "train loss", 0.1653),
    SeedFigure("diffusion", "colu", "train loss", 0.1458, None, "'CoLU (faster)'"),
)

#: What the seeds show without numbers (curves only).
SEED_CURVES: dict[str, str] = {
    "minimal": ("slides: 'Minimal Example (C=3)': input x, activation A(wᵀx), output wA(wᵀx), label y; "
                "ReLU train/test and CoLU train/test loss over 1 500 iterations (y axis 0–1.5); "
                "'Improved Generalization'; no numbers, no seed count"),
    "sample-efficiency": ("poster: test accuracy against the number of training examples (0–120 K), CoLU above "
                          "ReLU; the data set and the seed count are not named"),
}


def seed_figures(experiment: str, quantity: str | None = None) -> dict[str, SeedFigure]:
    """Arm → the seeds' figure of ``experiment`` (optionally only ``quantity``)."""
    return {f.arm: f for f in SEED_FIGURES
            if f.experiment == experiment and (quantity is None or f.quantity == quantity)}


def seed_comparison(experiment: str, quantity: str, direction: str) -> Comparison | None:
    """The seeds' own CoLU against ReLU on ``quantity`` under the two-spread rule (None: no spreads given)."""
    figures = seed_figures(experiment, quantity)
    colu, relu = figures.get("colu"), figures.get("relu")
    if colu is None or relu is None:
        return None
    if colu.value is None or colu.spread is None or relu.value is None or relu.spread is None:
        return None
    return Comparison.reported("CoLU", colu.value, colu.spread, "ReLU", relu.value, relu.spread, direction)
