"""archsearch.parallel: the ordered map over forked workers gives what the plain loop gives."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import partial

import pytest

from archsearch import parallel

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The fork path only runs where torch is not imported; pytest's process has imported it, so the checks
# of the worker path run in a fresh interpreter.
_CHILD = """
import json, os, sys
from functools import partial
from archsearch import parallel

def work(offset, x):
    if x == -1:
        raise ValueError("item -1")
    return (x * x + offset, os.getpid())

items = list(range(200))
seen = []
got = parallel.ordered_map(partial(work, 7), items, workers=2, progress=lambda d, t: seen.append((d, t)))
try:
    parallel.ordered_map(partial(work, 0), list(range(100)) + [-1], workers=2)
    raised = None
except ValueError as err:
    raised = str(err)
print(json.dumps({"values": [v for v, _ in got], "pids": sorted({p for _, p in got}), "me": os.getpid(),
                  "workers": parallel.workers_for(len(items), 2), "progress": seen, "raised": raised}))
"""


def test_workers_for_rules(monkeypatch):
    assert parallel.workers_for(1000, 1) == 1
    assert parallel.workers_for(parallel.MIN_ITEMS - 1, 4) == 1  # too few items to repay the start
    assert "torch" in sys.modules or parallel.workers_for(1000, 3) == 3
    with pytest.raises(ValueError, match="at least 1"):
        parallel.workers_for(10, 0)
    monkeypatch.setitem(sys.modules, "torch", sys.modules.get("torch", object()))
    assert parallel.workers_for(1000, 4) == 1  # torch imported: no fork


def test_in_process_map_keeps_order_and_reports_progress():
    seen: list[tuple[int, int]] = []
    got = parallel.ordered_map(partial(pow, 2), [3, 1, 2], workers=1, progress=lambda d, t: seen.append((d, t)))
    assert got == [8, 2, 4] and seen == [(0, 3), (1, 3), (2, 3), (3, 3)]


def test_forked_map_equals_the_loop_in_order():
    out = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True, timeout=120,
                         cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT})
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["workers"] == 2
    assert data["values"] == [x * x + 7 for x in range(200)]
    # the work ran in worker processes (one may take every chunk of so light a job before the other starts)
    assert 1 <= len(data["pids"]) <= 2 and data["me"] not in data["pids"]
    done = [d for d, _ in data["progress"]]
    assert done[0] == 0 and done[-1] == 200 and done == sorted(done) and {t for _, t in data["progress"]} == {200}
    assert data["raised"] == "item -1"  # a worker's exception reaches the caller


def test_enumerate_output_does_not_depend_on_jobs():
    """The CLI in fresh interpreters (no torch, so it forks): --jobs 1 and --jobs 2 print the same JSON."""
    outs = []
    for jobs in ("1", "2"):
        out = subprocess.run([sys.executable, "-m", "archsearch", "enumerate", "--left", "perm", "--max-order", "8",
                              "--all", "--format", "json", "--jobs", jobs], capture_output=True, text=True,
                             timeout=300, cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT})
        assert out.returncode == 0, out.stderr
        outs.append(out.stdout)
    assert outs[0] == outs[1]
    assert len(json.loads(outs[0])["terms"]) > parallel.MIN_ITEMS  # enough terms that --jobs 2 forks
