"""Adding a scalar function is one entry in archsearch/families/functions.py: with only that entry (here
added by monkeypatch), a grammar names it, enumerate lists it, show describes it, the block compiles
and matches the reference, its field is the autograd gradient and its declared symmetry holds."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from archsearch.calculus import derive, field_value, random_weights
from archsearch.compiler import compile_term
from archsearch.describe import describe_grammar, describe_term
from archsearch.families import ACTIVATIONS, EDGE_KERNELS, Activation, Entrywise, ScalarFunction, term_from_key
from archsearch.grammar import parse_grammar
from archsearch.testing import AXIOMS, declared, deviation

TANH = ScalarFunction("tanh", np.tanh, "torch.tanh({})", ("tanh", "tanh", r"\tanh"),
                      ("logcosh", "logcosh", r"\log\cosh"))  # φ by quadrature: nothing else given
# (a quadratic φ would not do as an example: Σ_jk S_jk² = Tr(S Sᵀ) is O(N)-invariant, more than the
# entrywise family declares; the checks would report the undeclared symmetry)
CUBE = ScalarFunction("cube", np.square, "({}).square()", ("square", "square", "(\\cdot)^2"),
                      ("s³/3", "s^3/3", "s^3/3"), phi=lambda s: s ** 3 / 3, phi_torch="({}) ** 3 / 3")


@pytest.fixture
def tables(monkeypatch):
    monkeypatch.setitem(ACTIVATIONS, "tanh", TANH)
    monkeypatch.setitem(EDGE_KERNELS, "cube", CUBE)


def test_one_entry_is_enough(tables):
    grammar = parse_grammar('[axioms]\nleft = "perm"\nright = "none"\nmax_order = 2\n'
                            '[families]\nactivation = ["tanh"]\nglu = ["tanh"]\nentrywise = ["cube"]\n')
    keys = [t["id"] for t in describe_grammar(grammar)["terms"]]
    assert {"mlp-tanh", "glu-tanh", "f-cube"} <= set(keys)
    for key in ("mlp-tanh", "glu-tanh", "f-cube"):
        term = term_from_key(key)
        assert describe_term(term)["field"]
        for axiom in AXIOMS:
            dev = deviation(term, axiom)
            assert dev <= 1e-10 if declared(term, axiom) else dev > 1e-3
        for tied in (True, False):
            block = compile_term(term, tied=tied).build(4, rank=None, heads=1, dtype=torch.float64)
            x = torch.randn(1, 5, 4, dtype=torch.float64)
            eff = {k: v[0].detach().numpy() for k, v in block.effective_weights().items()}
            ref = field_value(derive(term, "real", tied), x[0].numpy(), eff, getattr(block, "scale", None))
            assert np.abs(block(x)[0].detach().numpy() - ref).max() < 1e-10


def test_the_new_activation_is_a_gradient(tables):
    term = Activation("tanh")
    rng = np.random.default_rng(0)
    X, W = rng.standard_normal((5, 4)), random_weights(term, 4, rng)
    x = torch.tensor(X, requires_grad=True)
    (g,) = torch.autograd.grad(TANH.potential_torch(x @ torch.tensor(W["A"])).sum(), x)
    assert np.abs(field_value(derive(term), X, W) - g.numpy()).max() < 1e-10
    term = Entrywise("cube")
    assert np.isclose(term.potential(X, {"W1": W["A"]}), np.sum((X @ W["A"] @ X.T / 2) ** 3) / 3)


def test_without_the_entry_it_is_unknown():
    with pytest.raises(ValueError, match="unknown activation 'tanh'"):
        term_from_key("mlp-tanh")
