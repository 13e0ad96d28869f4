"""One arm of a Transformer-block experiment: softmax attention + an MLP whose activation is the arm, trained
with archsearch's loop (archsearch.train) on one of its tasks.

The block is ModelConfig(terms=(mixer, mlp), heads=H, rank=C/H, untied): H attention heads of width C/H and,
for a per-token term (relu, colu<S>, soc<S>, mlp-gelu), Σ_h σ(X A_h) B_h — one hidden layer of H·C units with
the activation σ. Every MLP arm has the same weights, so the same matrix FLOPs (the activations' own
element-wise work is not counted).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from archsearch.experiments.base import check_arms, positive

#: Display names of the MLP terms the experiments swap.
MLP_LABELS = {"relu": "ReLU", "mlp-gelu": "GELU", "mlp-relu2": "ReLU²", "mlp-silu": "SiLU"}


def mlp_label(key: str) -> str:
    """``colu4`` → ``CoLU (cones of 4)``; ``relu`` → ``ReLU``."""
    for prefix, name in (("colu", "CoLU"), ("soc", "SOC")):
        if key.startswith(prefix) and key[len(prefix):].isdigit():
            return f"{name} (cones of {key[len(prefix):]})"
    return MLP_LABELS.get(key, key)


@dataclass(frozen=True)
class Block:
    """The model shape every arm shares: attention term, width C, Euler steps, heads H."""

    mixer: str
    width: int
    depth: int
    heads: int

    def config(self, mlp: str, seed: int) -> Any:
        from archsearch.train import ModelConfig

        return ModelConfig(terms=(self.mixer, mlp), width=self.width, depth=self.depth, heads=self.heads,
                           rank=max(1, self.width // self.heads), tied=False, seed=seed)


@dataclass(frozen=True)
class ArmsConfig:
    """What every Transformer-block experiment sets: the MLP arms, the block (attention term, width C, Euler
    steps, heads), the training budget (steps, batch, learning rate, warm-up), seeds and the val/test size."""

    arms: tuple[str, ...] = ("relu", "colu4", "soc4")
    mixer: str = "lse"
    width: int = 32
    depth: int = 2
    heads: int = 4
    steps: int = 500
    batch_size: int = 64
    lr: float = 3e-3
    warmup_steps: int = 50
    seeds: int = 5
    eval_size: int = 1024

    def __post_init__(self) -> None:
        positive(width=self.width, depth=self.depth, heads=self.heads, steps=self.steps, seeds=self.seeds,
                 batch_size=self.batch_size, lr=self.lr, eval_size=self.eval_size)
        check_arms(self.arms)
        check_mlp_terms(self.arms, self.width)

    @property
    def block(self) -> Block:
        return Block(self.mixer, self.width, self.depth, self.heads)

    def train_options(self) -> dict[str, Any]:
        """The TrainConfig options of the budget (steps, batch_size, lr, warmup_steps)."""
        return {"steps": self.steps, "batch_size": self.batch_size, "lr": self.lr, "warmup_steps": self.warmup_steps}


def check_mlp_terms(arms: tuple[str, ...], width: int) -> None:
    """Raise ValueError unless every arm is a per-token term whose cones divide the width."""
    from archsearch.terms import term_from_key

    for key in arms:
        try:
            term = term_from_key(key)
        except ValueError as err:
            raise ValueError(f"arm {key!r}: {err}") from None
        if term.mixes_tokens:
            raise ValueError(f"arm {key!r} mixes tokens; the arms are MLP activations (relu, colu4, soc4, mlp-gelu)")
        size = getattr(term, "cone_size", None)
        if getattr(term, "projection", "relu") != "relu" and size and width % size:
            raise ValueError(f"arm {key!r}: the width {width} is not divisible by the cone size {size}")


def train_arm(block: Block, mlp: str, task: Any, seed: int, device: str, **train_options: Any) -> dict[str, Any]:
    """Train the block with MLP ``mlp`` on ``task`` from ``seed`` (parameters and data order); return the
    test and val metrics, the final training loss, the validation history, FLOPs, parameters and wall time."""
    from archsearch.train import TrainConfig, train

    start = time.perf_counter()
    result = train(block.config(mlp, seed), TrainConfig(seed=seed, device=device, **train_options), task)
    return {"seed": seed, "test": result.test_metric, "val": result.val_metric,
            "train_loss": result.final_train_loss, "flops": result.flops, "params": result.n_params,
            "history": [{"step": h["step"], "val": h["val"], "train_loss": h["train_loss"]} for h in result.history],
            "seconds": time.perf_counter() - start}
