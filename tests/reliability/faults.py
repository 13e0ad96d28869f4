"""Fault injection for the reliability tests: a tiny search run in a forked child with a fault armed through
archsearch's test hooks (``ARCHSEARCH_FAULT_JOURNAL=kill@K|torn@K|enospc@K``: at the child's K-th journal
append, SIGKILL after it, SIGKILL half-way through it, or a full disk half-way through it), and what a study
holds afterwards."""

from __future__ import annotations

import os
import signal
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from search_helpers import ROOT, SPACE, TASK_OPTIONS

from archsearch.search.space import candidate_key
from archsearch.search.storage import FAULT_ENV, journal_path

TRIALS = 3
SEARCH: dict[str, Any] = dict(grammar=str(ROOT / "grammars" / "paper.toml"), task_name="icl-regression",
                              task_options=TASK_OPTIONS, study_name="s", n_trials=TRIALS, space=SPACE, steps=3,
                              batch_size=8, progress=False, threads=1)
MAX_APPENDS = 400  # a 3-trial search appends ~60 entries; more means the kill loop never ends


def forked(fn: Callable[[], Any], env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run ``fn()`` in a forked child with ``env`` added; return (exit code, or −signal; the child's error
    message). A SearchError is exit 2 with its message, any other exception exit 1 with its traceback."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code, message = 0, ""
        try:
            os.close(read)
            os.environ.update(env or {})
            fn()
        except SystemExit as err:
            code = err.code if isinstance(err.code, int) else 1
        except BaseException as err:  # noqa: BLE001 - reported to the parent
            from archsearch.search import SearchError

            code = 2 if isinstance(err, SearchError) else 1
            message = str(err) if code == 2 else traceback.format_exc()
        finally:
            try:
                os.write(write, message.encode()[:60000])
            finally:
                os._exit(code)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 65536):
        chunks.append(chunk)
    os.close(read)
    _, status = os.waitpid(pid, 0)
    code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    return code, b"".join(chunks).decode(errors="replace")


def search(results: Path, *, fault: str | None = None, **changes: Any) -> tuple[int, str]:
    """A tiny search (SEARCH with ``changes``) in a forked child, ``fault`` armed (e.g. "kill@7")."""
    from archsearch.search import run_search

    options = {**SEARCH, **changes}
    env = {FAULT_ENV: fault} if fault else {FAULT_ENV: ""}
    return forked(lambda: run_search(results_dir=results, **options), env)


def warm_up(results: Path) -> None:
    """One search in this process: compiled blocks and imports are then inherited by every forked child."""
    import torch

    from archsearch.search import run_search

    torch.set_num_threads(1)
    run_search(results_dir=results, **SEARCH)


def study_state(results: Path, name: str = "s", storage: str | None = None) -> dict[str, Any]:
    """What a study holds: trial states, the finished trials' configurations, the stored target."""
    from search_helpers import load

    from archsearch.search.settings import load_settings

    study = load(results, name, storage)
    trials = study.get_trials(deepcopy=False)
    finished = [t for t in trials if t.state.name in ("COMPLETE", "PRUNED")]
    counted = [t for t in finished if t.user_attrs.get("duplicate_of") is None]
    return {
        "states": sorted(t.state.name for t in trials),
        "finished": len(counted),
        "candidates": [candidate_key(t.user_attrs.get("candidate")) for t in counted],
        "target": load_settings(study).n_trials,
        "numbers": sorted(t.number for t in trials),
    }


def journal_lines(results: Path, name: str = "s") -> int:
    path = journal_path(results / name)
    return path.read_bytes().count(b"\n") if path.exists() else 0


def kill_signal() -> int:
    return -signal.SIGKILL
