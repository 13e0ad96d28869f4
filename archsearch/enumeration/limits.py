"""How much an enumeration may cost: a cap on the terms listed at once, estimated before the work.

The number of terms grows geometrically with the order (an alphabet of a letters: about a^d words of d
edges). The next order's count is extrapolated from the last two (count(d) · count(d)/count(d−1), with
count(0) = 1), so a request far past the cap is refused after the cheap low orders, not after minutes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

MAX_TERMS = 20_000  # terms listed at once (the order-8 words over 8 letters are 456,686: 2.6 min, 0.5 GB)
MAX_ALPHABET = 26  # letters in an alphabet

#: progress(stage, done, total): stage "enumerate" counts orders, "cost" counts terms
Progress = Callable[[str, int, int], None]


class TooManyTerms(ValueError):
    """The axioms admit more terms than the cap (``estimated`` says whether the count is an extrapolation)."""

    def __init__(self, terms: int, order: int, cap: int, estimated: bool) -> None:
        self.terms, self.order, self.cap, self.estimated = terms, order, cap, estimated
        how = (f"about {terms:,} or more terms up to order {order} (extrapolated from the lower orders)" if estimated
               else f"{terms:,} terms up to order {order}")
        super().__init__(f"the axioms admit {how}, more than the {cap:,} archsearch lists at once; lower the "
                         "maximum order or the alphabet")


def extrapolate(counts: Sequence[int], n: int) -> list[int]:
    """The next ``n`` counts after ``counts`` (those of degrees 1, 2, …), each the previous one times the
    last growth ratio count(d)/count(d−1) (count(0) = 1; never below 1)."""
    last = counts[-1] if counts else 1
    before = counts[-2] if len(counts) > 1 else 1
    ratio = max(1.0, last / before) if before else max(1.0, float(last))
    out, current = [], float(max(last, 1))
    for _ in range(n):
        current *= ratio
        out.append(int(current))
    return out
