"""The tied field equals autograd's gradient of an independent torch potential: ∇_X V in the real
field, ∂V/∂X̄ (Wirtinger, X and X̄ independent) in the complex field, for every enumerated diagram up
to order 6 and for the non-polynomial families."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from calculus_helpers import (
    NONPOLY,
    C,
    N,
    autograd_field,
    diagram_cases,
    holomorphic_grad,
    random_x,
    rel_err,
    torch_conjugates_holomorphic_grads,
    torch_potential,
)

from archsearch.calculus import derive, field_value, random_weights
from archsearch.terms import Conic, Diagram

CASES = diagram_cases()


def test_enumerations_are_the_expected_size():
    by_group: dict[str, int] = {}
    for case_id, *_ in CASES:
        group = case_id.split(":")[0]
        by_group[group] = by_group.get(group, 0) + 1
    # connected real perm diagrams are contained in "all" (2+4+11 of 2+7+23), hence deduplicated away
    assert by_group == {
        "perm-real-connected": 17,
        "perm-real-all": 32 - 17,
        "perm-complex-all": 2 + 11 + 52,
        "unitary-real-all": 1 + 2 + 3,
        "unitary-complex-all": 1 + 2 + 3,
        "unitary-real-AB-symmetric": by_group["unitary-real-AB-symmetric"],
    }
    assert by_group["unitary-real-AB-symmetric"] > 10
    assert any(any(not e.oriented and e.letter for e in d.edges) for _, d, _, _ in CASES)  # symmetric letters


def test_torch_complex_convention_is_known():
    # V = Σ Y²: ∂V/∂Y = 2Y; the helper must recover it whatever PyTorch's convention
    y0 = torch.tensor([1.0 + 2.0j, -0.5 + 0.25j], dtype=torch.complex128)
    y = y0.clone().requires_grad_(True)
    assert torch.allclose(holomorphic_grad((y * y).sum(), y), 2 * y0)
    assert torch_conjugates_holomorphic_grads() in (True, False)
    # and a non-holomorphic sanity check: V = Σ Y Ȳ-free product Y·a, ∂/∂Y = a
    a = torch.tensor([0.3 - 1.0j, 2.0 + 0.5j], dtype=torch.complex128)
    y = y0.clone().requires_grad_(True)
    assert torch.allclose(holomorphic_grad((y * a).sum(), y), a)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_tied_field_is_the_gradient(case):
    _, d, field, _ = case
    rng = np.random.default_rng(abs(hash(d.key)) % 2**32)
    cplx = field == "complex"
    X = random_x(rng, complex=cplx)
    W = random_weights(d, C, rng, complex=cplx)
    F = field_value(derive(d, field), X, W)
    assert F.shape == (N, C)
    g = autograd_field(d, field, X, W)
    assert rel_err(F, g) < 1e-10, (d.key, field, rel_err(F, g))


@pytest.mark.parametrize("case", CASES[::7], ids=[c[0] for c in CASES[::7]])
def test_real_weights_in_complex_field_and_shapes(case):
    # the complex Wirtinger field also holds with real weights and a different N, C
    _, d, _, _ = case
    rng = np.random.default_rng(7)
    X = random_x(rng, n=d.n_vertices + 2, c=2, complex=True)
    W = random_weights(d, 2, rng)
    assert rel_err(field_value(derive(d, "complex"), X, W), autograd_field(d, "complex", X, W)) < 1e-10


@pytest.mark.parametrize("term", NONPOLY, ids=[t.key for t in NONPOLY])
def test_nonpolynomial_fields_are_gradients(term):
    rng = np.random.default_rng(3)
    c = 6 if isinstance(term, Conic) else 4  # divisible by the cone sizes 2 and 3
    X = random_x(rng, n=5, c=c)
    W = random_weights(term, c, rng)
    f = derive(term, "real")
    assert f.has_potential and f.is_gradient
    F = field_value(f, X, W)
    assert rel_err(F, autograd_field(term, "real", X, W)) < 1e-10
    # a user-chosen scale 1/√C_A goes through both
    if not isinstance(term, Conic):
        assert rel_err(field_value(f, X, W, scale=0.37), autograd_field(term, "real", X, W, scale=0.37)) < 1e-10


def test_soc_potential_gradient_in_every_region():
    # rows chosen inside the cone, inside the polar cone and outside both
    term = Conic("soc", 3)
    A = np.eye(3)
    X = np.array([[2.0, 0.5, -0.3], [-2.0, 0.4, 0.1], [0.1, 1.0, -2.0], [0.0, 0.0, 0.0], [1.0, 0.6, 0.8]])
    F = field_value(derive(term), X, {"A": A})
    assert rel_err(F, autograd_field(term, "real", X, {"A": A})) < 1e-12
    assert np.allclose(F[0], X[0]) and np.allclose(F[1], 0)


def test_single_branch_diagrams():
    # order-2 terms by hand: Tr(X W X*) → X W (complex), X W + X Wᵀ (real); 1ᵀ X W X* 1 → 1 1ᵀ X W
    rng = np.random.default_rng(0)
    X = random_x(rng, complex=True)
    W = random_weights(Diagram.from_key("0~0"), C, rng, complex=True)["W1"]
    assert np.allclose(field_value(derive(Diagram.from_key("0~0"), "complex"), X, {"W1": W}), X @ W)
    ones = np.ones((N, N))
    assert np.allclose(field_value(derive(Diagram.from_key("0~1"), "complex"), X, {"W1": W}), ones @ X @ W)
    Xr = X.real
    Wr = W.real
    assert np.allclose(field_value(derive(Diagram.from_key("0-0"), "real"), Xr, {"W1": Wr}), Xr @ (Wr + Wr.T))


@pytest.mark.parametrize("term", [t for t in NONPOLY if t.has_potential], ids=lambda t: t.key)
def test_each_familys_potential_is_the_reference_value(term):
    """A family's own V(X) (numpy, what invariance checks and reports read) equals the torch reference written
    here from the definitions, at the default scale 1/√C."""
    rng = np.random.default_rng(5)
    c = 6 if isinstance(term, Conic) else 4
    X = random_x(rng, n=5, c=c)
    W = random_weights(term, c, rng)
    want = torch_potential(term, torch.tensor(X), W).item()
    assert abs(term.potential(X, W) - want) <= 1e-12 * max(1.0, abs(want))
