"""Several worker processes on one journal study: a killed worker's trial is re-run, a crashed search resumes
with every COMPLETE trial kept, and 4 workers x 25 trials give exactly 100 finished trials; a trial whose
worker is killed every time runs exactly MAX_RETRY + 1 times, and a killed worker not yet reaped (a zombie)
is dead."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from search_helpers import SPACE, TASK_OPTIONS, TINY, cli, kill_group, load, popen_cli, wait_for

from archsearch.search import claim_lock, open_storage, recover_stale_trials, run_search
from archsearch.search.recovery import MAX_RETRY, OWNER_ATTR
from archsearch.search.settings import SETTINGS_ATTR

FINISHED = ("COMPLETE", "PRUNED")
# Trials slow enough (~0.5-1 s) to kill one in the middle.
SLOW = [*TINY[:1], "100", *TINY[2:], "--pruner", "none", "--no-progress"]


def _finished(study):
    """The finished trials a study's target counts: distinct configurations (a repeat reuses a result)."""
    return [t for t in study.get_trials(deepcopy=False)
            if t.state.name in FINISHED and t.user_attrs.get("duplicate_of") is None]


def _training(study):
    """RUNNING trials that are training (their config is recorded just before training starts)."""
    return [t for t in study.get_trials(deepcopy=False)
            if t.state.name == "RUNNING" and OWNER_ATTR in t.system_attrs and "config" in t.user_attrs]


def _check_exact(study, n: int) -> None:
    trials = study.get_trials(deepcopy=False)
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers)) == max(numbers) + 1
    assert len(_finished(study)) == n
    assert not [t for t in trials if t.state.name in ("RUNNING", "WAITING")]


def _journal_ready(results, name):
    return (results / name / "journal.log").exists()


def test_killed_worker_trial_is_rerun_and_count_is_exact(tmp_path):
    proc = popen_cli("search", "--study", "f1", "--results", str(tmp_path), "--trials", "5", "--workers", "2", *SLOW)
    snapshot = {}

    def victim():
        if proc.poll() is not None or not _journal_ready(tmp_path, "f1"):
            return None
        study = load(tmp_path, "f1")
        done = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
        running = _training(study)
        if not (done and running):
            return None
        snapshot.update({t.number: t.values for t in done})
        return max(running, key=lambda t: t.datetime_start)  # the most recently started: surely mid-trial

    try:
        trial = wait_for(victim, timeout=180, interval=0.1)
        os.kill(trial.system_attrs[OWNER_ATTR]["pid"], signal.SIGKILL)
        out, err = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            kill_group(proc)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    study = load(tmp_path, "f1")
    killed = study.trials[trial.number]
    assert killed.state.name == "FAIL" and "died" in killed.user_attrs["stale"]
    reruns = [t for t in study.trials if t.system_attrs.get("failed_trial") == trial.number]
    assert len(reruns) == 1 and reruns[0].params == trial.params and reruns[0].state.name in FINISHED
    assert reruns[0].user_attrs["candidate"] == trial.user_attrs["candidate"]  # the same candidate, trained again
    for number, values in snapshot.items():  # nothing finished was touched
        assert study.trials[number].state.name == "COMPLETE" and study.trials[number].values == values
    _check_exact(study, 5)
    assert "val mse" in out  # the leaderboard


def test_crashed_search_resumes_with_every_complete_trial_kept(tmp_path):
    proc = popen_cli("search", "--study", "f2", "--results", str(tmp_path), "--trials", "5", "--workers", "2", *SLOW)
    snapshot = {}

    def both_busy():
        if proc.poll() is not None or not _journal_ready(tmp_path, "f2"):
            return None
        study = load(tmp_path, "f2")
        done = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
        if done and len(_training(study)) == 2:
            snapshot.update({t.number: t.values for t in done})
            return True
        return None

    try:
        wait_for(both_busy, timeout=180, interval=0.1)
    finally:
        kill_group(proc)  # the search and both workers die with SIGKILL
    study = load(tmp_path, "f2")
    stale = [t for t in study.get_trials(deepcopy=False) if t.state.name == "RUNNING"]
    assert stale, "the kill should leave RUNNING trials behind"
    before = {t.number for t in _finished(study)}
    assert len(before) < 5

    res = cli("search", "--study", "f2", "--results", str(tmp_path), "--resume", "--no-progress", "--threads", "1",
              "--workers", "2")
    assert res.returncode == 0, res.stderr
    study = load(tmp_path, "f2")
    for number, values in snapshot.items():
        assert study.trials[number].state.name == "COMPLETE" and study.trials[number].values == values
    for old in stale:
        assert study.trials[old.number].state.name == "FAIL"
        reruns = [t for t in study.trials if t.system_attrs.get("failed_trial") == old.number]
        assert len(reruns) == 1 and reruns[0].state.name in FINISHED and reruns[0].params == old.params
        assert reruns[0].user_attrs["candidate"] == old.user_attrs["candidate"]
    _check_exact(study, 5)
    assert "val mse" in res.stdout


def test_four_workers_give_exactly_100_trials(tmp_path):
    res = cli("search", "--study", "load", "--results", str(tmp_path), "--trials", "100", "--workers", "4",
              "--steps", "1", "--batch-size", "4", "--space", "width=8", "--space", "depth=1", "--task-option",
              "eval_size=16", "--task-option", "d=2", "--task-option", "n=4", "--pruner", "none", "--no-progress",
              "--json", timeout=400)
    assert res.returncode == 0, res.stderr
    assert "locked" not in res.stderr and "Traceback" not in res.stderr
    study = load(tmp_path, "load")
    _check_exact(study, 100)
    distinct = [t for t in study.trials if t.user_attrs.get("duplicate_of") is None]
    assert len(distinct) == 100  # not one trained configuration more (repeated proposals reuse a result)
    pids = {t.system_attrs[OWNER_ATTR]["pid"] for t in study.trials}
    assert len(pids) == 4  # every worker ran trials


ENDLESS = 10**7  # training steps: a trial that would run for hours, so a test kills its worker at leisure


def _endless_study(results: Path, name: str) -> dict:
    """A journal study whose first trial has finished, with one more trial queued (other parameters, so
    never a duplicate) and a training budget no trial finishes: a worker that joins claims it and trains
    until it is killed. Returns the queued parameters."""
    run_search("grammars/paper.toml", "icl-regression", TASK_OPTIONS, name, 1, steps=3, batch_size=8, space=SPACE,
               results_dir=results, progress=False, threads=1, baseline=False)
    study = load(results, name)
    settings = study.user_attrs[SETTINGS_ATTR]
    train = {**settings["train"], "steps": ENDLESS, "eval_every": ENDLESS}
    study.set_user_attr(SETTINGS_ATTR, {**settings, "n_trials": 2, "train": train})
    params = {**study.trials[0].params, "lr": 0.01 if study.trials[0].params["lr"] != 0.01 else 0.001}
    study.enqueue_trial(params)
    return params


def _worker(results: Path, name: str):
    return popen_cli("worker", "--study", name, "--results", str(results), "--threads", "1")


def _training_in(results: Path, name: str, pid: int):
    """The trial the worker ``pid`` is training (RUNNING, owned by it, its config recorded), or None."""
    if not _journal_ready(results, name):
        return None
    found = [t for t in _training(load(results, name)) if t.system_attrs[OWNER_ATTR]["pid"] == pid]
    return found[0] if found else None


def _proc_state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    return stat[stat.rfind(")") + 2:].split()[0]


def _recover(results: Path, name: str) -> list[int]:
    """What a joining worker does first: fail the trials of dead workers (and queue them again) under the lock."""
    storage = open_storage(None, results / name, create=False)
    study = load(results, name)
    with claim_lock(storage, results / name, name):
        return recover_stale_trials(study, storage)


@pytest.mark.slow
def test_a_trial_killed_every_time_runs_exactly_max_retry_plus_one_times(tmp_path):
    """Kill the worker of the same trial again and again: the first run and MAX_RETRY re-runs (4 runs), each
    by a fresh worker that recovers the previous one's trial, then the trial stays FAIL and is not queued."""
    params = _endless_study(tmp_path, "cap")
    runs = []
    for _ in range(MAX_RETRY + 1):
        proc = _worker(tmp_path, "cap")
        try:
            runs.append(wait_for(lambda p=proc: _training_in(tmp_path, "cap", p.pid), timeout=180))
        finally:
            kill_group(proc)  # SIGKILL, and reaped: the pid is gone
    first = runs[0].number
    assert [t.params for t in runs] == [params] * (MAX_RETRY + 1)
    assert [t.system_attrs.get("failed_trial") for t in runs] == [None] + [first] * MAX_RETRY
    assert runs[-1].system_attrs["retry_history"] == [t.number for t in runs[:-1]]
    assert _recover(tmp_path, "cap") == [runs[-1].number]  # the last run fails and is not queued again
    trials = load(tmp_path, "cap").get_trials(deepcopy=False)
    assert [trials[t.number].state.name for t in runs] == ["FAIL"] * (MAX_RETRY + 1)
    assert all("died" in trials[t.number].user_attrs["stale"] for t in runs)
    assert not [t for t in trials if t.state.name in ("RUNNING", "WAITING")]
    assert len(trials) == 1 + MAX_RETRY + 1  # the first trial and the runs: nothing else was claimed


def test_a_killed_unreaped_worker_is_recovered(tmp_path):
    """SIGKILL a worker and do not reap it: its pid still exists, as a zombie with the same start time, and
    its trial is failed and queued again all the same."""
    params = _endless_study(tmp_path, "zombie")
    proc = _worker(tmp_path, "zombie")
    try:
        trial = wait_for(lambda: _training_in(tmp_path, "zombie", proc.pid), timeout=180)
        os.kill(proc.pid, signal.SIGKILL)  # no wait(): the test process is its parent and does not reap it
        wait_for(lambda: _proc_state(proc.pid) == "Z", timeout=30, interval=0.05)
        assert _recover(tmp_path, "zombie") == [trial.number]
        assert _proc_state(proc.pid) == "Z"  # judged dead while still a zombie
    finally:
        kill_group(proc)
    trials = load(tmp_path, "zombie").get_trials(deepcopy=False)
    assert trials[trial.number].state.name == "FAIL" and "died" in trials[trial.number].user_attrs["stale"]
    rerun = [t for t in trials if t.system_attrs.get("failed_trial") == trial.number]
    assert len(rerun) == 1 and rerun[0].state.name == "WAITING" and rerun[0].params == params
