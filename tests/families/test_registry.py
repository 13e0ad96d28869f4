"""The registry: every family parses its own keys, round-trips them, names itself in a grammar, and the
admissibility rule rejects exactly the families whose declared symmetry misses an axiom."""

from __future__ import annotations

import pytest

from archsearch.enumeration.axioms import Axioms
from archsearch.families import (
    FAMILIES,
    Activation,
    Conic,
    Diagram,
    Entrywise,
    Gated,
    Glu,
    InadmissibleFamily,
    Softmax,
    admission_errors,
    check_admissible,
    named_families,
    term_from_key,
)
from archsearch.grammar.model import Families
from archsearch.testing import representatives


@pytest.mark.parametrize("term", representatives(), ids=lambda t: t.key)
def test_keys_round_trip(term):
    assert term_from_key(term.key) == term
    assert term_from_key(term.key).key == term.key


def test_keys_of_each_family():
    assert term_from_key("lse") == Softmax() and term_from_key("lse@1.0") == Softmax()
    assert term_from_key("lse@0.5") == Softmax(0.5) and Softmax(0.5).key == "lse@0.5"
    assert term_from_key("f-cosh") == Entrywise("cosh")
    assert term_from_key("mlp-relu2") == Activation("relu2")
    assert term_from_key("glu-silu") == Glu("silu")
    assert term_from_key("soc3") == Conic("soc", 3) and term_from_key("relu") == Conic("relu")
    assert term_from_key("glu3") == Gated(3) == Gated((3,))
    assert term_from_key("glu1.2") == Gated((2, 1)) and Gated((1, 2)).key == "glu2.1"
    assert term_from_key("0-1.0-1") == Diagram.from_key("0-1.0-1")


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("lse@abc", "temperature after '@' must be a number"),
        ("lse@0", "temperature must be a number in"),
        ("lse@inf", "temperature must be a number in"),
        ("f-sinh", "unknown entrywise function 'sinh'"),
        ("mlp-swish", "unknown activation 'swish'"),
        ("glu-swish", "unknown GLU activation"),
        ("soc1", "cone size must be between 2"),
        ("soc100000000000", "too large"),
        ("glu2", "diagrams 0-0"),
        ("glu1.1", "diagrams 0-0"),
        ("glu9.9", "up to order 16"),
        ("glu100000000", "parts go up to 16"),
        ("x" * 300, "too long"),
        ("0-1." * 17 + "0-1", "more than 16 edges"),
        ("", "non-empty"),
        ("0-1.A0-1", "mixes free edges"),
    ],
)
def test_bad_keys(key, message):
    with pytest.raises(ValueError, match=message):
        term_from_key(key)


def test_every_family_is_registered_once():
    kinds = [cls.kind for cls in FAMILIES]
    assert len(kinds) == len(set(kinds)) and FAMILIES[-1] is Diagram  # diagram keys are the fallback


def test_named_families_read_their_own_keys():
    fam = Families(softmax=True, temperature=0.5, entrywise=("exp",), activation=("gelu", "silu"),
                   glu=("silu",), conic=("relu", "soc"), cone_size=3)
    named = named_families(fam)
    assert [(n.term.key, n.key, n.index) for n in named] == [
        ("lse@0.5", "softmax", None), ("f-exp", "entrywise", 0), ("mlp-gelu", "activation", 0),
        ("mlp-silu", "activation", 1), ("glu-silu", "glu", 0), ("relu", "conic", 0), ("soc3", "conic", 1),
    ]


def test_admissibility_rule():
    fam = Families(softmax=True, activation=("gelu",), conic=("relu",))
    assert admission_errors(Axioms(left="perm", right="none", max_order=2), fam) == []
    errors = admission_errors(Axioms(left="unitary", max_order=2), fam)
    assert [(e.named.term.key, e.axiom) for e in errors] == [("lse", "left"), ("mlp-gelu", "left"), ("relu", "left")]
    assert errors[0].message == ("family 'lse' is not invariant under left = unitary (it is only S_N-invariant); "
                                 "use left = perm")
    errors = admission_errors(Axioms(left="perm", right="centralizer", max_order=2), fam)
    assert [(e.named.term.key, e.axiom) for e in errors] == [("mlp-gelu", "right"), ("relu", "right")]
    assert "does not respect the right centralizer action" in errors[0].message
    with pytest.raises(InadmissibleFamily, match="field"):
        check_admissible(Axioms(field="complex", max_order=2), Families(softmax=True))
