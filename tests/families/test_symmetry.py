"""Every family's declared symmetry, checked numerically (e3nn style): declared → holds to 1e-10 in
float64; not declared → fails by more than 1e-3 (the negative control). "Has a potential" is checked
by the symmetry of the tied field's Jacobian. The table is the one printed in docs/concepts.md."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from archsearch.testing import AXIOMS, FAILS, HOLDS, declared, deviation, jacobian_asymmetry, representatives

ROOT = Path(__file__).resolve().parents[2]
TERMS = representatives()
CELLS = [(t, a) for t in TERMS for a in AXIOMS]


@pytest.mark.parametrize(("term", "axiom"), CELLS, ids=[f"{t.key}-{a}" for t, a in CELLS])
def test_declaration_holds_or_fails_clearly(term, axiom):
    dev = deviation(term, axiom, np.random.default_rng(7), trials=4)
    if declared(term, axiom):
        assert dev <= HOLDS, f"{term.key} declares {axiom} but deviates by {dev:.3g}"
    else:
        assert dev > FAILS, f"{term.key} does not declare {axiom} but deviates only by {dev:.3g}"


def test_every_family_and_function_is_represented():
    from archsearch.families import ACTIVATIONS, EDGE_KERNELS, FAMILIES

    kinds = {t.kind for t in TERMS}
    assert kinds == {cls.kind for cls in FAMILIES}
    keys = {t.key for t in TERMS}
    named = {f"f-{f}" for f in EDGE_KERNELS} | {f"mlp-{f}" for f in ACTIVATIONS} | {f"glu-{f}" for f in ACTIVATIONS}
    assert named <= keys
    # each left group is declared by some diagram: U(N) traces, O(N)-only words, S_N-only diagrams
    assert {t.symmetry.left for t in TERMS if t.kind == "diagram"} == {"perm", "orthogonal", "unitary"}


@pytest.mark.parametrize("term", TERMS, ids=[t.key for t in TERMS])
def test_potential_declaration(term):
    asym = jacobian_asymmetry(term)
    if term.has_potential:
        assert asym < 1e-6, f"{term.key}: Jacobian asymmetry {asym:.3g} for a declared gradient field"
    else:
        assert asym > 1e-2, f"{term.key}: declared without a potential but its Jacobian is symmetric ({asym:.3g})"


def test_docs_print_the_table():
    """docs/concepts.md holds the family × axiom table as the checks produce it (declared ✓ / ✗)."""
    text = (ROOT / "docs" / "concepts.md").read_text()
    for term in TERMS:
        marks = " | ".join("✓" if declared(term, a) else "✗" for a in AXIOMS)
        potential = "✓" if term.has_potential else "✗"
        assert f"| `{term.key}` | {marks} | {potential} |" in text, term.key
