"""One trial: a candidate from the search space → ModelConfig/TrainConfig → train → values and records.

- Intermediate validation values are reported to the pruner (single objective); a pruned run is PRUNED.
- ``TrialDiverged`` (a non-finite loss, gradient or parameter) is PRUNED too, with the reason in the
  user attribute ``pruned_reason`` and ``diverged = True``: the study goes on.
- A candidate already trained in the study (same :meth:`Candidate.key` as a COMPLETE trial) is not
  trained again: its values and records are reused, ``duplicate_of`` names the original, and the trial's
  own wall time (the lookup) is recorded; duplicates do not count towards the study's target.
- A baseline trial (queued first, archsearch.search.baselines) takes its candidate from the user attribute
  ``baseline_candidate`` instead of the sampler: its terms need not be in the grammar.
- Every COMPLETE trial has ``results/<study>/trials/<number>/model.safetensors`` and ``config.json``
  (ModelConfig + TrainConfig + task), so the export can rebuild the model.

User attributes of a trial (dicts and lists, so optuna-dashboard shows them as JSON trees): candidate (the
terms and hyper-parameters; :func:`~archsearch.search.space.candidate_key` gives its canonical key), term_ids,
terms (readable: the recognised name and the canonical form, e.g. "linear attention: Tr(X W₁ X* X W₂ X*)"),
n_params, flops, wall_time, steps (trained), device, test_metric, config (model, train, task, candidate), and
duplicate_of / pruned_reason / diverged / error / baseline. (Each attribute is one journal entry, so the list
is kept short; the value is the validation metric.)
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from archsearch.search.settings import StudySettings
from archsearch.search.space import Candidate, SearchSpace, candidate_key

RECORD_ATTRS = ("n_params", "flops", "device", "test_metric", "config")  # copied onto a duplicate


def term_descriptions(keys: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """Canonical short forms and recognised names (or the short form when unnamed) of term keys."""
    from archsearch.enumeration import recognise
    from archsearch.terms import term_from_key

    forms, names = [], []
    for key in keys:
        term = term_from_key(key)
        short = term.short() if hasattr(term, "short") else term.key
        forms.append(short)
        names.append(recognise(term) or short)
    return forms, names


def readable_terms(forms: list[str], names: list[str]) -> list[str]:
    """"linear attention: Tr(X W₁ X* X W₂ X*)" for a named term, its canonical form alone otherwise."""
    return [form if name == form else f"{name}: {form}" for form, name in zip(forms, names, strict=True)]


def trial_dir(study_dir: str | os.PathLike[str], number: int) -> Path:
    return Path(study_dir) / "trials" / str(number)


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600: the others sharing a results directory read trial files too
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_trial_files(study_dir: str | os.PathLike[str], number: int, state_dict: dict[str, Any],
                     config: dict[str, Any]) -> Path:
    """Write ``model.safetensors`` and ``config.json`` of a trial (atomically); return the directory."""
    from safetensors.torch import save

    out = trial_dir(study_dir, number)
    tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
    _atomic_write_bytes(out / "model.safetensors", save(tensors, metadata={"format": "pt"}))
    _atomic_write_bytes(out / "config.json", (json.dumps(config, indent=2, sort_keys=True) + "\n").encode())
    return out


class Objective:
    """The objective of one worker: ``values = objective(trial)``; raises ``optuna.TrialPruned``.

    settings: the study's stored settings (archsearch.search.settings); task: the built task.
    """

    def __init__(self, settings: StudySettings, space: SearchSpace, task: Any, study_dir: str | os.PathLike[str],
                 device: str = "auto") -> None:
        self.settings = settings
        self.space = space
        self.task = task
        self.study_dir = Path(study_dir)
        self.device = device
        self.objectives = tuple(settings.objectives)
        self.prune = settings.pruner != "none" and len(self.objectives) == 1

    # ------------------------------------------------------------------ helpers
    def train_config(self, candidate: Candidate, seed: int | None = None, **changes: Any) -> Any:
        from archsearch.train import TrainConfig

        options = {**self.settings.train, **changes}
        return TrainConfig(lr=candidate.lr, seed=self.settings.seed if seed is None else seed, device=self.device,
                           **options)

    def values_of(self, result_attrs: dict[str, Any]) -> list[float]:
        out = []
        for name in self.objectives:
            if name == "metric":
                out.append(float(result_attrs["val_metric"]))
            elif name == "flops":
                out.append(float(result_attrs["flops"]))
            else:
                out.append(float(result_attrs["n_params"]))
        return out

    def _find_duplicate(self, trial: Any, key: str) -> Any | None:
        import optuna

        states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
        for other in trial.study.get_trials(deepcopy=False, states=states):
            if other.number == trial.number or candidate_key(other.user_attrs.get("candidate")) != key:
                continue
            if other.user_attrs.get("duplicate_of") is None or other.state == optuna.trial.TrialState.COMPLETE:
                return other  # trained (to the end, or until it diverged or was pruned): the same seed, the same run
        return None

    # ------------------------------------------------------------------ the objective
    def candidate(self, trial: Any) -> Candidate:
        """A baseline's stored candidate, else the sampler's proposal."""
        stored = trial.user_attrs.get("baseline_candidate")
        if stored is not None:
            return Candidate.from_dict(stored)
        return self.space.suggest(trial)

    def __call__(self, trial: Any) -> float | list[float]:
        import optuna

        started = time.perf_counter()
        candidate = self.candidate(trial)
        key = candidate.key()
        forms, names = term_descriptions(candidate.terms)
        trial.set_user_attr("candidate", candidate.to_dict())
        trial.set_user_attr("term_ids", list(candidate.terms))
        trial.set_user_attr("terms", readable_terms(forms, names))
        if candidate.layers is not None:
            trial.set_user_attr("layers", [list(layer) for layer in candidate.layers])

        original = self._find_duplicate(trial, key)
        if original is not None:
            trial.set_user_attr("duplicate_of", original.number)
            if original.state == optuna.trial.TrialState.PRUNED:
                reason = original.user_attrs.get("pruned_reason", "diverged")
                if original.user_attrs.get("diverged"):
                    trial.set_user_attr("diverged", True)
                trial.set_user_attr("pruned_reason", f"duplicate of trial {original.number}: {reason}")
                trial.set_user_attr("steps", 0)
                raise optuna.TrialPruned(reason)
            for name in RECORD_ATTRS:
                if name in original.user_attrs:
                    trial.set_user_attr(name, original.user_attrs[name])
            trial.set_user_attr("steps", 0)
            src = trial_dir(self.study_dir, original.number)
            if src.is_dir():
                dst = trial_dir(self.study_dir, trial.number)
                dst.mkdir(parents=True, exist_ok=True)
                for name in ("model.safetensors", "config.json"):
                    if (src / name).exists():
                        shutil.copyfile(src / name, dst / name)
            trial.set_user_attr("wall_time", time.perf_counter() - started)  # its own: a lookup and a copy
            values = list(original.values)
            return values[0] if len(values) == 1 else values

        from archsearch.train import Pruned, TrialDiverged, train

        model_cfg = candidate.model_config(seed=self.settings.seed)
        train_cfg = self.train_config(candidate)
        config = {
            "model": model_cfg.to_dict(),
            "train": train_cfg.to_dict(),
            "task": {"name": self.settings.task, "options": self.settings.task_options},
            "candidate": candidate.to_dict(),
            "study": self.settings.study,
            "trial": trial.number,
        }
        trial.set_user_attr("config", config)

        def report(step: int, value: float) -> bool:
            if not self.prune:
                return False
            trial.report(value, step)
            return trial.should_prune()

        try:
            result = train(model_cfg, train_cfg, self.task, report=report)
        except TrialDiverged as err:
            trial.set_user_attr("diverged", True)
            trial.set_user_attr("pruned_reason", err.reason)
            trial.set_user_attr("steps", int(err.step or 0))
            raise optuna.TrialPruned(err.reason) from None
        except Pruned as err:
            trial.set_user_attr("pruned_reason", f"{self.settings.pruner} pruner: {err}")
            trial.set_user_attr("steps", int(err.step))
            raise optuna.TrialPruned(str(err)) from None

        attrs = {
            "n_params": int(result.n_params),
            "flops": int(result.flops),
            "wall_time": float(result.wall_time),
            "steps": int(result.steps),
            "device": result.device,
            "test_metric": float(result.test_metric),
        }
        config["result"] = {"val_metric": float(result.val_metric), **attrs}
        save_trial_files(self.study_dir, trial.number, result.state_dict, config)
        for name, value in attrs.items():
            trial.set_user_attr(name, value)
        values = self.values_of({**attrs, "val_metric": float(result.val_metric)})
        return values[0] if len(values) == 1 else values
