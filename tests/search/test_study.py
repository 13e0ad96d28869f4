"""run_search in-process: records of a trial, saved weights, duplicates, divergence, grid, several objectives,
resume and the errors a user can cause."""

from __future__ import annotations

import json

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
from archsearch.search.worker import run_worker

BUDGET = dict(task_options=TASK_OPTIONS, steps=3, batch_size=8, space=SPACE, progress=False, threads=1)


def test_trial_records_weights_and_config(tmp_path):
    study = run_search("grammars/paper.toml", "icl-regression", study_name="rec", n_trials=3, results_dir=tmp_path,
                       pruner="none", **{k: v for k, v in BUDGET.items() if k != "task_options"},
                       task_options=TASK_OPTIONS)
    assert states(study) == {"COMPLETE": 3}
    first = study.trials[0]
    assert first.user_attrs["term_ids"] == ["0-0", "0-1.0-1"]  # the baseline is queued first
    assert first.user_attrs["terms"] == ["Tr(G₁)", "Tr(G₁ G₂)"]
    for key in ("n_params", "flops", "wall_time", "device", "test_metric", "config", "candidate"):
        assert key in first.user_attrs, key
    config = json.loads(first.user_attrs["config"])
    assert config["task"] == {"name": "icl-regression", "options": TASK_OPTIONS}
    assert config["model"]["width"] == 8 and config["train"]["steps"] == 3
    assert json.loads(first.user_attrs["candidate"])["terms"] == ["0-0", "0-1.0-1"]
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
    keys = {t.user_attrs["candidate"] for t in trials}
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
    assert recover_stale_trials(study, storage) == []  # idempotent
    done = run_search(study_name="st", n_trials=2, resume=True, results_dir=tmp_path, progress=False, threads=1)
    rerun = done.trials[retry.number]
    assert rerun.state.name == "COMPLETE" and rerun.params == params


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
