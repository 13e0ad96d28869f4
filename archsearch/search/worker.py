"""The worker loop every process of a study runs (the search itself, spawned workers, ``archsearch worker``).

1. Under the study's claim lock (``storage.claim_lock``: an flock next to the journal, a PostgreSQL advisory
   lock) it fails the RUNNING trials whose worker is dead and re-queues their parameters, counts the finished
   trials (distinct configurations: a duplicate does not count) and the running ones, stops when they reach
   the target, the step budget is spent, the deadline has passed or the space is exhausted, else claims a
   trial (``study.ask()``, which pops a queued trial first) and records its owner (host, pid, start time);
2. it trains the trial outside the lock and tells the result;
3. once the target is claimed, it waits until the trials other workers run have finished, and runs one again
   if its worker died — so no worker (and no ``search``) returns before the target is reached, unless a
   budget ended the search. A proposal that repeats a trained
   configuration reuses its result (the objective) and does not count; the next proposal of this worker then
   comes from a random sampler, which steers away from the sampler's favourite (TPE on a small discrete space
   otherwise proposes it again and again).

Counting and claiming under one lock makes the number of finished trials exact with any number of workers
(``MaxTrialsCallback`` alone overshoots: each worker checks after its own trial, so up to K - 1 extra trials
start).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from archsearch.search.errors import SearchError, disk_error
from archsearch.search.factories import check_device, load_study, make_pruner, make_sampler, make_task, quiet_optuna
from archsearch.search.heartbeat import Heartbeat
from archsearch.search.liveness import owner_record
from archsearch.search.recovery import OWNER_ATTR, count_trials, recover_stale_trials, steps_spent
from archsearch.search.settings import StudySettings, check_study_name, load_settings
from archsearch.search.storage import claim_lock, describe_storage, open_storage

MAX_CONSECUTIVE_FAILURES = 3
WORKER_FAULT_ENV = "ARCHSEARCH_FAULT_WORKER"  # tests: "kill@I" kills spawned worker I as it starts
POLL = 1.0  # seconds between looks at trials that other workers are finishing
MAX_CONSECUTIVE_DUPLICATES = 50  # even random proposals keep repeating: the reachable space is spent


def stop_reason(study: Any, settings: StudySettings, target: int, deadline: float | None,
                space_size: int | None) -> str | None:
    """Why no further trial should start (call under the claim lock), or None."""
    counts = count_trials(study)
    if counts["finished"] + counts["RUNNING"] >= target:
        return "target"
    if space_size is not None and counts["finished"] >= space_size:
        return "space exhausted"
    if settings.step_budget is not None and steps_spent(study) >= settings.step_budget:
        return "step budget spent"
    if deadline is not None and time.time() >= deadline:
        return "time budget spent"
    return None


def _objective(settings: StudySettings, task: Any, study_dir: Path, device: str) -> tuple[Any, int | None]:
    """The objective of this study's kind, and the number of distinct candidates (None: unbounded)."""
    if settings.kind == "confirm":
        from archsearch.search.confirm import ConfirmObjective

        return ConfirmObjective(settings, task, study_dir, device), None
    from archsearch.search.objective import Objective
    from archsearch.search.space import SearchSpace

    space = SearchSpace.from_dict(settings.space)
    return Objective(settings, space, task, study_dir, device=device), space.size() + len(settings.baselines)


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
    deadline: float | None = None,
) -> Any:
    """Join an existing study and run trials until it has ``n_trials`` finished trials (default: the study's
    stored target), this worker has run ``max_trials``, the step budget is spent or ``deadline`` (epoch
    seconds) has passed. ``threads``: torch CPU threads of this process (default 1: the small candidate models
    train fastest on one thread, and several threads slow down badly when the cores are shared; None leaves
    torch's setting). ``ready`` is called once, after this worker has claimed its first trial and before it
    trains it (the first spawned workers wait there for each other, so each of them holds a trial before any
    trains: one that imports torch first cannot take every trial). Returns the Optuna study."""
    import optuna
    from optuna.trial import TrialState

    quiet_optuna()
    check_device(device)
    if threads:
        import torch

        torch.set_num_threads(threads)
    study_dir = Path(results_dir) / check_study_name(study_name)
    raw = open_storage(storage, study_dir, create=False)
    study = load_study(study_name, raw, where=describe_storage(storage, study_dir))
    settings = load_settings(study)
    target = int(n_trials if n_trials is not None else settings.n_trials)
    # a different sampler stream after a restart (resume, a replacement worker): fresh proposals
    started = [t for t in study.get_trials(deepcopy=False) if t.state != TrialState.WAITING]
    sampler = make_sampler(settings, worker_index + 7919 * len(started))
    explorer = optuna.samplers.RandomSampler(seed=settings.seed * 1009 + worker_index + 7919 * len(started) + 1)
    study.sampler = sampler
    study.pruner = make_pruner(settings)
    task = make_task(settings.task, settings.task_options)
    objective, space_size = _objective(settings, task, study_dir, device)
    owner = owner_record()
    ran = failures = duplicates = 0
    while max_trials is None or ran < max_trials:
        with claim_lock(raw, study_dir, study_name):
            recover_stale_trials(study, raw)
            if n_trials is None:  # the stored target: a concurrent resume may have changed it
                settings = load_settings(study)
                target = int(settings.n_trials)
            reason = stop_reason(study, settings, target, deadline, space_size)
            waiting = reason == "target" and count_trials(study)["finished"] < target
            if reason is None:
                study.sampler = explorer if duplicates else sampler
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", message="Heartbeat of storage")
                    trial = study.ask()
                raw.set_trial_system_attr(trial._trial_id, OWNER_ATTR, owner)
        if reason is not None:
            if not waiting:
                break
            time.sleep(POLL)  # the last trials run in other workers: wait, and take over one whose worker dies
            continue
        ran += 1
        state, values, error = TrialState.COMPLETE, None, None
        with Heartbeat(raw, trial._trial_id):
            if ready is not None and ran == 1:
                ready()  # the trial is claimed and beats; the others may still be loading
            try:
                values = objective(trial)
            except optuna.TrialPruned:
                state = TrialState.PRUNED
            except KeyboardInterrupt:
                study.tell(trial, state=TrialState.FAIL)
                raise
            except OSError as err:
                if disk_error(err, "") is not None:
                    raise  # a full or read-only disk: stop; the trial stays RUNNING, re-queued when the study resumes
                state, error = TrialState.FAIL, f"{type(err).__name__}: {err}"
                _report_failure(trial, error)
            except Exception as err:  # a bug or an unsupported term: FAIL, and the study goes on
                state, error = TrialState.FAIL, f"{type(err).__name__}: {err}"
                _report_failure(trial, error)
            frozen = study.tell(trial, values, state=state) if state == TrialState.COMPLETE else \
                study.tell(trial, state=state)
        if on_trial is not None:
            on_trial(study, frozen)
        failures = failures + 1 if state == TrialState.FAIL else 0
        if failures >= MAX_CONSECUTIVE_FAILURES:
            raise SearchError(f"{failures} trials in a row failed; the last, trial {frozen.number}: "
                              f"{error.splitlines()[0] if error else 'unknown error'}")
        duplicates = duplicates + 1 if frozen.user_attrs.get("duplicate_of") is not None else 0
        if duplicates >= MAX_CONSECUTIVE_DUPLICATES:
            break  # the sampler only proposes trained configurations: the reachable space is spent
    return study


def _report_failure(trial: Any, error: str) -> None:
    with contextlib.suppress(Exception):
        trial.set_user_attr("error", error[:2000])
    print(f"archsearch: trial {trial.number} failed: {' '.join(error.split())[:300]}", file=sys.stderr, flush=True)


def worker_process(kwargs: dict[str, Any]) -> None:
    """Entry point of a spawned worker process (a ``multiprocessing`` spawn context)."""
    import threading

    if os.environ.get(WORKER_FAULT_ENV) == f"kill@{kwargs.get('worker_index')}":  # tests: die before the barrier
        os.kill(os.getpid(), signal.SIGKILL)

    gpu = kwargs.pop("cuda_visible_devices", None)
    if gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpu)
    barrier = kwargs.pop("start_barrier", None)

    def ready() -> None:  # wait until the other first workers hold a trial (one that leaves breaks it: go on)
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=float(os.environ.get(BARRIER_TIMEOUT_ENV, START_BARRIER_TIMEOUT)))

    try:
        run_worker(**kwargs, ready=ready if barrier is not None else None)
    except OSError as err:
        mapped = disk_error(err, f"the journal of study {kwargs.get('study_name')!r}")
        if mapped is None:
            raise
        print(f"archsearch worker {kwargs.get('worker_index', 0)}: error: {mapped}", file=sys.stderr, flush=True)
        sys.exit(2)
    except SearchError as err:
        print(f"archsearch worker {kwargs.get('worker_index', 0)}: error: {err}", file=sys.stderr, flush=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    finally:
        if barrier is not None:  # a worker that leaves, for any reason, holds no other at the start
            barrier.abort()


START_BARRIER_TIMEOUT = 120.0  # seconds the first spawned workers, each holding a claimed trial, wait for each other
BARRIER_TIMEOUT_ENV = "ARCHSEARCH_START_BARRIER_TIMEOUT"  # tests: a longer wait, so that only an abort ends it early
