"""Task registry, options, reproducibility and disjointness of the splits."""

from __future__ import annotations

import pytest
import torch

from archsearch.tasks import TASKS, Task, make_task

# tasks whose examples are keyed by their inputs (generated, or drawn from a fixed data set)
GENERATED = {
    "icl-regression": {"eval_size": 64},
    "mqar": {"eval_size": 64},
    "set-duplicate": {"eval_size": 64},
    "digits": {"eval_size": 64},
}


def test_registry_names():
    assert set(TASKS) == {"icl-regression", "mqar", "text", "set-duplicate", "digits"}
    for name, cls in TASKS.items():
        assert issubclass(cls, Task) and cls.name == name
        assert cls.direction in ("minimize", "maximize") and cls.metric_name


def test_unknown_task_name_lists_known():
    with pytest.raises(KeyError) as err:
        make_task("no-such-task")
    msg = str(err.value)
    assert "no-such-task" in msg
    for name in TASKS:
        assert name in msg


def test_unknown_option_lists_known():
    with pytest.raises(ValueError, match="unknown option.*'dd'.*known: .*d, n, noise"):
        make_task("icl-regression", dd=3)


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_datasets_reproducible(name):
    a, b = make_task(name, **GENERATED[name]), make_task(name, **GENERATED[name])
    for split in ("val", "test"):
        for k, v in a.dataset(split).items():
            assert torch.equal(v, b.dataset(split)[k])
    ga, gb = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    for _ in range(2):
        ba, bb = a.batch("train", 16, ga), b.batch("train", 16, gb)
        for k in ba:
            assert torch.equal(ba[k], bb[k])
    # another task seed → other held-out sets; another generator seed → other training batches
    c = make_task(name, seed=1, **GENERATED[name])
    assert not torch.equal(c.dataset("val")["inputs"], a.dataset("val")["inputs"])
    assert not torch.equal(a.dataset("val")["inputs"], a.dataset("test")["inputs"])
    other = a.batch("train", 16, torch.Generator().manual_seed(8))["inputs"]
    assert not torch.equal(other, a.batch("train", 16, torch.Generator().manual_seed(7))["inputs"])


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_splits_disjoint(name):
    task = make_task(name, **GENERATED[name])
    val = set(task.example_keys(task.dataset("val")))
    test = set(task.example_keys(task.dataset("test")))
    assert not val & test
    g = torch.Generator().manual_seed(0)
    for _ in range(3):
        keys = task.example_keys(task.batch("train", 64, g))
        assert not set(keys) & (val | test)


def test_training_avoids_held_out_in_a_tiny_space():
    # 4 symbols, sets of 3: 20 multisets; 5 + 5 held out, so collisions are certain without the check
    task = make_task("set-duplicate", vocab=4, set_size=3, eval_size=5)
    held = task.held_out_keys()
    assert 5 < len(held) <= 10
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        batch = task.batch("train", 32, g)
        assert not set(task.example_keys(batch)) & held


def test_exhausted_space_raises_clearly():
    # 2 symbols, pairs: 3 multisets in all; 20 val examples take them all, none is left for test
    task = make_task("set-duplicate", vocab=2, set_size=2, eval_size=20)
    assert len(set(task.example_keys(task.dataset("val")))) == 3
    with pytest.raises(RuntimeError, match="held-out"):
        task.dataset("test")


def test_eval_batches_cover_dataset_in_order():
    task = make_task("mqar", eval_size=50)
    parts = list(task.eval_batches("val", 16))
    assert [p["inputs"].shape[0] for p in parts] == [16, 16, 16, 2]
    assert torch.equal(torch.cat([p["inputs"] for p in parts]), task.dataset("val")["inputs"])
    assert len(list(task.eval_batches("val", 16, max_batches=2))) == 2


def test_bad_split_names():
    task = make_task("icl-regression", eval_size=8)
    with pytest.raises(ValueError, match="unknown split"):
        task.batch("dev", 4, torch.Generator())
    with pytest.raises(ValueError, match="val and test"):
        task.dataset("train")
