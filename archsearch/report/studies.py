"""Reading a finished (or running) study: open it by name, pick trials, read a trial's config and weights.

Read only: nothing is ever written into the storage, so the study still opens in optuna-dashboard unchanged.
Every error a user can cause is a :class:`ResultsError` with a one-line message.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archsearch.search.errors import SearchError

if TYPE_CHECKING:  # pragma: no cover
    from archsearch.search.settings import StudySettings

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"


class ResultsError(SearchError):
    """Unknown study, no finished trials, unknown trial, missing weights, unwritable output (one line)."""


@dataclass(frozen=True)
class StudyRef:
    """An opened study, the directory that holds its trials' files (``<results>/<study>``) and its storage
    URL (None: the journal file there)."""

    study: Any  # optuna.Study
    study_dir: Path
    storage: str | None = None

    @property
    def name(self) -> str:
        return self.study.study_name

    @property
    def settings(self) -> StudySettings | None:
        """The archsearch settings stored with the study (None for a study made by other means)."""
        from archsearch.search.settings import SETTINGS_ATTR, StudySettings

        raw = self.study.user_attrs.get(SETTINGS_ATTR)
        return StudySettings.from_dict(raw) if isinstance(raw, dict) else None

    @cached_property
    def confirmed(self) -> dict[int, Any]:
        """Trial number → its confirmation over seeds (archsearch.search.confirm), {} without one."""
        from archsearch.search.confirm import confirmations

        return confirmations(self.name, self.storage, self.study_dir.parent)

    @property
    def directions(self) -> list[str]:
        return [d.name.lower() for d in self.study.directions]

    @property
    def objectives(self) -> list[str]:
        """Objective names: the stored ones (metric, flops, params), else Optuna's metric names, else value i."""
        stored = self.settings.objectives if self.settings else ()
        if len(stored) == len(self.directions):
            return [str(s) for s in stored]
        names = self.study.metric_names
        return list(names) if names else [f"value {i}" for i in range(len(self.directions))]

    @property
    def metric(self) -> str:
        """The task metric's name (e.g. mse, accuracy), or the first objective's name."""
        return str(self.settings.metric if self.settings else self.objectives[0])

    def objective_name(self, i: int) -> str:
        """What objective ``i`` measures: 'val mse', 'forward FLOPs per example', 'parameters', …"""
        name = self.objectives[i]
        if name == "metric":
            return f"val {self.metric}"
        return {"flops": "forward FLOPs per example", "params": "parameters"}.get(name, name)

    def objective_label(self, i: int) -> str:
        """An axis label for objective ``i``: 'val mse (lower is better)', …"""
        better = "lower" if self.directions[i] == "minimize" else "higher"
        return f"{self.objective_name(i)} ({better} is better)"

    def trial_dir(self, number: int) -> Path:
        return self.study_dir / "trials" / str(number)


def open_study(study: Any, storage: str | None = None, results_dir: str | os.PathLike[str] = "results") -> StudyRef:
    """A :class:`StudyRef` for a study name (journal under ``results_dir/<name>`` or ``storage``), an Optuna
    study (trial files under ``results_dir/<name>``) or a StudyRef (returned as is)."""
    if isinstance(study, StudyRef):
        return study
    if not isinstance(study, str):
        return StudyRef(study, Path(results_dir) / study.study_name, storage)
    import optuna

    from archsearch.search.errors import StudyError
    from archsearch.search.settings import check_study_name
    from archsearch.search.storage import describe_storage, open_storage

    name = check_study_name(study)
    study_dir = Path(results_dir) / name
    where = describe_storage(storage, study_dir)
    try:
        raw = open_storage(storage, study_dir, create=False)
    except StudyError:
        raise ResultsError(f"no study named {name!r}: no {where}") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        return StudyRef(optuna.load_study(study_name=name, storage=raw), study_dir, storage)
    except KeyError:
        raise ResultsError(f"no study named {name!r} in {where}") from None


def complete_trials(ref: StudyRef) -> list[Any]:
    """The COMPLETE trials with values, in trial order; a ResultsError when there are none."""
    from optuna.trial import TrialState

    done = [t for t in ref.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.values]
    if not done:
        counts: dict[str, int] = {}
        for t in ref.study.get_trials(deepcopy=False):
            counts[t.state.name] = counts.get(t.state.name, 0) + 1
        have = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no trials"
        raise ResultsError(f"study {ref.name!r} has no finished (COMPLETE) trials yet ({have})")
    return done


def _key(value: float | None, direction: str) -> float:
    """Sort key: smaller is better; NaN and None last."""
    if value is None or math.isnan(value):
        return math.inf
    return value if direction == "minimize" else -value


def best_trial(ref: StudyRef) -> Any:
    """The best COMPLETE trial: single objective, the best value; several objectives, the first trial of the
    Pareto front by the first objective (ties: the lower trial number)."""
    done = complete_trials(ref)
    pool = done
    if len(ref.directions) > 1:
        pareto = {t.number for t in ref.study.best_trials}
        pool = [t for t in done if t.number in pareto] or done
    return min(pool, key=lambda t: (_key(t.values[0], ref.directions[0]), t.number))


def select_trial(ref: StudyRef, which: str | int = "best") -> Any:
    """Trial ``which``: "best" (see :func:`best_trial`) or a trial number, which must be COMPLETE."""
    if isinstance(which, str):
        if which == "best":
            return best_trial(ref)
        if not which.strip().isdigit():
            raise ResultsError(f"--trial must be 'best' or a trial number, not {which!r}")
        which = int(which)
    trials = ref.study.get_trials(deepcopy=False)
    found = [t for t in trials if t.number == which]
    if not found:
        last = f"0..{trials[-1].number}" if trials else "none"
        raise ResultsError(f"study {ref.name!r} has no trial {which} (trials: {last})")
    trial = found[0]
    if trial.state.name != "COMPLETE" or not trial.values:
        why = trial.user_attrs.get("pruned_reason") or trial.user_attrs.get("error") or ""
        raise ResultsError(f"trial {which} of study {ref.name!r} is {trial.state.name}, not COMPLETE"
                           + (f" ({why})" if why else ""))
    return trial


def trial_tensors(ref: StudyRef, number: int) -> dict[str, Any] | None:
    """The trial's trained tensors (its model.safetensors), or None when it kept none; ResultsError (one line)
    for a truncated or foreign file."""
    weights_file = ref.trial_dir(number) / WEIGHTS_NAME
    if not weights_file.is_file():
        return None
    from safetensors.torch import load_file

    try:
        return load_file(str(weights_file))
    except Exception as err:  # a truncated or foreign file
        raise ResultsError(f"cannot read {weights_file}: {err}") from None


def trial_config(ref: StudyRef, trial: Any) -> dict[str, Any]:
    """The trial's config (model, train, task): the ``config`` user attribute, else its config.json."""
    raw = trial.user_attrs.get("config")
    source = f"trial {trial.number}'s config attribute"
    if raw is None:
        path = ref.trial_dir(trial.number) / CONFIG_NAME
        source = str(path)
        try:
            raw = path.read_text()
        except OSError:
            raise ResultsError(f"trial {trial.number} of study {ref.name!r} has no config (no config attribute, "
                               f"no {path})") from None
    try:
        config = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError as err:
        raise ResultsError(f"{source} is not valid JSON ({err.msg})") from None
    if not isinstance(config, dict) or not isinstance(config.get("model"), dict) or "task" not in config:
        raise ResultsError(f"{source} lacks the model or task section")
    return config


def trial_weights(ref: StudyRef, trial: Any) -> Path:
    """The trial's ``model.safetensors``; a ResultsError when it is missing."""
    path = ref.trial_dir(trial.number) / WEIGHTS_NAME
    if not path.is_file():
        raise ResultsError(f"trial {trial.number} of study {ref.name!r} has no weights: no {path} "
                           "(use --results to point at the study's results directory)")
    return path
