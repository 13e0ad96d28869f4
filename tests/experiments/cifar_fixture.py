"""A tiny CIFAR-10 directory in the distributed python-pickle format, written here without the library: dicts
with bytes keys, ``data`` a uint8 array of n × 3 072 (red, green, blue planes) and ``labels`` a list."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

NAMES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


def batch_bytes(data: np.ndarray, labels: list[int], python2: bool = False) -> bytes:
    raw = pickle.dumps({b"batch_label": b"fixture", b"labels": labels, b"data": data,
                        b"filenames": [b"%d.png" % i for i in range(len(labels))]}, protocol=2)
    if python2:  # the distributed files were pickled under numpy 1.x: numpy.core.multiarray._reconstruct
        raw = raw.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
    return raw


def write_cifar(root: Path, per_batch: int = 8, seed: int = 0, python2: bool = False) -> Path:
    """Five training batches and a test batch of ``per_batch`` random images each, and batches.meta."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for name in NAMES:
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        labels = [int(x) for x in rng.integers(0, 10, per_batch)]
        (root / name).write_bytes(batch_bytes(data, labels, python2))
    meta = {b"label_names": [b"c%d" % i for i in range(10)], b"num_cases_per_batch": per_batch, b"num_vis": 3072}
    (root / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return root
