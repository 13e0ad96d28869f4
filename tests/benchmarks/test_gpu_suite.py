"""benchmarks/gpu_suite.py: the CPU dry run goes through every part (kernels, softmax block, search) and
writes its table; the real run needs a CUDA device."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name: str):
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.filterwarnings("ignore")
def test_gpu_suite_dry_run(tmp_path):
    suite = _load("gpu_suite")
    out = tmp_path / "gpu_suite_cpu.md"
    assert suite.main(["--dry-run", "--out", str(out)]) == 0
    text = out.read_text()
    assert "dry run on CPU" in text
    assert "## Causal linear attention" in text and "| 128 | fwd |" in text and "| 128 | fwdbwd |" in text
    assert "Worst block / SDPA:" in text
    assert '"COMPLETE": 2' in text  # the 2-trial mqar search finished


def test_linear_attention_blocks_dry_run(monkeypatch, capsys):
    bench = _load("linear_attention_blocks")
    monkeypatch.setattr(sys, "argv", ["linear_attention_blocks.py", "--dry-run"])
    bench.main()  # checks compiled and hand-written blocks equal before timing
    assert "Worst compiled / hand-written" in capsys.readouterr().out
