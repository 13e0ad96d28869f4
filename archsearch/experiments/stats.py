"""Mean ± std over seeds, and when a difference between two arms is real.

The rule (the same as ``archsearch confirm``): with margin = how much better arm a's mean is than arm b's
(in the metric's direction) and spread = the larger of the two sample standard deviations over seeds, the
difference is real when margin > 2·spread.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

DIRECTIONS = ("minimize", "maximize")
CONFIRMED = "confirmed"
NOT_CONFIRMED = "not confirmed at this scale"
NOT_RUN = "not run"


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """(mean, sample standard deviation); the std of one value is 0."""
    if not values:
        raise ValueError("mean_std needs at least one value")
    vals = [float(v) for v in values]
    return statistics.fmean(vals), (statistics.stdev(vals) if len(vals) > 1 else 0.0)


def band(curves: Sequence[Sequence[float]]) -> dict[str, list[float]]:
    """Pointwise mean and std over seeds of equally long curves: {"mean": […], "std": […]}."""
    stats = [mean_std(col) for col in zip(*curves, strict=True)]
    return {"mean": [m for m, _ in stats], "std": [s for _, s in stats]}


def fmt(mean: float, std: float | None, digits: int = 4) -> str:
    """``mean ± std`` with ``digits`` significant digits (std with 2)."""
    if std is None:
        return f"{mean:.{digits}g}"
    return f"{mean:.{digits}g} ± {std:.2g}"


@dataclass(frozen=True)
class Comparison:
    """Arm ``a`` against arm ``b`` on one metric: margin = a better than b by (direction-aware), spread =
    max(std_a, std_b); real iff margin > 2·spread."""

    a: str
    b: str
    mean_a: float
    std_a: float
    mean_b: float
    std_b: float
    direction: str
    n: int | None

    @classmethod
    def of(cls, a: str, values_a: Sequence[float], b: str, values_b: Sequence[float], direction: str) -> Comparison:
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, not {direction!r}")
        ma, sa = mean_std(values_a)
        mb, sb = mean_std(values_b)
        return cls(a, b, ma, sa, mb, sb, direction, min(len(values_a), len(values_b)))

    @classmethod
    def reported(cls, a: str, mean_a: float, std_a: float, b: str, mean_b: float, std_b: float,
                 direction: str) -> Comparison:
        """From reported mean ± std (the seeds' figures): the number of seeds is unknown (n None)."""
        return cls(a, b, mean_a, std_a, mean_b, std_b, direction, None)

    @property
    def margin(self) -> float:
        diff = self.mean_a - self.mean_b
        return diff if self.direction == "maximize" else -diff

    @property
    def spread(self) -> float:
        return max(self.std_a, self.std_b)

    @property
    def real(self) -> bool:
        """a is better than b by more than twice the seed spread (needs at least two seeds a side, or
        reported figures)."""
        return self._enough and math.isfinite(self.margin) and self.margin > 2 * self.spread

    @property
    def reverse_real(self) -> bool:
        """b is better than a by more than twice the seed spread."""
        return self._enough and math.isfinite(self.margin) and -self.margin > 2 * self.spread

    @property
    def _enough(self) -> bool:
        return self.n is None or self.n >= 2

    def sentence(self, unit: str = "") -> str:
        """E.g. ``colu better than relu by 0.012 (spread 0.004): real``."""
        unit = f" {unit}" if unit else ""
        if self.real:
            tail = "more than twice the spread: real"
        elif self.reverse_real:
            tail = f"{self.b} is better by more than twice the spread"
        else:
            tail = "within twice the spread: not a real difference"
        word = "better" if self.margin >= 0 else "worse"
        seeds = "seeds not stated" if self.n is None else f"{self.n} seeds"
        return (f"{self.a} {word} than {self.b} by {abs(self.margin):.3g}{unit} (spread {self.spread:.2g}, "
                f"{seeds}): {tail}")

    def to_dict(self) -> dict[str, object]:
        return {"a": self.a, "b": self.b, "mean_a": self.mean_a, "std_a": self.std_a, "mean_b": self.mean_b,
                "std_b": self.std_b, "direction": self.direction, "n": self.n, "margin": self.margin,
                "spread": self.spread, "real": self.real, "reverse_real": self.reverse_real}


@dataclass(frozen=True)
class Verdict:
    """One experiment's answer to the seeds' claim: ``label`` is confirmed / not confirmed at this scale /
    not run, ``reason`` one or two sentences with the effect size against the seed spread."""

    claim: str
    label: str
    reason: str

    def __post_init__(self) -> None:
        if self.label not in (CONFIRMED, NOT_CONFIRMED, NOT_RUN):
            raise ValueError(f"unknown verdict {self.label!r}")

    def to_dict(self) -> dict[str, str]:
        return {"claim": self.claim, "label": self.label, "reason": self.reason}
