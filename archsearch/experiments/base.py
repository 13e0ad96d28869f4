"""What every experiment shares: its identity (name, version), its configuration, how it is run.

An experiment is a class with a frozen ``Config`` dataclass (the full run's settings as defaults), the
overrides of its quick mode, and three methods: :meth:`Experiment.run` trains and returns JSON-able
results, :meth:`Experiment.findings` turns them into a table and verdicts, :meth:`Experiment.plot` draws
them. :func:`archsearch.experiments.runner.execute` does the rest (timing, machine, files).
"""

from __future__ import annotations

import dataclasses
import json
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from archsearch.experiments.stats import Verdict

DEFAULT_OUT = Path("results") / "seeds"
QUICK_OUT = Path("results") / "seeds-quick"


class ExperimentError(ValueError):
    """A user's mistake (bad option, missing or malformed data): one line, said as is."""


@dataclass(frozen=True)
class RunOptions:
    """How to run an experiment.

    out:      where the table, plot and JSON go (default results/seeds, or results/seeds-quick with ``quick``)
    quick:    tiny budgets that check the pipeline, not the claim
    seeds:    seeds per arm (None: the experiment's default)
    device:   "cpu", "cuda", "cuda:i" or "auto"
    data:     a local data set the experiment reads (CIFAR-10's directory, a text file)
    settings: overrides of the experiment's Config fields, by name
    threads:  torch intra-op threads on the CPU (None: torch's default)
    """

    out: Path | None = None
    quick: bool = False
    seeds: int | None = None
    device: str = "cpu"
    data: Path | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    threads: int | None = 1

    @property
    def out_dir(self) -> Path:
        return self.out if self.out is not None else (QUICK_OUT if self.quick else DEFAULT_OUT)


@dataclass
class Context:
    """What :meth:`Experiment.run` gets besides its config: the device, the data path, a progress logger."""

    device: str
    data: Path | None
    log: Callable[[str], None]
    quick: bool = False


@dataclass
class Findings:
    """An experiment's results as the page shows them: markdown table lines, verdicts, free-text notes, and
    the headline numbers (JSON-able) the summary page quotes."""

    table: list[str]
    verdicts: list[Verdict]
    notes: list[str] = field(default_factory=list)
    headline: dict[str, Any] = field(default_factory=dict)
    summary: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"table": self.table, "verdicts": [v.to_dict() for v in self.verdicts], "notes": self.notes,
                "headline": self.headline, "summary": self.summary}


class Experiment(ABC):
    """A named, versioned experiment. Subclasses set the class attributes and implement run, findings, plot.

    name:     the command-line name (``archsearch experiment <name>``)
    version:  bumped whenever a change alters what the experiment measures
    title:    one line for the results page
    seed_key: the key of the seeds' figures (archsearch.experiments.seeds)
    claim:    the seeds' claim this experiment tests
    reading:  how the seeds' description was read and what was built (the results page quotes it)
    Config:   frozen dataclass of settings, defaults = the full run; it has a ``seeds`` field
    quick:    the Config overrides of the quick mode
    data_help: set when the experiment needs ``--data`` (what to pass); None otherwise
    gpu:      True when the full run is sized for a GPU (the results page says so while it has not run)
    """

    name: ClassVar[str]
    version: ClassVar[int]
    title: ClassVar[str]
    seed_key: ClassVar[str]
    claim: ClassVar[str]
    reading: ClassVar[str]
    Config: ClassVar[type]
    quick: ClassVar[dict[str, Any]] = {}
    data_help: ClassVar[str | None] = None
    gpu: ClassVar[bool] = False

    def configure(self, options: RunOptions) -> Any:
        """The Config of a run: defaults, then the quick overrides, then ``options.settings``, then seeds."""
        values: dict[str, Any] = dict(self.quick) if options.quick else {}
        known = {f.name: f for f in dataclasses.fields(self.Config)}
        for key, value in options.settings.items():
            if key not in known:
                raise ExperimentError(f"{self.name}: unknown setting {key!r} (known: {', '.join(known)})")
            values[key] = coerce(self.name, key, value, known[key].default)
        if options.seeds is not None:
            values["seeds"] = options.seeds
        try:
            return self.Config(**values)
        except (TypeError, ValueError) as err:
            raise ExperimentError(f"{self.name}: {err}") from None

    @abstractmethod
    def run(self, config: Any, ctx: Context) -> dict[str, Any]:
        """Train every arm and seed; return JSON-able results."""

    @abstractmethod
    def findings(self, config: Any, results: dict[str, Any]) -> Findings:
        """The table, verdicts and headline numbers of ``results``."""

    @abstractmethod
    def plot(self, config: Any, results: dict[str, Any], path: Path) -> None:
        """Draw ``results`` into the PNG file ``path``."""


def coerce(experiment: str, key: str, value: Any, default: Any) -> Any:
    """A setting from the command line (parsed as JSON where it parses) as the type of its default: tuples
    from lists or comma-separated strings, floats from ints, and a one-line error for anything else."""
    if isinstance(default, tuple):
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple) or not items:
            raise ExperimentError(f"{experiment}: setting {key} takes a comma-separated list, not {value!r}")
        kind = type(default[0]) if default else str
        if kind not in (int, float):
            return tuple(str(v).strip() for v in items)
        return tuple(coerce(experiment, key, _number(v), kind()) for v in items)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ExperimentError(f"{experiment}: setting {key} is true or false, not {value!r}")
        return value
    if isinstance(default, int) and default is not None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ExperimentError(f"{experiment}: setting {key} takes an integer, not {value!r}")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ExperimentError(f"{experiment}: setting {key} takes a number, not {value!r}")
        return float(value)
    if isinstance(default, str):
        return str(value)
    return value


def _number(value: Any) -> Any:
    """A list item from a comma-separated string, read as JSON where it parses (``"0.5"`` → 0.5)."""
    if isinstance(value, str):
        try:
            return json.loads(value.strip())
        except ValueError:
            return value
    return value


def positive(**values: float) -> None:
    """Raise ValueError naming the first of ``values`` that is not positive."""
    for key, value in values.items():
        if not value > 0:
            raise ValueError(f"{key} must be positive, not {value!r}")


def check_arms(arms: tuple[str, ...], known: tuple[str, ...] | None = None, what: str = "arm") -> None:
    """Raise ValueError unless ``arms`` is a non-empty tuple of distinct names (from ``known`` if given)."""
    if not arms:
        raise ValueError(f"at least one {what} is needed")
    unknown = [a for a in arms if known is not None and a not in known]
    if unknown:
        raise ValueError(f"unknown {what}(s) {', '.join(unknown)} (known: {', '.join(known or ())})")
    if len(set(arms)) != len(arms):
        raise ValueError(f"{what}s must be distinct, not {', '.join(arms)}")
