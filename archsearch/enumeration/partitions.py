"""Integer partitions (the shapes λ of the gated products of right = "none")."""

from __future__ import annotations


def integer_partitions(k: int, largest: int | None = None) -> list[tuple[int, ...]]:
    """Partitions of k, parts in non-increasing order, largest first: 3 → (3,), (2, 1), (1, 1, 1)."""
    largest = k if largest is None else largest
    if k == 0:
        return [()]
    out: list[tuple[int, ...]] = []
    for first in range(min(k, largest), 0, -1):
        out.extend((first, *rest) for rest in integer_partitions(k - first, first))
    return out


def multiset_counts(connected: list[int]) -> list[int]:
    """How many multisets of connected objects have total degree n = 1, 2, … (the Euler transform):
    Σ a_n xⁿ = Π_k (1 − x^k)^(−c_k), computed as n a_n = Σ_{k≤n} s_k a_{n−k} with s_k = Σ_{j|k} j c_j.
    ``connected[k−1]`` is c_k. A diagram is the multiset of its connected components, so this counts all
    diagrams of a degree from the connected ones without listing them."""
    a = [1]
    s = [0] + [sum(j * connected[j - 1] for j in range(1, k + 1) if k % j == 0) for k in range(1, len(connected) + 1)]
    for n in range(1, len(connected) + 1):
        a.append(sum(s[k] * a[n - k] for k in range(1, n + 1)) // n)
    return a[1:]
