"""The Task interface: generated data with reproducible, disjoint splits; embedding, readout, loss, metric.

Splits
------
* ``"train"`` is an endless stream: :meth:`Task.batch` draws fresh examples from the caller's
  ``torch.Generator`` (so the training seed alone fixes the data order).
* ``"val"`` and ``"test"`` are fixed datasets of ``eval_size`` examples, generated once from
  ``(config.seed, split)`` by :meth:`Task.dataset` and cached.

Disjointness: every example has a key (:meth:`Task.example_keys`; by default the bytes of its
inputs, for set tasks the sorted multiset). The test set excludes the val keys, and training batches
replace any example whose key is in val or test, so no evaluation example is ever trained on. Tasks
whose splits are disjoint by construction skip the check: text (positions in a file, or whole files of
the stdlib corpus) and digits (a fixed partition of the data set's images).

Every batch is a dict of tensors with at least ``"inputs"`` (what the model reads, first dimension
the batch) and ``"targets"``; ``model(batch["inputs"])`` gives ``pred``, which :meth:`Task.loss` and
:meth:`Task.metric` compare with the batch.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from archsearch.checks import check_keys

SPLITS = ("train", "val", "test")
EVAL_SPLITS = ("val", "test")
DIRECTIONS = ("minimize", "maximize")


class MissingDependencyError(ImportError, ValueError):
    """A task needs a package that is not installed; the message says what to install. A ValueError too, so
    every caller that reports bad task options on one line reports this one the same way."""


#: annotation → what a value must be (task options arrive from the command line as JSON or strings)
_OPTION_KINDS = {
    "int": ("an integer", lambda v: type(v) is int),
    "float": ("a number", lambda v: type(v) in (int, float) and math.isfinite(v)),
    "bool": ("true or false", lambda v: type(v) is bool),
    "str": ("a string", lambda v: type(v) is str),
    "int | str": ("an integer or a string", lambda v: type(v) in (int, str)),
}
MAX_OPTION_INT = 1 << 40  # larger is a typo, not a task


@dataclass(frozen=True)
class TaskConfig:
    """Options every task has. ``seed`` fixes the val/test datasets; ``eval_size`` their size. Every option is
    checked against its annotation first (a one-line ValueError naming the option), so a task never
    compares a string with a number."""

    seed: int = 0
    eval_size: int = 1024

    def __post_init__(self) -> None:
        for f in fields(self):
            kind = _OPTION_KINDS.get(str(f.type))
            value = getattr(self, f.name)
            if kind is not None and not kind[1](value):
                raise ValueError(f"option {f.name} must be {kind[0]}, not {value!r}")
            if type(value) is int and abs(value) > MAX_OPTION_INT:
                raise ValueError(f"option {f.name} = {value} is out of range (at most {MAX_OPTION_INT})")
        if self.eval_size < 1:
            raise ValueError(f"eval_size must be at least 1, not {self.eval_size}")


def split_seed(seed: int, split: str, salt: str = "") -> int:
    """A 63-bit seed derived from (seed, split, salt) by hashing: stable across runs and platforms."""
    digest = hashlib.sha256(f"archsearch/{salt}/{seed}/{split}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def check_int(task: str, name: str, value: Any, minimum: int) -> None:
    """Raise ``ValueError("<task>: <name> must be an integer >= <minimum>, not <value>")`` unless it is one
    (a bool is not an integer here; options from the command line arrive parsed as JSON)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{task}: {name} must be an integer >= {minimum}, not {value!r}")


def check_choice(task: str, name: str, value: Any, choices: tuple[str, ...]) -> None:
    """Raise ``ValueError("<task>: unknown <name> <value> (known: …)")`` unless ``value`` is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{task}: unknown {name} {value!r} (known: {', '.join(choices)})")


def check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} (known: {', '.join(SPLITS)})")


def index_batch(data: dict[str, Tensor], index: Tensor | slice) -> dict[str, Tensor]:
    """The examples ``index`` (a slice or an index tensor) of every tensor in a batch dict."""
    return {k: v[index] for k, v in data.items()}


def concat_batches(parts: list[dict[str, Tensor]]) -> dict[str, Tensor]:
    return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}


class Task:
    """Base class. Subclasses set the class attributes and implement :meth:`generate` (or override
    :meth:`batch`/:meth:`dataset`), :meth:`embedding`, :meth:`readout`, :meth:`loss` and
    :meth:`metric_terms`.

    name:       registry name (``make_task(name)``)
    causal:     whether the model must be causal (token t sees only tokens ≤ t)
    metric_name, direction: what :meth:`metric` measures and whether lower ("minimize") or higher
                ("maximize") is better
    """

    name: ClassVar[str] = ""
    causal: ClassVar[bool] = False
    metric_name: str = ""  # a class attribute, or set per instance (text: bpb or bpc)
    direction: ClassVar[str] = "minimize"
    Config: ClassVar[type[TaskConfig]] = TaskConfig
    #: set by tasks whose splits are disjoint by construction (no key check needed)
    disjoint_by_construction: ClassVar[bool] = False
    #: retries when replacing training examples that collide with val/test
    max_resample: ClassVar[int] = 100

    def __init__(self, config: TaskConfig | None = None, **options: Any) -> None:
        if config is None:
            config = self.Config(**self._check_options(options))
        elif options:
            config = replace(config, **self._check_options(options))
        if not isinstance(config, self.Config):
            raise TypeError(f"{type(self).__name__} needs a {self.Config.__name__}, not {type(config).__name__}")
        self.config = config
        self._datasets: dict[str, dict[str, Tensor]] = {}
        self._held_out_keys: set[bytes] | None = None

    @classmethod
    def _check_options(cls, options: dict[str, Any]) -> dict[str, Any]:
        check_keys(options, cls.Config, "option(s)", f" for task {cls.name!r}")
        return options

    # ---- description ------------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        """JSON-able description: name, causal, metric, direction and the config."""
        return {
            "name": self.name,
            "causal": self.causal,
            "metric": self.metric_name,
            "direction": self.direction,
            "config": asdict(self.config),
        }

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in asdict(self.config).items())
        return f"{type(self).__name__}({opts})"

    # ---- data -------------------------------------------------------------------------------------
    def generate(self, n: int, generator: torch.Generator) -> dict[str, Tensor]:
        """``n`` fresh examples drawn with ``generator`` (CPU tensors)."""
        raise NotImplementedError

    def example_keys(self, data: dict[str, Tensor]) -> list[bytes]:
        """One hashable identity per example (equal keys = the same example for disjointness)."""
        inputs = data["inputs"].detach().cpu().contiguous()
        flat = inputs.reshape(inputs.shape[0], -1).numpy()
        return [row.tobytes() for row in flat]

    def _fresh(self, n: int, generator: torch.Generator, exclude: set[bytes]) -> dict[str, Tensor]:
        """``n`` generated examples none of whose keys is in ``exclude``."""
        data = self.generate(n, generator)
        if not exclude:
            return data
        for _ in range(self.max_resample):
            bad = [i for i, k in enumerate(self.example_keys(data)) if k in exclude]
            if not bad:
                return data
            repl = self.generate(len(bad), generator)
            idx = torch.tensor(bad)
            for k in data:
                data[k][idx] = repl[k]
        raise RuntimeError(
            f"task {self.name!r}: could not draw examples outside the held-out sets after {self.max_resample} "
            "tries; the example space is too small for eval_size (lower eval_size or enlarge the task)"
        )

    def dataset(self, split: str) -> dict[str, Tensor]:
        """The fixed val or test dataset (``eval_size`` examples from ``(config.seed, split)``), cached."""
        if split not in EVAL_SPLITS:
            raise ValueError(f"fixed datasets exist for {' and '.join(EVAL_SPLITS)} only, not {split!r}")
        if split not in self._datasets:
            self._datasets[split] = self._make_dataset(split)
        return self._datasets[split]

    def _make_dataset(self, split: str) -> dict[str, Tensor]:
        g = torch.Generator().manual_seed(split_seed(self.config.seed, split, self.name))
        exclude: set[bytes] = set()
        if split == "test" and not self.disjoint_by_construction:
            exclude = set(self.example_keys(self.dataset("val")))
        return self._fresh(self.config.eval_size, g, exclude)

    def held_out_keys(self) -> set[bytes]:
        """Keys of every val and test example (what training batches must avoid)."""
        if self._held_out_keys is None:
            keys: set[bytes] = set()
            for split in EVAL_SPLITS:
                keys.update(self.example_keys(self.dataset(split)))
            self._held_out_keys = keys
        return self._held_out_keys

    def batch(self, split: str, batch_size: int, generator: torch.Generator) -> dict[str, Tensor]:
        """A batch of ``batch_size`` examples: fresh ones for "train" (never in val/test), a random
        sample (with replacement) of the fixed dataset for "val"/"test"."""
        check_split(split)
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        if split == "train":
            exclude = set() if self.disjoint_by_construction else self.held_out_keys()
            return self._fresh(batch_size, generator, exclude)
        data = self.dataset(split)
        n = next(iter(data.values())).shape[0]
        return index_batch(data, torch.randint(n, (batch_size,), generator=generator))

    def eval_batches(self, split: str, batch_size: int, max_batches: int | None = None) -> Iterator[dict[str, Tensor]]:
        """The fixed ``split`` dataset in order, in batches of ``batch_size`` (at most ``max_batches``)."""
        data = self.dataset(split)
        n = next(iter(data.values())).shape[0]
        for b, start in enumerate(range(0, n, batch_size)):
            if max_batches is not None and b >= max_batches:
                return
            yield index_batch(data, slice(start, start + batch_size))

    # ---- model ends -------------------------------------------------------------------------------
    def embedding(self, d_model: int) -> nn.Module:
        """Maps ``batch["inputs"]`` to (B, N, d_model)."""
        raise NotImplementedError

    def readout(self, d_model: int) -> nn.Module:
        """Maps (B, N, d_model) to the predictions that :meth:`loss` and :meth:`metric` read."""
        raise NotImplementedError

    def sequence_length(self) -> int:
        """N, the number of tokens the model sees."""
        raise NotImplementedError

    # ---- objective ----------------------------------------------------------------------------------
    def loss(self, pred: Tensor, batch: dict[str, Tensor]) -> Tensor:
        """Training loss (a scalar tensor, differentiable)."""
        raise NotImplementedError

    def metric_terms(self, pred: Tensor, batch: dict[str, Tensor]) -> tuple[float, float]:
        """(sum, count) of the metric over the batch, so batches of any size aggregate exactly."""
        raise NotImplementedError

    def metric(self, pred: Tensor, batch: dict[str, Tensor]) -> float:
        """The task metric on one batch (``metric_name``; better is ``direction``)."""
        total, count = self.metric_terms(pred, batch)
        return total / count if count else float("nan")

    def better(self, a: float, b: float) -> bool:
        """Whether metric value ``a`` is strictly better than ``b``."""
        return a < b if self.direction == "minimize" else a > b

    def worst_value(self) -> float:
        return float("inf") if self.direction == "minimize" else float("-inf")


class Classification(Task):
    """A task whose predictions are class logits (B, classes) for integer targets (B,): cross-entropy loss,
    accuracy metric (higher is better)."""

    metric_name = "accuracy"
    direction = "maximize"

    def loss(self, pred: Tensor, batch: dict[str, Tensor]) -> Tensor:
        return F.cross_entropy(pred.float(), batch["targets"])

    def metric_terms(self, pred: Tensor, batch: dict[str, Tensor]) -> tuple[float, float]:
        correct = pred.detach().argmax(-1) == batch["targets"]
        return float(correct.sum()), float(correct.numel())
