"""Read CIFAR-10 from the directory a user supplies: the standard python-pickle batches, nothing downloaded.

The directory (``cifar-10-batches-py`` as distributed) holds ``data_batch_1`` … ``data_batch_5`` (training)
and ``test_batch``; ``batches.meta`` (label names) is optional. Each batch is a pickled dict with ``data``, a
uint8 array of n × 3 072 (per image 1 024 red, then green, then blue values, each a 32 × 32 image in row-major
order), and ``labels``, n integers in 0–9 (keys as bytes, as the Python 2 pickles load with
``encoding="bytes"``, or as str). Unpickling is restricted to what such a dict needs (numpy arrays, dtypes,
bytes), so a file holding anything else is refused, never executed.
"""

from __future__ import annotations

import io
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from archsearch.experiments.base import ExperimentError

TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILE = "test_batch"
META_FILE = "batches.meta"
SIDE, CHANNELS, CLASSES = 32, 3, 10
PIXELS = SIDE * SIDE * CHANNELS
LABEL_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


class CifarError(ExperimentError):
    """The directory or a batch file is not CIFAR-10's python format (one line, naming the file)."""


def _reconstruct() -> Any:
    core = getattr(np, "_core", None)
    return core.multiarray._reconstruct if core is not None else np.core.multiarray._reconstruct  # type: ignore[attr-defined]


_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
    ("_codecs", "encode"): lambda: __import__("_codecs").encode,
}


class _BatchUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals a CIFAR-10 batch needs."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]()
        except KeyError:
            raise pickle.UnpicklingError(f"it refers to {module}.{name}, which a CIFAR-10 batch never holds") from None


def read_batch(path: Path) -> dict[str, Any]:
    """The dict of one pickled batch file with str keys; CifarError naming the file if it is not one."""
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise CifarError(f"cifar-10: cannot read {path}: {err.strerror or err}") from None
    try:
        obj = _BatchUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except Exception as err:  # noqa: BLE001 - any unpickling failure is a malformed file
        reason = " ".join(str(err).split()) or type(err).__name__
        raise CifarError(f"cifar-10: {path} is not a CIFAR-10 python batch (cannot unpickle it: {reason})") from None
    if not isinstance(obj, dict):
        raise CifarError(f"cifar-10: {path} is not a CIFAR-10 python batch (it holds a {type(obj).__name__}, "
                         "not a dict)")
    return {k.decode("latin-1") if isinstance(k, bytes) else str(k): v for k, v in obj.items()}


def batch_arrays(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(images (n, 3, 32, 32) uint8, labels (n,) int64) of one batch file, validated."""
    batch = read_batch(path)
    missing = [k for k in ("data", "labels") if k not in batch]
    if missing:
        raise CifarError(f"cifar-10: {path} has no {' and no '.join(repr(k) for k in missing)} entry (keys: "
                         f"{', '.join(sorted(batch)) or 'none'})")
    data = batch["data"]
    if not isinstance(data, np.ndarray) or data.ndim != 2 or data.shape[1] != PIXELS:
        shape = data.shape if isinstance(data, np.ndarray) else type(data).__name__
        raise CifarError(f"cifar-10: {path}: 'data' is {shape}, not an array of n × {PIXELS} values (32 × 32 × 3)")
    if data.dtype != np.uint8:
        raise CifarError(f"cifar-10: {path}: 'data' has dtype {data.dtype}, not uint8")
    try:
        labels = np.asarray(batch["labels"], dtype=np.int64)
    except (TypeError, ValueError):
        raise CifarError(f"cifar-10: {path}: 'labels' is not a list of integers") from None
    if labels.ndim != 1 or len(labels) != len(data):
        raise CifarError(f"cifar-10: {path}: {labels.size} labels for {len(data)} images")
    if len(labels) == 0:
        raise CifarError(f"cifar-10: {path} holds no images")
    bad = labels[(labels < 0) | (labels >= CLASSES)]
    if bad.size:
        raise CifarError(f"cifar-10: {path}: label {int(bad[0])} is outside 0–{CLASSES - 1}")
    return data.reshape(-1, CHANNELS, SIDE, SIDE), labels


@dataclass(frozen=True)
class CifarData:
    """Training and test images (n, 3, 32, 32) uint8 and labels (n,) int64, the class names, the directory."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    label_names: tuple[str, ...]
    root: Path

    def describe(self) -> dict[str, Any]:
        return {"root": str(self.root), "train": len(self.train_labels), "test": len(self.test_labels),
                "classes": list(self.label_names)}


def load_cifar10(root: str | Path) -> CifarData:
    """CIFAR-10 from ``root`` (see the module docstring); CifarError with one line for anything amiss."""
    root = Path(root)
    if not root.is_dir():
        raise CifarError(f"cifar-10: {root} is not a directory (give the cifar-10-batches-py directory of the "
                         "python version; nothing is downloaded)")
    missing = [f for f in (*TRAIN_FILES, TEST_FILE) if not (root / f).is_file()]
    if missing:
        raise CifarError(f"cifar-10: {root} lacks {', '.join(missing)} (the python version holds data_batch_1 … "
                         "data_batch_5 and test_batch)")
    parts = [batch_arrays(root / f) for f in TRAIN_FILES]
    test_images, test_labels = batch_arrays(root / TEST_FILE)
    names: tuple[str, ...] = LABEL_NAMES
    if (root / META_FILE).is_file():
        meta = read_batch(root / META_FILE).get("label_names")
        if not isinstance(meta, list) or len(meta) != CLASSES:
            raise CifarError(f"cifar-10: {root / META_FILE}: 'label_names' is not a list of {CLASSES} names")
        names = tuple(n.decode("utf-8", "replace") if isinstance(n, bytes) else str(n) for n in meta)
    return CifarData(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
                     test_images, test_labels, names, root)

