"""Tiny model and training configs for the train tests (fast on 2 CPU cores)."""

from __future__ import annotations

import torch

from archsearch.train import ModelConfig, TrainConfig

TERMS = ("0-0", "0-1.0-1")


def tiny_model(**kw) -> ModelConfig:
    base = {"terms": TERMS, "width": 16, "depth": 2, "step": 0.5, "norm": "layer", "seed": 0}
    base.update(kw)
    return ModelConfig(**base)


def tiny_train(**kw) -> TrainConfig:
    base = {"steps": 12, "batch_size": 16, "lr": 3e-3, "warmup_steps": 3, "eval_every": 4, "eval_batches": 2,
            "device": "cpu", "seed": 0}
    base.update(kw)
    return TrainConfig(**base)


class _Linear(torch.nn.Module):
    """A known field F(X) = X A (a fixed matrix; real or complex like X)."""

    def __init__(self, a: torch.Tensor) -> None:
        super().__init__()
        self.a = a

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.a.to(x.dtype)


class _Scale(torch.nn.Module):
    """A stand-in norm X ↦ s X, so a test sees which state each block was given."""

    def __init__(self, s: float) -> None:
        super().__init__()
        self.s = s

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.s * x


def check_euler_step(step_cls: type) -> None:
    """One Euler step of ``step_cls`` (archsearch's EulerStep or an exported copy) with known fields
    F_i(X) = X A_i and norms X ↦ s_i X, against the formulas (c = h real, c = −i h complex):
    parallel X + c Σ_i F_i(s_1 X);  split X_i = X_{i−1} + c F_i(s_i X_{i−1});  h = 0 returns X itself."""
    g = torch.Generator().manual_seed(0)
    mats = [torch.randn(3, 3, generator=g, dtype=torch.float64) for _ in range(2)]
    scales = [2.0, 0.5]
    h = 0.37
    for rotate in (False, True):
        x = torch.randn(2, 4, 3, generator=g, dtype=torch.float64)
        if rotate:
            x = torch.complex(x, torch.randn(2, 4, 3, generator=g, dtype=torch.float64))
        c = -1j * h if rotate else h
        blocks = [_Linear(a) for a in mats]
        parallel = step_cls(blocks, [_Scale(scales[0])], h, "parallel", rotate=rotate)
        expected = x + c * sum(scales[0] * x @ a.to(x.dtype) for a in mats)
        torch.testing.assert_close(parallel(x), expected, rtol=1e-12, atol=1e-12)
        split = step_cls(blocks, [_Scale(s) for s in scales], h, "split", rotate=rotate)
        expected = x
        for a, s in zip(mats, scales, strict=True):
            expected = expected + c * (s * expected) @ a.to(x.dtype)
        torch.testing.assert_close(split(x), expected, rtol=1e-12, atol=1e-12)
        for scheme, norms in (("parallel", 1), ("split", 2)):
            still = step_cls(blocks, [_Scale(s) for s in scales[:norms]], 0.0, scheme, rotate=rotate)
            assert torch.equal(still(x), x), (scheme, rotate)
    # the sign of the conservative step i Ẋ = F: at X = 1 the field F(X) = X is the real constant 1, and
    # X − i h F = 1 − i h (the imaginary part goes down)
    one = step_cls([_Linear(torch.eye(3, dtype=torch.float64))], [_Scale(1.0)], h, "parallel", rotate=True)
    x = torch.ones(1, 1, 3, dtype=torch.complex128)
    assert torch.equal(one(x), torch.full((1, 1, 3), complex(1.0, -h), dtype=torch.complex128))
