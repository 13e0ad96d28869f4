"""Running a study's workers from ``search``: in this process (one worker) or as K spawned processes (a
replacement for one killed by a signal, so the trial count stays exact), with the progress bar."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from archsearch.search.errors import SearchError
from archsearch.search.progress import ProgressBar
from archsearch.search.recovery import count_trials
from archsearch.search.settings import StudySettings
from archsearch.search.worker import run_worker, worker_process


def _cuda_devices() -> int:
    try:
        import torch

        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    except Exception:
        return 0


def run_workers(study: Any, settings: StudySettings, storage: str | None, results_dir: Path, workers: int,
                device: str, progress: bool, console: Any, threads: int | None, deadline: float | None) -> None:
    target = int(settings.n_trials)
    bar = ProgressBar(target, settings.study, console, settings.metric, settings.directions[0]) if progress else None

    def refresh() -> None:
        if bar is not None:
            bar.update(study, count_trials(study)["finished"])

    try:
        refresh()
        if workers == 1:
            run_worker(settings.study, storage, results_dir, device, 0, None, on_trial=lambda *_: refresh(),
                       threads=threads, deadline=deadline)
        else:
            _spawn_workers(settings, storage, results_dir, workers, device, target, refresh, threads, deadline,
                           study)
    finally:
        if bar is not None:
            refresh()
            bar.stop()


def _spawn_workers(settings: StudySettings, storage: str | None, results_dir: Path, workers: int, device: str,
                   target: int, refresh: Any, threads: int | None, deadline: float | None, study: Any) -> None:
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    n_gpu = _cuda_devices() if device in ("auto", "cuda") else 0
    threads = threads or max(1, (os.cpu_count() or 1) // workers)  # None: share the cores

    barrier = ctx.Barrier(workers)  # the first K workers each claim a trial before any trains; replacements do not wait

    def start(index: int) -> Any:
        kwargs = {
            "study_name": settings.study, "storage": storage, "results_dir": str(results_dir),
            "device": "cuda" if n_gpu else device, "worker_index": index, "n_trials": None, "threads": threads,
            "cuda_visible_devices": index % n_gpu if n_gpu else None,
            "start_barrier": barrier if index < workers else None, "deadline": deadline,
        }
        proc = ctx.Process(target=worker_process, args=(kwargs,), name=f"archsearch-worker-{index}")
        proc.start()
        return proc

    procs = [start(i) for i in range(workers)]
    replaced, errors = 0, 0
    try:
        while procs:
            time.sleep(0.3)
            refresh()
            for proc in list(procs):
                if proc.is_alive():
                    continue
                proc.join()
                procs.remove(proc)
                code = proc.exitcode
                if code != 0:
                    barrier.abort()  # a first worker that died never reaches the start barrier: free the others
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
