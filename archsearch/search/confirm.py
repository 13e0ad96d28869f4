"""The confirmation stage: retrain a study's top-k trials and its baselines with several fresh seeds at the
full training budget, and say whether the winner beats the best baseline by more than twice the seed spread.

A search ranks configurations by one training run each, picked as the best of many: the winner's value is
optimistic (the winner's curse) and one seed's noise can exceed the gaps between rows. Confirmation trains
each chosen configuration again with ``seeds`` new seeds (model initialisation and data order; the val and
test sets stay the task's) and reports mean ± std over those retrains only.

The retrains are the trials of a second study, ``<study>.confirm``, in the same storage (its own directory
under the results): one queued trial per (configuration, seed), run by the same worker loop as a search —
so killed workers are recovered, the count is exact and ``--resume`` continues. A configuration and its
seeds are the user attribute ``confirm`` of each queued trial.

With ``rivals`` the confirmation also retrains MLP + attention at the search winner's FLOPs
(archsearch.search.rivals): the equal-cost comparison the default-size baselines cannot give. A rival's
queued item has ``source`` None and its name under ``rival``.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from archsearch.search.errors import StudyError
from archsearch.search.factories import load_study, quiet_optuna, set_metric_names, study_names
from archsearch.search.results import Confirmed
from archsearch.search.settings import StudySettings, check_study_name, load_settings, save_settings
from archsearch.search.space import Candidate
from archsearch.search.storage import describe_storage, open_storage

SUFFIX = ".confirm"
DEFAULT_SEEDS = 3


def confirm_name(study_name: str) -> str:
    return f"{study_name}{SUFFIX}"


@dataclass(frozen=True)
class Verdict:
    """Does the best confirmed trial beat the best confirmed baseline by more than twice the seed spread?

    spread: the larger of the two seed standard deviations; margin: how much better the winner's mean is
    (in the metric's direction); real: margin > 2·spread."""

    winner: int | None
    baseline: int | None
    baseline_name: str | None
    margin: float | None
    spread: float | None

    @property
    def real(self) -> bool:
        return self.margin is not None and self.spread is not None and self.margin > 2 * self.spread

    def describe(self, metric: str) -> str:
        if self.winner is None or self.baseline_name is None:
            return "no verdict: the confirmation needs at least one confirmed trial and one confirmed baseline"
        if self.margin is None or self.spread is None:
            return "no verdict"
        what = "the best baseline" if self.baseline is not None else "the equal-cost rival"
        ref = f"{self.baseline_name}, trial {self.baseline}" if self.baseline is not None else self.baseline_name
        if self.real:
            return (f"trial {self.winner} beats {what} ({ref}) by "
                    f"{self.margin:.4g} {metric}, more than twice the seed spread ({self.spread:.3g})")
        if self.margin > 0:
            return (f"trial {self.winner} is better than {what} ({ref}) by "
                    f"{self.margin:.4g} {metric}, within twice the seed spread ({self.spread:.3g}): not a real "
                    "difference")
        if self.baseline is not None:
            return (f"no trial beats the best baseline ({ref}): the best is "
                    f"{-self.margin:.4g} {metric} worse (seed spread {self.spread:.3g})")
        return (f"trial {self.winner} does not beat the equal-cost rival ({ref}): it is "
                f"{-self.margin:.4g} {metric} worse (seed spread {self.spread:.3g})")


def chosen_trials(study: Any, top: int) -> list[Any]:
    """The top-``top`` distinct COMPLETE trials by validation metric (no duplicates, no baselines), and every
    baseline that ran, COMPLETE or PRUNED: the baselines are the reference every verdict is measured
    against, so one the pruner stopped early is retrained at the full budget too."""
    from optuna.trial import TrialState

    settings = load_settings(study)
    sign = 1.0 if settings.directions[0] == "minimize" else -1.0
    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if t.values and math.isfinite(t.values[0]) and t.user_attrs.get("duplicate_of") is None]
    searched = sorted((t for t in done if not t.user_attrs.get("baseline")), key=lambda t: (sign * t.values[0],
                                                                                           t.number))
    baselines = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
                 if t.user_attrs.get("baseline") and t.user_attrs.get("duplicate_of") is None
                 and "config" in t.user_attrs]
    return searched[:top] + sorted(baselines, key=lambda t: t.number)


def _candidate_of(trial: Any) -> dict[str, Any]:
    import json

    config = trial.user_attrs.get("config")
    config = json.loads(config) if isinstance(config, str) else config  # a JSON string in studies before 0.2
    return dict(config["candidate"])


def _rival_id(item: dict[str, Any]) -> str:
    """A rival retrain's variant, from its candidate: the baseline's name and the learning rate."""
    from archsearch.search.rivals import rival_key

    return rival_key(item["baseline"], float(item["candidate"]["lr"]))


def _key(item: dict[str, Any]) -> tuple[Any, int]:
    """What a queued retrain repeats: (source trial number, seed), or ("rival:<name>@lr=<lr>", seed)."""
    source = item["source"] if item.get("source") is not None else f"rival:{_rival_id(item)}"
    return source, int(item["seed"])


def _rival_items(settings: StudySettings, names: tuple[str, ...], chosen: list[Any],
                 earlier: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rival candidates to retrain, one per learning rate: each name's earlier choice of size (so seeds
    added later train the same configuration), else its size at the FLOPs of the search winner (the best
    chosen searched trial)."""
    from archsearch.search.factories import make_task
    from archsearch.search.rivals import rival_candidate, rival_key
    from archsearch.search.space import SearchSpace

    winner = next((t for t in chosen if not t.user_attrs.get("baseline")), None)
    space = SearchSpace.from_dict(settings.space)
    out, task = [], None
    for name in names:
        base = next((item for item in earlier if item["baseline"] == name), None)
        if base is None:
            if winner is None or winner.user_attrs.get("flops") is None:
                continue
            target = int(winner.user_attrs["flops"])
            task = task or make_task(settings.task, settings.task_options)
            found = rival_candidate(name, space, task, target)
            if found is None:
                continue
            base = {"source": None, "baseline": name, "candidate": found[0].to_dict(), "flops": found[1],
                    "target": {"trial": winner.number, "flops": target}}
        for lr in space.lr:  # the searched trials chose their learning rate: so does the rival
            out.append({**base, "rival": rival_key(name, float(lr)), "candidate": {**base["candidate"],
                                                                                  "lr": float(lr)}})
    return out


def start_confirmation(study_name: str, top: int = 5, seeds: int = DEFAULT_SEEDS, storage: str | None = None,
                       results_dir: str | os.PathLike[str] = "results",
                       rivals: Sequence[str] = ()) -> tuple[Any, StudySettings]:
    """Create (or reopen) the confirmation study of ``study_name`` and queue its retrains. Re-running with a
    larger ``top`` or ``seeds`` queues only what is missing. ``rivals``: names from
    archsearch.search.rivals.RIVALS to retrain also at the search winner's FLOPs."""
    import optuna

    from archsearch.search.rivals import check_rivals

    quiet_optuna()
    if top < 1 or seeds < 1:
        raise StudyError(f"--top and --seeds must be at least 1 (got {top} and {seeds})")
    try:
        rival_names = check_rivals(rivals)
    except ValueError as err:
        raise StudyError(str(err)) from None
    check_study_name(study_name)
    parent_dir = Path(results_dir) / study_name
    parent = load_study(study_name, open_storage(storage, parent_dir, create=False),
                        where=describe_storage(storage, parent_dir))
    settings = load_settings(parent)
    if settings.kind != "search":
        raise StudyError(f"study {study_name!r} is a {settings.kind} study; confirm the search it belongs to")
    name = confirm_name(study_name)
    study_dir = Path(results_dir) / name
    raw = open_storage(storage, study_dir, create=True)
    chosen = chosen_trials(parent, top)
    wanted = [(t, settings.seed + 1 + i) for t in chosen for i in range(seeds)]
    if not wanted:
        raise StudyError(f"study {study_name!r} has no COMPLETE trial to confirm")
    earlier: list[dict[str, Any]] = []  # the rival retrains queued before
    if name in study_names(raw):
        study = load_study(name, raw, where=describe_storage(storage, study_dir))
        mine = load_settings(study)
        items = [t.user_attrs["confirm"] for t in study.get_trials(deepcopy=False) if "confirm" in t.user_attrs]
        have = {_key(item) for item in items}
        earlier = [item for item in items if item.get("source") is None]
    else:
        first = [optuna.study.StudyDirection[d.upper()] for d in settings.directions[:1]]
        study = optuna.create_study(study_name=name, storage=raw, directions=first)
        set_metric_names(study, [settings.metric])
        mine = replace(settings, study=name, kind="confirm", parent=study_name, objectives=("metric",),
                       directions=settings.directions[:1], sampler="random", pruner="none", baselines=(),
                       step_budget=None, n_trials=0, created=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        have = set()
    added = 0
    for trial, seed in wanted:
        if (trial.number, seed) in have:
            continue
        item = {"source": trial.number, "seed": seed, "candidate": _candidate_of(trial),
                "baseline": trial.user_attrs.get("baseline")}
        study.enqueue_trial({}, user_attrs={"confirm": item})
        added += 1
    for rival in _rival_items(settings, rival_names, chosen, earlier):
        for i in range(seeds):
            item = {**rival, "seed": settings.seed + 1 + i}
            if _key(item) in have:
                continue
            study.enqueue_trial({}, user_attrs={"confirm": item})
            added += 1
    mine = replace(mine, n_trials=len(have) + added)
    save_settings(study, mine)
    return study, mine


class ConfirmObjective:
    """Train one queued (configuration, seed) at the full budget, no pruning; the value is the val metric."""

    def __init__(self, settings: StudySettings, task: Any, study_dir: str | os.PathLike[str],
                 device: str = "auto") -> None:
        self.settings, self.task, self.study_dir, self.device = settings, task, Path(study_dir), device

    def __call__(self, trial: Any) -> float:
        from archsearch.search.objective import readable_terms, save_trial_files, term_descriptions
        from archsearch.train import TrainConfig, train

        item = trial.user_attrs.get("confirm")
        if item is None:
            raise StudyError(f"trial {trial.number} of the confirmation study has nothing queued to retrain")
        candidate = Candidate.from_dict(item["candidate"])
        model_cfg = candidate.model_config(seed=int(item["seed"]))
        train_cfg = TrainConfig(lr=candidate.lr, seed=int(item["seed"]), device=self.device, **self.settings.train)
        trial.set_user_attr("term_ids", list(candidate.terms))
        trial.set_user_attr("terms", readable_terms(*term_descriptions(candidate.terms)))
        result = train(model_cfg, train_cfg, self.task)
        config = {"model": model_cfg.to_dict(), "train": train_cfg.to_dict(),
                  "task": {"name": self.settings.task, "options": self.settings.task_options},
                  "candidate": candidate.to_dict(), "study": self.settings.study, "trial": trial.number}
        save_trial_files(self.study_dir, trial.number, result.state_dict, config)
        for name, value in (("n_params", int(result.n_params)), ("flops", int(result.flops)),
                            ("wall_time", float(result.wall_time)), ("steps", int(result.steps)),
                            ("test_metric", float(result.test_metric)), ("device", result.device),
                            ("config", config)):
            trial.set_user_attr(name, value)
        return float(result.val_metric)


def confirmations(study_name: str, storage: str | None = None, results_dir: str | os.PathLike[str] = "results",
                  ) -> dict[int, Confirmed]:
    """Source trial number → its confirmation (mean ± std over the finished retrains), {} without a
    confirmation study."""
    runs: dict[Any, list[tuple[int, float, float | None]]] = {}
    for t in _finished_retrains(study_name, storage, results_dir):
        source, seed = _key(t.user_attrs["confirm"])
        runs.setdefault(source, []).append((seed, t.values[0], t.user_attrs.get("test_metric")))
    return {int(source): _aggregate(rows) for source, rows in runs.items() if isinstance(source, int)}


def retrain_records(study_name: str, storage: str | None = None, results_dir: str | os.PathLike[str] = "results",
                    ) -> dict[int, dict[str, Any]]:
    """Source trial number → the n_params and flops its retrains recorded (what a PRUNED baseline's own
    trial lacks: those are recorded when a trial finishes)."""
    out: dict[int, dict[str, Any]] = {}
    for t in _finished_retrains(study_name, storage, results_dir):
        source, _ = _key(t.user_attrs["confirm"])
        if isinstance(source, int) and source not in out:
            out[source] = {k: t.user_attrs.get(k) for k in ("n_params", "flops")}
    return out


def _finished_retrains(study_name: str, storage: str | None, results_dir: str | os.PathLike[str]) -> list[Any]:
    """The COMPLETE retrains of ``study_name``'s confirmation study ([] when it has none)."""
    name = confirm_name(study_name)
    study_dir = Path(results_dir) / name
    try:
        raw = open_storage(storage, study_dir, create=False)
        if name not in study_names(raw):
            return []
        study = load_study(name, raw, where=describe_storage(storage, study_dir))
    except StudyError:
        return []
    return [t for t in study.get_trials(deepcopy=False)
            if t.state.name == "COMPLETE" and t.values and "confirm" in t.user_attrs]


def _aggregate(rows: list[tuple[int, float, float | None]]) -> Confirmed:
    """Mean ± std over the (seed, val, test) rows of one configuration's retrains."""
    rows = sorted(rows, key=lambda r: r[0])
    vals = [v for _, v, _ in rows]
    tests = [x for _, _, x in rows if x is not None]
    return Confirmed(
        seeds=tuple(s for s, _, _ in rows), mean=statistics.fmean(vals),
        std=statistics.stdev(vals) if len(vals) > 1 else 0.0,
        test_mean=statistics.fmean(tests) if tests else None,
        test_std=statistics.stdev(tests) if len(tests) > 1 else (0.0 if tests else None),
    )


def rival_confirmations(study_name: str, storage: str | None = None,
                        results_dir: str | os.PathLike[str] = "results") -> dict[str, Any]:
    """Rival key (name@lr) → its :class:`~archsearch.search.rivals.Rival` (mean ± std over its finished retrains);
    {} without a confirmation study or rivals."""
    from archsearch.search.rivals import Rival

    runs: dict[str, list[Any]] = {}
    for t in _finished_retrains(study_name, storage, results_dir):
        if t.user_attrs["confirm"].get("source") is None:
            runs.setdefault(_rival_id(t.user_attrs["confirm"]), []).append(t)
    out = {}
    for rival, trials in runs.items():
        item = trials[0].user_attrs["confirm"]
        target = item.get("target") or {}
        flops = trials[0].user_attrs.get("flops", item.get("flops"))
        out[rival] = Rival(
            key=rival, name=item["baseline"], candidate=dict(item["candidate"]),
            flops=None if flops is None else int(flops),
            n_params=trials[0].user_attrs.get("n_params"), target_trial=target.get("trial"),
            target_flops=target.get("flops"),
            confirmed=_aggregate([(int(t.user_attrs["confirm"]["seed"]), t.values[0],
                                   t.user_attrs.get("test_metric")) for t in trials]))
    return out


def rival_verdict(study: Any, confirmed: dict[int, Confirmed], rivals: dict[str, Any],
                  min_seeds: int = 2) -> Verdict:
    """The search winner the rivals were sized to (its confirmed mean) against the best confirmed rival of no
    more FLOPs: does a term beyond MLP + attention beat MLP + attention at equal cost?"""
    settings = load_settings(study)
    better = 1.0 if settings.directions[0] == "maximize" else -1.0
    ok = [r for r in rivals.values() if r.confirmed.n >= min_seeds and r.target_trial in confirmed
          and confirmed[r.target_trial].n >= min_seeds]
    if not ok:
        return Verdict(None, None, None, None, None)
    best = max(ok, key=lambda r: better * r.confirmed.mean)
    win = confirmed[best.target_trial]
    return Verdict(best.target_trial, None, best.describe(), better * (win.mean - best.confirmed.mean),
                   max(win.std, best.confirmed.std))


def verdict(study: Any, confirmed: dict[int, Confirmed], min_seeds: int = 2) -> Verdict:
    """The best confirmed non-baseline trial against the best confirmed baseline (see :class:`Verdict`)."""
    settings = load_settings(study)
    better = 1.0 if settings.directions[0] == "maximize" else -1.0
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    ok = {n: c for n, c in confirmed.items() if c.n >= min_seeds and n in trials}
    searched = [n for n in ok if not trials[n].user_attrs.get("baseline")]
    bases = [n for n in ok if trials[n].user_attrs.get("baseline")]
    if not searched or not bases:
        return Verdict(None, None, None, None, None)
    win = max(searched, key=lambda n: better * ok[n].mean)
    base = max(bases, key=lambda n: better * ok[n].mean)
    return Verdict(win, base, trials[base].user_attrs["baseline"], better * (ok[win].mean - ok[base].mean),
                   max(ok[win].std, ok[base].std))


def run_confirm(study_name: str, top: int = 5, seeds: int = DEFAULT_SEEDS, storage: str | None = None,
                results_dir: str | os.PathLike[str] = "results", workers: int = 1, device: str = "auto",
                progress: bool = True, console: Any = None, threads: int | None = 1,
                rivals: Sequence[str] = ()) -> Any:
    """Queue and run the confirmation of ``study_name`` (and its equal-cost ``rivals``); returns the
    confirmation study."""
    from archsearch.search.errors import disk_error
    from archsearch.search.spawn import run_workers

    try:
        study, settings = start_confirmation(study_name, top, seeds, storage, results_dir, rivals)
        run_workers(study, settings, storage, Path(results_dir), workers, device, progress, console, threads,
                    None)
    except OSError as err:
        mapped = disk_error(err, describe_storage(storage, Path(results_dir) / confirm_name(study_name)))
        if mapped is None:
            raise
        raise mapped from None
    return study
