"""Named, versioned experiments: the seeds' CoLU studies. ``archsearch experiment <name>`` runs one.

    EXPERIMENTS                        name → Experiment (an explicit registry)
    get_experiment(name)               the experiment, or ExperimentError listing the known names
    run_experiment(name, options, log) run it and write its page, plot and record into options.out_dir
    rewrite_experiment(name, out)      rebuild its page, plot and README from the stored record (no training)

| name | what |
| --- | --- |
| colu-minimal | the slides' minimal example at C = 3: ReLU / CoLU / SOC, train and test curves |
| colu-sample-efficiency | test accuracy against training images on 8×8 digits |
| colu-gpt-mlp | the GPT-2 MLP swap at CPU scale (byte-level stdlib corpus) |
| colu-gpt-mlp-gpu | the same at the seeds' scale (39.5 M FLOPs per token), for a GPU |
| colu-resnet56 | ResNet-56 on CIFAR-10 from a local directory, for a GPU |
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from archsearch.experiments.base import Experiment, ExperimentError, RunOptions
from archsearch.experiments.gpt_mlp import GptMlp, GptMlpGpu
from archsearch.experiments.minimal import Minimal
from archsearch.experiments.resnet_cifar import ResNetCifar
from archsearch.experiments.sample_efficiency import SampleEfficiency

EXPERIMENTS: dict[str, Experiment] = {e.name: e for e in (Minimal(), SampleEfficiency(), GptMlp(), GptMlpGpu(),
                                                           ResNetCifar())}


def get_experiment(name: str) -> Any:
    """The registered experiment ``name``."""
    try:
        return EXPERIMENTS[name]
    except KeyError:
        raise ExperimentError(f"unknown experiment {name!r} (known: {', '.join(EXPERIMENTS)})") from None


def run_experiment(name: str, options: RunOptions | None = None, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run experiment ``name`` (see :func:`archsearch.experiments.runner.execute`); returns its JSON record."""
    from archsearch.experiments.runner import execute

    return execute(get_experiment(name), options or RunOptions(), EXPERIMENTS, log)


def rewrite_experiment(name: str, out: Path) -> dict[str, Any]:
    """Rebuild the page, plot and README of ``name`` in ``out`` from its stored record (no training)."""
    from archsearch.experiments.runner import rewrite

    return rewrite(get_experiment(name), out, EXPERIMENTS)


__all__ = ["EXPERIMENTS", "ExperimentError", "RunOptions", "get_experiment", "rewrite_experiment", "run_experiment"]
