"""Training: AdamW, linear warm-up then cosine decay, gradient clipping, non-finite detection,
periodic validation with a pruning hook, and a final evaluation on the full val and test sets.

Determinism: on CPU a run is a function of (model_cfg, train_cfg, task config): parameters come from
``model_cfg.seed`` and the training data from a ``torch.Generator`` seeded with ``train_cfg.seed``
(data are generated on the CPU and moved to the device, so every device sees the same batches).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from archsearch.checks import check_keys
from archsearch.tasks.base import Task
from archsearch.train.flops import estimate_flops
from archsearch.train.model import ModelConfig, build_model, count_parameters


class TrialDiverged(RuntimeError):
    """Training produced a non-finite value; ``reason`` names the step and what was non-finite."""

    def __init__(self, reason: str, step: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.step = step


class Pruned(RuntimeError):
    """The ``report`` callback asked to stop (the search maps this to optuna.TrialPruned)."""

    def __init__(self, step: int, value: float | None = None) -> None:
        super().__init__(f"pruned at step {step}" + (f" (validation {value:.6g})" if value is not None else ""))
        self.step = step
        self.value = value


@dataclass(frozen=True)
class TrainConfig:
    """How to train. ``grad_clip`` 0 disables clipping; ``eval_every`` 0 evaluates at the end only;
    ``eval_batches`` batches of ``batch_size`` from the fixed val set make each intermediate evaluation
    (the final one uses the whole val and test sets). ``amp``: bf16 autocast on CUDA (matmuls in bfloat16,
    parameters, optimizer and the causal scans' states in float32; on by default, ignored on the CPU).
    ``compile``: run the model through ``torch.compile`` (on the first call; a model that fails to compile
    runs eagerly, with a warning: :class:`CompiledOrEager`).
    The learning rate warms up linearly for ``warmup_steps`` then follows a cosine down to
    ``min_lr_ratio``·lr at the last step."""

    steps: int = 1000
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_steps: int = 100
    grad_clip: float = 1.0
    eval_every: int = 100
    eval_batches: int = 8
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    min_lr_ratio: float = 0.0
    compile: bool = False

    def __post_init__(self) -> None:
        if self.steps < 0 or self.batch_size < 1 or self.eval_batches < 1:
            raise ValueError("steps must be >= 0, batch_size and eval_batches >= 1")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be positive and finite, not {self.lr}")
        if self.weight_decay < 0 or self.grad_clip < 0 or self.warmup_steps < 0 or self.eval_every < 0:
            raise ValueError("weight_decay, grad_clip, warmup_steps and eval_every must be >= 0")
        if not 0 <= self.min_lr_ratio <= 1:
            raise ValueError(f"min_lr_ratio must lie in [0, 1], not {self.min_lr_ratio}")
        if not (self.device in ("auto", "cpu") or self.device.startswith("cuda")):
            raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:i]', not {self.device!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        check_keys(d, cls, "TrainConfig field(s)")
        return cls(**d)


@dataclass
class TrainResult:
    """What a training run produced. ``history``: one dict per evaluation (step, train_loss — the mean
    since the previous evaluation —, val, lr of that step, elapsed seconds). ``model`` stays on the
    training device; ``state_dict`` is a detached CPU copy."""

    task: str
    metric: str
    direction: str
    val_metric: float
    test_metric: float
    final_train_loss: float
    history: list[dict[str, float]]
    n_params: int
    flops: int
    wall_time: float
    device: str
    steps: int
    model_config: ModelConfig
    train_config: TrainConfig
    model: nn.Module = field(repr=False)
    state_dict: dict[str, torch.Tensor] = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (no model, no weights)."""
        return {
            "task": self.task,
            "metric": self.metric,
            "direction": self.direction,
            "val_metric": self.val_metric,
            "test_metric": self.test_metric,
            "final_train_loss": self.final_train_loss,
            "history": self.history,
            "n_params": self.n_params,
            "flops": self.flops,
            "wall_time": self.wall_time,
            "device": self.device,
            "steps": self.steps,
            "model_config": self.model_config.to_dict(),
            "train_config": self.train_config.to_dict(),
        }


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} requested but CUDA is not available")
    return dev


def device_name(dev: torch.device) -> str:
    if dev.type == "cuda":
        return f"{dev} ({torch.cuda.get_device_name(dev)})"
    return "cpu"


def lr_factor(step: int, cfg: TrainConfig) -> float:
    """Multiplier of cfg.lr at optimizer step ``step`` (0-based): linear warm-up, then cosine."""
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    span = max(1, cfg.steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW; weight decay on matrices (ndim ≥ 2) only, not on biases and norm gains."""
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=cfg.lr)


def _to(batch: dict[str, torch.Tensor], dev: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(dev, non_blocking=True) for k, v in batch.items()}


class CompiledOrEager(nn.Module):
    """``torch.compile(model)`` with a fallback: the first call that fails to compile (no C++ compiler for
    the CPU backend, an op the compiler rejects) logs a warning, and from then on the model runs eagerly.
    Holds ``model`` (its parameters and state dict are the model's); the compiled wrapper is kept out of
    the module tree, so nothing is registered twice."""

    _compiled: Callable[[torch.Tensor], torch.Tensor]

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        object.__setattr__(self, "_compiled", torch.compile(model))  # lazy: compiles on the first call
        self.failure: str | None = None

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.failure is None:
            try:
                return self._compiled(inputs)
            except Exception as err:  # noqa: BLE001 - whatever the compiler raises, the eager model still runs
                self.failure = f"{type(err).__name__}: {' '.join(str(err).split())[:300]}"
                from archsearch.logs import get_logger

                get_logger("train").warning(f"torch.compile failed, the model runs eagerly: {self.failure}")
        return self.model(inputs)


def _autocast(dev: torch.device, amp: bool):
    if amp and dev.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast(dev.type, enabled=False)


@torch.no_grad()
def evaluate(
    model: nn.Module,
    task: Task,
    split: str,
    batch_size: int = 256,
    max_batches: int | None = None,
    device: torch.device | str | None = None,
    amp: bool = False,
) -> float:
    """The task metric of ``model`` on the fixed ``split`` set (the first ``max_batches`` batches, or all)."""
    dev = torch.device(device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    total = count = 0.0
    try:
        for batch in task.eval_batches(split, batch_size, max_batches):
            batch = _to(batch, dev)
            with _autocast(dev, amp):
                pred = model(batch["inputs"])
            s, c = task.metric_terms(pred, batch)
            total += s
            count += c
    finally:
        model.train(was_training)
    return total / count if count else float("nan")


def _first_nonfinite_grad(model: nn.Module) -> str:
    for name, p in model.named_parameters():
        if p.grad is not None and not torch.isfinite(p.grad).all():
            kind = "nan" if torch.isnan(p.grad).any() else "inf"
            return f"gradient of {name} is {kind}"
    return "gradient norm is not finite"


def _first_nonfinite_param(model: nn.Module) -> str | None:
    for name, p in model.named_parameters():
        if not torch.isfinite(p).all():
            return f"parameter {name} is not finite"
    return None


def train(
    model_cfg: ModelConfig,
    train_cfg: TrainConfig,
    task: Task,
    report: Callable[[int, float], bool] | None = None,
    progress: bool = False,
    model: nn.Module | None = None,
) -> TrainResult:
    """Train ``model_cfg`` on ``task``; return the final val/test metrics, the history and the model.

    report(step, value) is called after every intermediate evaluation (every ``eval_every`` steps and
    at the last step) with the validation metric; returning True raises :class:`Pruned`. A non-finite
    loss, gradient, parameter or validation value raises :class:`TrialDiverged` naming the step.
    ``model``: an already built model (default: ``build_model(model_cfg, task)``).
    """
    start = time.perf_counter()
    dev = resolve_device(train_cfg.device)
    amp = train_cfg.amp and dev.type == "cuda"
    if model is None:
        model = build_model(model_cfg, task)
    flops = estimate_flops(model_cfg, task, model=model)
    model = model.to(dev)
    model.train()
    n_params = count_parameters(model)
    optimizer = make_optimizer(model, train_cfg)
    run = CompiledOrEager(model) if train_cfg.compile else model  # what the steps and evaluations call
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, train_cfg))
    generator = torch.Generator().manual_seed(train_cfg.seed)
    params = [p for p in model.parameters() if p.requires_grad]
    clip = train_cfg.grad_clip if train_cfg.grad_clip > 0 else float("inf")

    history: list[dict[str, float]] = []
    interval_loss, interval_n = 0.0, 0
    last_loss = float("nan")
    bar = _progress_bar(train_cfg.steps, task) if progress else None
    try:
        for step in range(1, train_cfg.steps + 1):
            batch = _to(task.batch("train", train_cfg.batch_size, generator), dev)
            with _autocast(dev, amp):
                pred = run(batch["inputs"])
            loss = task.loss(pred, batch)
            loss_value = float(loss.detach())
            if not math.isfinite(loss_value):
                raise TrialDiverged(f"step {step}: training loss is {loss_value}", step)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = float(torch.nn.utils.clip_grad_norm_(params, clip))
            if not math.isfinite(grad_norm):
                raise TrialDiverged(f"step {step}: {_first_nonfinite_grad(model)}", step)
            step_lr = optimizer.param_groups[0]["lr"]
            optimizer.step()
            scheduler.step()
            interval_loss += loss_value
            interval_n += 1
            last_loss = loss_value
            if bar is not None:
                bar[0].update(bar[1], advance=1, loss=loss_value)
            if (train_cfg.eval_every and step % train_cfg.eval_every == 0) or step == train_cfg.steps:
                bad = _first_nonfinite_param(model)
                if bad is not None:
                    raise TrialDiverged(f"step {step}: {bad}", step)
                value = evaluate(run, task, "val", train_cfg.batch_size, train_cfg.eval_batches, dev, amp)
                if not math.isfinite(value):
                    raise TrialDiverged(f"step {step}: validation {task.metric_name} is {value}", step)
                history.append(
                    {
                        "step": step,
                        "train_loss": interval_loss / interval_n,
                        "val": value,
                        "lr": step_lr,
                        "elapsed": time.perf_counter() - start,
                    }
                )
                interval_loss, interval_n = 0.0, 0
                if bar is not None:
                    bar[0].update(bar[1], val=value)
                if report is not None and report(step, value):
                    raise Pruned(step, value)
    finally:
        if bar is not None:
            bar[0].stop()

    eval_bs = max(train_cfg.batch_size, 256)
    val_metric = evaluate(run, task, "val", eval_bs, None, dev, amp)
    test_metric = evaluate(run, task, "test", eval_bs, None, dev, amp)
    for split, value in (("validation", val_metric), ("test", test_metric)):
        if not math.isfinite(value):
            raise TrialDiverged(f"step {train_cfg.steps}: final {split} {task.metric_name} is {value}", train_cfg.steps)
    state_dict = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    return TrainResult(
        task=task.name,
        metric=task.metric_name,
        direction=task.direction,
        val_metric=val_metric,
        test_metric=test_metric,
        final_train_loss=last_loss,
        history=history,
        n_params=n_params,
        flops=flops,
        wall_time=time.perf_counter() - start,
        device=device_name(dev),
        steps=train_cfg.steps,
        model_config=model_cfg,
        train_config=train_cfg,
        model=model,
        state_dict=state_dict,
    )


def _progress_bar(total: int, task: Task):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    progress = Progress(
        TextColumn(f"[bold]{task.name}[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4g}"),
        TextColumn(f"val {task.metric_name} " + "{task.fields[val]:.4g}"),
        TimeRemainingColumn(),
        transient=False,
    )
    tid = progress.add_task("train", total=total, loss=float("nan"), val=float("nan"))
    progress.start()
    return progress, tid
