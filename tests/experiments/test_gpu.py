"""The GPU paths (channels-last ResNet, bf16 autocast, data on the device), run only where CUDA is: this task's
machine has none, so these are the checks to run first on a GPU (`pytest tests/experiments/test_gpu.py`)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))

from cifar_fixture import write_cifar  # noqa: E402

from archsearch.experiments import RunOptions, run_experiment  # noqa: E402

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def test_resnet56_quick_on_cuda_with_bf16(tmp_path):
    data = write_cifar(tmp_path / "cifar", per_batch=64)
    record = run_experiment("colu-resnet56", RunOptions(out=tmp_path / "out", quick=True, device="cuda", data=data,
                                                        settings={"amp": True}), log=lambda line: None)
    assert record["machine"]["gpu"] and set(record["results"]["arms"]) == {"relu", "colu", "soc"}


def test_gpt_mlp_gpu_quick_on_cuda(tmp_path):
    record = run_experiment("colu-gpt-mlp-gpu", RunOptions(out=tmp_path, quick=True, device="cuda"),
                            log=lambda line: None)
    assert record["config"]["amp"] and record["machine"]["gpu"]
