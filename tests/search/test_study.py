"""run_search in-process: records of a trial, saved weights, duplicates, divergence, grid, several objectives,
resume and the errors a user can cause."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import optuna
import pytest
from search_helpers import SPACE, TASK_OPTIONS, load, states

import archsearch.train as train_module
from archsearch.search import (
    SearchError,
    SearchSpace,
    StudyError,
    count_trials,
    leaderboard,
    recover_stale_trials,
    run_search,
    summary,
    trial_dir,
)
from archsearch.search.liveness import owner_alive, owner_record
from archsearch.search.recovery import OWNER_ATTR
from archsearch.search.space import candidate_key
from archsearch.search.worker import run_worker

BUDGET = dict(task_options=TASK_OPTIONS, steps=3, batch_size=8, space=SPACE, progress=False, threads=1)


def test_trial_records_weights_and_config(tmp_path):
    study = run_search("grammars/paper.toml", "icl-regression", study_name="rec", n_trials=3, results_dir=tmp_path,
                       pruner="none", **{k: v for k, v in BUDGET.items() if k != "task_options"},
                       task_options=TASK_OPTIONS)
    assert states(study) == {"COMPLETE": 3}
    first = study.trials[0]
    assert first.user_attrs["term_ids"] == ["0-0", "0-1.0-1"]  # the baseline is queued first
    assert first.user_attrs["terms"] == ["linear MLP: Tr(G₁)", "linear attention: Tr(G₁ G₂)"]
    for key in ("n_params", "flops", "wall_time", "device", "test_metric", "config", "candidate"):
        assert key in first.user_attrs, key
    config = first.user_attrs["config"]  # dicts: optuna-dashboard shows them as trees
    assert isinstance(config, dict) and isinstance(first.user_attrs["candidate"], dict)
    assert study.metric_names == ["mse"]
    for name in ("model.safetensors", "config.json"):  # readable by the other users of a shared results directory
        assert (tmp_path / "rec" / "trials" / "0" / name).stat().st_mode & 0o777 == 0o644
    assert config["task"] == {"name": "icl-regression", "options": TASK_OPTIONS}
    assert config["model"]["width"] == 8 and config["train"]["steps"] == 3
    assert first.user_attrs["candidate"]["terms"] == ["0-0", "0-1.0-1"]
    # the weights and config rebuild the model
    from safetensors.torch import load_file

    from archsearch.tasks import make_task
    from archsearch.train import ModelConfig, build_model

    folder = trial_dir(tmp_path / "rec", 0)
    saved = json.loads((folder / "config.json").read_text())
    model = build_model(ModelConfig.from_dict(saved["model"]), make_task("icl-regression", **saved["task"]["options"]))
    model.load_state_dict(load_file(folder / "model.safetensors"))
    assert (tmp_path / "rec" / "journal.log").exists()
    rows = leaderboard(study)
    assert len(rows) == 3 and rows[0].values[0] <= rows[-1].values[0]
    assert summary(study)["counts"]["finished"] == 3


def test_duplicates_are_not_trained_twice(tmp_path, monkeypatch):
    calls = []
    real = train_module.train

    def counting(model_cfg, *args, **kwargs):
        calls.append(model_cfg)
        return real(model_cfg, *args, **kwargs)

    monkeypatch.setattr(train_module, "train", counting)
    # a space of exactly 3 candidates (the paper's term subsets, everything else fixed): asked for 8, the search
    # trains the 3, reuses the results of repeated proposals without counting them, and ends: the space is spent
    space = {"width": (8,), "depth": (1,), "heads": (1,), "rank_frac": (1.0,), "step": (0.5,), "lr": (1e-2,)}
    study = run_search("grammars/paper.toml", "icl-regression", TASK_OPTIONS, "dup", 8, sampler="random",
                       pruner="none", steps=3, batch_size=8, space=space, results_dir=tmp_path, progress=False,
                       threads=1, baseline=False)
    trials = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    keys = {candidate_key(t.user_attrs["candidate"]) for t in trials}
    assert len(calls) == len(keys) == 3
    dups = [t for t in trials if "duplicate_of" in t.user_attrs]
    assert len(dups) == len(trials) - 3 and dups, "random proposals in a 3-point space repeat"
    assert count_trials(study)["finished"] == 3 and count_trials(study)["duplicates"] == len(dups)
    assert all(t.user_attrs["wall_time"] < 1.0 and t.user_attrs["steps"] == 0 for t in dups)  # their own time
    by_number = {t.number: t for t in trials}
    for t in dups:
        original = by_number[t.user_attrs["duplicate_of"]]
        assert original.user_attrs["candidate"] == t.user_attrs["candidate"]
        assert "duplicate_of" not in original.user_attrs
        assert t.values == original.values and t.user_attrs["n_params"] == original.user_attrs["n_params"]
        assert (trial_dir(tmp_path / "dup", t.number) / "model.safetensors").exists()


def test_a_pruned_configuration_is_not_trained_again(tmp_path, monkeypatch):
    """A proposal that repeats a configuration the pruner stopped is pruned at once as its duplicate (the same
    seed trains the same run), does not count, and costs no training (make demo trained one twice)."""
    calls = []
    real = train_module.train

    def pruning(model_cfg, *args, **kwargs):
        calls.append(tuple(model_cfg.terms))
        if "0-0" in model_cfg.terms:  # the pruner stops every configuration with the MLP term
            raise train_module.Pruned(2, 1.5)
        return real(model_cfg, *args, **kwargs)

    monkeypatch.setattr(train_module, "train", pruning)
    space = {"width": (8,), "depth": (1,), "heads": (1,), "rank_frac": (1.0,), "step": (0.5,), "lr": (1e-2,)}
    study = run_search("grammars/paper.toml", "icl-regression", TASK_OPTIONS, "pr", 8, sampler="random",
                       pruner="median", steps=3, batch_size=8, space=space, results_dir=tmp_path, progress=False,
                       threads=1, baseline=False)
    trials = study.get_trials()
    assert len(calls) == len(set(calls)) == 3  # each of the 3 configurations trained once
    repeats = [t for t in trials if t.state.name == "PRUNED" and "duplicate_of" in t.user_attrs]
    assert repeats, "random proposals in a 3-point space repeat the pruned ones"
    for t in repeats:
        assert t.user_attrs["pruned_reason"].startswith(f"duplicate of trial {t.user_attrs['duplicate_of']}: ")
        assert t.user_attrs["steps"] == 0 and "diverged" not in t.user_attrs
    assert count_trials(study)["finished"] == 3


def test_diverged_trials_are_pruned_with_a_reason_and_the_study_goes_on(tmp_path, monkeypatch):
    real = train_module.train

    def diverging(model_cfg, *args, **kwargs):
        if "0-0" in model_cfg.terms:  # the linear MLP "diverges"
            raise train_module.TrialDiverged("step 2: training loss is nan", 2)
        return real(model_cfg, *args, **kwargs)

    monkeypatch.setattr(train_module, "train", diverging)
    study = run_search("grammars/paper.toml", "icl-regression", study_name="div", n_trials=6, sampler="random",
                       pruner="none", results_dir=tmp_path, **{k: v for k, v in BUDGET.items()})
    trials = study.get_trials()
    assert len(trials) == 6 and all(t.state.is_finished() for t in trials)
    pruned = [t for t in trials if t.state == optuna.trial.TrialState.PRUNED]
    assert pruned and trials[0] in pruned  # the baseline has the MLP term
    for t in pruned:
        assert t.user_attrs["diverged"] is True and "nan" in t.user_attrs["pruned_reason"]
        assert "0-0" in t.user_attrs["term_ids"]
    assert all("0-0" not in t.user_attrs["term_ids"] for t in trials if t.state.name == "COMPLETE")


def test_grid_runs_each_term_alone(tmp_path):
    study = run_search("grammars/softmax.toml", "icl-regression", study_name="grid", sampler="grid",
                       results_dir=tmp_path, **BUDGET)
    trials = study.get_trials()
    keys = ["0-0", "0-0.0-0", "0-1", "0-1.0-1", "0-1.1-1", "0-2.1-2", "f-exp", "lse"]
    assert len(trials) == 8 and states(study) == {"COMPLETE": 8}
    assert sorted(tuple(t.user_attrs["term_ids"]) for t in trials) == [(k,) for k in keys]
    assert len({(t.params["width"], t.params["lr"], t.params["depth"]) for t in trials}) == 1


@pytest.mark.parametrize("sampler,objective", [("nsga2", "flops"), ("motpe", "params")])
def test_metric_against_cost(tmp_path, sampler, objective):
    study = run_search("grammars/paper.toml", "icl-regression", study_name="mo", n_trials=5, sampler=sampler,
                       objectives=("metric", objective), results_dir=tmp_path, **BUDGET)
    assert [d.name for d in study.directions] == ["MINIMIZE", "MINIMIZE"]
    assert states(study) == {"COMPLETE": 5}
    rows = leaderboard(study)
    assert rows[0].pareto and len(rows[0].values) == 2
    key = "flops" if objective == "flops" else "n_params"
    assert all(row.values[1] == getattr(row, key) for row in rows)


def test_median_pruner_prunes_with_a_reason(tmp_path):
    space = {**SPACE, "lr": (1e-4, 3e-2)}
    study = run_search("grammars/paper.toml", "icl-regression", TASK_OPTIONS, "prune", 12, sampler="random",
                       pruner="median", steps=10, batch_size=8, space=space, results_dir=tmp_path, progress=False,
                       threads=1, train_options={"eval_every": 2})
    assert sum(states(study).get(s, 0) for s in ("COMPLETE", "PRUNED")) == 12
    pruned = study.get_trials(states=(optuna.trial.TrialState.PRUNED,))
    assert pruned  # deterministic: the sampler's seed and the training are
    for t in pruned:
        assert "median pruner: pruned at step" in t.user_attrs["pruned_reason"]
        assert min(t.intermediate_values) == 2 and max(t.intermediate_values) >= 4  # never at the first report


def test_resume_extends_and_refuses_what_does_not_exist(tmp_path):
    run_search("grammars/paper.toml", "icl-regression", study_name="res", n_trials=2, results_dir=tmp_path, **BUDGET)
    with pytest.raises(StudyError, match="already exists"):
        run_search("grammars/paper.toml", "icl-regression", study_name="res", n_trials=2, results_dir=tmp_path,
                   **BUDGET)
    study = run_search(study_name="res", n_trials=4, resume=True, results_dir=tmp_path, progress=False, threads=1)
    assert sum(states(study).get(s, 0) for s in ("COMPLETE", "PRUNED")) == 4
    with pytest.raises(StudyError, match="no study named 'nope'"):
        run_search(study_name="nope", resume=True, results_dir=tmp_path)
    assert not (tmp_path / "nope").exists()


def test_stale_running_trial_is_failed_and_requeued(tmp_path):
    """A RUNNING trial whose owner process is dead is failed and its parameters queued again (no sampling)."""
    run_search("grammars/paper.toml", "icl-regression", study_name="st", n_trials=1, results_dir=tmp_path,
               baseline=False, **BUDGET)
    study = load(tmp_path, "st")
    storage = study._storage
    params = {"terms": "0-1.0-1", "width": 8, "depth": 1, "heads": 2, "rank_frac": 0.5, "step": 0.5, "lr": 3e-3,
              "tied": False}
    study.enqueue_trial(params)
    trial = study.ask()
    SearchSpace.from_dict(study.user_attrs["archsearch"]["space"]).suggest(trial)  # a worker's first steps
    dead = {**owner_record(), "pid": 2**22 + 12345}
    assert owner_alive(owner_record()) is True and owner_alive(dead) is False
    assert owner_alive({**owner_record(), "host": "elsewhere"}) is None
    storage.set_trial_system_attr(trial._trial_id, OWNER_ATTR, dead)
    assert recover_stale_trials(study, storage) == [trial.number]
    after = study.get_trials()
    assert after[trial.number].state.name == "FAIL" and "died" in after[trial.number].user_attrs["stale"]
    retry = after[-1]
    assert retry.state.name == "WAITING" and retry.params == params
    assert retry.system_attrs["failed_trial"] == trial.number
    assert count_trials(study)["FAIL"] == 1 and count_trials(study)["WAITING"] == 1
    assert recover_stale_trials(study, storage) == []  # idempotent
    done = run_search(study_name="st", n_trials=2, resume=True, results_dir=tmp_path, progress=False, threads=1)
    rerun = done.trials[retry.number]
    assert rerun.state.name == "COMPLETE" and rerun.params == params


def test_a_requeued_baseline_stays_a_baseline_and_keeps_only_what_to_run(tmp_path):
    """The re-queued copy of a stale trial carries the attributes that say what to run (baseline, its
    candidate, a confirmation item) and none of its results."""
    run_search("grammars/paper.toml", "icl-regression", study_name="rq", n_trials=1, results_dir=tmp_path,
               baseline=False, **BUDGET)
    study = load(tmp_path, "rq")
    storage = study._storage
    study.enqueue_trial({}, user_attrs={"baseline": "paper", "baseline_candidate": {"terms": ["0-0"]}})
    trial = study.ask()
    storage.set_trial_user_attr(trial._trial_id, "flops", 123)  # a result: not carried over
    storage.set_trial_system_attr(trial._trial_id, OWNER_ATTR, {**owner_record(), "pid": 2**22 + 12345})
    assert recover_stale_trials(study, storage) == [trial.number]
    retry = study.get_trials()[-1]
    assert retry.state.name == "WAITING"
    assert retry.user_attrs == {"baseline": "paper", "baseline_candidate": {"terms": ["0-0"]}}


def test_trial_counts_and_steps_spent_are_exact():
    """count_trials: every state counted from 0 (a state with no trial still reads 0), duplicates apart;
    steps_spent: the steps of finished trials, pruned ones included, none for a trial without the record."""
    from archsearch.search.recovery import steps_spent

    study = optuna.create_study()
    dist = {"x": optuna.distributions.FloatDistribution(0, 1)}

    def add(state, steps=None, **attrs):
        if steps is not None:
            attrs["steps"] = steps
        value = 0.5 if state == optuna.trial.TrialState.COMPLETE else None
        study.add_trial(optuna.trial.create_trial(state=state, value=value, params={"x": 0.5}, distributions=dist,
                                                  user_attrs=attrs,
                                                  intermediate_values={1: 0.5} if steps else {}))

    S = optuna.trial.TrialState
    assert count_trials(study) == {"COMPLETE": 0, "PRUNED": 0, "FAIL": 0, "RUNNING": 0, "WAITING": 0,
                                   "duplicates": 0, "finished": 0}
    add(S.COMPLETE, 5)
    add(S.PRUNED, 3)
    add(S.COMPLETE, duplicate_of=0)  # a reused result: no steps record
    add(S.FAIL, 7)  # failed trials do not count their steps
    assert count_trials(study) == {"COMPLETE": 2, "PRUNED": 1, "FAIL": 1, "RUNNING": 0, "WAITING": 0,
                                   "duplicates": 1, "finished": 2}
    assert steps_spent(study) == 8


def test_an_owner_on_another_host_is_judged_by_its_heartbeats(tmp_path, monkeypatch):
    """An owner on another host: not stale within the grace period (the storage's grace_period, else twice its
    heartbeat interval) or without one; after it, stale exactly when the trial never sent a heartbeat."""
    import datetime
    from types import SimpleNamespace

    from archsearch.search import storage as storage_module
    from archsearch.search.recovery import is_stale

    beats: set[int] = {7}
    asked: list[int] = []

    def has_heartbeat(storage, trial_id):
        assert storage is not None  # the storage recover_stale_trials was given is asked
        asked.append(trial_id)
        return trial_id in beats

    monkeypatch.setattr(storage_module, "has_heartbeat", has_heartbeat)
    now = float(int(time.time()))  # whole seconds: a start time `grace` seconds back is exactly `grace` old
    elsewhere = {**owner_record(), "host": socket.gethostname() + "-elsewhere"}

    def trial(age, trial_id=3):
        started = None if age is None else datetime.datetime.fromtimestamp(now - age)
        return SimpleNamespace(system_attrs={OWNER_ATTR: elsewhere}, datetime_start=started, _trial_id=trial_id)

    graced = SimpleNamespace(grace_period=10, heartbeat_interval=60)
    beating = SimpleNamespace(grace_period=None, heartbeat_interval=4)  # grace 2 × 4 = 8 s
    assert is_stale(trial(1000), now, None) is False  # no heartbeat storage: cannot be judged
    assert is_stale(trial(1000), now, SimpleNamespace()) is False
    assert is_stale(trial(None), now, graced) is False  # not started
    assert is_stale(trial(5), now, graced) is False and asked == []  # within the grace period: not asked
    assert is_stale(trial(10), now, graced) is False and asked == []  # exactly at its end: still within
    assert is_stale(trial(20), now, graced) is True and asked == [3]  # after it, no heartbeat: stale
    assert is_stale(trial(20, trial_id=7), now, graced) is False  # it beat: alive
    assert is_stale(trial(6), now, beating) is False
    assert is_stale(trial(10), now, beating) is True

    # recover_stale_trials passes its storage on: a journal study wrapped with a grace period
    run_search("grammars/paper.toml", "icl-regression", study_name="hb", n_trials=1, results_dir=tmp_path,
               baseline=False, **BUDGET)
    study = load(tmp_path, "hb")
    real = study._storage
    study.enqueue_trial({})
    far = study.ask()
    real.set_trial_system_attr(far._trial_id, OWNER_ATTR, elsewhere)
    assert recover_stale_trials(study, SimpleNamespace(grace_period=1e-9, set_trial_user_attr=real.set_trial_user_attr,
                                                       set_trial_state_values=real.set_trial_state_values)) \
        == [far.number]
    assert far._trial_id in asked


def test_worker_is_ready_once_it_holds_its_first_trial(tmp_path):
    """Spawned workers meet at a barrier in ``ready``: by then each must own a RUNNING trial, none trained."""
    run_search("grammars/paper.toml", "icl-regression", study_name="rd", n_trials=1, results_dir=tmp_path, **BUDGET)
    seen = []

    def ready():
        study = load(tmp_path, "rd")
        running = [t for t in study.get_trials() if t.state.name == "RUNNING"]
        seen.append((len(running), running[0].system_attrs[OWNER_ATTR] if running else None,
                     states(study).get("COMPLETE", 0) + states(study).get("PRUNED", 0)))

    run_worker("rd", results_dir=tmp_path, n_trials=3, ready=ready)
    assert seen == [(1, owner_record(), 1)]  # once, owning its claim, before its first trial finished
    assert sum(states(load(tmp_path, "rd")).get(s, 0) for s in ("COMPLETE", "PRUNED")) == 3


@pytest.mark.parametrize("kwargs,match", [
    (dict(task_name="no-such-task"), "unknown task 'no-such-task'"),
    (dict(task_options={"colour": "red"}), "unknown option"),
    (dict(storage="sqlite:///x.db"), "unsupported storage URL"),
    (dict(objectives=("flops",)), "first objective"),
    (dict(sampler="annealing"), "unknown sampler"),
    (dict(study_name="../evil"), "invalid study name"),
    (dict(space={"width": (0,)}), "search space"),
])
def test_user_errors(tmp_path, kwargs, match):
    args = dict(grammar="grammars/paper.toml", task_name="icl-regression", n_trials=1, results_dir=tmp_path,
                progress=False)
    args.update(kwargs)
    with pytest.raises(SearchError, match=match):
        run_search(**args)
    assert not any(tmp_path.iterdir())  # nothing written


def test_failing_trials_are_recorded_and_three_in_a_row_stop_the_worker(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(train_module, "train", broken)
    with pytest.raises(SearchError, match="3 trials in a row failed.*boom"):
        run_search("grammars/paper.toml", "icl-regression", study_name="fail", n_trials=5, results_dir=tmp_path,
                   **BUDGET)
    study = load(tmp_path, "fail")
    assert states(study) == {"FAIL": 3}
    assert all("RuntimeError: boom" in t.user_attrs["error"] for t in study.trials)


def test_owner_alive_cases():
    """Who is alive on this host: this process and pid 1 (with their start times, or without one) are; a
    reused pid (another start time), a record from before a reboot (another boot id), and a record without
    a pid or with pid 0 are not; a record of another host cannot be judged (None)."""
    from archsearch.search.liveness import _boot_id, _proc_start

    me = owner_record()
    assert me == {"host": socket.gethostname(), "pid": os.getpid(), "start": _proc_start(os.getpid())[1],
                  "boot": _boot_id()}
    assert owner_alive(me) is True
    assert owner_alive({**me, "start": me["start"] + 1}) is False  # the pid was reused by a later process
    assert owner_alive({**me, "boot": "another-boot"}) is False
    assert owner_alive({**me, "boot": ""}) is True  # no boot id recorded: judged by the pid alone
    assert owner_alive({**me, "start": None}) is True  # no start time recorded: the pid exists
    assert owner_alive({key: v for key, v in me.items() if key != "pid"}) is False
    assert owner_alive({"host": me["host"]}) is False  # neither pid nor start time
    assert owner_alive({**me, "pid": 0}) is False
    init = _proc_start(1)
    assert owner_alive({"host": me["host"], "pid": 1, "start": init[1] if init else None, "boot": _boot_id()}) is True
    assert owner_alive({**me, "host": me["host"] + "-elsewhere"}) is None


def test_owner_alive_without_proc_falls_back_to_signal_zero(monkeypatch):
    """Where there is no /proc (macOS, BSD), liveness is signal 0: a live child is alive (and not signalled:
    it keeps running), an exited and reaped one is not, and a process we may not signal (PermissionError)
    exists."""
    import subprocess
    import sys

    from archsearch.search import liveness

    monkeypatch.setattr(liveness, "_has_proc", lambda: False)
    host = socket.gethostname()
    # the child restores SIGHUP's default (a runner started under nohup passes it on ignored), so a check that
    # sent a real signal would end it
    code = "import signal, sys, time; signal.signal(signal.SIGHUP, signal.SIG_DFL); print('ready', flush=True); " \
           "time.sleep(30)"
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        assert owner_alive({"host": host, "pid": child.pid}) is True
        time.sleep(0.2)
        assert child.poll() is None  # still running: the check sent no real signal
    finally:
        child.kill()
        child.wait()
    assert owner_alive({"host": host, "pid": child.pid}) is False  # reaped: no such process

    def denied(pid, sig):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(liveness.os, "kill", denied)
    assert owner_alive({"host": host, "pid": 12345}) is True


def test_a_trial_without_an_owner_record_is_stale_at_once():
    """A worker claims a trial and writes its owner record inside one hold of the claim lock, so a RUNNING
    trial seen without an owner under that lock belongs to a worker killed between the two appends: stale at
    once, however recently it started (the old rule waited 300 s, and a resume meanwhile ended short)."""
    import datetime
    import time
    from types import SimpleNamespace

    from archsearch.search.recovery import is_stale

    now = time.time()
    for started in (datetime.datetime.fromtimestamp(now - 1000), datetime.datetime.fromtimestamp(now), None):
        assert is_stale(SimpleNamespace(system_attrs={}, datetime_start=started), now) is True
    alive = SimpleNamespace(system_attrs={OWNER_ATTR: owner_record()}, datetime_start=None)
    assert is_stale(alive, now) is False  # the negative control: a live owner


def test_proc_start_reads_state_and_start_time_of_any_process_name(tmp_path, monkeypatch):
    """/proc/<pid>/stat with a process name holding ') ', spaces and bytes that are not UTF-8 (the name is
    the only field that can): the state is the field after the last ')', and the start time (clock ticks
    since boot) lies between /proc/uptime read just before and just after starting the process."""
    import shutil
    import subprocess

    from archsearch.search import liveness

    def uptime_ticks() -> float:
        return float(Path("/proc/uptime").read_text().split()[0]) * os.sysconf("SC_CLK_TCK")

    odd = os.path.join(os.fsencode(tmp_path), b"sl) e \xffp")
    shutil.copy("/bin/sleep", odd)
    before = uptime_ticks()
    child = subprocess.Popen([odd, "30"])
    try:
        after = uptime_ticks()
        state, start = liveness._proc_start(child.pid)
        deadline = time.monotonic() + 10
        while state != "S" and time.monotonic() < deadline:  # running the exec, then asleep
            time.sleep(0.05)
            state, start = liveness._proc_start(child.pid)
        assert state == "S"
        assert before - 2 <= start <= after + 2
    finally:
        child.kill()
        child.wait()
    assert liveness._proc_start(child.pid) is None  # reaped: gone
    assert len(liveness._boot_id()) == 36  # a UUID

    def unreadable(*args, **kwargs):
        raise PermissionError("not allowed")

    me = owner_record()
    monkeypatch.setattr(liveness, "open", unreadable, raising=False)
    assert liveness._proc_start(os.getpid()) == ("?", -1)
    assert owner_alive(me) is True  # cannot be read: presumed alive, never failed by mistake


def test_recover_fails_a_trial_left_without_owner_record(tmp_path):
    """A worker that died between claiming a trial and recording its owner: the next recovery (under the claim
    lock) fails the trial at once and queues its parameters again."""
    run_search("grammars/paper.toml", "icl-regression", study_name="nw", n_trials=1, results_dir=tmp_path, **BUDGET)
    study = load(tmp_path, "nw")
    trial = study.ask()  # claimed, and the worker died before recording its owner
    SearchSpace.from_dict(study.user_attrs["archsearch"]["space"]).suggest(trial)
    assert recover_stale_trials(study, study._storage) == [trial.number]
    retry = study.get_trials()[-1]
    assert retry.state.name == "WAITING" and retry.params == trial.params


def test_recovery_goes_past_live_and_contested_trials(tmp_path):
    """RUNNING trials: one whose owner lives, then two with dead owners, the first of which another worker
    fails at the same moment (the storage refuses the change, or raises). Recovery leaves the live one, skips
    the contested one and still fails and re-queues the last, naming its dead worker."""
    import optuna

    run_search("grammars/paper.toml", "icl-regression", study_name="mx", n_trials=1, results_dir=tmp_path, **BUDGET)
    study = load(tmp_path, "mx")
    storage = study._storage
    space = SearchSpace.from_dict(study.user_attrs["archsearch"]["space"])
    dead = {**owner_record(), "pid": 2**22 + 321}

    def claim(owner):
        trial = study.ask()
        space.suggest(trial)
        storage.set_trial_system_attr(trial._trial_id, OWNER_ATTR, owner)
        return trial

    class Contested:
        """The real storage, except that another worker wins the race for one trial."""

        def __init__(self, real, contested_id, how):
            self.real, self.contested_id, self.how = real, contested_id, how

        def __getattr__(self, name):
            return getattr(self.real, name)

        def set_trial_state_values(self, trial_id, state, values=None):
            if trial_id == self.contested_id:
                if self.how == "raise":
                    raise optuna.exceptions.UpdateFinishedTrialError("finished by another worker")
                return False
            return self.real.set_trial_state_values(trial_id, state=state, values=values)

    live = claim(owner_record())
    for how in ("refuse", "raise"):
        contested, victim = claim(dead), claim(dead)
        assert recover_stale_trials(study, Contested(storage, contested._trial_id, how)) == [victim.number]
        after = study.get_trials()
        assert after[contested.number].state.name == "RUNNING"
        assert after[victim.number].user_attrs["stale"] == f"worker pid {dead['pid']} on {dead['host']} died " \
                                                           "while running it"
        assert after[-1].state.name == "WAITING" and after[-1].system_attrs["failed_trial"] == victim.number
        storage.set_trial_state_values(contested._trial_id, state=optuna.trial.TrialState.FAIL)  # the other won
    assert study.get_trials()[live.number].state.name == "RUNNING"


def test_recovery_counts_each_trials_own_retry_history(tmp_path):
    """Two dead workers' trials, re-runs of trial 0: one already ran MAX_RETRY + 1 times (failed, not queued
    again, and the next trial is still recovered), one MAX_RETRY times (queued once more, carrying the original
    trial number and its history)."""
    from archsearch.search.recovery import MAX_RETRY

    run_search("grammars/paper.toml", "icl-regression", study_name="rh", n_trials=1, results_dir=tmp_path, **BUDGET)
    study = load(tmp_path, "rh")
    storage = study._storage
    space = SearchSpace.from_dict(study.user_attrs["archsearch"]["space"])
    dead = {**owner_record(), "pid": 2**22 + 777}
    runs = []
    for history in (list(range(100, 100 + MAX_RETRY)), list(range(200, 200 + MAX_RETRY - 1))):
        trial = study.ask()
        space.suggest(trial)
        for key, value in ((OWNER_ATTR, dead), ("failed_trial", 0), ("retry_history", history)):
            storage.set_trial_system_attr(trial._trial_id, key, value)
        runs.append((trial, history))
    (capped, _), (last, history) = runs
    assert recover_stale_trials(study, storage) == [capped.number, last.number]
    queued = [t for t in study.get_trials() if t.state.name == "WAITING"]
    assert len(queued) == 1 and queued[0].params == last.params
    assert queued[0].system_attrs["failed_trial"] == 0
    assert queued[0].system_attrs["retry_history"] == [*history, last.number]
