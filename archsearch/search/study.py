"""The Optuna study: create or resume it, run workers, recover trials of killed workers, rank the results.

Every worker (the search process itself when ``workers=1``, K spawned processes otherwise, or an
``archsearch worker`` started by hand) runs the same loop, :func:`run_worker`:

1. under the study's claim lock (``storage.claim_lock``: an flock next to the journal, a PostgreSQL advisory
   lock) it fails the RUNNING trials whose worker is dead and re-queues their parameters, counts the
   finished (COMPLETE + PRUNED) and running trials, stops when they reach ``n_trials``, else claims a trial
   (``study.ask()``, which pops a queued trial first) and records its owner (host, pid, process start time);
2. it trains the trial outside the lock and tells the result. The K spawned workers of a search first wait
   for each other once each holds its first trial, so the first K trials run in parallel whichever worker
   loaded first.

Counting and claiming under one lock makes the number of finished trials exact with any number of workers
(``MaxTrialsCallback`` alone overshoots: each worker checks after its own trial, so up to K - 1 extra trials
start). Dead workers are detected from the owner record on the same host (the journal has no heartbeat in
Optuna 5), and with PostgreSQL also by Optuna's heartbeat (``fail_stale_trials`` +
``RetryHeartbeatStaleTrialCallback``) for workers on other machines.

The study's settings (grammar terms, space, task, objectives, training budget, sampler, pruner, seed,
n_trials) are stored in its user attribute ``archsearch``, so a worker or ``--resume`` needs only the name.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import socket
import sys
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from archsearch.search.errors import SearchError, StudyError
from archsearch.search.objective import OBJECTIVES, Objective, term_descriptions
from archsearch.search.space import SearchSpace, space_from_grammar
from archsearch.search.storage import claim_lock, describe_storage, open_storage, storage_kind

SAMPLERS = ("tpe", "grid", "nsga2", "motpe", "random")
PRUNERS = ("median", "hyperband", "none")
SETTINGS_ATTR = "archsearch"
OWNER_ATTR = "archsearch:worker"
NO_OWNER_GRACE = 300.0  # seconds: a RUNNING trial without an owner record (crash while claiming) is stale
MAX_RETRY = 3
MAX_CONSECUTIVE_FAILURES = 3
START_BARRIER_TIMEOUT = 120.0  # seconds the first spawned workers, each holding a claimed trial, wait for each other
DEFAULT_TRIALS = 20


# ------------------------------------------------------------------------------------------ settings


def default_study_name(grammar_name: str, task_name: str) -> str:
    """``<grammar>-<task>`` with anything but letters, digits, '-', '_' and '.' replaced by '-'."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{grammar_name}-{task_name}").strip("-.") or "study"


def check_study_name(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", name or ""):
        raise StudyError(f"invalid study name {name!r}: use letters, digits, '-', '_' and '.' (a directory name)")
    return name


def train_budget(steps: int = 200, batch_size: int = 32, **options: Any) -> dict[str, Any]:
    """TrainConfig options shared by every trial of a study (lr comes from the candidate, seed from the study)."""
    if steps < 1 or batch_size < 1:
        raise SearchError(f"steps and batch size must be positive (got {steps} and {batch_size})")
    budget = {
        "steps": steps,
        "batch_size": batch_size,
        "warmup_steps": min(100, steps // 10),
        "eval_every": max(1, steps // 5),
        "eval_batches": 4,
    }
    budget.update(options)
    return budget


def load_settings(study: Any) -> dict[str, Any]:
    settings = study.user_attrs.get(SETTINGS_ATTR)
    if not isinstance(settings, dict):
        raise StudyError(f"study {study.study_name!r} was not created by archsearch search (no settings)")
    return settings


def _make_task(name: str, options: dict[str, Any]) -> Any:
    from archsearch.tasks import make_task

    try:
        return make_task(name, **options)
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


def _directions(objectives: Sequence[str], task: Any) -> list[str]:
    return [task.direction if o == "metric" else "minimize" for o in objectives]


def _check_choices(objectives: Sequence[str], sampler: str, pruner: str) -> None:
    objectives = tuple(objectives)
    if not objectives or len(set(objectives)) != len(objectives) or any(o not in OBJECTIVES for o in objectives):
        raise SearchError(f"invalid objectives {','.join(objectives)!r}: use metric, metric,flops or metric,params")
    if objectives[0] != "metric":
        raise SearchError("the first objective must be the task metric (e.g. metric,flops)")
    if sampler not in SAMPLERS:
        raise SearchError(f"unknown sampler {sampler!r} (known: {', '.join(SAMPLERS)})")
    if pruner not in PRUNERS:
        raise SearchError(f"unknown pruner {pruner!r} (known: {', '.join(PRUNERS)})")


# ------------------------------------------------------------------------------------------ optuna parts


def make_sampler(settings: dict[str, Any], worker_index: int = 0) -> Any:
    import optuna

    seed = int(settings["seed"]) * 1009 + worker_index
    name = settings["sampler"]
    n_trials = int(settings["n_trials"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if name in ("tpe", "motpe"):
            return optuna.samplers.TPESampler(
                seed=seed, n_startup_trials=min(10, max(3, n_trials // 4)), multivariate=True, constant_liar=True
            )
        if name == "nsga2":
            return optuna.samplers.NSGAIISampler(seed=seed, population_size=max(4, min(50, n_trials // 4)))
        return optuna.samplers.RandomSampler(seed=seed)  # random; grid: every trial is queued


def make_pruner(settings: dict[str, Any]) -> Any:
    import optuna

    if settings["pruner"] == "none" or len(settings["objectives"]) > 1:
        return optuna.pruners.NopPruner()
    if settings["pruner"] == "hyperband":
        steps = int(settings["train"]["steps"])
        every = max(1, int(settings["train"].get("eval_every", steps)))
        return optuna.pruners.HyperbandPruner(min_resource=every, max_resource=max(every, steps), reduction_factor=3)
    every = max(1, int(settings["train"].get("eval_every", 1)))
    return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=every + 1)  # judge from the 2nd report on


def _quiet_optuna() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


def _load_study(name: str, storage: Any, sampler: Any = None, pruner: Any = None, where: str = "") -> Any:
    import optuna

    try:
        return optuna.load_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner)
    except KeyError:
        raise StudyError(f"no study named {name!r} in {where}; start it with archsearch search --study {name}") \
            from None


def _study_names(storage: Any) -> list[str]:
    return [s.study_name for s in storage.get_all_studies()]


# ------------------------------------------------------------------------------------------ liveness


def _proc_start(pid: int) -> tuple[str, int] | None:
    """(state, start time in clock ticks) of a process from /proc, or None when it does not exist."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read().decode(errors="replace")
    except FileNotFoundError:
        return None
    except OSError:
        return ("?", -1)
    rest = data[data.rfind(")") + 2:].split()
    return rest[0], int(rest[19])


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def owner_record() -> dict[str, Any]:
    """Who runs a trial: host, pid, process start time (so a reused pid is not mistaken), boot id."""
    pid = os.getpid()
    start = _proc_start(pid)
    return {"host": socket.gethostname(), "pid": pid, "start": start[1] if start else None, "boot": _boot_id()}


def owner_alive(owner: dict[str, Any]) -> bool | None:
    """True/False for an owner on this host; None when it cannot be known (another host)."""
    if owner.get("host") != socket.gethostname():
        return None
    if owner.get("boot") and _boot_id() and owner["boot"] != _boot_id():
        return False
    pid = int(owner.get("pid", -1))
    if pid <= 0:
        return False
    if Path("/proc/self/stat").exists():
        info = _proc_start(pid)
        if info is None or info[0] in ("Z", "X"):  # gone, or a zombie (killed, not yet reaped)
            return False
        return owner.get("start") is None or info[1] < 0 or info[1] == owner["start"]
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_stale(trial: Any, now: float) -> bool:
    owner = trial.system_attrs.get(OWNER_ATTR)
    if isinstance(owner, dict):
        return owner_alive(owner) is False
    start = trial.datetime_start.timestamp() if trial.datetime_start else now
    return now - start > NO_OWNER_GRACE


def recover_stale_trials(study: Any, storage: Any, max_retry: int | None = MAX_RETRY) -> list[int]:
    """Fail the RUNNING trials whose worker is dead and queue their parameters again; return their numbers.

    Call under the claim lock. PostgreSQL: also Optuna's heartbeat check (``fail_stale_trials``, which re-queues
    through ``RetryHeartbeatStaleTrialCallback``).
    """
    import optuna
    from optuna.trial import TrialState

    failed: list[int] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        optuna.storages.fail_stale_trials(study)  # PostgreSQL heartbeats; a no-op for the journal
    now = time.time()
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if not _is_stale(trial, now):
            continue
        owner = trial.system_attrs.get(OWNER_ATTR) or {}
        try:
            storage.set_trial_user_attr(trial._trial_id, "stale", f"worker pid {owner.get('pid')} on "
                                        f"{owner.get('host')} died while running it")
            if not storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
        failed.append(trial.number)
        history = [*trial.system_attrs.get("retry_history", []), trial.number]
        if max_retry is not None and len(history) > max_retry:
            continue
        study.add_trial(
            optuna.trial.create_trial(
                state=TrialState.WAITING,
                params=trial.params,
                distributions=trial.distributions,
                system_attrs={"failed_trial": trial.system_attrs.get("failed_trial", trial.number),
                              "retry_history": history},
            )
        )
    return failed


class _Heartbeat:
    """Record heartbeats of a running trial (PostgreSQL) from a thread, as ``Study.optimize`` does."""

    def __init__(self, storage: Any, trial_id: int) -> None:
        self._storage, self._trial_id = storage, trial_id
        self._stop = threading.Event()
        interval = getattr(storage, "get_heartbeat_interval", lambda: None)()
        self._thread = None
        if interval:
            self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)

    def _run(self, interval: float) -> None:
        while True:
            with contextlib.suppress(Exception):
                self._storage.record_heartbeat(self._trial_id)
            if self._stop.wait(interval):
                return

    def __enter__(self) -> _Heartbeat:
        if self._thread is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def count_trials(study: Any) -> dict[str, int]:
    """Number of trials per state name (COMPLETE, PRUNED, FAIL, RUNNING, WAITING) and 'finished'."""
    out = {"COMPLETE": 0, "PRUNED": 0, "FAIL": 0, "RUNNING": 0, "WAITING": 0}
    for t in study.get_trials(deepcopy=False):
        out[t.state.name] = out.get(t.state.name, 0) + 1
    out["finished"] = out["COMPLETE"] + out["PRUNED"]
    return out


# ------------------------------------------------------------------------------------------ the worker loop


def run_worker(
    study_name: str,
    storage: str | None = None,
    results_dir: str | os.PathLike[str] = "results",
    device: str = "auto",
    worker_index: int = 0,
    n_trials: int | None = None,
    max_trials: int | None = None,
    on_trial: Callable[[Any, Any], None] | None = None,
    threads: int | None = 1,
    ready: Callable[[], None] | None = None,
) -> Any:
    """Join an existing study and run trials until it has ``n_trials`` finished trials (default: the
    study's stored target) or this worker has run ``max_trials``. ``threads``: torch CPU threads of this
    process (default 1: the small candidate models train fastest on one thread, and several threads slow
    down badly when the cores are shared; None leaves torch's setting). ``ready`` is called once, after this
    worker has claimed its first trial and before it trains it (the first spawned workers wait there for each
    other, so each of them holds a trial before any trains: one that imports torch first cannot take every
    trial). Returns the Optuna study."""
    import optuna
    from optuna.trial import TrialState

    _quiet_optuna()
    check_device(device)
    if threads:
        import torch

        torch.set_num_threads(threads)
    study_dir = Path(results_dir) / check_study_name(study_name)
    raw = open_storage(storage, study_dir, create=False)
    study = _load_study(study_name, raw, where=describe_storage(storage, study_dir))
    settings = load_settings(study)
    target = int(n_trials if n_trials is not None else settings["n_trials"])
    # a different sampler stream after a restart (resume, a replacement worker): fresh proposals
    started = [t for t in study.get_trials(deepcopy=False) if t.state != TrialState.WAITING]
    study.sampler = make_sampler(settings, worker_index + 7919 * len(started))
    study.pruner = make_pruner(settings)
    space = SearchSpace.from_dict(settings["space"])
    task = _make_task(settings["task"], settings["task_options"])
    objective = Objective(settings, space, task, study_dir, device=device)
    owner = owner_record()
    ran = failures = 0
    while max_trials is None or ran < max_trials:
        with claim_lock(raw, study_dir, study_name):
            recover_stale_trials(study, raw)
            counts = count_trials(study)
            if counts["finished"] + counts["RUNNING"] >= target:
                break
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Heartbeat of storage")
                trial = study.ask()
            raw.set_trial_system_attr(trial._trial_id, OWNER_ATTR, owner)
        ran += 1
        state, values, error = TrialState.COMPLETE, None, None
        with _Heartbeat(raw, trial._trial_id):
            if ready is not None and ran == 1:
                ready()  # the trial is claimed and beats; the others may still be loading
            try:
                values = objective(trial)
            except optuna.TrialPruned:
                state = TrialState.PRUNED
            except KeyboardInterrupt:
                study.tell(trial, state=TrialState.FAIL)
                raise
            except Exception as err:  # a bug or an unsupported term: FAIL, and the study goes on
                state, error = TrialState.FAIL, f"{type(err).__name__}: {err}"
                with contextlib.suppress(Exception):
                    trial.set_user_attr("error", error[:2000])
                print(f"archsearch: trial {trial.number} failed: {' '.join(error.split())[:300]}", file=sys.stderr,
                      flush=True)
            frozen = study.tell(trial, values, state=state) if state == TrialState.COMPLETE else \
                study.tell(trial, state=state)
        if on_trial is not None:
            on_trial(study, frozen)
        failures = failures + 1 if state == TrialState.FAIL else 0
        if failures >= MAX_CONSECUTIVE_FAILURES:
            raise SearchError(f"{failures} trials in a row failed; the last, trial {frozen.number}: "
                              f"{error.splitlines()[0] if error else 'unknown error'}")
    return study


def _worker_process(kwargs: dict[str, Any]) -> None:
    """Entry point of a spawned worker process (a ``multiprocessing`` spawn context)."""
    gpu = kwargs.pop("cuda_visible_devices", None)
    if gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpu)
    barrier = kwargs.pop("start_barrier", None)

    def ready() -> None:  # wait until the other first workers hold a trial (one that leaves breaks it: go on)
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=START_BARRIER_TIMEOUT)

    try:
        run_worker(**kwargs, ready=ready if barrier is not None else None)
    except SearchError as err:
        print(f"archsearch worker {kwargs.get('worker_index', 0)}: error: {err}", file=sys.stderr, flush=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    finally:
        if barrier is not None:  # a worker that leaves, for any reason, holds no other at the start
            barrier.abort()


# ------------------------------------------------------------------------------------------ run_search


def run_search(
    grammar: Any = "grammars/paper.toml",
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
    workers: int = 1,
    resume: bool = False,
    baseline: bool = True,
    device: str = "auto",
    seed: int = 0,
    results_dir: str | os.PathLike[str] = "results",
    progress: bool = True,
    console: Any = None,
    threads: int | None = 1,
    on_resume: Callable[[dict[str, Any]], None] | None = None,
) -> Any:
    """Create (or, with ``resume``, continue) a study and run ``n_trials`` trials with ``workers`` processes.

    grammar: a Grammar or a grammar file; space: choices to replace (``{"width": (8,)}``); pruner: default
    "median", but "none" for the grid (every term is evaluated in full) and several objectives. On resume the
    stored settings are used and only ``n_trials`` (the new total), ``workers``, ``device`` and ``threads``
    apply (``on_resume(settings)`` is called with the stored settings). ``threads``: torch CPU threads per
    worker (default 1, see :func:`run_worker`; None: torch's default, the cores divided among the workers).
    Returns the Optuna study. Raises SearchError (one-line message) for anything a user can get wrong.
    """
    _quiet_optuna()
    if workers < 1:
        raise SearchError(f"--workers must be at least 1, not {workers}")
    if n_trials is not None and n_trials < 1:
        raise SearchError(f"--trials must be at least 1, not {n_trials}")
    storage_kind(storage)  # an unsupported URL fails before anything else
    check_device(device)
    if resume:
        if not study_name:
            raise StudyError("--resume needs the study's name (--study NAME)")
        check_study_name(study_name)
        study_dir = Path(results_dir) / study_name
        try:
            raw = open_storage(storage, study_dir, create=False)
        except StudyError:
            raise StudyError(f"no study named {study_name!r} to resume (no {study_dir / 'journal.log'})") from None
        study = _load_study(study_name, raw, where=describe_storage(storage, study_dir))
        settings = load_settings(study)
        if on_resume is not None:
            on_resume(settings)
        if n_trials is not None and n_trials != settings["n_trials"]:
            settings = {**settings, "n_trials": n_trials}
            study.set_user_attr(SETTINGS_ATTR, settings)
        with claim_lock(raw, study_dir, study_name):
            recover_stale_trials(study, raw)
    else:
        study, settings, study_dir, raw = _create_study(
            grammar, task_name, task_options or {}, study_name, n_trials, storage, sampler, pruner, objectives,
            train_budget(steps, batch_size, **(train_options or {})), space or {}, baseline, seed, results_dir,
        )
    _run_workers(study, settings, storage, Path(results_dir), workers, device, progress, console, threads)
    return study


def _create_study(grammar: Any, task_name: str, task_options: dict[str, Any], study_name: str | None,
                  n_trials: int | None, storage: str | None, sampler: str, pruner: str | None,
                  objectives: Sequence[str],
                  budget: dict[str, Any], space_overrides: dict[str, tuple[Any, ...]], baseline: bool, seed: int,
                  results_dir: str | os.PathLike[str]) -> tuple[Any, dict[str, Any], Path, Any]:
    import optuna

    from archsearch.grammar import load_grammar

    objectives = tuple(objectives)
    if pruner is None:
        pruner = "none" if sampler == "grid" or len(objectives) > 1 else "median"
    _check_choices(objectives, sampler, pruner)
    if not hasattr(grammar, "axioms"):
        grammar = load_grammar(grammar)  # GrammarError: one line path:line:col: error: …
    task = _make_task(task_name, task_options)
    try:
        space = space_from_grammar(grammar, space_overrides, mode="single" if sampler == "grid" else "auto")
    except ValueError as err:
        raise SearchError(f"search space: {err}") from None
    if sampler == "grid":
        space = space.single()
        grid = space.grid()
        n_trials = len(grid) if n_trials is None else min(n_trials, len(grid))
    n_trials = DEFAULT_TRIALS if n_trials is None else n_trials
    name = check_study_name(study_name or default_study_name(grammar.name, task_name))
    study_dir = Path(results_dir) / name
    where = describe_storage(storage, study_dir)
    raw = open_storage(storage, study_dir, create=True)
    if name in _study_names(raw):
        raise StudyError(f"study {name!r} already exists in {where}; continue it with --resume or choose "
                         "another --study")
    settings = {
        "version": 1,
        "study": name,
        "grammar": {"name": grammar.name, "path": str(grammar.path) if getattr(grammar, "path", None) else None},
        "space": space.to_dict(),
        "task": task_name,
        "task_options": dict(task_options),
        "task_info": {"metric": task.metric_name, "direction": task.direction, "causal": bool(task.causal)},
        "objectives": list(objectives),
        "directions": _directions(objectives, task),
        "sampler": sampler,
        "pruner": pruner,
        "train": budget,
        "seed": seed,
        "n_trials": n_trials,
        "baseline": bool(baseline),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    try:
        study = optuna.create_study(study_name=name, storage=raw, directions=settings["directions"])
    except optuna.exceptions.DuplicatedStudyError:
        raise StudyError(f"study {name!r} already exists in {where}; continue it with --resume") from None
    study.set_user_attr(SETTINGS_ATTR, settings)
    if sampler == "grid":
        for params in grid[:n_trials]:
            study.enqueue_trial(params, user_attrs={"grid": True})
    elif baseline:
        study.enqueue_trial(space.baseline_params(), user_attrs={"baseline": True})
    return study, settings, study_dir, raw


def _cuda_devices() -> int:
    try:
        import torch

        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    except Exception:
        return 0


def _run_workers(study: Any, settings: dict[str, Any], storage: str | None, results_dir: Path, workers: int,
                 device: str, progress: bool, console: Any, threads: int | None) -> None:
    target = int(settings["n_trials"])
    bar = _ProgressBar(target, settings["study"], console) if progress else None
    try:
        if bar is not None:
            bar.update(count_trials(study)["finished"])
        if workers == 1:
            def on_trial(st: Any, frozen: Any) -> None:
                if bar is not None:
                    bar.update(count_trials(st)["finished"])

            run_worker(settings["study"], storage, results_dir, device, 0, target, on_trial=on_trial, threads=threads)
        else:
            _spawn_workers(study, settings, storage, results_dir, workers, device, target, bar, threads)
    finally:
        if bar is not None:
            bar.update(count_trials(study)["finished"])
            bar.stop()


def _spawn_workers(study: Any, settings: dict[str, Any], storage: str | None, results_dir: Path, workers: int,
                   device: str, target: int, bar: Any, threads: int | None) -> None:
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    n_gpu = _cuda_devices() if device in ("auto", "cuda") else 0
    threads = threads or max(1, (os.cpu_count() or 1) // workers)  # None: share the cores

    barrier = ctx.Barrier(workers)  # the first K workers each claim a trial before any trains; replacements do not wait

    def start(index: int) -> Any:
        kwargs = {
            "study_name": settings["study"], "storage": storage, "results_dir": str(results_dir),
            "device": "cuda" if n_gpu else device, "worker_index": index, "n_trials": target, "threads": threads,
            "cuda_visible_devices": index % n_gpu if n_gpu else None,
            "start_barrier": barrier if index < workers else None,
        }
        proc = ctx.Process(target=_worker_process, args=(kwargs,), name=f"archsearch-worker-{index}")
        proc.start()
        return proc

    procs = [start(i) for i in range(workers)]
    replaced, errors = 0, 0
    try:
        while procs:
            time.sleep(0.3)
            if bar is not None:
                bar.update(count_trials(study)["finished"])
            for proc in list(procs):
                if proc.is_alive():
                    continue
                proc.join()
                procs.remove(proc)
                code = proc.exitcode
                if code == 0:
                    continue
                if code is not None and code < 0 and replaced < workers:
                    # killed by a signal: its trial is stale; a replacement re-runs it (exact count)
                    counts = count_trials(study)
                    if counts["finished"] < target:
                        replaced += 1
                        procs.append(start(workers + replaced - 1))
                        continue
                errors += 1
    except BaseException:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.join(5)
        raise
    counts = count_trials(study)
    if errors and counts["finished"] < target:
        raise SearchError(f"{errors} worker(s) failed (see above); {counts['finished']} of {target} trials "
                          "finished; continue with --resume")


class _ProgressBar:
    """A rich progress bar over the study's finished trials on stderr (a line per change when stderr is not
    a terminal, e.g. in CI logs)."""

    def __init__(self, total: int, name: str, console: Any = None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._console = console or Console(stderr=True)
        self._name, self._total, self._last = name, total, -1
        self._progress = None
        if self._console.is_terminal:
            self._progress = Progress(
                TextColumn(f"[bold]search {name}[/]"), BarColumn(), MofNCompleteColumn(), TextColumn("trials"),
                TimeElapsedColumn(), console=self._console, transient=False,
            )
            self._task = self._progress.add_task("trials", total=total)
            self._progress.start()

    def update(self, done: int) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=done)
        elif done != self._last:
            self._console.print(f"search {self._name}: {done}/{self._total} trials finished", highlight=False)
        self._last = done

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()


# ------------------------------------------------------------------------------------------ results


def leaderboard(study: Any, top: int | None = 10) -> list[dict[str, Any]]:
    """The best COMPLETE trials (single objective: by value; several: Pareto-optimal first, then by the first
    objective), as JSON-able rows."""
    from optuna.trial import TrialState

    settings = study.user_attrs.get(SETTINGS_ATTR, {})
    directions = [d.name.lower() for d in study.directions]
    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.values]
    pareto = set()
    if len(directions) > 1:
        pareto = {t.number for t in study.best_trials}
    sign = 1.0 if directions[0] == "minimize" else -1.0
    done.sort(key=lambda t: (t.number not in pareto, _finite(sign * t.values[0]), t.number))
    rows = []
    for t in done[: top if top is not None else len(done)]:
        keys = tuple(t.user_attrs.get("term_ids", ()))
        forms, names = term_descriptions(keys) if keys else ([], [])
        labels = [key if name == form or names.count(name) > 1 else name
                  for key, form, name in zip(keys, forms, names, strict=True)]
        rows.append({
            "number": t.number,
            "values": list(t.values),
            "objectives": settings.get("objectives", ["metric"]),
            "terms": list(keys),
            "term_names": names,
            "term_labels": labels,  # the recognised name, else (unnamed or ambiguous) the term id
            "forms": forms,
            "n_params": t.user_attrs.get("n_params"),
            "flops": t.user_attrs.get("flops"),
            "wall_time": t.user_attrs.get("wall_time"),
            "test_metric": t.user_attrs.get("test_metric"),
            "device": t.user_attrs.get("device"),
            "duplicate_of": t.user_attrs.get("duplicate_of"),
            "pareto": t.number in pareto,
            "params": dict(t.params),
        })
    return rows


def _finite(x: float) -> float:
    return x if x is not None and math.isfinite(x) else math.inf


def summary(study: Any, top: int | None = 10) -> dict[str, Any]:
    """JSON-able summary of a study: settings, counts per state and the leaderboard."""
    settings = study.user_attrs.get(SETTINGS_ATTR, {})
    return {
        "study": study.study_name,
        "task": settings.get("task"),
        "metric": settings.get("task_info", {}).get("metric"),
        "objectives": settings.get("objectives"),
        "directions": [d.name.lower() for d in study.directions],
        "n_trials": settings.get("n_trials"),
        "counts": count_trials(study),
        "leaderboard": leaderboard(study, top),
    }


def settings_json(study: Any) -> str:
    return json.dumps(study.user_attrs.get(SETTINGS_ATTR, {}), indent=2, sort_keys=True)
