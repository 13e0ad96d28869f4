"""Published counts the enumeration is compared with (REFERENCES.md). Display and tests only: the
enumerator never reads these; tests check it against them and against the brute force."""

from __future__ import annotations

from dataclasses import dataclass

from archsearch.enumeration.axioms import Axioms


@dataclass(frozen=True)
class Reference:
    """A sequence indexed by d = 1, 2, … (order 2d) and where it comes from."""

    values: tuple[int, ...]
    source: str

    def at(self, d: int) -> int | None:
        return self.values[d - 1] if 1 <= d <= len(self.values) else None


_PARTITIONS = (1, 2, 3, 5, 7, 11, 15, 22)

TABLE: dict[tuple, Reference] = {
    # (left, field, weights, n_letters, symmetric, connected)
    ("perm", "real", "free", 0, False, True): Reference((2, 4, 11, 30, 95, 328), "OEIS A007719"),
    ("perm", "real", "free", 0, False, False): Reference((2, 7, 23, 79, 274, 1003), "OEIS A007717"),
    ("perm", "complex", "free", 0, False, True): Reference((2, 8, 32, 167, 928, 5924), "inv. Euler of A052171"),
    ("perm", "complex", "free", 0, False, False): Reference((2, 11, 52, 296, 1724, 11060), "OEIS A052171"),
    ("perm", "real", "alphabet", 1, False, False): Reference((2, 11, 52, 296, 1724, 11060), "OEIS A052171"),
    ("perm", "real", "alphabet", 1, False, True): Reference((2, 8, 32, 167, 928, 5924), "inv. Euler of A052171"),
    ("perm", "real", "alphabet", 1, True, False): Reference((2, 7, 23, 79, 274, 1003), "OEIS A007717"),
    ("perm", "real", "alphabet", 1, True, True): Reference((2, 4, 11, 30, 95, 328), "OEIS A007719"),
    ("perm", "real", "labelled", 0, False, False): Reference((2, 15, 203, 4140), "Bell(2d), OEIS A000110"),
    ("perm", "complex", "labelled", 0, False, False): Reference((2, 15, 203, 4140), "Bell(2d), OEIS A000110"),
    ("unitary", "real", "free", 0, False, True): Reference((1,) * 8, "one trace per order"),
    ("unitary", "complex", "free", 0, False, True): Reference((1,) * 8, "one trace per order"),
    ("unitary", "real", "free", 0, False, False): Reference(_PARTITIONS, "partitions, OEIS A000041"),
    ("unitary", "complex", "free", 0, False, False): Reference(_PARTITIONS, "partitions, OEIS A000041"),
    ("unitary", "real", "alphabet", 2, False, True): Reference((2, 3, 4, 6, 8, 14), "necklaces, OEIS A000031"),
    ("unitary", "complex", "alphabet", 2, False, True): Reference((2, 3, 4, 6, 8, 14), "necklaces, OEIS A000031"),
    ("unitary", "real", "alphabet", 2, True, True): Reference((2, 3, 4, 6, 8, 13), "bracelets, OEIS A000029"),
}


def reference_for(axioms: Axioms, connected: bool | None = None) -> Reference | None:
    """The published sequence for these axioms' diagram counts, if there is one."""
    connected = axioms.connected if connected is None else connected
    n_letters = len(axioms.alphabet)
    symmetric = bool(axioms.symmetric) and set(axioms.symmetric) == set(axioms.alphabet)
    if axioms.symmetric and not symmetric:
        return None
    key = (axioms.left, axioms.field, axioms.weights, n_letters, symmetric and axioms.field == "real", connected)
    return TABLE.get(key)
