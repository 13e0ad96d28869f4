"""In-context linear regression (Garg et al. 2022; von Oswald et al. 2023).

Each example draws w ~ N(0, I_d) and n + 1 inputs x ~ N(0, I_d), y = wᵀx (+ noise·ε, ε ~ N(0, 1)).
Tokens are z_i = (x_i, y_i) ∈ R^{d+1} for the n context pairs and (x_q, 0) for the query, last; the
model predicts y_q from the readout of the last token. The context is a set: the task is not causal.

Baseline: one step of gradient descent from w = 0 on the context, ŷ = η x_qᵀ (1/n) Σ x_i y_i, is best
at η* = n/(n+d+1) with MSE d(d+1)/(n+d+1) (noise-free; 5.24 at d = n = 10); with noise σ,
η* = n/(n+d+1+σ²) and MSE d(d+1+σ²)/(n+d+1+σ²) + σ².
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from archsearch.tasks.base import Task, TaskConfig
from archsearch.tasks.modules import LastTokenReadout, VectorEmbedding


@dataclass(frozen=True)
class ICLRegressionConfig(TaskConfig):
    d: int = 10
    n: int = 10
    noise: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.d < 1 or self.n < 1:
            raise ValueError(f"icl-regression needs d >= 1 and n >= 1 (got d={self.d}, n={self.n})")
        if not self.noise >= 0:
            raise ValueError(f"noise must be >= 0, not {self.noise}")


class ICLRegression(Task):
    """In-context linear regression; batch: inputs (B, n+1, d+1) float, targets (B,) float."""

    name = "icl-regression"
    causal = False
    metric_name = "mse"
    direction = "minimize"
    Config = ICLRegressionConfig
    config: ICLRegressionConfig

    def generate(self, n: int, generator: torch.Generator) -> dict[str, Tensor]:
        c = self.config
        w = torch.randn(n, c.d, generator=generator)
        x = torch.randn(n, c.n + 1, c.d, generator=generator)
        y = torch.einsum("bnd,bd->bn", x, w)
        if c.noise > 0:
            y = y + c.noise * torch.randn(n, c.n + 1, generator=generator)
        tokens = torch.cat([x, y.unsqueeze(-1)], dim=-1)
        tokens[:, -1, -1] = 0.0  # the query's y is hidden
        return {"inputs": tokens, "targets": y[:, -1].clone()}

    def sequence_length(self) -> int:
        return self.config.n + 1

    def embedding(self, d_model: int) -> nn.Module:
        return VectorEmbedding(self.config.d + 1, d_model)

    def readout(self, d_model: int) -> nn.Module:
        return LastTokenReadout(d_model, 1)

    def loss(self, pred: Tensor, batch: dict[str, Tensor]) -> Tensor:
        return F.mse_loss(pred.float(), batch["targets"].float())

    def metric_terms(self, pred: Tensor, batch: dict[str, Tensor]) -> tuple[float, float]:
        err = (pred.detach().float() - batch["targets"].float()) ** 2
        return float(err.sum()), float(err.numel())

    # ---- baselines --------------------------------------------------------------------------------
    def gd_optimal_lr(self) -> float:
        """η* = n/(n+d+1+σ²), the best step of one-step GD from w = 0 (Gaussian x; σ = noise)."""
        c = self.config
        return c.n / (c.n + c.d + 1 + c.noise**2)

    def gd_optimal_mse(self) -> float:
        """d(d+1+σ²)/(n+d+1+σ²) + σ²: the expected MSE of one GD step at η* (d(d+1)/(n+d+1) noise-free).

        Error = x_qᵀ((ηS − I)w + (η/n)σXᵀε) − σε_q with S = XᵀX/n, E tr S² = d(n+d+1)/n (Wishart).
        """
        c = self.config
        s2 = c.noise**2
        return c.d * (c.d + 1 + s2) / (c.n + c.d + 1 + s2) + s2

    @staticmethod
    def gd_prediction(inputs: Tensor, lr: float) -> Tensor:
        """ŷ = lr · x_qᵀ (1/n) Σ_i x_i y_i for a batch of icl-regression inputs (B, n+1, d+1)."""
        x, y = inputs[:, :-1, :-1], inputs[:, :-1, -1]
        xq = inputs[:, -1, :-1]
        w_hat = torch.einsum("bnd,bn->bd", x, y) / x.shape[1]
        return lr * (w_hat * xq).sum(-1)
