"""The families the seeds name and the tool lacked: activated MLPs as gradient fields (ReLU², GELU,
SiLU), softmax at a temperature (the free energy), the cross-token products of right = none, and the
activated GLU (no potential). Each: field = autograd of the potential (torch, written here
independently), compiled block = float64 reference (tied and untied, causal), a name in ``show``."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from archsearch.calculus import derive, field_value, random_weights
from archsearch.compiler import compile_term
from archsearch.describe import describe_term
from archsearch.families import ACTIVATIONS, Activation, Gated, Glu, Softmax
from archsearch.testing import jacobian_asymmetry

N, C = 7, 4
POTENTIAL_TERMS = [Activation(f) for f in ACTIVATIONS] + [Softmax(0.5), Softmax(3.0)] + [
    Gated(p) for p in [(1,), (2, 1), (1, 1, 1), (3, 1), (2, 2), (2, 1, 1), (5,)]]
ALL_TERMS = POTENTIAL_TERMS + [Glu(f) for f in ACTIVATIONS]


def torch_potential(term, x: torch.Tensor, w: dict) -> torch.Tensor:
    """V(X) in torch, from the definitions (not from the fields' branches)."""
    if term.kind == "activation":
        return term.function.potential_torch(x @ w["A"]).sum()
    if term.kind == "softmax":
        s = x @ w["W1"] @ x.T / math.sqrt(x.shape[1])
        return term.temperature * torch.logsumexp(s / term.temperature, dim=1).sum()
    total = torch.ones(x.shape[1], dtype=x.dtype)
    for ms in term.vertices:  # gated: Σ_c Π_v Σ_j Π_{m∈v} (X W_m)_jc
        prod = torch.ones_like(x)
        for m in ms:
            prod = prod * (x @ w[f"W{m + 1}"])
        total = total * prod.sum(0)
    return total.sum()


@pytest.mark.parametrize("term", POTENTIAL_TERMS, ids=lambda t: t.key)
def test_field_is_the_autograd_gradient(term):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, C))
    W = random_weights(term, C, rng)
    x = torch.tensor(X, requires_grad=True)
    (grad,) = torch.autograd.grad(torch_potential(term, x, {k: torch.tensor(v) for k, v in W.items()}), x)
    field = field_value(derive(term), X, W)
    assert np.abs(field - grad.numpy()).max() <= 1e-10 * max(1.0, np.abs(grad.numpy()).max())
    assert abs(term.potential(X, W) - torch_potential(term, torch.tensor(X), {
        k: torch.tensor(v) for k, v in W.items()}).item()) <= 1e-10 * max(1.0, abs(term.potential(X, W)))


def test_activation_potentials_are_antiderivatives():
    """φ′ = σ for every activation (closed forms and the quadratures), by central differences."""
    y = np.linspace(-6, 6, 61)
    for f in ACTIVATIONS.values():
        h = 1e-5
        assert np.abs((f.potential(y + h) - f.potential(y - h)) / (2 * h) - f.sigma(y)).max() < 1e-7, f.name
        assert abs(f.potential(np.zeros(1))[0]) < 1e-15


def test_glu_has_no_potential():
    for f in ACTIVATIONS:
        term = Glu(f)
        assert not term.has_potential and not derive(term).is_gradient
        assert jacobian_asymmetry(term) > 0.1
        with pytest.raises(ValueError, match="no potential"):
            term.potential(np.ones((3, 4)), random_weights(term, 4, np.random.default_rng(0)))


def _reference(term, tied: bool, causal: bool, block, x: torch.Tensor) -> np.ndarray:
    """Σ_h of the field per batch element, float64; causal: the field of the prefix X[:j+1] at token j."""
    eff = {k: v.detach().numpy() for k, v in block.effective_weights().items()}
    heads = next(iter(eff.values())).shape[0]
    fld = derive(term, "real", tied)
    X = x.numpy()
    out = np.zeros_like(X)
    for b in range(X.shape[0]):
        for h in range(heads):
            w = {k: v[h] for k, v in eff.items()}
            if causal and term.mixes_tokens:
                for j in range(X.shape[1]):
                    out[b, j] += field_value(fld, X[b, : j + 1], w, getattr(block, "scale", None))[j]
            else:
                out[b] += field_value(fld, X[b], w, getattr(block, "scale", None))
    return out


# causal softmax (τ = 1 and 0.5) is checked against its masked reference in tests/compiler/test_families.py
BLOCK_CASES = [(t, causal) for t in ALL_TERMS for causal in (False, True) if not (causal and t.kind == "softmax")]


@pytest.mark.parametrize("tied", [True, False], ids=["tied", "untied"])
@pytest.mark.parametrize(("term", "causal"), BLOCK_CASES, ids=[f"{t.key}-{'causal' if c else 'full'}"
                                                               for t, c in BLOCK_CASES])
def test_compiled_block_matches_reference(term, tied, causal):
    block = compile_term(term, tied=tied, causal=causal).build(C, rank=None, heads=2, dtype=torch.float64)
    x = torch.randn(2, N, C, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        y = block(x).numpy()
    ref = _reference(term, tied, causal, block, x)
    assert np.abs(y - ref).max() <= 1e-10 * max(1.0, np.abs(ref).max())


def test_gated_causal_is_linear_in_n():
    """The pooled sums are prefix sums: the block's source has a cumsum and no N × N matrix."""
    source = compile_term(Gated((2, 1)), tied=False, causal=True).source
    assert "torch.cumsum" in source and "matmul" not in source


@pytest.mark.parametrize(("term", "name"), [
    (Activation("relu2"), "ReLU² MLP"), (Activation("gelu"), "GELU MLP"), (Activation("silu"), "SiLU MLP"),
    (Glu("silu"), "SwiGLU (no potential)"), (Glu("gelu"), "GEGLU (no potential)"),
    (Softmax(0.5), "softmax attention (temperature 0.5)"), (Gated(1), "bias (constant field)"),
    (Gated((2, 1)), "gated pooling mixer"),
])
def test_show_names_them(term, name):
    desc = describe_term(term)
    assert desc["name"] == name
    assert desc["has_potential"] is term.has_potential
    assert desc["symmetry"]["left"] == "perm" and desc["symmetry"]["centralizer"] is (term.kind == "softmax")
