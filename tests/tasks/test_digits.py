"""The digits task: scikit-learn's 8×8 images as patch tokens, a stratified fixed split, train_fraction."""

from __future__ import annotations

import sys

import pytest
import torch

from archsearch.tasks import MissingDependencyError, make_task
from archsearch.tasks.digits import load_images, parse_patch


@pytest.fixture(scope="module")
def data():
    images, labels, _ = load_images()
    return images, labels


def test_data_and_default_patches(data):
    images, labels = data
    assert images.shape == (1797, 8, 8) and labels.shape == (1797,)
    assert images.min() == 0.0 and images.max() == 1.0  # 0..16 scaled to [0, 1]
    assert torch.bincount(labels).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    task = make_task("digits")
    assert not task.causal and task.metric_name == "accuracy" and task.direction == "maximize"
    assert task.sequence_length() == 16 and task.patches.shape == (1797, 16, 4)
    # token (i, j) is the 2×2 square at rows 2i..2i+1, columns 2j..2j+1, pixels row-major
    for token, (r, c) in {0: (0, 0), 1: (0, 2), 3: (0, 6), 4: (2, 0), 15: (6, 6)}.items():
        assert torch.equal(task.patches[:, token], images[:, r : r + 2, c : c + 2].reshape(-1, 4))
    batch = task.batch("train", 8, torch.Generator().manual_seed(0))
    assert batch["inputs"].shape == (8, 16, 4) and batch["inputs"].dtype == torch.float32
    assert batch["targets"].shape == (8,) and batch["targets"].dtype == torch.long


@pytest.mark.parametrize(("patch", "shape"), [(1, (64, 1)), (2, (16, 4)), (4, (4, 16)), ("1x8", (8, 8)),
                                               ("8x1", (8, 8)), ("2x4", (8, 8))])
def test_patch_shapes(data, patch, shape):
    images, _ = data
    task = make_task("digits", patch=patch)
    assert tuple(task.patches.shape[1:]) == shape and task.sequence_length() == shape[0]
    emb = task.embedding(8)
    assert emb(task.patches[:3]).shape == (3, shape[0], 8)
    assert task.readout(8)(torch.randn(3, shape[0], 8)).shape == (3, 10)
    if patch == "1x8":  # the rows
        assert torch.equal(task.patches, images)
    if patch == 1:
        assert torch.equal(task.patches.squeeze(-1), images.reshape(-1, 64))


def test_split_is_stratified_disjoint_and_fixed(data):
    _, labels = data
    task = make_task("digits")
    idx = task.indices
    assert sorted(torch.cat(list(idx.values())).tolist()) == list(range(1797))  # a partition of the data set
    assert {s: len(v) for s, v in idx.items()} == {"train": 1259, "val": 269, "test": 269}
    for c in range(10):
        n = int((labels == c).sum())
        for split in ("val", "test"):
            assert int((labels[idx[split]] == c).sum()) == round(0.15 * n)
    val, test = task.dataset("val"), task.dataset("test")
    assert torch.equal(val["inputs"], task.patches[idx["val"]]) and torch.equal(val["targets"], labels[idx["val"]])
    assert not set(task.example_keys(val)) & set(task.example_keys(test))
    train_keys = set(task.example_keys({"inputs": task.patches[idx["train"]]}))
    batch = task.batch("train", 512, torch.Generator().manual_seed(0))
    assert set(task.example_keys(batch)) <= train_keys  # training draws from the train split only
    assert len(set(task.example_keys(batch))) > 200  # ... and from all over it
    again = make_task("digits")
    assert all(torch.equal(again.indices[s], idx[s]) for s in idx)
    other = make_task("digits", seed=1)
    assert not torch.equal(other.indices["val"], idx["val"])
    assert make_task("digits", eval_size=50).dataset("test")["inputs"].shape[0] == 50


def test_train_fraction_is_nested_and_stratified(data):
    _, labels = data
    full = make_task("digits")
    tenth = make_task("digits", train_fraction=0.1)
    tiny = make_task("digits", train_fraction=0.001)
    for split in ("val", "test"):
        assert torch.equal(tenth.indices[split], full.indices[split])
    kept = tenth.indices["train"]
    assert set(kept.tolist()) < set(full.indices["train"].tolist())
    assert set(tiny.indices["train"].tolist()) < set(kept.tolist())  # smaller fractions are subsets
    assert torch.bincount(labels[tiny.indices["train"]]).tolist() == [1] * 10  # at least one image per class
    for c in range(10):
        n = int((labels[full.indices["train"]] == c).sum())
        assert int((labels[kept] == c).sum()) == round(0.1 * n)
    batch = tenth.batch("train", 256, torch.Generator().manual_seed(0))
    assert set(tenth.example_keys(batch)) <= set(tenth.example_keys({"inputs": tenth.patches[kept]}))
    assert tenth.describe()["data"]["samples"] == {"train": len(kept), "val": 269, "test": 269}


@pytest.mark.parametrize(("options", "match"), [
    ({"patch": 3}, "patch must be 1, 2 or 4"),
    ({"patch": 8}, "at least two tokens"),
    ({"patch": "8x8"}, "at least two tokens"),
    ({"patch": "3x2"}, "dividing 8"),
    ({"patch": "big"}, "not 'big'"),
    ({"patch": True}, "not True"),
    ({"train_fraction": 0}, r"train_fraction must be a number in \(0, 1\], not 0"),
    ({"train_fraction": 1.5}, "not 1.5"),
    ({"train_fraction": "half"}, "not 'half'"),
    ({"size": 4}, r"unknown option.*'size'.*known: .*patch, train_fraction"),
])
def test_digits_option_errors(options, match):
    with pytest.raises(ValueError, match=match):
        make_task("digits", **options)


def test_parse_patch():
    assert parse_patch(2) == (2, 2) and parse_patch("1x8") == (1, 8) and parse_patch("4x2") == (4, 2)


def test_without_scikit_learn_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # import sklearn → ImportError
    load_images.cache_clear()
    try:
        with pytest.raises(MissingDependencyError, match=r"needs scikit-learn.*pip install 'archsearch\[digits\]'"):
            make_task("digits")
        with pytest.raises(ValueError):  # reported like any bad task option
            make_task("digits")
    finally:
        load_images.cache_clear()
