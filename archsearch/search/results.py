"""A study's results as typed records: the leaderboard rows (each with its gap to the best baseline at its
FLOPs, and its confirmation over seeds when a confirmation study exists) and the JSON summary."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from archsearch.search.recovery import count_trials
from archsearch.search.settings import SETTINGS_ATTR, StudySettings


@dataclass(frozen=True)
class Confirmed:
    """A configuration retrained with several seeds at the full budget: mean ± std of the validation metric
    (and of the test metric), over ``seeds``."""

    seeds: tuple[int, ...]
    mean: float
    std: float
    test_mean: float | None = None
    test_std: float | None = None

    @property
    def n(self) -> int:
        return len(self.seeds)


@dataclass(frozen=True)
class LeaderboardRow:
    """One COMPLETE trial, ready to print or to dump as JSON."""

    number: int
    values: tuple[float, ...]
    objectives: tuple[str, ...]
    terms: tuple[str, ...]
    term_names: tuple[str, ...]
    term_labels: tuple[str, ...]  # the recognised name, else (unnamed or ambiguous) the term id
    forms: tuple[str, ...]
    n_params: int | None
    flops: int | None
    wall_time: float | None
    test_metric: float | None
    device: str | None
    duplicate_of: int | None
    pareto: bool
    params: dict[str, Any]
    baseline: str | None = None
    gap: float | None = None  # better (+) or worse (−) than the best baseline with at most this trial's FLOPs
    gap_to: str | None = None  # that baseline's name
    confirmed: Confirmed | None = None
    layers: tuple[tuple[str, ...], ...] | None = None
    hyper: dict[str, Any] | None = None  # width, depth, heads, rank, step, lr, tied, scheme, norm of the candidate

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("values", "objectives", "terms", "term_names", "term_labels", "forms"):
            out[key] = list(out[key])
        if self.confirmed is not None:
            out["confirmed"]["seeds"] = list(self.confirmed.seeds)
        if self.layers is not None:
            out["layers"] = [list(layer) for layer in self.layers]
        return out


def _finite(x: float | None) -> float:
    return x if x is not None and math.isfinite(x) else math.inf


def _settings(study: Any) -> StudySettings | None:
    raw = study.user_attrs.get(SETTINGS_ATTR)
    return StudySettings.from_dict(raw) if isinstance(raw, dict) else None


def _better(direction: str) -> float:
    return 1.0 if direction == "maximize" else -1.0


def leaderboard(study: Any, top: int | None = 10, confirmations: dict[int, Confirmed] | None = None,
                include_duplicates: bool = True) -> list[LeaderboardRow]:
    """The best COMPLETE trials (single objective: by value; several: Pareto-optimal first, then by the first
    objective). ``confirmations``: trial number → its confirmation (archsearch.search.confirm.confirmations);
    confirmed rows are ranked by their mean first. ``include_duplicates=False`` leaves out the trials that
    repeated a trained configuration (they reused its result)."""
    from optuna.trial import TrialState

    from archsearch.search.objective import term_descriptions

    settings = _settings(study)
    objectives = settings.objectives if settings else ("metric",)
    directions = [d.name.lower() for d in study.directions]
    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.values
            and (include_duplicates or t.user_attrs.get("duplicate_of") is None)]
    pareto = {t.number for t in study.best_trials} if len(directions) > 1 else set()
    sign = 1.0 if directions[0] == "minimize" else -1.0
    confirmations = confirmations or {}

    def rank(t: Any) -> tuple:
        c = confirmations.get(t.number)
        return (t.number not in pareto, c is None, _finite(sign * (c.mean if c else t.values[0])), t.number)

    done.sort(key=rank)
    baselines = [t for t in done if t.user_attrs.get("baseline")]
    rows = []
    for t in done[: top if top is not None else len(done)]:
        keys = tuple(t.user_attrs.get("term_ids", ()))
        forms, names = term_descriptions(keys) if keys else ([], [])
        labels = [key if name == form or names.count(name) > 1 else name
                  for key, form, name in zip(keys, forms, names, strict=True)]
        gap, gap_to = _baseline_gap(t, baselines, directions[0], confirmations)
        rows.append(LeaderboardRow(
            number=t.number, values=tuple(t.values), objectives=tuple(objectives), terms=keys,
            term_names=tuple(names), term_labels=tuple(labels), forms=tuple(forms),
            n_params=t.user_attrs.get("n_params"), flops=t.user_attrs.get("flops"),
            wall_time=t.user_attrs.get("wall_time"), test_metric=t.user_attrs.get("test_metric"),
            device=t.user_attrs.get("device"), duplicate_of=t.user_attrs.get("duplicate_of"),
            pareto=t.number in pareto, params=dict(t.params), baseline=t.user_attrs.get("baseline"),
            gap=gap, gap_to=gap_to, confirmed=confirmations.get(t.number), layers=_layers(t), hyper=_hyper(t),
        ))
    return rows


HYPER_KEYS = ("width", "depth", "heads", "rank", "step", "lr", "tied", "scheme", "norm")


def _hyper(trial: Any) -> dict[str, Any] | None:
    """The trial's hyper-parameters, read off its candidate (a dict, or a JSON key in older studies; a
    confirmation trial's queued item)."""
    import json

    raw = trial.user_attrs.get("candidate") or (trial.user_attrs.get("confirm") or {}).get("candidate")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return None
    if not isinstance(raw, dict):
        return None
    return {key: raw[key] for key in HYPER_KEYS if key in raw}


def _layers(trial: Any) -> tuple[tuple[str, ...], ...] | None:
    layers = trial.user_attrs.get("layers")
    return tuple(tuple(layer) for layer in layers) if layers else None


def _baseline_gap(trial: Any, baselines: list[Any], direction: str, confirmations: dict[int, Confirmed]
                  ) -> tuple[float | None, str | None]:
    """How much better (+) than the best baseline that costs at most the trial's FLOPs (confirmed means where
    both are confirmed), and that baseline's name; (None, None) for a baseline or when none is as cheap."""
    if trial.user_attrs.get("baseline"):
        return None, None
    flops = trial.user_attrs.get("flops")
    cheap = [b for b in baselines if flops is not None and (b.user_attrs.get("flops") or math.inf) <= flops]
    if not cheap:
        return None, None

    def value(t: Any) -> float:
        c = confirmations.get(t.number) if confirmations.get(trial.number) else None
        return c.mean if c is not None else t.values[0]

    better = _better(direction)
    best = max(cheap, key=lambda b: better * value(b))
    return better * (value(trial) - value(best)), best.user_attrs["baseline"]


def summary(study: Any, top: int | None = 10, confirmations: dict[int, Confirmed] | None = None) -> dict[str, Any]:
    """JSON-able summary of a study: settings, counts per state and the leaderboard."""
    settings = _settings(study)
    return {
        "study": study.study_name,
        "task": settings.task if settings else None,
        "metric": settings.metric if settings else None,
        "objectives": list(settings.objectives) if settings else None,
        "directions": [d.name.lower() for d in study.directions],
        "n_trials": settings.n_trials if settings else None,
        "baselines": list(settings.baselines) if settings else [],
        "counts": count_trials(study),
        "leaderboard": [row.to_dict() for row in leaderboard(study, top, confirmations)],
    }


def settings_json(study: Any) -> str:
    import json

    return json.dumps(study.user_attrs.get(SETTINGS_ATTR, {}), indent=2, sort_keys=True)


__all__ = ["Confirmed", "LeaderboardRow", "leaderboard", "settings_json", "summary"]
