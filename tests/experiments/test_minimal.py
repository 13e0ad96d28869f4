"""colu-minimal: the model is w π(wᵀx) (archsearch's tied conic field), the teacher makes the labels, the
design is paired, and the verdict follows the two-spread rule."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from archsearch.experiments.minimal import Minimal, MinimalConfig, draw, fit, tied_layer
from archsearch.experiments.stats import CONFIRMED, NOT_CONFIRMED
from archsearch.families.conic import Conic

PROJ = ["relu", "colu", "soc"]


@pytest.mark.parametrize("projection", PROJ)
def test_the_tied_layer_is_w_pi_of_w_transpose_x(projection):
    layer = tied_layer(projection, 3)
    x = torch.randn(1, 5, 3)
    a = layer.A.detach()[0].double().numpy()
    want = Conic(projection, 3).project(x[0].double().numpy() @ a) @ a.T
    assert np.allclose(layer(x)[0].detach().numpy(), want, atol=1e-5)


def test_teachers_make_unit_labels_and_students_share_their_start():
    config = MinimalConfig(seeds=1, test_size=256)
    data = draw(config, 0)
    for teacher in PROJ:
        clean = data["teacher"][teacher]["y_test"] - data["noise_test"]
        assert float(clean.pow(2).mean()) == pytest.approx(1.0, rel=1e-4)
    assert not torch.equal(data["teacher"]["relu"]["A"], data["teacher"]["colu"]["A"])
    again = draw(config, 0)
    assert torch.equal(again["student_init"], data["student_init"]) and torch.equal(again["x_train"], data["x_train"])


@pytest.mark.parametrize("projection", PROJ)
def test_a_student_started_at_its_teacher_sits_at_the_noise_floor(projection):
    config = MinimalConfig(iterations=1, seeds=1)
    data = draw(config, 1)
    labels = data["teacher"][projection]
    data["student_init"] = labels["A"]
    curve = fit(config, projection, data, labels)
    assert curve["train"][0] == pytest.approx(float(data["noise_train"].pow(2).mean()), rel=1e-4)
    other = "soc" if projection != "soc" else "relu"
    assert fit(config, other, data, labels)["train"][0] > 2 * curve["train"][0]


def test_training_lowers_the_training_loss_and_records_the_curves():
    config = MinimalConfig(iterations=100, eval_every=25, seeds=1, test_size=64)
    data = draw(config, 2)
    curve = fit(config, "soc", data, data["teacher"]["soc"])
    assert curve["iteration"] == [0, 25, 50, 75, 100]
    assert curve["train"][-1] < 0.5 * curve["train"][0]


def _results(colu_test: list[float], relu_test: list[float], config: MinimalConfig) -> dict:
    arms = {}
    for t in config.teachers:
        for s in config.students:
            final = {"colu": colu_test, "relu": relu_test}.get(s, relu_test)
            arms[f"{t}/{s}"] = {"teacher": t, "student": s, "final_train": [0.01] * len(final), "final_test": final,
                                "train": {"mean": [0.0], "std": [0.0]}, "test": {"mean": [0.0], "std": [0.0]}}
    return {"iterations": [0], "arms": arms}


def test_verdicts_follow_the_rule():
    config = dataclasses.replace(MinimalConfig(), seeds=3)
    better = Minimal().findings(config, _results([0.010, 0.011, 0.012], [0.10, 0.11, 0.12], config))
    assert [v.label for v in better.verdicts] == [CONFIRMED, CONFIRMED]
    assert "CoLU lower in 3 of 3 seeds" in better.notes[0]
    close = Minimal().findings(config, _results([0.09, 0.11, 0.13], [0.10, 0.11, 0.12], config))
    assert [v.label for v in close.verdicts] == [NOT_CONFIRMED, NOT_CONFIRMED]
    assert "not a real difference" in close.verdicts[0].reason


def test_config_checks():
    with pytest.raises(ValueError, match="unknown teacher"):
        MinimalConfig(teachers=("relu", "gelu"))
    with pytest.raises(ValueError, match="at least 2"):
        MinimalConfig(features=1)
    with pytest.raises(ValueError, match="noise"):
        MinimalConfig(noise=-0.1)
