"""Canonical forms: keys are unchanged under random relabelling of vertices and edges, and under
reversal of reversible edges; they change when the diagram changes."""

from __future__ import annotations

import random

import pytest

from archsearch.enumeration.axioms import Axioms
from archsearch.enumeration.diagrams import all_diagrams
from archsearch.terms import Diagram, Edge, term_from_key


def _scramble(g: Diagram, rng: random.Random) -> list[Edge]:
    verts = list(range(g.n_vertices))
    image = rng.sample(range(50, 50 + 3 * len(verts)), len(verts))
    edges = []
    for e in g.edges:
        a, b = image[e.src], image[e.dst]
        if not e.oriented and rng.random() < 0.5:
            a, b = b, a
        edges.append(Edge(e.letter, min(a, b), max(a, b), False) if not e.oriented else Edge(e.letter, a, b, True))
    rng.shuffle(edges)
    return edges


@pytest.mark.parametrize(
    "ax",
    [Axioms(), Axioms(field="complex"), Axioms(weights="alphabet", alphabet=("A", "B"), symmetric=frozenset("A"))],
    ids=["real-free", "complex-free", "alphabet-mixed"],
)
def test_keys_invariant_under_relabelling(ax):
    rng = random.Random(0)
    for d in (1, 2, 3):
        for g in all_diagrams(ax, d):
            for _ in range(5):
                assert Diagram.make(_scramble(g, rng)).key == g.key
            assert Diagram.from_key(g.key) == g
            assert term_from_key(g.key) == g


def test_distinct_diagrams_get_distinct_keys():
    trace = Diagram.from_key("0~1.1~0")  # Tr(G1 G2)
    parallel = Diagram.from_key("0~1.0~1")  # Σ G1_jk G2_jk
    assert trace.key != parallel.key
    assert trace.is_trace and not parallel.is_trace
    # in the real field with free weights the two are one family (reversal of an edge)
    assert Diagram.from_key("0-1.1-0") == Diagram.from_key("0-1.0-1")


@pytest.mark.parametrize("bad", ["", "01", "0-", "0~1~2", "a0-1", "0-1.A0-1", "0-%"])
def test_bad_keys_raise(bad):
    with pytest.raises(ValueError):
        Diagram.from_key(bad)


def test_printing_examples():
    assert Diagram.from_key("0~1.1~0").unicode() == "Tr(X W₁ X* X W₂ X*)"
    assert Diagram.from_key("0~1.1~0").index_form() == "Σ_jk (G₁)_jk (G₂)_kj"
    assert Diagram.from_key("0-1.1-2").short() == "1ᵀ G₁ G₂ 1"
    assert Diagram.from_key("0-0").short() == "Tr(G₁)"
    assert "\\operatorname{Tr}" in Diagram.from_key("0-0").latex()
    assert Diagram.from_key("0-0.1-2").short() == "Tr(G₁) · 1ᵀ G₂ 1"


def test_printed_letters_follow_the_rep_walk():
    """Names are read off rep (the walk may reorder edges): the print is the evaluated diagram."""
    d = Diagram.from_key("A0-1.B2~1")
    letters = [e.letter for e in d.rep]
    assert d.unicode() == f"1ᵀ X {letters[0]} X* X {letters[1]} X* 1" or "X̄" in d.unicode()
    assert [d.weight_name(i) for i in range(d.degree)] == letters


def test_edge_and_canonical_form_errors():
    from archsearch.families.canonical import canonical_edges

    with pytest.raises(ValueError, match=r"^unoriented edges are stored with src <= dst$"):
        Edge("", 2, 1, False)
    assert Edge("", 2, 1, True).src == 2  # an oriented edge keeps its direction
    with pytest.raises(ValueError, match=r"^a diagram needs at least one edge$"):
        canonical_edges([])
