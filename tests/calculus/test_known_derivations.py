"""Known derivations (REFERENCES.md): the Wirtinger identity for Tr(X A X* X B X*), the dropped
softmax branch, and why CoLU has no potential while the second-order-cone projection has one."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from calculus_helpers import C, N, autograd_field, random_x, rel_err, torch_colu, torch_soc

from archsearch.calculus import Field, derive, field_value, potential, random_weights
from archsearch.families.conic import COLU_EPS
from archsearch.terms import Conic, Diagram, Gated, Softmax


def cone_projection(projection: str, y: np.ndarray, size: int = 4) -> np.ndarray:
    return Conic(projection, size).project(y)


def row_softmax(s: np.ndarray) -> np.ndarray:
    return Softmax().matrix(s)


@pytest.mark.parametrize("key", ["0~1.1~0", "A0~1.B1~0"])
def test_wirtinger_identity_trace_of_two_edges(key):
    # ∂/∂X* Tr(X A X* X B X*) = X B X* X A + X A X* X B
    rng = np.random.default_rng(11)
    X = random_x(rng, complex=True)
    A = rng.standard_normal((C, C)) + 1j * rng.standard_normal((C, C))
    B = rng.standard_normal((C, C)) + 1j * rng.standard_normal((C, C))
    d = Diagram.from_key(key)
    # name the weights so that V = Tr(X A X* X B X*): the rep edge 0 → 1 carries A
    first, second = d.rep[0].letter or "W1", d.rep[1].letter or "W2"
    W = {first: A, second: B}
    Xs = X.conj().T
    assert np.isclose(potential(d, X, W), np.trace(X @ A @ Xs @ X @ B @ Xs))
    expected = X @ B @ Xs @ X @ A + X @ A @ Xs @ X @ B
    assert rel_err(field_value(derive(d, "complex"), X, W), expected) < 1e-12


def test_softmax_paper_branch_is_not_the_gradient():
    rng = np.random.default_rng(5)
    c = 4
    X = random_x(rng, n=6, c=c)
    W = {"W1": rng.standard_normal((c, c))}  # random, non-symmetric
    assert np.abs(W["W1"] - W["W1"].T).max() > 0.1
    full = derive(Softmax(), "real")
    assert [b.end for b in full.branches] == ["src", "dst"]
    assert "paper" in full.note and "Energy Transformer" in full.note and "Hoover" in full.note
    paper = Field(full.term, full.field, full.tied, full.branches[:1], full.has_potential, "paper: P X Wᵀ only")
    g = autograd_field(Softmax(), "real", X, W)
    # the one-branch field is P X Wᵀ/√C_A
    s = X @ W["W1"] @ X.T / np.sqrt(c)
    assert np.allclose(field_value(paper, X, W), row_softmax(s) @ X @ W["W1"].T / np.sqrt(c))
    assert rel_err(field_value(paper, X, W), g) > 1e-3
    assert rel_err(field_value(full, X, W), g) < 1e-10
    # even with a symmetric W the dropped branch matters (Pᵀ ≠ P: rows are normalised, not columns),
    # not even up to the factor 2
    Ws = {"W1": W["W1"] + W["W1"].T}
    gs = autograd_field(Softmax(), "real", X, Ws)
    assert rel_err(field_value(full, X, Ws), gs) < 1e-10
    assert rel_err(2 * field_value(paper, X, Ws), gs) > 1e-3


def _cone_point(rng: np.random.Generator, size: int) -> np.ndarray:
    """A point strictly inside CoLU's clip region 0 < t < ‖u‖ (also outside the cone and its polar)."""
    u = rng.standard_normal(size - 1)
    return np.concatenate([[0.4 * np.linalg.norm(u)], u])


def test_colu_jacobian_is_not_symmetric_soc_jacobian_is():
    rng = np.random.default_rng(2)
    for size in (3, 4):
        y = torch.tensor(_cone_point(rng, size))
        jc = torch.autograd.functional.jacobian(lambda z, s=size: torch_colu(z, s), y)
        js = torch.autograd.functional.jacobian(lambda z, s=size: torch_soc(z, s), y)
        assert (jc - jc.T).abs().max() > 1e-3
        assert (js - js.T).abs().max() < 1e-10
    assert derive(Conic("colu", 4)).has_potential is False
    assert not derive(Conic("colu", 4)).is_gradient
    note = derive(Conic("colu", 4)).note
    assert "skew" in note and "not symmetric" in note and "no potential" in note
    assert derive(Conic("soc", 4)).has_potential is True


def test_numpy_projections_match_torch_and_moreau():
    rng = np.random.default_rng(9)
    y = rng.standard_normal((20, 8)) * 2
    for size in (2, 4):
        p = cone_projection("soc", y, size)
        assert np.allclose(p, torch_soc(torch.tensor(y), size).numpy(), atol=1e-14)
        assert np.allclose(cone_projection("colu", y, size), torch_colu(torch.tensor(y), size).numpy(), atol=1e-14)
        # Moreau: y = π_K(y) + π_K°(y) with π_K(y) ⟂ (y - π_K(y)), both in their cones; π idempotent
        g, r = p.reshape(20, -1, size), (y - p).reshape(20, -1, size)
        assert np.all(np.linalg.norm(g[..., 1:], axis=-1) <= g[..., 0] + 1e-12)
        assert np.all(np.linalg.norm(r[..., 1:], axis=-1) <= -r[..., 0] + 1e-12)
        assert np.abs((g * r).sum(-1)).max() < 1e-12
        assert np.allclose(cone_projection("soc", p, size), p)
    assert np.allclose(cone_projection("relu", y), np.maximum(y, 0))
    assert COLU_EPS > 0


def test_colu_field_and_errors():
    rng = np.random.default_rng(1)
    X = random_x(rng, n=5, c=8)
    A = rng.standard_normal((8, 8))
    term = Conic("colu", 4)
    F = field_value(derive(term), X, {"A": A})
    assert np.allclose(F, cone_projection("colu", X @ A, 4) @ A.T)
    with pytest.raises(ValueError, match="no potential"):
        potential(term, X, {"A": A})
    with pytest.raises(ValueError, match="divisible"):
        field_value(derive(Conic("soc", 4)), random_x(rng, n=5, c=6), {"A": np.eye(6)})
    with pytest.raises(ValueError, match="divisible"):
        field_value(derive(term), random_x(rng, n=5, c=6), {"A": np.eye(6)})


@pytest.mark.parametrize("term", [Softmax(), Conic("relu"), Conic("colu", 4), Gated(3)], ids=str)
def test_nonpolynomial_terms_are_real_only(term):
    with pytest.raises(ValueError, match="real field only"):
        derive(term, "complex")


def test_bad_field_name():
    with pytest.raises(ValueError, match="real"):
        derive(Diagram.from_key("0-0"), "quaternion")


def test_gated_field_by_hand():
    rng = np.random.default_rng(4)
    X = random_x(rng)
    W = random_weights(Gated(3), C, rng)
    Y = [X @ W[f"W{m}"] for m in (1, 2, 3)]
    expected = (Y[1] * Y[2]) @ W["W1"].T + (Y[0] * Y[2]) @ W["W2"].T + (Y[0] * Y[1]) @ W["W3"].T
    assert np.allclose(field_value(derive(Gated(3)), X, W), expected)
    assert X.shape == (N, C)
