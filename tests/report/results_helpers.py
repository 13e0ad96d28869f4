"""Small studies shared by tests/report, tests/export and tests/cli/test_results_cli.py.

Each study is made once per test session by the real search (``run_search``: a few trials of a few
training steps on tiny generated tasks, on the CPU) and then only read; tests that need to change a study
work on a copy (:func:`copy_study`). Building all of them takes about 10-20 s.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
GRAMMARS = ROOT / "grammars"
_TINY = {"width": (8,), "depth": (1, 2), "heads": (1,), "rank_frac": (0.5, 1.0), "step": (0.5,), "lr": (1e-3,)}

# name → run_search keyword arguments
STUDIES: dict[str, dict[str, Any]] = {
    # two objectives (metric, flops), a non-causal task, linear MLP + linear attention
    "multi": dict(grammar=GRAMMARS / "paper.toml", task_name="icl-regression",
                  task_options={"d": 3, "n": 5, "eval_size": 16}, n_trials=4, sampler="random", pruner="none",
                  objectives=("metric", "flops"), space=_TINY, baseline=False),
    # one objective, a causal task (chunked-scan linear attention, softmax attention)
    "causal": dict(grammar=GRAMMARS / "softmax.toml", task_name="mqar",
                   task_options={"vocab": 16, "seq_len": 8, "num_kv": 2, "eval_size": 16}, n_trials=4,
                   sampler="random", pruner="none", objectives=("metric",), space={**_TINY, "heads": (2,)},
                   baseline=False),
    # a term set per Euler step, and the three baselines (the Transformer block's softmax + GELU MLP)
    "layers": dict(grammar=GRAMMARS / "paper.toml", task_name="icl-regression",
                   task_options={"d": 3, "n": 5, "eval_size": 16}, n_trials=6, sampler="random", pruner="none",
                   objectives=("metric",), space={**_TINY, "depth": (2,), "heads": (1, 2)}, mode="layers"),
    # the complex field, the split scheme and RMS norms
    "complex": dict(grammar=GRAMMARS / "complex.toml", task_name="set-duplicate",
                    task_options={"vocab": 12, "set_size": 5, "eval_size": 16}, n_trials=1, sampler="random",
                    pruner="none", objectives=("metric",),
                    space={**_TINY, "depth": (2,), "scheme": "split", "norm": "rms"}, baseline=False),
}

# studies on the tasks with real data (built only by the tests that ask for them: tests/export)
REAL_DATA_STUDIES: dict[str, dict[str, Any]] = {
    "digits": dict(grammar=GRAMMARS / "paper.toml", task_name="digits", task_options={"patch": "1x8", "eval_size": 16},
                   n_trials=2, sampler="random", pruner="none", objectives=("metric",), space={**_TINY, "depth": (1,)}),
    "stdlib": dict(grammar=GRAMMARS / "softmax.toml", task_name="text",
                   task_options={"corpus": "stdlib", "seq_len": 16, "eval_size": 16}, n_trials=2, sampler="random",
                   pruner="none", objectives=("metric",), space={**_TINY, "depth": (1,)}),
}

_BUILT: dict[str, Path] = {}


def results_dir(tmp_path_factory: Any) -> Path:
    """The results directory holding every study of :data:`STUDIES` (built on first use in this session, and
    again where it is gone: a test process forked by mutmut inherits the path from the session that built it,
    whose numbered directory a later pytest session may have removed)."""
    if "root" not in _BUILT or not _BUILT["root"].is_dir():
        _BUILT["root"] = build_studies(tmp_path_factory.mktemp("results"), STUDIES)
    return _BUILT["root"]


def build_studies(root: Path, studies: dict[str, dict[str, Any]]) -> Path:
    """Run the small searches ``studies`` (name → run_search keyword arguments) into ``root``; returns it."""
    import torch

    from archsearch.search.study import run_search

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: one thread is fastest, and robust on a busy machine
    try:
        for name, kwargs in studies.items():
            run_search(study_name=name, steps=4, batch_size=8, train_options={"eval_every": 0}, device="cpu",
                       seed=0, results_dir=root, progress=False, **kwargs)
    finally:
        torch.set_num_threads(threads)
    return root


def copy_study(results: Path, name: str, dest: Path) -> Path:
    """A copy of study ``name`` under ``dest`` (a results directory of its own); returns ``dest``."""
    skip = shutil.ignore_patterns("*.lock", "*.archsearch-lock", "*.claim")
    shutil.copytree(results / name, dest / name, ignore=skip)
    return dest


def journal_bytes(results: Path, name: str) -> bytes:
    return (results / name / "journal.log").read_bytes()


def synthetic_study(results: Path, name: str, n_complete: int = 10, failed_only: bool = False) -> Path:
    """A study written with Optuna directly (no training, no archsearch settings): ``n_complete`` COMPLETE
    trials with the user attributes the search records, one PRUNED trial with intermediate values and one
    FAIL trial; with ``failed_only`` just a FAIL trial. Returns ``results``."""
    import optuna
    from optuna.distributions import CategoricalDistribution
    from optuna.trial import TrialState, create_trial

    from archsearch.search.storage import open_storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = open_storage(None, results / name, create=True)
    study = optuna.create_study(study_name=name, storage=storage, direction="minimize")
    subsets = ["0-0", "0-1.0-1", "0-0+0-1.0-1", "lse", "0-0+lse"]
    dists = {"terms": CategoricalDistribution(subsets), "width": CategoricalDistribution([8, 16])}
    if failed_only:
        study.add_trial(create_trial(state=TrialState.FAIL, params={"terms": "0-0", "width": 8}, distributions=dists))
        return results
    for i in range(n_complete):
        terms, width = subsets[i % len(subsets)], (8, 16)[i % 2]
        keys = terms.split("+")
        study.add_trial(create_trial(
            value=1.0 / (1 + i) + 0.1 * len(keys), params={"terms": terms, "width": width}, distributions=dists,
            user_attrs={"term_ids": keys, "n_params": 100 * width * len(keys), "flops": 1000 * width * (i + 1),
                        "wall_time": 0.5, "device": "cpu", "candidate": f"{terms}/{width}"}))
    study.add_trial(create_trial(state=TrialState.PRUNED, params={"terms": "lse", "width": 8}, distributions=dists,
                                 intermediate_values={0: 3.0, 1: 2.5}, user_attrs={"term_ids": ["lse"]}))
    study.add_trial(create_trial(state=TrialState.FAIL, params={"terms": "0-0", "width": 8}, distributions=dists))
    return results


def wrapped_header(lines: list[str]) -> list[str]:
    """The exported files' docstring layout: a line over 110 characters wrapped at 110, continued 4 spaces deeper
    than it starts."""
    import textwrap

    out = []
    for line in lines:
        indent = " " * (len(line) - len(line.lstrip()))
        out += textwrap.wrap(line, 110, subsequent_indent=indent + "    ") if len(line) > 110 else [line]
    return out


def journal_config(trial: Any) -> dict[str, Any]:
    """The trial's config as the search stored it (its ``config`` user attribute)."""
    raw = trial.user_attrs["config"]
    return json.loads(raw) if isinstance(raw, str) else raw


def in_memory_copy(results: Path, study: str, *, drop_config: bool = False, edit=None, attrs=None,
                   objectives: list[str] | None = None) -> Any:
    """An in-memory copy of ``study`` (same trials, values, attributes, settings and trial files), its trials
    without the journal's ``config`` attribute (``drop_config``: read from ``trials/<n>/config.json``) or with
    ``edit(config)`` as that attribute; ``attrs(user_attrs)`` replaces the other attributes; ``objectives``
    the stored objective names."""
    import optuna
    from optuna.trial import create_trial

    from archsearch.report import open_study
    from archsearch.report.studies import StudyRef

    src = open_study(study, results_dir=results)
    copy = optuna.create_study(study_name=study, directions=src.study.directions)
    for key, value in src.study.user_attrs.items():
        if key == "archsearch" and objectives is not None:
            value = {**value, "objectives": objectives}
        copy.set_user_attr(key, value)
    for t in src.study.trials:
        user_attrs = {k: v for k, v in t.user_attrs.items() if k != "config"}
        if attrs is not None:
            user_attrs = attrs(user_attrs)
        if not drop_config:
            user_attrs["config"] = (edit or (lambda c: c))(journal_config(t))
        copy.add_trial(create_trial(state=t.state, values=t.values, params=t.params, distributions=t.distributions,
                                    user_attrs=user_attrs))
    return StudyRef(copy, src.study_dir)
