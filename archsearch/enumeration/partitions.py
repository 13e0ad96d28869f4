"""Integer partitions (the shapes λ of the gated products of right = "none")."""

from __future__ import annotations


def integer_partitions(k: int, largest: int | None = None) -> list[tuple[int, ...]]:
    """Partitions of k, parts in non-increasing order, largest first: 3 → (3,), (2, 1), (1, 1, 1)."""
    largest = k if largest is None else largest
    if k == 0:
        return [()]
    out = []
    for first in range(min(k, largest), 0, -1):
        out.extend((first, *rest) for rest in integer_partitions(k - first, first))
    return out
