"""An ordered map over forked worker processes, for CPU-bound work on independent items (the cost
column and the descriptions of ``enumerate``).

Forked workers inherit the parent's imported modules, so one starts in milliseconds; items go out in
chunks, results come back in the items' order, so the output is the same whatever the number of
workers. The map stays in this process when forking is unavailable or unsafe (no ``fork`` start method,
or torch already imported: a fork of a process whose intra-op thread pool is running can hang), when
one worker is asked for or available, or when the items are too few to repay the start.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

MIN_ITEMS = 48  # fewer items: the map stays in this process (each fork and result transfer costs ~10 ms)


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity mask where the platform has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def workers_for(items: int, workers: int | None = None) -> int:
    """The number of processes :func:`ordered_map` uses for ``items`` items (1: this process)."""
    wanted = available_cpus() if workers is None else workers
    if wanted < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if wanted == 1 or items < MIN_ITEMS or "torch" in sys.modules:
        return 1
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1  # pragma: no cover - Windows
    return min(wanted, items)


def _apply(job: tuple[Callable[[Any], Any], Sequence[Any]]) -> list[Any]:
    fn, chunk = job
    return [fn(item) for item in chunk]


def ordered_map(fn: Callable[[T], R], items: Sequence[T], workers: int | None = None,
                progress: Callable[[int, int], None] | None = None) -> list[R]:
    """``[fn(x) for x in items]``, in forked processes when :func:`workers_for` says more than one.

    ``fn`` must be picklable by reference (a module-level function or a ``functools.partial`` of one),
    as must the items and results. ``progress(done, total)`` is called as results arrive (and once at 0).
    An exception in a worker is raised here.
    """
    total = len(items)
    n = workers_for(total, workers)
    if progress is not None:
        progress(0, total)
    if n == 1:
        out = []
        for i, item in enumerate(items):
            out.append(fn(item))
            if progress is not None:
                progress(i + 1, total)
        return out
    size = max(1, total // (n * 8))  # small chunks: the slow items (highest orders) come last
    chunks = [items[i:i + size] for i in range(0, total, size)]
    results: list[R] = []
    with multiprocessing.get_context("fork").Pool(n) as pool:
        for part in pool.imap(_apply, [(fn, chunk) for chunk in chunks]):
            results.extend(part)
            if progress is not None:
                progress(len(results), total)
    return results
