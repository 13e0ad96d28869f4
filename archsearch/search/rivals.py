"""Equal-cost rivals: MLP + attention scaled up to the FLOPs of the configuration it is compared with.

The baselines run at the space's default size, so a searched winner with expensive terms can cost tens of
times their FLOPs; beating them then says that more compute beat less compute, not that a term earned its
cost. A rival is a baseline's terms (``paper``: linear MLP + linear attention; ``transformer``: softmax
attention with untied Q, K, V, O + a GELU MLP of 4× width) at the width and depth that spend the most
forward FLOPs without exceeding a target — the search winner's FLOPs: widths are multiples of
:data:`WIDTH_STEP` up to :data:`MAX_WIDTH`, depths the search space's — once at each learning rate of the
space, since the searched trials chose theirs (comparing with the best of them favours the rival). Rivals
are trained only in the confirmation stage (archsearch.search.confirm), with the same seeds as the trials
they are compared with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from archsearch.search.baselines import baseline_candidate
from archsearch.search.results import Confirmed
from archsearch.search.space import Candidate, SearchSpace

RIVALS = ("paper", "transformer")
WIDTH_STEP = 8  # divisible by the transformer's 4 heads and by every head count of the default space
MAX_WIDTH = 1024


@dataclass(frozen=True)
class Rival:
    """A rival's confirmation (one learning rate): its candidate, its forward FLOPs, the trial whose FLOPs it
    matches, and the mean ± std of its retrains. ``name``: the baseline's name; ``key``: name and lr."""

    key: str
    name: str
    candidate: dict[str, Any]
    flops: int | None
    n_params: int | None
    target_trial: int | None
    target_flops: int | None
    confirmed: Confirmed

    def describe(self) -> str:
        c = self.candidate
        cost = f", {self.flops:,} FLOPs" if self.flops is not None else ""
        return f"{self.name} at width {c['width']}, depth {c['depth']}, lr {c['lr']:g}{cost}"


def rival_key(name: str, lr: float) -> str:
    """The id of one rival variant: ``transformer@lr=0.003``."""
    return f"{name}@lr={lr:g}"


def check_rivals(names: Sequence[str]) -> tuple[str, ...]:
    unknown = [n for n in names if n not in RIVALS]
    if unknown:
        raise ValueError(f"unknown rival(s) {', '.join(unknown)} (known: {', '.join(RIVALS)})")
    return tuple(dict.fromkeys(names))


def candidate_flops(candidate: Candidate, task: Any) -> int:
    """Forward FLOPs per example of ``candidate`` on ``task`` (archsearch.train.estimate_flops)."""
    from archsearch.train import estimate_flops

    return int(estimate_flops(candidate.model_config(seed=0), task))


def rival_candidate(name: str, space: SearchSpace, task: Any, target_flops: int) -> tuple[Candidate, int] | None:
    """Baseline ``name``'s terms at the (width, depth) whose forward FLOPs are the largest not above
    ``target_flops`` (None when even the narrowest costs more). FLOPs grow with the width at a fixed depth,
    so each depth is a bisection over the multiples of WIDTH_STEP."""
    best: tuple[Candidate, int] | None = None
    for depth in sorted(set(int(d) for d in space.depth)):
        lo, hi = 1, MAX_WIDTH // WIDTH_STEP  # in units of WIDTH_STEP
        found: tuple[Candidate, int] | None = None
        while lo <= hi:
            mid = (lo + hi) // 2
            cand = baseline_candidate(name, space, width=mid * WIDTH_STEP, depth=depth)
            flops = candidate_flops(cand, task)
            if flops <= target_flops:
                found, lo = (cand, flops), mid + 1
            else:
                hi = mid - 1
        if found is not None and (best is None or found[1] > best[1]):
            best = found
    return best
