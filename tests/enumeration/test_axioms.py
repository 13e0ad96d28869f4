"""archsearch/enumeration/axioms.py: every refusal with its message, the order ranges and reversibility."""

from __future__ import annotations

import re

import pytest

from archsearch.enumeration.axioms import MAX_ORDER, Axioms, is_letter
from archsearch.enumeration.limits import MAX_ALPHABET

LETTERS = tuple(chr(ord("A") + i) for i in range(MAX_ALPHABET))

REFUSED = [
    ({"left": "cyclic"}, "left must be one of perm, orthogonal, unitary, not 'cyclic'"),
    ({"right": "all"}, "right must be one of centralizer, none, not 'all'"),
    ({"field": "quaternion"}, "field must be one of real, complex, not 'quaternion'"),
    ({"weights": "tied"}, "weights must be one of free, labelled, alphabet, not 'tied'"),
    ({"max_order": 4.0}, "orders must be integers"),
    ({"min_order": "2"}, "orders must be integers"),
    ({"min_order": 0}, "need 1 <= min_order <= max_order, got 0..4"),
    ({"min_order": 5, "max_order": 4}, "need 1 <= min_order <= max_order, got 5..4"),
    ({"max_order": MAX_ORDER + 1}, f"max_order {MAX_ORDER + 1} is above the supported {MAX_ORDER}"),
    ({"left": "orthogonal", "field": "complex"},
     'left = "orthogonal" is the real group O(N); for the complex field use left = "unitary"'),
    ({"right": "none", "left": "unitary"}, 'right = "none" needs left = "perm" and field = "real": the products of '
     "projections X W_m it adds are only S_N-invariant, and real"),
    ({"right": "none", "field": "complex", "left": "unitary"}, 'right = "none" needs left = "perm"'),
    ({"right": "none", "field": "complex"}, 'right = "none" needs left = "perm" and field = "real"'),
    ({"weights": "alphabet"}, "weights = 'alphabet' needs at least one letter"),
    ({"weights": "alphabet", "alphabet": (*LETTERS, "Zz")},
     f"an alphabet has at most {MAX_ALPHABET} letters, not {MAX_ALPHABET + 1} (the terms grow like letters^order)"),
    ({"weights": "alphabet", "alphabet": ("A", "b")},
     "alphabet letter 'b' must be an uppercase letter followed by lowercase letters"),
    ({"weights": "alphabet", "alphabet": ("A", "A")}, "alphabet letters must be distinct"),
    ({"weights": "alphabet", "alphabet": ("A",), "symmetric": frozenset({"B", "C"})},
     "symmetric letters ['B', 'C'] are not in the alphabet"),
    ({"alphabet": ("A",)}, "alphabet/symmetric letters need weights = 'alphabet'"),
    ({"symmetric": frozenset({"A"})}, "alphabet/symmetric letters need weights = 'alphabet'"),
]


@pytest.mark.parametrize("kwargs,message", REFUSED, ids=[str(i) for i in range(len(REFUSED))])
def test_refusals_name_what_is_wrong(kwargs, message):
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        Axioms(**kwargs)


@pytest.mark.parametrize("kwargs", [
    {}, {"min_order": 1, "max_order": 1}, {"max_order": MAX_ORDER}, {"min_order": 4, "max_order": 4},
    {"left": "orthogonal"}, {"left": "unitary", "field": "complex"}, {"right": "none"},
    {"weights": "alphabet", "alphabet": LETTERS}, {"weights": "alphabet", "alphabet": ("A", "Wq"),
                                                   "symmetric": frozenset({"Wq"})},
    {"weights": "labelled"},
])
def test_the_limits_themselves_are_admitted(kwargs):
    Axioms(**kwargs)


@pytest.mark.parametrize("lo,hi,orders", [(1, 1, []), (1, 4, [2, 4]), (2, 4, [2, 4]), (3, 6, [4, 6]),
                                          (4, 5, [4]), (5, 5, []), (2, 16, list(range(2, 17, 2)))])
def test_polynomial_orders_are_the_even_orders_in_range(lo, hi, orders):
    assert list(Axioms(min_order=lo, max_order=hi).polynomial_orders) == orders


def test_gated_orders_are_every_order_but_two_and_only_without_the_centralizer():
    assert Axioms(min_order=1, max_order=5, right="none").gated_orders == (1, 3, 4, 5)
    assert Axioms(min_order=2, max_order=4, right="none").gated_orders == (3, 4)
    assert Axioms(min_order=3, max_order=3, right="none").gated_orders == (3,)
    assert Axioms(min_order=1, max_order=5).gated_orders == ()


def test_reversible_letters():
    assert Axioms().reversible("W") and Axioms(left="orthogonal").reversible("A")
    assert not Axioms(field="complex").reversible("W")
    assert not Axioms(field="complex", weights="alphabet", alphabet=("A",), symmetric=frozenset("A")).reversible("A")
    ab = Axioms(weights="alphabet", alphabet=("A", "B"), symmetric=frozenset("A"))
    assert ab.reversible("A") and not ab.reversible("B")
    assert not Axioms(weights="labelled").reversible("W")


@pytest.mark.parametrize("name,ok", [("A", True), ("Wq", True), ("Abc", True), ("", False), ("a", False),
                                     ("AB", False), ("A1", False), ("Ä", False), ("Aé", False), ("A_", False)])
def test_letters(name, ok):
    assert is_letter(name) is ok
