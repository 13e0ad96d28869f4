"""The baselines every search queues first, at the search space's default width, depth, learning rate and
step size, so each searched trial is compared with what a practitioner would have built anyway:

* ``paper``:       the paper's block, linear MLP + linear attention (0-0 + 0-1.0-1), the space's heads and rank;
* ``transformer``: the standard pre-norm Transformer block, softmax attention with untied Q, K, V, O
  (4 heads of C/4) plus a GELU MLP of 4× width (``mlp-gelu`` with 4 heads: Σ_h gelu(X A_h) B_h is one
  hidden layer of 4C units) — the terms of grammars/transformer.toml;
* ``mlp``:         the same GELU MLP alone, a control with no token mixing.

Baseline trials carry their candidate in the user attribute ``baseline_candidate``: their terms need not be
in the searched grammar. Baselines are real-field models (a complex grammar is compared with real baselines).
"""

from __future__ import annotations

from typing import Any

from archsearch.search.space import Candidate, SearchSpace

BASELINES = ("paper", "transformer", "mlp")
TRANSFORMER_HEADS = 4  # softmax heads of width C/4; the MLP's hidden width 4C


def baseline_candidate(name: str, space: SearchSpace, width: int | None = None, depth: int | None = None,
                       lr: float | None = None) -> Candidate:
    """The candidate of baseline ``name`` at the space's default hyper-parameters (or at the ``width``,
    ``depth`` and ``lr`` the equal-cost rivals of archsearch.search.rivals choose)."""
    width = int(space.default("width")) if width is None else width
    depth = int(space.default("depth")) if depth is None else depth
    common: dict[str, Any] = {
        "width": width, "depth": depth, "step": float(space.default("step")),
        "lr": float(space.default("lr")) if lr is None else lr, "field": "real", "scheme": space.scheme,
        "norm": space.norm}
    if name == "paper":
        rank = max(1, round(width * float(space.default("rank_frac"))))
        return Candidate(terms=("0-0", "0-1.0-1"), heads=int(space.default("heads")), rank=rank, tied=False,
                         **common)
    heads = TRANSFORMER_HEADS
    rank = max(1, width // heads)
    if name == "transformer":
        return Candidate(terms=("lse", "mlp-gelu"), heads=heads, rank=rank, tied=False, **common)
    if name == "mlp":
        return Candidate(terms=("mlp-gelu",), heads=heads, rank=rank, tied=False, **common)
    raise ValueError(f"unknown baseline {name!r} (known: {', '.join(BASELINES)})")


def baseline_attrs(name: str, space: SearchSpace) -> dict[str, Any]:
    """The user attributes a queued baseline trial starts with."""
    return {"baseline": name, "baseline_candidate": baseline_candidate(name, space).to_dict()}


def check_baselines(names: tuple[str, ...]) -> tuple[str, ...]:
    unknown = [n for n in names if n not in BASELINES]
    if unknown:
        raise ValueError(f"unknown baseline(s) {', '.join(unknown)} (known: {', '.join(BASELINES)})")
    return tuple(dict.fromkeys(names))
