"""`archsearch experiment`: every experiment's quick mode runs; one-line errors with exit code 2; the
ResNet-56 script trains one epoch on a synthetic CIFAR-10 fixture and refuses a malformed batch file."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments"))

from cifar_fixture import write_cifar  # noqa: E402

from archsearch.experiments import EXPERIMENTS  # noqa: E402


def test_list(run):
    res = run("experiment", "--list")
    assert res.code == 0
    assert [line.split()[0] for line in res.out.splitlines()] == list(EXPERIMENTS)


@pytest.mark.parametrize("name", [n for n in EXPERIMENTS if n != "colu-resnet56"])
def test_quick_mode_runs(run, tmp_path, name):
    res = run("experiment", name, "--quick", "--out", str(tmp_path))
    assert res.code == 0, res.err
    record = json.loads((tmp_path / f"{name}.json").read_text())
    assert record["quick"] and record["findings"]["verdicts"]
    assert (tmp_path / f"{name}.png").stat().st_size > 1000
    assert f"wrote {tmp_path / (name + '.md')}" in res.out


def test_resnet56_trains_one_epoch_on_a_synthetic_cifar10(run, tmp_path):
    data = write_cifar(tmp_path / "cifar", per_batch=8)
    res = run("experiment", "colu-resnet56", "--quick", "--data", str(data), "--out", str(tmp_path / "out"))
    assert res.code == 0, res.err
    record = json.loads((tmp_path / "out" / "colu-resnet56.json").read_text())
    assert record["config"]["epochs"] == 1 and record["config"]["depth"] == 56
    assert record["results"]["data"]["train"] == 40 and record["results"]["data"]["test"] == 8
    for act in ("relu", "colu", "soc"):
        arm = record["results"]["arms"][act]
        assert [h["epoch"] for h in arm["runs"][0]["history"]] == [1]
        assert 0 <= arm["runs"][0]["test"] <= 100 and arm["flops"] == pytest.approx(0.251e9, rel=0.002)


def test_a_malformed_cifar_batch_is_one_line_and_exit_2(run, tmp_path):
    data = write_cifar(tmp_path / "cifar")
    (data / "data_batch_4").write_bytes(b"not a pickle at all")
    res = run("experiment", "colu-resnet56", "--data", str(data), "--out", str(tmp_path / "out"))
    assert res.code == 2
    assert res.err.count("\n") == 1 and res.err.startswith("archsearch experiment: error: cifar-10: ")
    assert "data_batch_4 is not a CIFAR-10 python batch" in res.err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("args", "message"), [
    (("nope",), "unknown experiment 'nope' (known: colu-minimal"),
    ((), "name an experiment"),
    (("colu-resnet56",), "colu-resnet56 needs --data"),
    (("colu-minimal", "--set", "iterations"), "is not KEY=VALUE (e.g. --set epochs=1)"),
    (("colu-minimal", "--set", "foo=1"), "unknown setting 'foo' (known: features"),
    (("colu-minimal", "--set", "noise=loud"), "setting noise takes a number"),
    (("colu-minimal", "--set", "teachers=relu,tanh"), "unknown teacher(s) tanh"),
    (("colu-minimal", "--device", "cuda:x"), "unknown device 'cuda:x'"),
    (("colu-gpt-mlp", "--data", "/no/such/file.txt"), "no such file"),
    (("colu-minimal", "--rewrite"), "no record"),
])
def test_user_errors_are_one_line_with_exit_2(run, tmp_path, args, message):
    res = run("experiment", *args, "--out", str(tmp_path / "out"))
    assert res.code == 2, res.out
    assert res.err.count("\n") == 1 and message in res.err
    assert not (tmp_path / "out").exists()
