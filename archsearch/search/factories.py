"""The Optuna and task parts a worker builds from a study's settings: sampler, pruner, task, device check."""

from __future__ import annotations

import re
import warnings
from typing import Any

from archsearch.search.errors import SearchError, StudyError
from archsearch.search.settings import StudySettings


def make_sampler(settings: StudySettings, worker_index: int = 0) -> Any:
    import optuna

    seed = int(settings.seed) * 1009 + worker_index
    n_trials = int(settings.n_trials)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if settings.sampler in ("tpe", "motpe"):
            return optuna.samplers.TPESampler(
                seed=seed, n_startup_trials=min(10, max(3, n_trials // 4)), multivariate=True, constant_liar=True
            )
        if settings.sampler == "nsga2":
            return optuna.samplers.NSGAIISampler(seed=seed, population_size=max(4, min(50, n_trials // 4)))
        return optuna.samplers.RandomSampler(seed=seed)  # random; grid: every trial is queued


#: successive halving keeps the best 1/SHA_REDUCTION of a rung (rungs at eval_every·SHA_REDUCTION^k); 2 (keep
#: half) was no better on benchmarks/multifidelity.py over 8 seeds (better on 3, worse on 3). Over its 10 seeds
#: (2026-12-01) the first rung at 2·eval_every reached random search's mean final at 0.34 of the budget, random
#: proposals with the same pruner at 0.48, against 0.25 for TPE with rungs from eval_every
SHA_REDUCTION = 3
HYPERBAND_REDUCTION = 3


def make_pruner(settings: StudySettings) -> Any:
    """median (from the second report on); sha: successive halving over the training steps (a trial's
    resource is the step of its report; rungs at eval_every·3^k, the best third of a rung goes on);
    hyperband: the same in brackets; or none (also for several objectives)."""
    import optuna

    if settings.pruner == "none" or len(settings.objectives) > 1:
        return optuna.pruners.NopPruner()
    steps = int(settings.train["steps"])
    every = max(1, int(settings.train.get("eval_every", steps)))
    if settings.pruner == "sha":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=every, reduction_factor=SHA_REDUCTION,
                                                      min_early_stopping_rate=0)
    if settings.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=every, max_resource=max(every, steps),
                                               reduction_factor=HYPERBAND_REDUCTION)
    return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=every + 1)  # judge from the 2nd report on


def make_task(name: str, options: dict[str, Any]) -> Any:
    from archsearch.tasks import make_task as build

    try:
        return build(name, **options)
    except KeyError as err:
        raise SearchError(str(err.args[0]) if err.args else f"unknown task {name!r}") from None
    except (TypeError, ValueError, OSError) as err:  # OSError: a text file that is missing or unreadable
        raise SearchError(f"task {name!r}: {err}") from None


def check_device(device: str) -> str:
    """'auto', 'cpu', 'cuda' or 'cuda:i', and CUDA present when asked for (a SearchError otherwise)."""
    if not (device in ("auto", "cpu", "cuda") or re.fullmatch(r"cuda:\d+", device or "")):
        raise SearchError(f"invalid device {device!r}: use auto, cpu, cuda or cuda:i")
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise SearchError(f"device {device!r} requested but CUDA is not available here")
        index = int(device.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise SearchError(f"device {device!r} does not exist ({torch.cuda.device_count()} CUDA devices)")
    return device


def quiet_optuna() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


def set_metric_names(study: Any, names: list[str]) -> None:
    """Name the study's objectives (optuna-dashboard labels its axes with them); Optuna calls this API
    experimental, and its warning is not the user's business."""
    import warnings

    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(names)


def load_study(name: str, storage: Any, sampler: Any = None, pruner: Any = None, where: str = "") -> Any:
    import optuna

    try:
        return optuna.load_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner)
    except KeyError:
        raise StudyError(f"no study named {name!r} in {where}; start it with archsearch search --study {name}") \
            from None


def study_names(storage: Any) -> list[str]:
    return [s.study_name for s in storage.get_all_studies()]
