"""What a study is: its settings as one typed record, stored in the study's user attribute ``archsearch``.

The settings (grammar, search space, task, objectives, training budget, sampler, pruner, seed, the trial
target or step budget, the baselines) are written once when the study is created, so a worker or
``--resume`` needs only the study's name. :class:`StudySettings` is the typed form every layer reads;
``to_dict`` / ``from_dict`` are the stored JSON (version 1 studies, before budgets and baselines by name,
still load).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from archsearch.search.errors import SearchError, StudyError

SETTINGS_ATTR = "archsearch"
SAMPLERS = ("tpe", "grid", "nsga2", "motpe", "random")
PRUNERS = ("median", "sha", "hyperband", "none")
OBJECTIVES = ("metric", "flops", "params")
DEFAULT_TRIALS = 20
VERSION = 2


def default_study_name(grammar_name: str, task_name: str) -> str:
    """``<grammar>-<task>`` with anything but letters, digits, '-', '_' and '.' replaced by '-'."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{grammar_name}-{task_name}").strip("-.") or "study"


def check_study_name(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", name or ""):
        raise StudyError(f"invalid study name {name!r}: use letters, digits, '-', '_' and '.' (a directory name)")
    return name


def train_budget(steps: int = 200, batch_size: int = 32, **options: Any) -> dict[str, Any]:
    """TrainConfig options shared by every trial of a study (lr comes from the candidate, seed from the study)."""
    if steps < 1 or batch_size < 1:
        raise SearchError(f"steps and batch size must be positive (got {steps} and {batch_size})")
    budget = {
        "steps": steps,
        "batch_size": batch_size,
        "warmup_steps": min(100, steps // 10),
        "eval_every": max(1, steps // 5),
        # a rung compares trials on eval_batches·batch_size val examples, the final value uses all of them. On
        # benchmarks/multifidelity.py's held-out seeds 100-109 (batch 16), rungs on 256 or all 1024 examples
        # were no better than on 64 beyond the seed spread (mean-curve 0.15 and 0.18 against 0.23 of the budget,
        # final best 1.50 and 1.47 against 1.47), the full set at 1.5x the wall time
        "eval_batches": 4,
    }
    budget.update(options)
    return budget


def check_choices(objectives: Sequence[str], sampler: str, pruner: str) -> None:
    objectives = tuple(objectives)
    if not objectives or len(set(objectives)) != len(objectives) or any(o not in OBJECTIVES for o in objectives):
        raise SearchError(f"invalid objectives {','.join(objectives)!r}: use metric, metric,flops or metric,params")
    if objectives[0] != "metric":
        raise SearchError("the first objective must be the task metric (e.g. metric,flops)")
    if sampler not in SAMPLERS:
        raise SearchError(f"unknown sampler {sampler!r} (known: {', '.join(SAMPLERS)})")
    if pruner not in PRUNERS:
        raise SearchError(f"unknown pruner {pruner!r} (known: {', '.join(PRUNERS)})")


# ------------------------------------------------------------------------------------------ the budget

_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m(?!s))?(?:(\d+(?:\.\d+)?)s)?")
_STEPS = re.compile(r"(\d+(?:\.\d+)?)(k|M)?\s*steps?")


@dataclass(frozen=True)
class Budget:
    """How much a search may spend: wall seconds (of this run) and/or training steps summed over its trials
    (pruned trials count the steps they trained). None: no limit of that kind."""

    seconds: float | None = None
    steps: int | None = None

    @staticmethod
    def parse(text: str) -> Budget:
        """``1h``, ``30m``, ``1h30m``, ``90s``; ``20000steps``, ``50k steps``; ValueError otherwise."""
        raw = text.strip()
        m = _STEPS.fullmatch(raw)
        if m:
            scale = {"k": 1_000, "M": 1_000_000}.get(m.group(2) or "", 1)
            steps = float(m.group(1)) * scale
            if not (1 <= steps < 1e12 and steps == int(steps)):
                raise ValueError(f"budget {text!r}: the number of steps must be a positive integer")
            return Budget(steps=int(steps))
        m = _DURATION.fullmatch(raw)
        if raw and m and any(m.groups()):
            h, mins, s = (float(g) if g else 0.0 for g in m.groups())
            seconds = 3600 * h + 60 * mins + s
            if not (0 < seconds < 1e7 and math.isfinite(seconds)):
                raise ValueError(f"budget {text!r}: the duration must be positive and under 100 days")
            return Budget(seconds=seconds)
        raise ValueError(f"budget {text!r}: use a duration (1h, 30m, 1h30m, 90s) or training steps (20000steps)")

    def describe(self) -> str:
        parts = []
        if self.seconds is not None:
            parts.append(f"{self.seconds:g} s")
        if self.steps is not None:
            parts.append(f"{self.steps} training steps")
        return " and ".join(parts) or "no budget"


# ------------------------------------------------------------------------------------------ the settings


@dataclass(frozen=True)
class TaskInfo:
    metric: str
    direction: str
    causal: bool


@dataclass(frozen=True)
class StudySettings:
    """The stored definition of a study (see the module docstring).

    space:      the SearchSpace as a dict; train: the TrainConfig options shared by every trial;
    n_trials:   distinct configurations to train (duplicates of trained ones do not count);
    step_budget: training steps summed over the trials, None for no limit;
    baselines:  names of the baseline architectures queued first (archsearch.search.baselines);
    kind:       "search", or "confirm" for a confirmation study (archsearch.search.confirm).
    """

    study: str
    task: str
    task_options: dict[str, Any]
    task_info: TaskInfo
    objectives: tuple[str, ...]
    directions: tuple[str, ...]
    sampler: str
    pruner: str
    train: dict[str, Any]
    seed: int
    n_trials: int
    space: dict[str, Any]
    grammar: dict[str, Any] = field(default_factory=dict)
    task_data: dict[str, Any] = field(default_factory=dict)  # what the task trains on (corpus, versions, sizes)
    baselines: tuple[str, ...] = ()
    step_budget: int | None = None
    created: str = ""
    kind: str = "search"
    parent: str | None = None
    version: int = VERSION

    @property
    def metric(self) -> str:
        return self.task_info.metric

    @property
    def metric_names(self) -> list[str]:
        """The objectives as optuna-dashboard shows them (``Study.set_metric_names``): the task metric's name
        (mse, bpb, accuracy, …), then ``flops`` or ``params``."""
        return [self.metric if o == "metric" else o for o in self.objectives]

    def with_trials(self, n_trials: int) -> StudySettings:
        return replace(self, n_trials=n_trials)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["objectives"], out["directions"], out["baselines"] = (list(self.objectives), list(self.directions),
                                                                  list(self.baselines))
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StudySettings:
        d = dict(data)
        if d.get("version", 1) == 1:  # before named baselines and step budgets
            d["baselines"] = ["paper"] if d.pop("baseline", False) else []
        d.pop("baseline", None)
        known = {f.name for f in fields(cls)}
        d = {k: v for k, v in d.items() if k in known}
        info = d.get("task_info") or {}
        d["task_info"] = TaskInfo(str(info.get("metric", "value")), str(info.get("direction", "minimize")),
                                  bool(info.get("causal", False)))
        for key in ("objectives", "directions", "baselines"):
            d[key] = tuple(d.get(key) or ())
        return cls(**d)


def load_settings(study: Any) -> StudySettings:
    """The settings of an archsearch study; StudyError if it has none (not created by archsearch search)."""
    raw = study.user_attrs.get(SETTINGS_ATTR)
    if not isinstance(raw, dict):
        raise StudyError(f"study {study.study_name!r} was not created by archsearch search (no settings)")
    return StudySettings.from_dict(raw)


def save_settings(study: Any, settings: StudySettings) -> None:
    study.set_user_attr(SETTINGS_ATTR, settings.to_dict())
