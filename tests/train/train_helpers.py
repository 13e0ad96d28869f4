"""Tiny model and training configs for the train tests (fast on 2 CPU cores)."""

from __future__ import annotations

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
