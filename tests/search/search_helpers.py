"""Helpers of the search tests: tiny training budgets, CLI subprocesses, study loading, polling."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# A trial of this budget trains in well under a second on one CPU thread.
TASK_OPTIONS = {"eval_size": 32, "d": 2, "n": 4}
SPACE = {"width": (8,), "depth": (1,)}
TINY = [
    "--steps", "3", "--batch-size", "8", "--space", "width=8", "--space", "depth=1",
    "--task-option", "eval_size=32", "--task-option", "d=2", "--task-option", "n=4", "--threads", "1",
]


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["COLUMNS"] = "200"
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def cli(*args: str, timeout: float = 240, **kwargs) -> subprocess.CompletedProcess:
    """Run ``python -m archsearch ARGS`` in a subprocess from the repository root."""
    return subprocess.run([sys.executable, "-m", "archsearch", *args], cwd=ROOT, env=cli_env(), text=True,
                          capture_output=True, timeout=timeout, **kwargs)


def popen_cli(*args: str) -> subprocess.Popen:
    """Start ``python -m archsearch ARGS`` in its own process group (so the test can kill all of it)."""
    return subprocess.Popen([sys.executable, "-m", "archsearch", *args], cwd=ROOT, env=cli_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def load(results: Path, name: str, storage: str | None = None):
    """The study ``name`` (read through archsearch's storage, as a worker would)."""
    import optuna

    from archsearch.search import open_storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.load_study(study_name=name, storage=open_storage(storage, results / name, create=False))


def states(study) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        out[t.state.name] = out.get(t.state.name, 0) + 1
    return out


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL a process started by popen_cli and everything in its process group."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.communicate(timeout=30)


def wait_for(predicate, timeout: float = 120.0, interval: float = 0.2):
    """Poll ``predicate()`` until it returns something truthy; return it (or fail the test on timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {getattr(predicate, '__name__', 'a condition')}")


def hold_claim_lock(study_dir: str, queue) -> None:
    """(A spawned process) take the study's claim lock, say so on ``queue``, hold it for a second."""
    from archsearch.search import claim_lock, open_storage

    storage = open_storage(None, study_dir)
    with claim_lock(storage, study_dir, "s"):
        queue.put(time.monotonic())
        time.sleep(1.0)
