"""Several worker processes on one journal study: a killed worker's trial is re-run, a crashed search resumes
with every COMPLETE trial kept, and 4 workers x 25 trials give exactly 100 finished trials."""

from __future__ import annotations

import os
import signal

from search_helpers import TINY, cli, kill_group, load, popen_cli, wait_for

from archsearch.search.recovery import OWNER_ATTR

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
