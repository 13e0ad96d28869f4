"""The cone activations satisfy the slides' axioms, and agree with the conic family's numpy projection.

Slides: ReLU and CoLU are idempotent, positively 1-homogeneous projections; ReLU is permutation symmetric
(component-wise), CoLU "permutation + rotation": equivariant under rotations/reflections of each cone's
non-axis coordinates. SOC (the orthogonal projection) has the same symmetry and is a Moreau projection."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from archsearch.experiments.activations import ConeActivation, activation
from archsearch.families.conic import Conic

S = 4


def _x(n: int = 64, c: int = 8, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, c, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _block_rotation(c: int, seed: int) -> torch.Tensor:
    """diag over cones of (1, Q) with Q a random orthogonal (S−1)×(S−1) matrix (a reflection included)."""
    rng = np.random.default_rng(seed)
    out = np.zeros((c, c))
    for k in range(0, c, S):
        q, _ = np.linalg.qr(rng.standard_normal((S - 1, S - 1)))
        out[k, k] = 1.0
        out[k + 1:k + S, k + 1:k + S] = q
    return torch.from_numpy(out)


@pytest.mark.parametrize("name", ["relu", "soc", "colu"])
def test_idempotent_and_positively_homogeneous(name):
    act, x = activation(name, S), _x()
    y = act(x)
    assert torch.allclose(act(y), y, atol=1e-5)
    assert torch.allclose(act(2.5 * x), 2.5 * y, atol=1e-5)


@pytest.mark.parametrize("name", ["soc", "colu"])
def test_matches_the_conic_familys_numpy_projection(name):
    x = _x(seed=3)
    want = Conic(name, S).project(x.numpy())
    assert np.allclose(activation(name, S)(x).numpy(), want, atol=1e-6)


@pytest.mark.parametrize(("name", "rotations", "permutations"), [
    ("relu", False, True), ("soc", True, False), ("colu", True, False)])
def test_symmetry_groups_of_the_slides(name, rotations, permutations):
    act, x = activation(name, S), _x(seed=1)
    r = _block_rotation(8, 2)
    rot_dev = float((act(x @ r) - act(x) @ r).abs().max())
    p = torch.eye(8, dtype=torch.float64)[torch.randperm(8, generator=torch.Generator().manual_seed(4))]
    perm_dev = float((act(x @ p) - act(x) @ p).abs().max())
    assert (rot_dev < 1e-9) == rotations, rot_dev
    assert (perm_dev < 1e-9) == permutations, perm_dev


def test_soc_is_the_orthogonal_projection_and_colu_is_not():
    """Moreau: y = π(x) is in the cone, x − y in the polar cone and ⟨y, x − y⟩ = 0; CoLU's residual is not
    orthogonal where it clips."""
    x = _x(256, S, seed=5)
    y = activation("soc", S)(x)
    r = x - y
    assert torch.all(y[:, 1:].norm(dim=1) <= y[:, 0] + 1e-9)
    assert torch.all(r[:, 1:].norm(dim=1) <= -r[:, 0] + 1e-9)  # the polar cone {(t, u): ‖u‖ ≤ −t}
    assert float((y * r).sum(dim=1).abs().max()) < 1e-9
    z = activation("colu", S)(x)
    clipped = (x[:, 0] > 0) & (x[:, 1:].norm(dim=1) > x[:, 0])
    assert clipped.sum() > 20
    assert float(((z * (x - z)).sum(dim=1)[clipped]).abs().max()) > 1e-2


def test_acts_along_any_axis():
    x = torch.randn(2, 8, 3, 5, generator=torch.Generator().manual_seed(0))
    along = activation("colu", S, dim=1)(x)
    last = activation("colu", S)(x.movedim(1, -1)).movedim(-1, 1)
    assert torch.equal(along, last)


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown activation"):
        activation("gelu")
    with pytest.raises(ValueError, match="cone size"):
        ConeActivation("colu", 1)
    with pytest.raises(ValueError, match="not a multiple of the cone size 4"):
        activation("soc", 4)(torch.zeros(2, 6))
