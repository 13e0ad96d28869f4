"""enumeration/partitions.py: integer partitions (against the partition numbers, OEIS A000041) and the
Euler transform that counts all diagrams from the connected ones (against listing the multisets)."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest

from archsearch.enumeration.partitions import integer_partitions, multiset_counts

PARTITION_NUMBERS = (1, 1, 2, 3, 5, 7, 11, 15, 22, 30, 42, 56, 77, 101, 135)  # OEIS A000041, k = 0..14


@pytest.mark.parametrize("k", range(len(PARTITION_NUMBERS)))
def test_partitions_are_all_there_once_in_non_increasing_order(k):
    parts = integer_partitions(k)
    assert len(parts) == PARTITION_NUMBERS[k] == len(set(parts))
    for p in parts:
        assert sum(p) == k and all(x >= 1 for x in p) and list(p) == sorted(p, reverse=True)
    assert parts == sorted(parts, reverse=True), "largest first"


def test_examples_and_the_largest_part_bound():
    assert integer_partitions(0) == [()]
    assert integer_partitions(1) == [(1,)]
    assert integer_partitions(3) == [(3,), (2, 1), (1, 1, 1)]
    assert integer_partitions(5, 2) == [(2, 2, 1), (2, 1, 1, 1), (1, 1, 1, 1, 1)]
    assert integer_partitions(4, 1) == [(1, 1, 1, 1)]
    assert integer_partitions(4, 9) == integer_partitions(4)


def multisets_by_listing(connected: list[int]) -> list[int]:
    """All multisets of labelled connected objects (c_k of degree k), counted by total degree."""
    objects = [(k, i) for k, c in enumerate(connected, start=1) for i in range(c)]
    top = len(connected)
    counts = Counter()
    for size in range(1, top + 1):
        for combo in itertools.combinations_with_replacement(objects, size):
            degree = sum(k for k, _ in combo)
            if degree <= top:
                counts[degree] += 1
    return [counts[n] for n in range(1, top + 1)]


@pytest.mark.parametrize("connected", [[2, 4, 11, 30], [2, 8, 32], [1, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1],
                                       [3, 0, 2, 1, 0], [0, 1, 0, 2], [5]])
def test_euler_transform_counts_the_multisets(connected):
    assert multiset_counts(connected) == multisets_by_listing(connected)


def test_published_all_diagram_counts_from_the_connected_ones():
    assert multiset_counts([2, 4, 11, 30, 95, 328]) == [2, 7, 23, 79, 274, 1003]  # A007719 → A007717
    assert multiset_counts([1] * 8) == list(PARTITION_NUMBERS[1:9])  # one trace per order → partitions
    assert multiset_counts([]) == []
    assert all(type(n) is int for n in multiset_counts([2, 4, 11, 30])), "exact integers (printed in JSON)"
