"""digits: classify scikit-learn's 8×8 handwritten digits (real data that ships inside the package).

Data: ``sklearn.datasets.load_digits()`` — 1 797 grey-scale images of 8×8 pixels (values 0–16, scaled here to
[0, 1]) of the digits 0–9, about 180 per class (the UCI "optical recognition of handwritten digits" test set).
Nothing is downloaded; it needs scikit-learn (``pip install 'archsearch[digits]'``).

Tokens are patches: ``patch=k`` cuts the image into k×k squares (k = 1, 2 or 4 → 64, 16 or 4 tokens of 1, 4 or
16 pixels; default 2), ``patch="HxW"`` into H×W rectangles (H, W dividing 8; ``1x8``: the 8 rows). The embedding
maps each patch linearly and adds a learned position embedding; the model is not causal; the readout averages
the tokens and maps them to 10 logits. Loss: cross-entropy; metric: accuracy (maximize).

Split: stratified and fixed by ``seed`` (default 0): within each class a seeded permutation puts 15 % of the
images in val, 15 % in test and the rest (70 %) in train, so the splits are disjoint by sample by construction
(no two images of the data set are equal, so they are disjoint by content too). Val and test are their images in
data-set order (at most ``eval_size``). Training batches draw images of the train split uniformly, with
replacement, with the caller's generator. ``train_fraction`` f ∈ (0, 1] keeps, per class, the first
max(1, round(f · n)) training images of that permutation: a smaller fraction is a subset of a larger one
(sample-efficiency curves); val and test do not change.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from archsearch.tasks.base import Classification, MissingDependencyError, TaskConfig, split_seed
from archsearch.tasks.modules import MeanPoolReadout, VectorEmbedding

SIDE = 8
CLASSES = 10
EVAL_FRACTION = 0.15  # of each class, for val and for test
PATCH_HELP = "1, 2 or 4 (k×k squares) or 'HxW' with H and W dividing 8, e.g. 1x8 for the 8 rows"


def parse_patch(value: Any) -> tuple[int, int]:
    """``patch`` → (height, width) of a patch; ValueError listing what is allowed."""
    if isinstance(value, int) and not isinstance(value, bool):
        height, width = value, value
    elif isinstance(value, str) and value.count("x") == 1 and all(p.isdigit() for p in value.split("x")):
        height, width = (int(p) for p in value.split("x"))
    else:
        raise ValueError(f"digits: patch must be {PATCH_HELP}, not {value!r}")
    if height < 1 or width < 1 or SIDE % height or SIDE % width or height * width == SIDE * SIDE:
        raise ValueError(f"digits: patch must be {PATCH_HELP} (at least two tokens), not {value!r}")
    return height, width


@dataclass(frozen=True)
class DigitsConfig(TaskConfig):
    patch: int | str = 2
    train_fraction: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        parse_patch(self.patch)
        f = self.train_fraction
        if isinstance(f, bool) or not isinstance(f, int | float) or not 0 < f <= 1:
            raise ValueError(f"digits: train_fraction must be a number in (0, 1], not {f!r}")


@functools.lru_cache(maxsize=1)
def load_images() -> tuple[Tensor, Tensor, str]:
    """(images (1797, 8, 8) float32 in [0, 1], labels (1797,) long, scikit-learn's version), cached per process."""
    try:
        import sklearn
        from sklearn.datasets import load_digits
    except ImportError as err:
        raise MissingDependencyError(
            f"the digits task needs scikit-learn ({err}): pip install 'archsearch[digits]'", name="sklearn"
        ) from None
    data = load_digits()
    images = torch.tensor(data.images, dtype=torch.float32) / 16.0
    return images, torch.tensor(data.target, dtype=torch.long), sklearn.__version__


def to_patches(images: Tensor, height: int, width: int) -> Tensor:
    """(M, 8, 8) → (M, N, height·width): patches in row-major order, pixels row-major inside a patch."""
    m = images.shape[0]
    grid = images.reshape(m, SIDE // height, height, SIDE // width, width).permute(0, 1, 3, 2, 4)
    return grid.reshape(m, (SIDE // height) * (SIDE // width), height * width).contiguous()


def stratified_split(labels: Tensor, seed: int, train_fraction: float) -> dict[str, Tensor]:
    """Sample indices per split (sorted): per class a seeded permutation → 15 % val, 15 % test, the rest train,
    of which the first max(1, round(train_fraction · n)) are kept."""
    g = torch.Generator().manual_seed(split_seed(seed, "split", DigitsTask.name))
    parts: dict[str, list[Tensor]] = {"train": [], "val": [], "test": []}
    for c in range(CLASSES):
        members = (labels == c).nonzero().squeeze(1)
        order = members[torch.randperm(len(members), generator=g)]
        k = round(EVAL_FRACTION * len(members))
        train = order[2 * k:]
        parts["val"].append(order[:k])
        parts["test"].append(order[k : 2 * k])
        parts["train"].append(train[: max(1, round(train_fraction * len(train)))])
    return {split: torch.cat(p).sort().values for split, p in parts.items()}


class DigitsTask(Classification):
    """digits; batch: inputs (B, N, patch pixels) float in [0, 1], targets (B,) long in 0..9."""

    name = "digits"
    causal = False
    Config = DigitsConfig
    config: DigitsConfig
    disjoint_by_construction = True

    def __init__(self, config: DigitsConfig | None = None, **options: Any) -> None:
        super().__init__(config, **options)
        images, self.labels, self.sklearn_version = load_images()
        self.patch_shape = parse_patch(self.config.patch)
        self.patches = to_patches(images, *self.patch_shape)
        self.indices = stratified_split(self.labels, self.config.seed, self.config.train_fraction)

    def describe(self) -> dict[str, Any]:
        """The base description and the data: source, scikit-learn version, tokens, features, samples per split."""
        out = super().describe()
        out["data"] = {
            "source": "sklearn.datasets.load_digits",
            "sklearn": self.sklearn_version,
            "tokens": self.sequence_length(),
            "features": self.patches.shape[2],
            "samples": {split: len(idx) for split, idx in self.indices.items()},
        }
        return out

    def _examples(self, idx: Tensor) -> dict[str, Tensor]:
        return {"inputs": self.patches[idx], "targets": self.labels[idx]}

    def generate(self, n: int, generator: torch.Generator) -> dict[str, Tensor]:
        pool = self.indices["train"]
        return self._examples(pool[torch.randint(len(pool), (n,), generator=generator)])

    def _make_dataset(self, split: str) -> dict[str, Tensor]:
        return self._examples(self.indices[split][: self.config.eval_size])

    def sequence_length(self) -> int:
        return self.patches.shape[1]

    def embedding(self, d_model: int) -> nn.Module:
        return VectorEmbedding(self.patches.shape[2], d_model, max_len=self.sequence_length())

    def readout(self, d_model: int) -> nn.Module:
        return MeanPoolReadout(d_model, CLASSES)
