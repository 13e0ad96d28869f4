"""Model assembly, training loop and evaluation.

    ModelConfig, build_model(model_cfg, task), count_parameters(model), estimate_flops(model_cfg, task)
    TrainConfig, train(model_cfg, train_cfg, task, report=None, progress=False) -> TrainResult
    TrialDiverged(reason), Pruned(step)   raised by train
"""

from archsearch.train.flops import count_forward_flops, estimate_flops, plan_flops
from archsearch.train.loop import (
    Pruned,
    TrainConfig,
    TrainResult,
    TrialDiverged,
    evaluate,
    lr_factor,
    resolve_device,
    train,
)
from archsearch.train.model import (
    EulerModel,
    EulerStep,
    ModelConfig,
    build_model,
    compile_blocks,
    count_parameters,
)

__all__ = [
    "EulerModel",
    "EulerStep",
    "ModelConfig",
    "Pruned",
    "TrainConfig",
    "TrainResult",
    "TrialDiverged",
    "build_model",
    "compile_blocks",
    "count_forward_flops",
    "count_parameters",
    "estimate_flops",
    "evaluate",
    "lr_factor",
    "plan_flops",
    "resolve_device",
    "train",
]
