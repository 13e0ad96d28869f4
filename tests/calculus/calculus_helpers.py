"""Shared helpers for the calculus tests: the enumerated cases, torch reference potentials written
independently of archsearch.calculus's branch construction (only the potential einsum is shared),
Wirtinger gradients through autograd, Haar matrices and an invariance checker."""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import torch

from archsearch.calculus import potential, potential_einsum
from archsearch.enumeration import Axioms, enumerate_terms
from archsearch.grammar.model import Grammar
from archsearch.terms import Conic, Diagram, Entrywise, Gated, Softmax

N, C = 7, 3  # N ≥ the number of vertices of any order-6 diagram
COLU_EPS = 1e-6

ENUMERATIONS = {
    "perm-real-connected": Axioms(left="perm", field="real", max_order=6),
    "perm-real-all": Axioms(left="perm", field="real", max_order=6, connected=False),
    "perm-complex-all": Axioms(left="perm", field="complex", max_order=6, connected=False),
    "unitary-real-all": Axioms(left="unitary", field="real", max_order=6, connected=False),
    "unitary-complex-all": Axioms(left="unitary", field="complex", max_order=6, connected=False),
    "unitary-real-AB-symmetric": Axioms(
        left="unitary", field="real", max_order=6, connected=False, weights="alphabet", alphabet=("A", "B"),
        symmetric=frozenset({"A", "B"}),
    ),
}


@cache
def diagram_cases() -> tuple[tuple[str, Diagram, str, str], ...]:
    """(id, diagram, field, left) for every diagram of the enumerations, deduplicated per field."""
    seen, out = set(), []
    for name, ax in ENUMERATIONS.items():
        terms = enumerate_terms(Grammar(name=name, axioms=ax))
        assert terms and all(isinstance(t, Diagram) for t in terms)
        for t in terms:
            if (t.key, ax.field, ax.left) in seen:
                continue
            seen.add((t.key, ax.field, ax.left))
            out.append((f"{name}:{t.key}", t, ax.field, ax.left))
    return tuple(out)


NONPOLY = (
    Softmax(),
    Entrywise("exp"),
    Entrywise("cosh"),
    Entrywise("logcosh"),
    Entrywise("softplus"),
    Conic("relu"),
    Conic("soc", 3),
    Conic("soc", 2),
    Gated(3),
    Gated(4),
)


# --------------------------------------------------------------------------------------------------
# torch reference potentials (independent of the field code)
# --------------------------------------------------------------------------------------------------


def torch_soc(y: torch.Tensor, size: int) -> torch.Tensor:
    """Orthogonal projection onto a product of Lorentz cones {(t, u): ‖u‖ ≤ t} of size ``size``."""
    g = y.reshape(*y.shape[:-1], y.shape[-1] // size, size)
    t, u = g[..., 0], g[..., 1:]
    nu = torch.linalg.vector_norm(u, dim=-1)
    coef = (t + nu) / 2
    unit = u / torch.where(nu > 0, nu, torch.ones_like(nu)).unsqueeze(-1)
    outside = torch.cat([coef.unsqueeze(-1), coef.unsqueeze(-1) * unit], dim=-1)
    inside = (nu <= t).unsqueeze(-1)
    polar = (nu <= -t).unsqueeze(-1)
    out = torch.where(inside, g, torch.where(polar, torch.zeros_like(g), outside))
    return out.reshape(y.shape)


def torch_colu(y: torch.Tensor, size: int, eps: float = COLU_EPS) -> torch.Tensor:
    g = y.reshape(*y.shape[:-1], y.shape[-1] // size, size)
    t, u = g[..., :1], g[..., 1:]
    nu = torch.linalg.vector_norm(u, dim=-1, keepdim=True)
    return torch.cat([t, torch.clamp(t / (nu + eps), 0.0, 1.0) * u], dim=-1).reshape(y.shape)


def torch_potential(term, X: torch.Tensor, weights: dict, Y: torch.Tensor | None = None, scale=None):
    """V(X) in torch. For diagrams ``Y`` stands for conj(X) (default: X.conj()); pass an independent
    tensor to differentiate with respect to X̄ (Wirtinger)."""
    W = {k: torch.as_tensor(v).to(X.dtype) for k, v in weights.items()}
    if isinstance(term, Diagram):
        Y = X.conj() if Y is None else Y
        subs, ops = potential_einsum(term)
        arrays = [X if n == "X" else Y if n == "Xc" else W[n] for (n,) in ops]
        return torch.einsum(subs, *arrays)
    sc = 1.0 / math.sqrt(X.shape[1]) if scale is None else scale
    if isinstance(term, (Softmax, Entrywise)):
        s = X @ W["W1"] @ X.T * sc
        if isinstance(term, Softmax):
            return torch.logsumexp(s, dim=1).sum()
        f = {
            "exp": torch.exp,
            "cosh": torch.cosh,
            "logcosh": lambda z: torch.log(torch.cosh(z)),
            "softplus": torch.nn.functional.softplus,
        }[term.fn]
        return f(s).sum()
    if isinstance(term, Conic):
        y = X @ W["A"]
        p = torch.relu(y) if term.projection == "relu" else torch_soc(y, term.cone_size)
        return 0.5 * (p * p).sum()
    if isinstance(term, Gated):
        prod = torch.ones_like(X)
        for m in range(term.k):
            prod = prod * (X @ W[f"W{m + 1}"])
        return prod.sum()
    raise TypeError(term)


# --------------------------------------------------------------------------------------------------
# Wirtinger gradient through autograd
# --------------------------------------------------------------------------------------------------


@cache
def torch_conjugates_holomorphic_grads() -> bool:
    """PyTorch's convention, measured on V = Σ Y² (∂V/∂Y = 2Y): True when autograd with
    grad_outputs = 1 returns conj(∂V/∂Y), False when it returns ∂V/∂Y."""
    y0 = torch.tensor([0.3 + 1.1j, -0.7 + 0.2j], dtype=torch.complex128)
    y = y0.clone().requires_grad_(True)
    (g,) = torch.autograd.grad((y * y).sum(), y, grad_outputs=torch.ones((), dtype=torch.complex128))
    if torch.allclose(g, (2 * y0).conj()):
        return True
    if torch.allclose(g, 2 * y0):
        return False
    raise AssertionError(f"unexpected complex autograd convention: {g} for 2y = {2 * y0}")


def holomorphic_grad(v: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """∂v/∂y for v holomorphic in y (complex scalar)."""
    (g,) = torch.autograd.grad(v, y, grad_outputs=torch.ones((), dtype=v.dtype))
    return g.conj() if torch_conjugates_holomorphic_grads() else g


def autograd_field(term, field: str, X: np.ndarray, weights: dict, scale=None) -> np.ndarray:
    """∇_X V (real) or ∂V/∂X̄ (complex: V(X, Y) with Y = X̄ an independent variable)."""
    if field == "real":
        x = torch.tensor(X, requires_grad=True)
        (g,) = torch.autograd.grad(torch_potential(term, x, weights, scale=scale), x)
        return g.numpy()
    x = torch.tensor(X)
    y = torch.tensor(X.conj(), requires_grad=True)
    return holomorphic_grad(torch_potential(term, x, weights, Y=y), y).resolve_conj().numpy()


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


# --------------------------------------------------------------------------------------------------
# Random matrices and the invariance checker
# --------------------------------------------------------------------------------------------------


def random_x(rng: np.random.Generator, n: int = N, c: int = C, complex: bool = False) -> np.ndarray:
    x = rng.standard_normal((n, c))
    return x + 1j * rng.standard_normal((n, c)) if complex else x


def haar(n: int, rng: np.random.Generator, complex: bool) -> np.ndarray:
    """Haar-random unitary (complex) or orthogonal (real) n×n matrix: QR of a Gaussian, phases fixed."""
    z = rng.standard_normal((n, n)) + (1j * rng.standard_normal((n, n)) if complex else 0)
    q, r = np.linalg.qr(z)
    d = np.diag(r)
    return q * (d / np.abs(d))


def is_invariant(fn, X: np.ndarray, transforms, rtol: float = 1e-10, scale: float | None = None) -> bool:
    """Whether fn(T(X)) = fn(X) for every T, to rtol relative to ``scale`` (default |fn(X)|)."""
    v0 = fn(X)
    s = abs(v0) if scale is None else scale
    s = max(s, 1e-300)
    return all(abs(fn(t(X)) - v0) <= rtol * s for t in transforms)


def abs_scale(term, X: np.ndarray, weights: dict) -> float:
    """Σ of |terms| of a diagram's potential (a bound on its size, the scale of its rounding error)."""
    return float(abs(potential(term, np.abs(X), {k: np.abs(v) for k, v in weights.items()})))


def fields_at_random_inputs(term, field: str, seed: int):
    """(field, X, weights) for the tied and the untied field of ``term``, at fresh random inputs."""
    from archsearch.calculus import derive, random_weights

    rng = np.random.default_rng(seed)
    cplx = field == "complex"
    X = random_x(rng, complex=cplx)
    for tied in (True, False):
        f = derive(term, field, tied)
        yield f, X, random_weights(f, C, rng, complex=cplx)
