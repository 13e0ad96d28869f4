"""The CIFAR-10 reader: the python-pickle batches as distributed, and one-line errors for anything else."""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from cifar_fixture import batch_bytes, write_cifar  # noqa: E402

from archsearch.experiments.cifar import CifarError, load_cifar10  # noqa: E402


@pytest.mark.parametrize("python2", [False, True], ids=["numpy2-pickle", "numpy1-pickle"])
def test_reads_the_fixture(tmp_path, python2):
    root = write_cifar(tmp_path / "cifar", per_batch=6, python2=python2)
    data = load_cifar10(root)
    assert data.train_images.shape == (30, 3, 32, 32) and data.train_images.dtype == np.uint8
    assert data.test_images.shape == (6, 3, 32, 32) and data.test_labels.dtype == np.int64
    assert data.label_names == tuple(f"c{i}" for i in range(10))
    raw = pickle.loads((root / "data_batch_2").read_bytes(), encoding="bytes")
    first = data.train_images[6]  # the first image of the second batch
    assert np.array_equal(first[0], raw[b"data"][0, :1024].reshape(32, 32))  # the red plane, row-major
    assert np.array_equal(first[2], raw[b"data"][0, 2048:].reshape(32, 32))  # the blue plane
    assert data.train_labels[6] == raw[b"labels"][0]


def _corrupt(root: Path, name: str, content: bytes) -> Path:
    (root / name).write_bytes(content)
    return root


def _bad_cases():
    good = np.zeros((4, 3072), np.uint8)
    return {
        "not a pickle": (b"\x89PNG\r\n garbage", "is not a CIFAR-10 python batch (cannot unpickle"),
        "a list": (pickle.dumps([1, 2, 3], protocol=2), "holds a list, not a dict"),
        "no labels": (pickle.dumps({b"data": good}, protocol=2), "has no 'labels' entry"),
        "wrong shape": (batch_bytes(np.zeros((4, 1024), np.uint8), [0] * 4), "'data' is (4, 1024)"),
        "wrong dtype": (batch_bytes(np.zeros((4, 3072), np.float32), [0] * 4), "dtype float32, not uint8"),
        "label range": (batch_bytes(good, [0, 1, 2, 12]), "label 12 is outside 0–9"),
        "label count": (batch_bytes(good, [0, 1]), "2 labels for 4 images"),
        "truncated": (batch_bytes(good, [0] * 4)[:100], "cannot unpickle"),
    }


@pytest.mark.parametrize("case", list(_bad_cases()))
def test_a_malformed_batch_is_one_line_naming_the_file(tmp_path, case):
    content, message = _bad_cases()[case]
    root = _corrupt(write_cifar(tmp_path / "cifar"), "data_batch_3", content)
    with pytest.raises(CifarError) as err:
        load_cifar10(root)
    text = str(err.value)
    assert "\n" not in text and message in text and str(root / "data_batch_3") in text


def test_a_pickle_that_would_run_code_is_refused_not_run(tmp_path):
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    root = _corrupt(write_cifar(tmp_path / "cifar"), "test_batch", pickle.dumps({b"data": Evil()}, protocol=2))
    with pytest.raises(CifarError, match="refers to posix.system|refers to os.system|refers to nt.system"):
        load_cifar10(root)
    assert not marker.exists()


def test_missing_directory_and_files(tmp_path):
    with pytest.raises(CifarError, match="is not a directory"):
        load_cifar10(tmp_path / "nowhere")
    root = write_cifar(tmp_path / "cifar")
    (root / "data_batch_5").unlink()
    (root / "test_batch").unlink()
    with pytest.raises(CifarError, match="lacks data_batch_5, test_batch"):
        load_cifar10(root)


def test_bad_meta(tmp_path):
    root = _corrupt(write_cifar(tmp_path / "cifar"), "batches.meta", pickle.dumps({b"label_names": [b"x"]}))
    with pytest.raises(CifarError, match="'label_names' is not a list of 10 names"):
        load_cifar10(root)
