"""check_keys: the one check behind task options, ModelConfig, TrainConfig and SearchSpace dictionaries."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from archsearch.checks import check_keys


@dataclass(frozen=True)
class _Config:
    width: int = 1
    depth: int = 1


def test_known_keys_pass_and_unknown_ones_are_named_with_the_known():
    check_keys({"width": 2}, _Config, "field(s)")
    check_keys([], _Config, "field(s)")
    with pytest.raises(ValueError, match=r"^unknown field\(s\) 'b', 'widht' in x \(known: width, depth\)$"):
        check_keys({"widht": 2, "b": 1, "depth": 3}, _Config, "field(s)", " in x")
