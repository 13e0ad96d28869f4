"""A causal block is not a gradient, and nothing says it is: its Jacobian is not symmetric (the mask makes
the field non-conservative), ``is_gradient`` is False, and ``show``, the generated docstrings and the
help describe the mask actually applied — child ≤ parent along a spanning tree rooted at the output,
which is not "every summed index ≤ the output" once a path has two edges."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from archsearch.calculus import derive, random_weights
from archsearch.cli import cli
from archsearch.compiler import causal_reference, causal_tree, compile_term
from archsearch.describe import describe_term
from archsearch.families import Gated, Softmax, term_from_key
from archsearch.terms import Diagram


def _jacobian_asymmetry(term, causal: bool) -> float:
    """max|J − Jᵀ| / max|J| of the tied compiled block (autograd, float64, one head)."""
    block = compile_term(term, tied=True, causal=causal).build(3, rank=None, heads=1, dtype=torch.float64)
    torch.manual_seed(0)
    x = torch.randn(1, 5, 3, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda z: block(z), x).reshape(15, 15)
    return float((jac - jac.T).abs().max() / jac.abs().max())


@pytest.mark.parametrize("key", ["0-1.0-1", "0-1", "lse", "0-1.1-2", "glu2.1"])
def test_causal_jacobian_is_not_symmetric_and_not_claimed(key):
    term = term_from_key(key)
    assert _jacobian_asymmetry(term, causal=False) < 1e-10  # the tied non-causal block is ∇V
    assert _jacobian_asymmetry(term, causal=True) > 1e-2  # the mask breaks the symmetry
    assert compile_term(term, tied=True).is_gradient
    block = compile_term(term, tied=True, causal=True)
    assert not block.is_gradient
    desc = describe_term(term, causal=True)
    assert desc["is_gradient"] is False and "not the gradient" in desc["note"] + desc["causal_rule"]
    assert "exactly the gradient" not in desc["note"]
    assert "exactly the gradient" not in block.source and "(the gradient of V)" not in block.source


def test_per_token_blocks_are_unchanged_by_causal():
    for term in (Diagram.from_key("0-0"), Gated(3), term_from_key("mlp-gelu")):
        assert compile_term(term, tied=True, causal=True).is_gradient
        assert _jacobian_asymmetry(term, causal=True) < 1e-10


def test_tree_mask_is_not_every_index_below_the_output():
    """1ᵀ G₁ G₂ 1 opened at an end: the tree mask is k ≤ j, l ≤ k; "every summed index ≤ j" would
    allow l ≤ j with l > k. The blocks follow the tree (the reference is the masked einsum)."""
    d = Diagram.from_key("0-1.1-2")
    f = derive(d, "real", tied=True)
    rng = np.random.default_rng(0)
    X, W = rng.standard_normal((6, 3)), random_weights(f, 3, rng)
    tree = causal_reference(f, X, W)
    # every summed index ≤ the output, computed directly for this diagram's branches
    loose = np.zeros_like(X)
    for b in f.branches:
        masks = causal_tree(b).masks()
        root = causal_tree(b).root
        from archsearch.calculus.evaluate import TOKEN_LETTERS, branch_einsum, resolve_operands

        spec = branch_einsum(b)
        ins, out = spec.subscripts.split("->")
        subs, arrays = ins.split(","), resolve_operands(spec, X, W)
        for _, c in masks:  # each summed vertex ≤ the root (output) instead of ≤ its parent
            subs.append(TOKEN_LETTERS[root] + TOKEN_LETTERS[c])
            arrays.append(np.tril(np.ones((6, 6))))
        loose += np.einsum(",".join(subs) + "->" + out, *arrays)
    assert np.abs(tree - loose).max() > 0.1 * np.abs(tree).max()


def test_help_describes_the_tree_mask():
    from click.testing import CliRunner

    text = CliRunner().invoke(cli, ["show", "--help"], terminal_width=200).output
    assert "spanning tree" in " ".join(text.split()) and "not the gradient" in " ".join(text.split())
    assert "every summed token index ≤ the output)" not in text


def test_softmax_causal_note():
    desc = describe_term(Softmax(), causal=True)
    assert "keys k ≤ j" in desc["causal_rule"]
