"""The training loop: determinism, divergence detection, the report/prune hook, schedule, results."""

from __future__ import annotations

import json
import math

import pytest
import torch
from train_helpers import tiny_model, tiny_train

from archsearch.train import Pruned, TrainConfig, TrainResult, TrialDiverged, build_model, lr_factor, train


def test_deterministic_on_cpu(small_tasks):
    task = small_tasks["mqar"]
    a = train(tiny_model(), tiny_train(), task)
    b = train(tiny_model(), tiny_train(), task)

    def timeless(history):
        return [{k: v for k, v in h.items() if k != "elapsed"} for h in history]

    assert timeless(a.history) == timeless(b.history) and len(a.history) == 3
    assert (a.val_metric, a.test_metric, a.final_train_loss) == (b.val_metric, b.test_metric, b.final_train_loss)
    for k, v in a.state_dict.items():
        assert torch.equal(v, b.state_dict[k])
    c = train(tiny_model(), tiny_train(seed=1), task)  # other data order → other weights
    assert any(not torch.equal(v, c.state_dict[k]) for k, v in a.state_dict.items())


def test_result_contents(small_tasks):
    task = small_tasks["icl-regression"]
    res = train(tiny_model(), tiny_train(), task)
    assert isinstance(res, TrainResult)
    assert [h["step"] for h in res.history] == [4, 8, 12]
    assert res.metric == "mse" and res.direction == "minimize" and res.task == "icl-regression"
    assert math.isfinite(res.val_metric) and math.isfinite(res.test_metric)
    assert res.n_params > 0 and res.flops > 0 and res.wall_time > 0 and res.device == "cpu"
    assert set(res.state_dict) == set(res.model.state_dict())
    summary = json.loads(json.dumps(res.to_dict()))
    assert summary["model_config"]["terms"] == ["0-0", "0-1.0-1"] and summary["steps"] == 12
    # the returned state_dict is a detached copy that reloads into a fresh model
    fresh = build_model(res.model_config, task)
    fresh.load_state_dict(res.state_dict)
    x = task.dataset("test")["inputs"][:8]
    assert torch.allclose(fresh(x), res.model.eval()(x))


def test_training_learns(small_tasks):
    task = small_tasks["set-duplicate"]
    cfg = tiny_train(steps=60, lr=1e-2, warmup_steps=5, eval_every=20, batch_size=64)
    res = train(tiny_model(width=32), cfg, task)
    assert res.history[-1]["train_loss"] < res.history[0]["train_loss"]


@pytest.mark.parametrize(("name", "width", "batch_size", "better_than"), [
    ("digits", 32, 64, 0.3),  # accuracy; chance is 0.1
    ("text-stdlib", 16, 16, 6.0),  # bits per byte; uniform is 8
])
def test_real_data_tasks_learn(small_tasks, name, width, batch_size, better_than):
    task = small_tasks[name]
    cfg = tiny_train(steps=60, lr=1e-2, warmup_steps=4, eval_every=30, batch_size=batch_size)
    res = train(tiny_model(width=width, depth=1), cfg, task)
    assert res.history[-1]["train_loss"] < res.history[0]["train_loss"]
    assert task.better(res.val_metric, better_than) and task.better(res.test_metric, better_than)


def test_divergence_is_detected(small_tasks):
    task = small_tasks["icl-regression"]
    with pytest.raises(TrialDiverged) as err:
        train(tiny_model(step=1e6, norm="none"), tiny_train(), task)
    assert err.value.step is not None and err.value.step >= 1
    assert err.value.reason.startswith(f"step {err.value.step}:")
    assert any(w in err.value.reason for w in ("nan", "inf", "not finite"))


def test_absurd_lr_diverges(small_tasks):
    task = small_tasks["icl-regression"]
    with pytest.raises(TrialDiverged, match=r"^step \d+: "):
        train(tiny_model(norm="none", step=1.0), tiny_train(lr=1e12, grad_clip=0.0, warmup_steps=0, steps=30), task)


def test_report_and_prune(small_tasks):
    task = small_tasks["mqar"]
    seen: list[tuple[int, float]] = []

    def report(step: int, value: float) -> bool:
        seen.append((step, value))
        return False

    res = train(tiny_model(), tiny_train(), task, report=report)
    assert [s for s, _ in seen] == [4, 8, 12]
    assert [v for _, v in seen] == [h["val"] for h in res.history]

    def prune_at_8(step: int, value: float) -> bool:
        return step >= 8

    with pytest.raises(Pruned) as err:
        train(tiny_model(), tiny_train(), task, report=prune_at_8)
    assert err.value.step == 8 and math.isfinite(err.value.value)


def test_lr_schedule():
    cfg = TrainConfig(steps=100, warmup_steps=10, lr=1.0)
    f = [lr_factor(s, cfg) for s in range(100)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)
    assert f[10] == pytest.approx(1.0) and all(a >= b for a, b in zip(f[10:], f[11:], strict=False))
    assert f[-1] < 0.01
    assert lr_factor(99, TrainConfig(steps=100, warmup_steps=0, min_lr_ratio=0.1)) >= 0.1


def test_train_config_validation_and_round_trip():
    cfg = TrainConfig(steps=5, lr=0.1, device="cpu", amp=True)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    for bad in ({"lr": 0.0}, {"batch_size": 0}, {"device": "tpu"}, {"grad_clip": -1.0}):
        with pytest.raises(ValueError):
            TrainConfig(**bad)


def test_amp_is_ignored_on_cpu_and_progress_bar_runs(small_tasks):
    res = train(tiny_model(), tiny_train(amp=True, steps=4), small_tasks["text"], progress=True)
    assert math.isfinite(res.val_metric) and res.metric == "bpc"


def test_bf16_on_cuda_is_the_default():
    assert TrainConfig().amp is True and TrainConfig().compile is False


def test_compile_failure_falls_back_to_the_eager_model(small_tasks, monkeypatch, caplog):
    """--compile with a compiler that raises on the first call: the trial trains eagerly, with a warning,
    and gives exactly the eager result (the same weights, the same metrics)."""
    from archsearch.train import loop

    calls = []

    def broken_compile(model):
        def run(*args):
            calls.append(1)
            raise RuntimeError("no C++ compiler found")
        return run

    task = small_tasks["mqar"]
    eager = train(tiny_model(), tiny_train(), task)
    monkeypatch.setattr(loop.torch, "compile", broken_compile)
    with caplog.at_level("WARNING"):
        fallen = train(tiny_model(), tiny_train(compile=True), task)
    assert calls == [1]  # tried once, then eager for every later step and evaluation
    assert "torch.compile failed" in caplog.text and "no C++ compiler found" in caplog.text
    assert (fallen.val_metric, fallen.test_metric) == (eager.val_metric, eager.test_metric)
    assert set(fallen.state_dict) == set(eager.state_dict)  # the model's own keys, nothing registered twice
    for k, v in eager.state_dict.items():
        assert torch.equal(v, fallen.state_dict[k])


@pytest.mark.slow
@pytest.mark.parametrize("task_name, terms", [("icl-regression", ("0-0",)), ("text", ("0-0", "0-1.0-1"))])
def test_compiled_model_trains_like_the_eager_one(small_tasks, task_name, terms):
    """The real torch.compile (CPU inductor), causal scan included: the same training to float32 rounding.
    It must compile: the one accepted failure is a machine without a C++ compiler (then the fallback ran
    and the result is the eager one exactly). Generated classes live in registered modules, which dynamo
    imports by name (it failed on every archsearch model before)."""
    from archsearch.train import loop

    task = small_tasks[task_name]
    cfg = tiny_train(steps=4, eval_every=2)
    eager = train(tiny_model(terms=terms, depth=1), cfg, task)
    wrappers = []
    real = loop.CompiledOrEager

    class Spy(real):  # type: ignore[misc, valid-type]
        def __init__(self, model):
            super().__init__(model)
            wrappers.append(self)

    loop.CompiledOrEager = Spy
    try:
        compiled = train(tiny_model(terms=terms, depth=1), TrainConfig(**{**cfg.to_dict(), "compile": True}), task)
    finally:
        loop.CompiledOrEager = real
    assert len(wrappers) == 1
    failure = wrappers[0].failure
    assert failure is None or "compiler" in failure.lower(), failure
    tol = 0.0 if failure else 1e-4
    assert abs(compiled.val_metric - eager.val_metric) <= tol * max(1.0, abs(eager.val_metric))
    for k, v in eager.state_dict.items():
        assert torch.allclose(v, compiled.state_dict[k], rtol=tol, atol=tol)
