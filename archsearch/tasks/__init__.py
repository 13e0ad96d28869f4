"""Built-in tasks: generated data or data that ships with the install (no downloads), reproducible and
disjoint splits.

    TASKS                      name → Task class (an explicit registry)
    make_task(name, **options) a configured task; unknown names and options raise with the known ones

| name | causal | metric | data |
| --- | --- | --- | --- |
| icl-regression | no | mse (min) | in-context linear regression, tokens (x_i, y_i), query (x_q, 0) |
| mqar | yes | accuracy (max) | multi-query associative recall (Zoology) |
| text | yes | bpc (min) | character-level LM on a UTF-8 file (option path), split 90/5/5 by position |
| text | yes | bpb (min) | corpus=stdlib: byte-level LM on the Python standard library's source, split by file |
| set-duplicate | no | accuracy (max) | does a set of tokens contain a repeated symbol? |
| digits | no | accuracy (max) | scikit-learn's 8×8 handwritten digits, patches as tokens, stratified 70/15/15 split |
"""

from __future__ import annotations

from typing import Any

from archsearch.tasks.base import SPLITS, MissingDependencyError, Task, TaskConfig, split_seed
from archsearch.tasks.digits import DigitsConfig, DigitsTask
from archsearch.tasks.icl import ICLRegression, ICLRegressionConfig
from archsearch.tasks.mqar import MQAR, MQARConfig
from archsearch.tasks.sets import SetDuplicate, SetDuplicateConfig
from archsearch.tasks.text import TextConfig, TextTask

TASKS: dict[str, type[Task]] = {
    ICLRegression.name: ICLRegression,
    MQAR.name: MQAR,
    TextTask.name: TextTask,
    SetDuplicate.name: SetDuplicate,
    DigitsTask.name: DigitsTask,
}


def make_task(name: str, **options: Any) -> Task:
    """The task ``name`` configured with ``options`` (see each task's Config for the options).

    Raises KeyError for an unknown name and ValueError for unknown or invalid options; both messages
    list what is known.
    """
    try:
        cls = TASKS[name]
    except KeyError:
        raise KeyError(f"unknown task {name!r} (known: {', '.join(sorted(TASKS))})") from None
    return cls(**options)


__all__ = [
    "MQAR",
    "DigitsConfig",
    "DigitsTask",
    "MissingDependencyError",
    "SPLITS",
    "TASKS",
    "ICLRegression",
    "ICLRegressionConfig",
    "MQARConfig",
    "SetDuplicate",
    "SetDuplicateConfig",
    "Task",
    "TaskConfig",
    "TextConfig",
    "TextTask",
    "make_task",
    "split_seed",
]
