"""enumeration/limits.py: the geometric extrapolation that refuses a request before the expensive orders,
and the refusal's wording."""

from __future__ import annotations

import pytest

from archsearch.enumeration.limits import MAX_TERMS, TooManyTerms, extrapolate


@pytest.mark.parametrize("counts,n,expected", [
    ([], 3, [1, 1, 1]),                 # nothing known: count(0) = 1, ratio 1
    ([4], 3, [16, 64, 256]),            # ratio 4/count(0)
    ([2, 7], 2, [24, 85]),              # ratio 3.5: 24.5, 85.75, each printed truncated
    ([5, 5], 2, [5, 5]),                # ratio 1
    ([9, 3], 2, [3, 3]),                # a shrinking sequence is not extrapolated downwards
    ([0, 0], 2, [1, 1]),                # never below 1, and no division by zero
    ([3, 0], 1, [1]),
    ([0, 4], 2, [16, 64]),              # count(d-1) = 0: the ratio is the last count itself
    ([2, 4, 11], 0, []),
])
def test_extrapolate(counts, n, expected):
    assert extrapolate(counts, n) == expected


def test_the_refusal_names_the_count_the_order_and_the_cap():
    est = TooManyTerms(123456, 10, MAX_TERMS, estimated=True)
    assert str(est) == ("the axioms admit about 123,456 or more terms up to order 10 (extrapolated from the lower "
                        "orders), more than the 20,000 archsearch lists at once; lower the maximum order or the "
                        "alphabet")
    listed = TooManyTerms(25000, 8, 20000, estimated=False)
    assert str(listed).startswith("the axioms admit 25,000 terms up to order 8, more than the 20,000 ")
    assert (listed.terms, listed.order, listed.cap, listed.estimated) == (25000, 8, 20000, False)
    assert isinstance(listed, ValueError)
