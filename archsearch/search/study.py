"""Create (or resume) an archsearch study and run it: the search's entry point, :func:`run_search`.

A study's definition is its :class:`~archsearch.search.settings.StudySettings`, stored in the study; the
trials are run by the worker loop (archsearch.search.worker) in this process or in spawned ones
(archsearch.search.spawn); dead workers' trials are recovered (archsearch.search.recovery). The baselines
(archsearch.search.baselines) are queued first; a grid search queues every grid point instead.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from archsearch.search.baselines import BASELINES, baseline_attrs, check_baselines
from archsearch.search.errors import SearchError, StudyError, disk_error
from archsearch.search.factories import (
    check_device,
    load_study,
    make_task,
    quiet_optuna,
    set_metric_names,
    study_names,
)
from archsearch.search.recovery import recover_stale_trials
from archsearch.search.settings import (
    DEFAULT_TRIALS,
    Budget,
    StudySettings,
    TaskInfo,
    check_choices,
    check_study_name,
    default_study_name,
    load_settings,
    save_settings,
    train_budget,
)
from archsearch.search.space import SearchSpace, space_from_grammar
from archsearch.search.spawn import run_workers
from archsearch.search.storage import claim_lock, describe_storage, open_storage, storage_kind


def run_search(
    grammar: Any = "paper",
    task_name: str = "icl-regression",
    task_options: dict[str, Any] | None = None,
    study_name: str | None = None,
    n_trials: int | None = None,
    storage: str | None = None,
    sampler: str = "tpe",
    pruner: str | None = None,
    objectives: Sequence[str] = ("metric",),
    *,
    steps: int = 200,
    batch_size: int = 32,
    train_options: dict[str, Any] | None = None,
    space: dict[str, tuple[Any, ...]] | None = None,
    mode: str = "auto",
    workers: int = 1,
    resume: bool = False,
    baseline: bool = True,
    baselines: Sequence[str] | None = None,
    budget: Budget | str | None = None,
    device: str = "auto",
    seed: int = 0,
    results_dir: str | os.PathLike[str] = "results",
    progress: bool = True,
    console: Any = None,
    threads: int | None = 1,
    on_resume: Callable[[StudySettings], None] | None = None,
) -> Any:
    """Create (or, with ``resume``, continue) a study and run it with ``workers`` processes.

    n_trials: distinct configurations to train (a duplicate proposal does not count), baselines included;
    budget: "1h" (wall time of this run) or "20000steps" (training steps over the study's trials) — the run
    ends at whichever of the target and the budget comes first (with a budget and no n_trials, the target is
    the whole space). grammar: a Grammar, a shipped grammar's name or a grammar file; space: choices to
    replace (``{"width": (8,)}``);
    mode: how terms are chosen ("auto", "subsets", "flags", "single", "layers": a term set per Euler step);
    baselines: names from archsearch.search.baselines (default all, none with ``baseline=False`` or the grid);
    pruner: default "median" ("sha" and "hyperband" are successive halving over the training steps), "none" for the grid
    and several objectives. On resume the stored settings are used and only ``n_trials`` (the new total),
    ``budget``, ``workers``, ``device`` and ``threads`` apply (``on_resume(settings)`` is called with the
    stored settings). Returns the Optuna study. Raises SearchError (one-line message) for what a user can get
    wrong.
    """
    try:
        return _run_search(grammar, task_name, task_options, study_name, n_trials, storage, sampler, pruner,
                           objectives, steps, batch_size, train_options, space, mode, workers, resume, baseline,
                           baselines, budget, device, seed, results_dir, progress, console, threads, on_resume)
    except OSError as err:
        where = describe_storage(storage, Path(results_dir) / (study_name or "<study>"))
        mapped = disk_error(err, where)
        if mapped is None:
            raise
        raise mapped from None


def _run_search(grammar: Any, task_name: str, task_options: dict[str, Any] | None, study_name: str | None,
                n_trials: int | None, storage: str | None, sampler: str, pruner: str | None,
                objectives: Sequence[str], steps: int, batch_size: int, train_options: dict[str, Any] | None,
                space: dict[str, tuple[Any, ...]] | None, mode: str, workers: int, resume: bool, baseline: bool,
                baselines: Sequence[str] | None, budget: Budget | str | None, device: str, seed: int,
                results_dir: str | os.PathLike[str], progress: bool, console: Any, threads: int | None,
                on_resume: Callable[[StudySettings], None] | None) -> Any:
    quiet_optuna()
    if workers < 1:
        raise SearchError(f"--workers must be at least 1, not {workers}")
    if n_trials is not None and n_trials < 1:
        raise SearchError(f"--trials must be at least 1, not {n_trials}")
    if isinstance(budget, str):
        try:
            budget = Budget.parse(budget)
        except ValueError as err:
            raise SearchError(str(err)) from None
    storage_kind(storage)  # an unsupported URL fails before anything else
    check_device(device)
    deadline = time.time() + budget.seconds if budget is not None and budget.seconds is not None else None
    if resume:
        study, settings, raw, study_dir = _resume(study_name, storage, results_dir, n_trials, budget, on_resume)
    else:
        if baselines is None:
            baselines = BASELINES if baseline else ()
        study, settings, study_dir, raw = _create_study(
            grammar, task_name, task_options or {}, study_name, n_trials, storage, sampler, pruner, objectives,
            train_budget(steps, batch_size, **(train_options or {})), space or {}, mode, tuple(baselines), budget,
            seed, results_dir,
        )
    run_workers(study, settings, storage, Path(results_dir), workers, device, progress, console, threads, deadline)
    return study


def _resume(study_name: str | None, storage: str | None, results_dir: str | os.PathLike[str],
            n_trials: int | None, budget: Budget | None,
            on_resume: Callable[[StudySettings], None] | None) -> tuple[Any, StudySettings, Any, Path]:
    if not study_name:
        raise StudyError("--resume needs the study's name (--study NAME)")
    check_study_name(study_name)
    study_dir = Path(results_dir) / study_name
    try:
        raw = open_storage(storage, study_dir, create=False)
    except StudyError:
        raise StudyError(f"no study named {study_name!r} to resume (no {study_dir / 'journal.log'})") from None
    study = load_study(study_name, raw, where=describe_storage(storage, study_dir))
    if _incomplete(study):
        raise StudyError(f"study {study_name!r} was interrupted while it was being created (no trial ran); start "
                         "it again: the same command without --resume")
    settings = load_settings(study)
    if on_resume is not None:
        on_resume(settings)
    with claim_lock(raw, study_dir, study_name):  # concurrent resumes write their targets one after the other
        settings = load_settings(study)
        changed = settings
        if n_trials is not None and n_trials != settings.n_trials:
            changed = changed.with_trials(n_trials)
        if budget is not None and budget.steps is not None and budget.steps != settings.step_budget:
            from dataclasses import replace

            changed = replace(changed, step_budget=budget.steps)
        if changed != settings:
            settings = changed
            save_settings(study, settings)
        recover_stale_trials(study, raw)
    return study, settings, raw, study_dir


def _create_study(grammar: Any, task_name: str, task_options: dict[str, Any], study_name: str | None,
                  n_trials: int | None, storage: str | None, sampler: str, pruner: str | None,
                  objectives: Sequence[str], budget_options: dict[str, Any],
                  space_overrides: dict[str, tuple[Any, ...]], mode: str, baselines: tuple[str, ...],
                  budget: Budget | None, seed: int,
                  results_dir: str | os.PathLike[str]) -> tuple[Any, StudySettings, Path, Any]:
    import optuna

    from archsearch.grammar import load_grammar

    objectives = tuple(objectives)
    if pruner is None:
        pruner = "none" if sampler == "grid" or len(objectives) > 1 else "median"
    check_choices(objectives, sampler, pruner)
    try:
        baselines = check_baselines(baselines) if sampler != "grid" else ()
    except ValueError as err:
        raise SearchError(str(err)) from None
    if not hasattr(grammar, "axioms"):
        grammar = load_grammar(grammar)  # GrammarError: one line path:line:col: error: …
    task = make_task(task_name, task_options)
    try:
        space = space_from_grammar(grammar, space_overrides, mode="single" if sampler == "grid" else mode)
    except ValueError as err:
        raise SearchError(f"search space: {err}") from None
    grid: list[dict[str, Any]] = []
    if sampler == "grid":
        space = space.single()
        grid = space.grid()
        n_trials = len(grid) if n_trials is None else min(n_trials, len(grid))
    if n_trials is None:
        n_trials = space.size() + len(baselines) if budget is not None else DEFAULT_TRIALS
    name = check_study_name(study_name if study_name is not None else default_study_name(grammar.name, task_name))
    study_dir = Path(results_dir) / name
    where = describe_storage(storage, study_dir)
    raw = open_storage(storage, study_dir, create=True)
    if name in study_names(raw):
        if not _incomplete(load_study(name, raw, where=where)):
            raise StudyError(f"study {name!r} already exists in {where}; continue it with --resume or choose "
                             "another --study")
        optuna.delete_study(study_name=name, storage=raw)  # killed while it was being created: start it again
    directions = tuple(task.direction if o == "metric" else "minimize" for o in objectives)
    settings = StudySettings(
        study=name,
        grammar={"name": grammar.name, "path": str(grammar.path) if getattr(grammar, "path", None) else None},
        space=space.to_dict(),
        task=task_name,
        task_options=dict(task_options),
        task_info=TaskInfo(task.metric_name, task.direction, bool(task.causal)),
        task_data=dict(task.describe().get("data") or {}),
        objectives=objectives,
        directions=directions,
        sampler=sampler,
        pruner=pruner,
        train=budget_options,
        seed=seed,
        n_trials=n_trials,
        baselines=baselines,
        step_budget=budget.steps if budget is not None else None,
        created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    )
    try:
        senses = [optuna.study.StudyDirection[d.upper()] for d in directions]
        study = optuna.create_study(study_name=name, storage=raw, directions=senses)
    except optuna.exceptions.DuplicatedStudyError:
        raise StudyError(f"study {name!r} already exists in {where}; continue it with --resume") from None
    set_metric_names(study, settings.metric_names)  # optuna-dashboard's axis labels
    for params in grid[:n_trials]:
        study.enqueue_trial(params, user_attrs={"grid": True})
    for baseline in baselines:
        study.enqueue_trial({}, user_attrs=baseline_attrs(baseline, space))
    save_settings(study, settings)  # last: the settings mark a study whose creation finished
    return study, settings, study_dir, raw


def _incomplete(study: Any) -> bool:
    """A study whose creation was cut short (a kill between its journal appends): it has no settings yet and
    no trial ever ran. Creating a study appends the study, its queued trials and, last, its settings."""
    from archsearch.search.settings import SETTINGS_ATTR

    return SETTINGS_ATTR not in study.user_attrs and all(t.state.name == "WAITING" for t in study.get_trials())


__all__ = ["SearchSpace", "run_search"]
