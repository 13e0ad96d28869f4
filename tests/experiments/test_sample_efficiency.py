"""colu-sample-efficiency: nested training sets, equal FLOPs across arms, and the verdict rule."""

from __future__ import annotations

import pytest

from archsearch.experiments.base import Context
from archsearch.experiments.sample_efficiency import SampleEfficiency, SampleEfficiencyConfig
from archsearch.experiments.stats import CONFIRMED, NOT_CONFIRMED


def test_a_tiny_run_has_growing_training_sets_and_equal_flops():
    config = SampleEfficiencyConfig(fractions=(0.1, 0.5), seeds=1, steps=2, width=8, eval_size=16)
    results = SampleEfficiency().run(config, Context("cpu", None, lambda line: None))
    sizes = [p["train_images"] for p in results["points"]]
    assert sizes[0] < sizes[1] and {p["test_images"] for p in results["points"]} == {16}
    flops = {arm: runs[0]["flops"] for arm, runs in results["points"][0]["arms"].items()}
    assert set(flops) == {"relu", "colu4", "soc4"} and len(set(flops.values())) == 1


def _results(colu: list[list[float]], relu: list[list[float]]) -> dict:
    def runs(values):
        return [{"test": v, "flops": 1} for v in values]

    return {"points": [{"train_images": 10 * (i + 1), "test_images": 5, "arms": {"relu": runs(r), "colu4": runs(c)}}
                       for i, (c, r) in enumerate(zip(colu, relu, strict=True))]}


def test_confirmed_needs_a_real_advantage_at_most_sizes_and_a_real_disadvantage_at_none():
    config = SampleEfficiencyConfig(arms=("relu", "colu4"), seeds=3)
    up, same, down = [0.9, 0.91, 0.92], [0.5, 0.51, 0.52], [0.1, 0.11, 0.12]
    assert SampleEfficiency().findings(config, _results([up, up, same], [same, same, same])).verdicts[0].label \
        == CONFIRMED
    mixed = SampleEfficiency().findings(config, _results([up, up, down], [same, same, same]))
    assert mixed.verdicts[0].label == NOT_CONFIRMED and "lower by more than twice the spread at 1 (30 images)" in \
        mixed.verdicts[0].reason
    assert SampleEfficiency().findings(config, _results([up, same, same], [same, same, same])).verdicts[0].label \
        == NOT_CONFIRMED


def test_config_checks():
    with pytest.raises(ValueError, match="fractions"):
        SampleEfficiencyConfig(fractions=(0.0, 0.5))
    with pytest.raises(ValueError, match="not divisible by the cone size 4"):
        SampleEfficiencyConfig(width=30)
    with pytest.raises(ValueError, match="mixes tokens"):
        SampleEfficiencyConfig(arms=("relu", "lse"))
