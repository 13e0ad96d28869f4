"""The two-spread rule, mean ± std and the verdict labels (archsearch.experiments.stats)."""

from __future__ import annotations

import statistics

import pytest

from archsearch.experiments.seeds import seed_comparison
from archsearch.experiments.stats import CONFIRMED, Comparison, Verdict, band, mean_std


def test_mean_std_is_the_sample_std():
    assert mean_std([1.0, 2.0, 4.0]) == (pytest.approx(7 / 3), pytest.approx(statistics.stdev([1, 2, 4])))
    assert mean_std([5.0]) == (5.0, 0.0)
    with pytest.raises(ValueError):
        mean_std([])


@pytest.mark.parametrize(("direction", "a", "b", "margin"), [
    ("maximize", [0.9, 0.91, 0.92], [0.5, 0.51, 0.52], 0.4),
    ("minimize", [0.5, 0.51, 0.52], [0.9, 0.91, 0.92], 0.4),
])
def test_margin_follows_the_direction(direction, a, b, margin):
    cmp = Comparison.of("a", a, "b", b, direction)
    assert cmp.margin == pytest.approx(margin)
    assert cmp.real and not cmp.reverse_real
    flipped = Comparison.of("b", b, "a", a, direction)
    assert flipped.reverse_real and not flipped.real


def test_real_needs_more_than_twice_the_larger_spread():
    a, b = [1.0, 3.0], [0.0, 0.0]  # std_a = √2, margin 2
    assert not Comparison.of("a", a, "b", b, "maximize").real  # 2 < 2·√2
    assert Comparison.of("a", [10.0, 12.0], "b", b, "maximize").real  # 11 > 2·√2
    assert Comparison.of("a", [11.0, 11.0], "b", [0.0, 0.0], "maximize").real  # zero spread: any margin is real
    assert not Comparison.of("a", [11.0], "b", [0.0], "maximize").real  # one seed a side: never
    with pytest.raises(ValueError, match="direction"):
        Comparison.of("a", a, "b", b, "up")


def test_the_seeds_own_figures_do_not_clear_the_rule():
    """ResNet-56: 93.5851 ± 0.442 vs 92.7282 ± 0.357 is a margin of 0.857 < 2 × 0.442; GPT-2: 0.0765 < 2 × 0.1182."""
    resnet = seed_comparison("resnet56", "test accuracy (%)", "maximize")
    assert resnet.margin == pytest.approx(0.8569) and resnet.spread == pytest.approx(0.442)
    assert not resnet.real and resnet.n is None
    gpt = seed_comparison("gpt2-mlp", "test loss (nats/token)", "minimize")
    assert gpt.margin == pytest.approx(0.0765) and not gpt.real
    assert seed_comparison("diffusion", "train loss", "minimize") is None  # no spreads printed


def test_verdict_labels_are_fixed():
    assert Verdict("c", CONFIRMED, "r").to_dict() == {"claim": "c", "label": "confirmed", "reason": "r"}
    with pytest.raises(ValueError, match="unknown verdict"):
        Verdict("c", "probably", "r")


def test_band_is_pointwise():
    out = band([[1.0, 2.0], [3.0, 6.0]])
    assert out["mean"] == [2.0, 4.0]
    assert out["std"] == pytest.approx([statistics.stdev([1, 3]), statistics.stdev([2, 6])])
