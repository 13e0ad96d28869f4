"""Baselines queued first (the paper's block, the standard Transformer block, an MLP control), each trial's
gap to the best baseline at its FLOPs, the confirmation stage over seeds (and its verdict), budgets in wall
time and training steps, and a term set per Euler step."""

from __future__ import annotations

import math
import time

import pytest
from search_helpers import SPACE, TASK_OPTIONS, TINY, cli, kill_group, load, popen_cli, wait_for

from archsearch.search import (
    BASELINES,
    Budget,
    Candidate,
    SearchError,
    baseline_candidate,
    confirmations,
    count_trials,
    leaderboard,
    load_settings,
    run_confirm,
    run_search,
    space_from_grammar,
    start_confirmation,
    verdict,
)
from archsearch.search.confirm import Verdict, chosen_trials, confirm_name, retrain_records
from archsearch.search.results import Confirmed

FAST = dict(steps=3, batch_size=8, progress=False, threads=1)


def test_baselines_run_first_at_matched_width(tmp_path):
    space = {"width": (8, 16), "depth": (1,)}
    study = run_search("grammars/paper.toml", "icl-regression", TASK_OPTIONS, "b", 5, space=space, sampler="random",
                       pruner="none", results_dir=tmp_path, **FAST)
    trials = study.get_trials()
    assert [t.user_attrs.get("baseline") for t in trials[:3]] == list(BASELINES)
    assert load_settings(study).baselines == BASELINES
    terms = {t.user_attrs["baseline"]: tuple(t.user_attrs["term_ids"]) for t in trials[:3]}
    assert terms == {"paper": ("0-0", "0-1.0-1"), "transformer": ("lse", "mlp-gelu"), "mlp": ("mlp-gelu",)}
    grammar_space = space_from_grammar(__import__("archsearch.grammar", fromlist=["load_grammar"]).load_grammar(
        "grammars/paper.toml"), space)
    standard = baseline_candidate("transformer", grammar_space)
    assert (standard.width, standard.heads, standard.rank, standard.tied) == (8, 4, 2, False)  # C/4 per head; 4C MLP
    assert count_trials(study)["finished"] == 5
    rows = leaderboard(study, top=None)
    for row in rows:
        if row.baseline:
            assert row.gap is None
        elif row.gap is not None:
            base = min((r for r in rows if r.baseline and r.flops <= row.flops), key=lambda r: r.values[0])
            assert row.gap_to == base.baseline and math.isclose(row.gap, base.values[0] - row.values[0])


def test_no_baselines_and_grid(tmp_path):
    study = run_search("grammars/paper.toml", "icl-regression", TASK_OPTIONS, "n", 2, space=SPACE, baseline=False,
                       results_dir=tmp_path, **FAST)
    assert not any(t.user_attrs.get("baseline") for t in study.get_trials())
    with pytest.raises(SearchError, match="unknown baseline"):
        run_search("grammars/paper.toml", "icl-regression", TASK_OPTIONS, "x", 2, space=SPACE, baselines=("gpt",),
                   results_dir=tmp_path, **FAST)


def test_confirmation_retrains_top_k_and_baselines_with_new_seeds(tmp_path):
    run_search("grammars/paper.toml", "icl-regression", TASK_OPTIONS, "c", 5, space={"width": (8,), "depth": (1,)},
               sampler="random", pruner="none", results_dir=tmp_path, **FAST)
    confirm = run_confirm("c", top=2, seeds=2, results_dir=tmp_path, progress=False)
    assert confirm.study_name == confirm_name("c") and load_settings(confirm).kind == "confirm"
    items = [t.user_attrs["confirm"] for t in confirm.get_trials()]
    sources = {i["source"] for i in items}
    assert len(items) == len(sources) * 2 == (2 + 3) * 2  # top 2 + 3 baselines, 2 seeds each
    assert {i["seed"] for i in items} == {1, 2}  # fresh seeds: the search ran seed 0
    confirmed = confirmations("c", results_dir=tmp_path)
    assert set(confirmed) == sources and all(c.n == 2 and c.std >= 0 for c in confirmed.values())
    records = retrain_records("c", results_dir=tmp_path)  # what each retrain measured, by source trial
    study = load(tmp_path, "c")
    assert set(records) == sources
    assert all(records[t.number] == {"n_params": t.user_attrs["n_params"], "flops": t.user_attrs["flops"]}
               for t in study.trials if t.number in sources)
    study = load(tmp_path, "c")
    runs = [t.values[0] for t in confirm.get_trials() if t.user_attrs["confirm"]["source"] == min(sources)]
    assert math.isclose(confirmed[min(sources)].mean, sum(runs) / 2)
    v = verdict(study, confirmed)
    assert v.winner is not None and v.baseline is not None and v.spread is not None
    assert v.real == (v.margin > 2 * v.spread)
    rows = leaderboard(study, top=None, confirmations=confirmed)
    assert [r.number for r in rows if r.confirmed][: len(sources)] == [r.number for r in rows[: len(sources)]]
    # running it again queues nothing new; more seeds queue only the missing ones
    again, settings = start_confirmation("c", top=2, seeds=2, results_dir=tmp_path)
    assert len(again.get_trials()) == 10 and settings.n_trials == 10
    _, settings = start_confirmation("c", top=2, seeds=3, results_dir=tmp_path)
    assert settings.n_trials == 15


def test_a_baseline_the_pruner_stopped_is_confirmed_at_the_full_budget(tmp_path):
    """Hyperband may stop a baseline early; the baselines are what every verdict is measured against, so the
    confirmation retrains a PRUNED baseline too (at the full budget, like every retrain)."""
    import optuna

    run_search("grammars/paper.toml", "icl-regression", TASK_OPTIONS, "p", 4, space={"width": (8,), "depth": (1,)},
               sampler="random", pruner="none", results_dir=tmp_path, **FAST)
    study = load(tmp_path, "p")
    mlp = next(t for t in study.trials if t.user_attrs.get("baseline") == "mlp")
    # the same trial as the pruner would leave it: PRUNED at an intermediate step, its config recorded
    pruned = optuna.trial.create_trial(state=optuna.trial.TrialState.PRUNED, params=mlp.params,
                                       distributions=mlp.distributions, user_attrs=mlp.user_attrs,
                                       intermediate_values={1: 1.0})
    other = optuna.create_study(study_name="p2", storage=study._storage, directions=["minimize"])
    for t in study.trials:
        other.add_trial(pruned if t.number == mlp.number else t)
    for key, value in study.user_attrs.items():
        other.set_user_attr(key, value)
    chosen = chosen_trials(other, top=1)
    assert sum(1 for t in chosen if t.user_attrs.get("baseline")) == 3  # paper, transformer and the pruned mlp
    assert [t.state.name for t in chosen if t.user_attrs.get("baseline") == "mlp"] == ["PRUNED"]


def test_rivals_are_mlp_and_attention_at_the_winners_flops(tmp_path):
    """--rivals: the paper block and the Transformer block retrained at the widest (width, depth) whose FLOPs
    do not exceed the search winner's, at each learning rate of the space; one step wider would exceed them;
    more seeds reuse the same size."""
    from archsearch.search import rival_confirmations, rival_verdict
    from archsearch.search.factories import make_task
    from archsearch.search.rivals import WIDTH_STEP, candidate_flops

    run_search("grammars/paper.toml", "icl-regression", TASK_OPTIONS, "r", 5,
               space={"width": (32,), "depth": (1, 2)}, sampler="random", pruner="none", results_dir=tmp_path,
               **FAST)
    run_confirm("r", top=1, seeds=2, results_dir=tmp_path, progress=False, rivals=("paper", "transformer"))
    study = load(tmp_path, "r")
    confirmed = confirmations("r", results_dir=tmp_path)
    rivals = rival_confirmations("r", results_dir=tmp_path)
    lrs = (1e-3, 3e-3, 1e-2)  # the default space's learning rates
    assert set(rivals) == {f"{n}@lr={lr:g}" for n in ("paper", "transformer") for lr in lrs}
    winner = next(t for t in sorted(study.get_trials(), key=lambda t: (t.values[0], t.number))
                  if t.state.name == "COMPLETE" and not t.user_attrs.get("baseline"))
    task = make_task("icl-regression", TASK_OPTIONS)
    settings = load_settings(study)
    space = __import__("archsearch.search.space", fromlist=["SearchSpace"]).SearchSpace.from_dict(settings.space)
    for key, rival in rivals.items():
        name = rival.name
        assert key.startswith(name) and rival.candidate["lr"] in lrs
        assert {k: v for k, v in rival.candidate.items() if k != "lr"} == {
            k: v for k, v in rivals[f"{name}@lr=0.001"].candidate.items() if k != "lr"}  # one size per name
        assert rival.target_trial == winner.number and rival.target_flops == winner.user_attrs["flops"]
        assert rival.flops is not None and rival.flops <= rival.target_flops
        assert rival.confirmed.n == 2 and rival.confirmed.seeds == (1, 2)
        wider = baseline_candidate(name, space, width=rival.candidate["width"] + WIDTH_STEP,
                                   depth=rival.candidate["depth"])
        assert candidate_flops(wider, task) > rival.target_flops  # the widest that fits
        assert rival.candidate["terms"] == list(baseline_candidate(name, space).terms)
    assert set(confirmed) == {t.user_attrs["confirm"]["source"] for t in load(tmp_path, "r.confirm").get_trials()
                              if t.user_attrs["confirm"]["source"] is not None}
    v = rival_verdict(study, confirmed, rivals)
    assert v.winner == winner.number and v.baseline is None and "width" in (v.baseline_name or "")
    assert "equal-cost rival" in v.describe("mse")
    before = {n: r.candidate for n, r in rivals.items()}
    _, settings = start_confirmation("r", top=1, seeds=3, results_dir=tmp_path, rivals=("paper", "transformer"))
    queued = [t.user_attrs["confirm"] for t in load(tmp_path, "r.confirm").get_trials()]
    assert sorted(i["seed"] for i in queued if i.get("rival") == "paper@lr=0.003") == [1, 2, 3]
    assert all(i["candidate"] == before[i["rival"]] for i in queued if i.get("rival"))
    assert settings.n_trials == 3 * (1 + 3 + 2 * len(lrs))  # top 1, 3 baselines, 6 rivals; 3 seeds each
    with pytest.raises(SearchError, match="unknown rival"):
        start_confirmation("r", top=1, seeds=2, results_dir=tmp_path, rivals=("gpt",))
    res = cli("confirm", "--study", "r", "--results", str(tmp_path), "--top", "1", "--seeds", "2",
              "--rivals", "paper,transformer", "--no-progress")
    assert res.returncode == 0, res.stderr
    assert "at equal cost: trial" in res.stdout and "rival paper at width" in res.stdout
    res = cli("confirm", "--study", "r", "--results", str(tmp_path), "--rivals", "gpt")
    assert res.returncode == 2 and "unknown rival(s) gpt" in res.stderr


def test_verdict_needs_more_than_twice_the_spread():
    v = Verdict(winner=3, baseline=0, baseline_name="transformer", margin=0.5, spread=0.2)
    assert v.real and "more than twice the seed spread" in v.describe("mse")
    v = Verdict(winner=3, baseline=0, baseline_name="transformer", margin=0.3, spread=0.2)
    assert not v.real and "not a real difference" in v.describe("mse")
    v = Verdict(winner=3, baseline=0, baseline_name="transformer", margin=-0.1, spread=0.2)
    assert not v.real and "no trial beats the best baseline" in v.describe("mse")
    assert Confirmed(seeds=(1, 2, 3), mean=1.0, std=0.1).n == 3


def test_killed_confirmation_resumes_with_an_exact_count(tmp_path):
    """kill -9 during the confirmation; running it again recovers the killed retrain and finishes them all."""
    slow = ["--steps", "80", *TINY[2:]]  # retrains long enough to be caught running
    res = cli("search", "--study", "k", "--results", str(tmp_path), "--trials", "4", "--sampler", "random",
              "--pruner", "none", "--no-progress", *slow)
    assert res.returncode == 0, res.stderr
    proc = popen_cli("confirm", "--study", "k", "--top", "1", "--seeds", "2", "--results", str(tmp_path),
                     "--no-progress", "--threads", "1")

    def running():
        if not (tmp_path / confirm_name("k") / "journal.log").exists():
            return False
        study = load(tmp_path, confirm_name("k"))
        return any(t.state.name == "COMPLETE" for t in study.get_trials()) and \
            any(t.state.name == "RUNNING" for t in study.get_trials())

    wait_for(running, timeout=120)
    kill_group(proc)  # SIGKILL to the whole process group
    res = cli("confirm", "--study", "k", "--top", "1", "--seeds", "2", "--results", str(tmp_path), "--no-progress",
              "--threads", "1")
    assert res.returncode == 0, res.stderr
    assert "verdict:" in res.stdout
    study = load(tmp_path, confirm_name("k"))
    done = [t for t in study.get_trials() if t.state.name == "COMPLETE"]
    assert len(done) == (1 + 3) * 2  # every retrain exactly once
    assert len({(t.user_attrs["confirm"]["source"], t.user_attrs["confirm"]["seed"]) for t in done}) == len(done)
    assert any(t.state.name == "FAIL" and "died" in t.user_attrs.get("stale", "") for t in study.get_trials())


@pytest.mark.parametrize(("text", "budget"), [
    ("1h", Budget(seconds=3600)), ("30m", Budget(seconds=1800)), ("1h30m", Budget(seconds=5400)),
    ("90s", Budget(seconds=90)), ("20000steps", Budget(steps=20000)), ("50k steps", Budget(steps=50000)),
])
def test_budget_parse(text, budget):
    assert Budget.parse(text) == budget


@pytest.mark.parametrize("text", ["", "1x", "0s", "-5m", "1.5steps", "inf", "1e400h"])
def test_bad_budgets(text):
    with pytest.raises(ValueError, match="budget"):
        Budget.parse(text)


def test_step_budget_ends_the_search(tmp_path):
    study = run_search("grammars/paper.toml", "icl-regression", TASK_OPTIONS, "s", None, space=SPACE,
                       sampler="random", pruner="none", budget="10steps", results_dir=tmp_path, baseline=False,
                       **FAST)
    steps = [t.user_attrs["steps"] for t in study.get_trials() if t.state.name == "COMPLETE"]
    assert sum(steps) >= 10 and sum(steps[:-1]) < 10  # stops once the budget is spent: 4 trials of 3 steps
    assert load_settings(study).step_budget == 10


def test_time_budget_ends_the_search(tmp_path):
    start = time.time()
    study = run_search("grammars/paper.toml", "icl-regression", TASK_OPTIONS, "t", 10_000, space=SPACE,
                       sampler="random", pruner="none", budget="2s", results_dir=tmp_path, baseline=False, **FAST)
    assert time.time() - start < 30
    assert 0 < count_trials(study)["finished"] < 10_000


@pytest.mark.parametrize("pruner", ["hyperband", "sha"])
def test_multi_fidelity_pruned_trials_count_their_steps(tmp_path, pruner):
    study = run_search("grammars/paper.toml", "icl-regression", TASK_OPTIONS, "h", 12,
                       space={**SPACE, "lr": (1e-4, 1e-3, 3e-2), "heads": (1, 2)}, sampler="random",
                       pruner=pruner, steps=12, batch_size=8, train_options={"eval_every": 2},
                       results_dir=tmp_path, progress=False, threads=1, baseline=False)
    pruned = [t for t in study.get_trials() if t.state.name == "PRUNED"]
    assert pruned, f"{pruner} prunes some of 12 trials"
    assert all(0 < t.user_attrs["steps"] < 12 for t in pruned if not t.user_attrs.get("diverged"))
    if pruner == "sha":  # rungs at eval_every * 3^k: a trial stops at step 2 or 6, never in between
        assert {t.user_attrs["steps"] for t in pruned if not t.user_attrs.get("diverged")} <= {2, 6}


def test_a_term_set_per_step(tmp_path):
    study = run_search("grammars/paper.toml", "icl-regression", TASK_OPTIONS, "l", 6,
                       space={"width": (8,), "depth": (2,)}, mode="layers", sampler="random", pruner="none",
                       results_dir=tmp_path, baseline=False, **FAST)
    rows = leaderboard(study, top=None)
    per_step = [r for r in rows if r.layers]
    assert per_step, "random proposals over 3 x 3 step sets include steps that differ"
    for r in per_step:
        assert len(r.layers) == 2 and set(r.terms) == set(sum(r.layers, ()))
    cand = Candidate(terms=(), width=8, depth=2, heads=1, rank=4, step=0.5, lr=1e-3, layers=(("0-0",), ("0-0",)))
    assert cand.layers is None and cand.terms == ("0-0",)  # the same set in every step is the ordinary candidate
    with pytest.raises(ValueError, match="non-empty term set"):
        Candidate(terms=(), width=8, depth=2, heads=1, rank=4, step=0.5, lr=1e-3, layers=(("0-0",),))
