"""A real local PostgreSQL server (initdb + pg_ctl as user postgres on 127.0.0.1): a search with 2 worker
processes plus an ``archsearch worker`` joining it, heartbeats, and a stale trial failed by the heartbeat check."""

from __future__ import annotations

import time
import warnings

import optuna
from search_helpers import SPACE, TASK_OPTIONS, TINY, cli, load, popen_cli, wait_for

from archsearch.search import open_storage, recover_stale_trials, run_search
from archsearch.search.recovery import OWNER_ATTR


def test_search_with_workers_on_postgresql(postgres, tmp_path):
    url = postgres("search")
    proc = popen_cli("search", "--study", "pg", "--storage", url, "--results", str(tmp_path), "--trials", "8",
                     "--workers", "2", "--pruner", "none", "--no-progress", *TINY)

    def trial_finished():  # read-only: creating Optuna's tables here would race with the search creating them
        import psycopg2

        try:
            with psycopg2.connect(url) as conn, conn.cursor() as cur:
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


def test_heartbeat_fails_and_requeues_a_stale_trial(postgres, tmp_path):
    url = postgres("heartbeat")
    run_search("grammars/paper.toml", "icl-regression", TASK_OPTIONS, "hb", 1, storage=url, steps=3, batch_size=8,
               space=SPACE, results_dir=tmp_path, progress=False, threads=1, baseline=False)
    storage = open_storage(url, tmp_path / "hb", create=False, heartbeat_interval=1, grace_period=4)
    assert storage.get_heartbeat_interval() == 1
    study = optuna.load_study(study_name="hb", storage=storage)
    params = {"terms": "0-0", "width": 8, "depth": 1, "heads": 1, "rank_frac": 0.5, "step": 0.5, "lr": 1e-3,
              "tied": False}
    study.enqueue_trial(params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "heartbeat … supposed to be used with Study.optimize"
        trial = study.ask()  # a worker on another machine claims it, beats once and vanishes
    for name in params:
        trial.suggest_categorical(name, list(study.trials[0].distributions[name].choices))
    storage.set_trial_system_attr(trial._trial_id, OWNER_ATTR, {"host": "elsewhere", "pid": 1, "start": 0})
    storage.record_heartbeat(trial._trial_id)
    assert recover_stale_trials(study, storage) == []  # alive as far as anyone can tell
    time.sleep(5.5)  # past the grace period (a short one would flake on a loaded machine)
    recover_stale_trials(study, storage)  # the heartbeat check now fails it and re-queues its parameters
    trials = study.get_trials()
    assert trials[trial.number].state.name == "FAIL"
    retry = [t for t in trials if t.system_attrs.get("failed_trial") == trial.number]
    assert len(retry) == 1 and retry[0].state.name == "WAITING" and retry[0].params == params
