"""A real local PostgreSQL server (initdb + pg_ctl as user postgres on 127.0.0.1): a search with 2 worker
processes plus an ``archsearch worker`` joining it, heartbeats, and a stale trial failed by the heartbeat check
and re-queued until the retry cap."""

from __future__ import annotations

import os
import time
import warnings
from contextlib import closing
from pathlib import Path

import optuna
from search_helpers import SPACE, TASK_OPTIONS, TINY, cli, load, popen_cli, wait_for

from archsearch.search import open_storage, recover_stale_trials, run_search
from archsearch.search.recovery import MAX_RETRY as OWNER_MAX_RETRY
from archsearch.search.recovery import OWNER_ATTR
from archsearch.search.storage import MAX_RETRY, close_storages


def test_search_with_workers_on_postgresql(postgres, tmp_path):
    url = postgres("search")
    proc = popen_cli("search", "--study", "pg", "--storage", url, "--results", str(tmp_path), "--trials", "8",
                     "--workers", "2", "--pruner", "none", "--no-progress", *TINY)

    def trial_finished():  # read-only: creating Optuna's tables here would race with the search creating them
        import psycopg2

        try:
            with closing(psycopg2.connect(url)) as conn, conn.cursor() as cur:  # `with conn` alone leaves it open
                cur.execute("SELECT count(*) FROM trials WHERE state IN ('COMPLETE', 'PRUNED')")
                return cur.fetchone()[0] > 0
        except psycopg2.Error:
            return False

    # once a trial has finished, both spawned workers hold a trial (they meet at a barrier after their first
    # claim); a worker joining before that could take all 8 tiny trials while they still import torch
    wait_for(trial_finished, timeout=120)
    joined = cli("worker", "--study", "pg", "--storage", url, "--results", str(tmp_path), "--threads", "1")
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err
    assert joined.returncode == 0, joined.stderr
    assert "of 8 trials finished" in joined.stdout
    assert "val mse" in out and "Traceback" not in err
    study = load(tmp_path, "pg", storage=url)
    trials = study.get_trials()
    distinct = [t for t in trials if t.user_attrs.get("duplicate_of") is None]  # repeats reuse, do not count
    assert len(distinct) == 8 and {t.state.name for t in trials} <= {"COMPLETE", "PRUNED"}
    assert sorted(t.number for t in trials) == list(range(len(trials)))
    assert len({t.system_attrs[OWNER_ATTR]["pid"] for t in trials}) >= 2
    # weights land in the results directory, not in the database
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    assert all((tmp_path / "pg" / "trials" / str(t.number) / "model.safetensors").exists() for t in complete)


def test_heartbeat_fails_and_requeues_a_stale_trial_until_the_retry_cap(postgres, tmp_path):
    """A worker on another machine claims the queued trial, beats once and vanishes, again and again: the
    heartbeat check fails each run and re-queues its parameters MAX_RETRY times (MAX_RETRY + 1 runs), then
    leaves the last failure alone."""
    assert MAX_RETRY == OWNER_MAX_RETRY  # a dead worker's trial runs as often whichever check finds it
    url = postgres("heartbeat")
    run_search("grammars/paper.toml", "icl-regression", TASK_OPTIONS, "hb", 1, storage=url, steps=3, batch_size=8,
               space=SPACE, results_dir=tmp_path, progress=False, threads=1, baseline=False)
    storage = open_storage(url, tmp_path / "hb", create=False, heartbeat_interval=1, grace_period=4)
    assert storage.get_heartbeat_interval() == 1
    study = optuna.load_study(study_name="hb", storage=storage)
    params = {"terms": "0-0", "width": 8, "depth": 1, "heads": 1, "rank_frac": 0.5, "step": 0.5, "lr": 1e-3,
              "tied": False}
    study.enqueue_trial(params)
    runs = []
    for attempt in range(MAX_RETRY + 1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "heartbeat … supposed to be used with Study.optimize"
            trial = study.ask()  # the queued parameters (first the enqueued trial, then each re-queued run)
        for name in params:
            trial.suggest_categorical(name, list(study.trials[0].distributions[name].choices))
        assert trial.params == params
        storage.set_trial_system_attr(trial._trial_id, OWNER_ATTR, {"host": "elsewhere", "pid": 1, "start": 0})
        storage.record_heartbeat(trial._trial_id)
        if attempt == 0:
            assert recover_stale_trials(study, storage) == []  # alive as far as anyone can tell
        time.sleep(5.5)  # past the grace period (a short one would flake on a loaded machine)
        recover_stale_trials(study, storage)  # the heartbeat check now fails it and (until the cap) re-queues it
        runs.append(trial.number)
    trials = study.get_trials()
    assert [trials[n].state.name for n in runs] == ["FAIL"] * (MAX_RETRY + 1)
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == runs[0]]
    assert [t.number for t in retries] == runs[1:]  # each re-queued run was the next one claimed
    assert retries[-1].system_attrs["retry_history"] == runs[:-1]
    assert not [t for t in trials if t.state.name in ("WAITING", "RUNNING")]  # the last failure is not re-queued


def _my_connections_to(port: int) -> int:
    """TCP sockets of this process connected to ``port`` on this host: its open fds matched against
    /proc/net/tcp. Counted on the client side, because a server backend outlives its closed socket for a
    moment (pg_stat_activity lags under load)."""
    inodes = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if remote_port == port and fields[3] == "01" and fields[9] in inodes:  # 01: ESTABLISHED
                count += 1
    return count


def test_in_process_commands_leave_no_server_connections(postgres, tmp_path, run):
    """Each command run through ``archsearch.cli.main`` closes the connections it pooled: without that a process
    running several commands (the tests, a notebook) held a few per command until the server refused clients
    ("too many clients already" at max_connections = 50). Counted before any garbage collection."""
    import gc

    url = postgres("pooled")
    port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
    searched = cli("search", "--study", "p", "--storage", url, "--results", str(tmp_path), "--trials", "1",
                   "--no-baseline", "--no-progress", *TINY)
    assert searched.returncode == 0, searched.stderr
    close_storages()  # what earlier tests in this process left open through the library (not the CLI)
    before = _my_connections_to(port)
    gc.disable()
    try:
        for command in (["leaderboard", "--study", "p"], ["export", "--study", "p", "--out", str(tmp_path / "m.py")]):
            assert run(*command, "--storage", url, "--results", str(tmp_path)).code == 0
            assert _my_connections_to(port) == before, command[0]
    finally:
        gc.enable()
