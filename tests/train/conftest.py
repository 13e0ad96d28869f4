"""Shared fixtures (a small text corpus, small tasks); makes train_helpers importable."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from archsearch.tasks import make_task

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


@pytest.fixture(scope="session")
def corpus_path(tmp_path_factory):
    line = "the quick brown fox jumps over the lazy dog; pack my box with five dozen jugs"
    text = "".join(f"{i} {line}\n" for i in range(40))
    path = tmp_path_factory.mktemp("text") / "corpus.txt"
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.fixture
def small_tasks(corpus_path):
    return {
        "icl-regression": make_task("icl-regression", d=4, n=6, eval_size=64),
        "mqar": make_task("mqar", vocab=64, seq_len=32, num_kv=4, eval_size=64),
        "text": make_task("text", path=corpus_path, seq_len=16, eval_size=64),
        "set-duplicate": make_task("set-duplicate", vocab=16, set_size=6, eval_size=64),
        "digits": make_task("digits", eval_size=128),
        "text-stdlib": make_task("text", corpus="stdlib", seq_len=16, eval_size=64),
    }


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models gain nothing from intra-op threads, and on a busy machine spinning threads cost
    several-fold; run each test single-threaded and restore the setting afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
