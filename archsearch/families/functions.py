"""Scalar functions the families apply entrywise: one record per function, every form in one place.

A :class:`ScalarFunction` is a pair (φ, σ = φ′): the potential uses φ, the field uses σ. Two tables:

* :data:`EDGE_KERNELS` (named by φ): the entrywise edge family V = Σ_jk φ(S_jk), S = X W Xᵀ/√C_A,
  whose field uses σ = φ′ (``f-exp``, ``f-cosh``, …).
* :data:`ACTIVATIONS` (named by σ, as activations are): the per-token MLP V = Σ_jc φ(X A)_jc whose
  field is the activated MLP F = σ(X A) Aᵀ (``mlp-gelu``, …), and the gate of the activated GLU
  (``glu-silu``, …).

Adding a function is one entry here: its numpy σ (and φ where a closed form is known: otherwise the
potential integrates σ by 64-point Gauss–Legendre, φ(y) = ∫₀^y σ), the torch expression of σ that
generated blocks use, and its printed names. Grammars, ``show``, the compiled blocks, the tests and
the docs pick the new entry up from these tables.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from archsearch.families.base import Family

#: Gauss–Legendre nodes and weights on [0, 1] (exact for polynomials of degree ≤ 127)
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(64)
_NODES, _WEIGHTS = (_NODES + 1.0) / 2.0, _WEIGHTS / 2.0


@dataclass(frozen=True)
class ScalarFunction:
    """φ and σ = φ′ in every form the tool needs.

    name:        the key in its table (and in term ids)
    sigma:       σ(y), numpy (float64, elementwise)
    sigma_torch: σ as a torch expression in ``{}`` (the generated blocks have ``torch`` and ``F`` =
                 torch.nn.functional in scope), e.g. ``"F.gelu({})"``
    phi:         φ(y), numpy, with φ(0) = 0 for the activations; None: φ(y) = ∫₀^y σ(t) dt by quadrature
    phi_torch:   φ as a torch expression (tests differentiate it with autograd); None: quadrature
    show:        (unicode, text, latex) name of σ as printed in fields
    show_phi:    (unicode, text, latex) name of φ as printed in potentials
    """

    name: str
    sigma: Callable[[np.ndarray], np.ndarray]
    sigma_torch: str
    show: tuple[str, str, str]
    show_phi: tuple[str, str, str]
    phi: Callable[[np.ndarray], np.ndarray] | None = None
    phi_torch: str | None = None

    def potential(self, y: np.ndarray) -> np.ndarray:
        """φ(y) elementwise: the closed form, or ∫₀^y σ by Gauss–Legendre (y ∫₀¹ σ(y s) ds)."""
        if self.phi is not None:
            return self.phi(y)
        y = np.asarray(y, dtype=float)
        return y * np.tensordot(self.sigma(y[..., None] * _NODES), _WEIGHTS, axes=([-1], [0]))

    def potential_torch(self, y):
        """φ(y) in torch (differentiable): the closed form, or the same quadrature as :meth:`potential`."""
        import torch
        import torch.nn.functional as F  # noqa: N812 - the name the expressions use

        if self.phi_torch is not None:
            return eval(self.phi_torch.format("y"), {"torch": torch, "F": F, "y": y})  # noqa: S307 - our own table
        nodes = torch.as_tensor(_NODES, dtype=y.dtype)
        weights = torch.as_tensor(_WEIGHTS, dtype=y.dtype)
        t = y.unsqueeze(-1) * nodes
        s = eval(self.sigma_torch.format("t"), {"torch": torch, "F": F, "t": t})  # noqa: S307 - our own table
        return y * (s * weights).sum(-1)

    def name_of(self, style: str, phi: bool = False) -> str:
        names = self.show_phi if phi else self.show
        return names[("unicode", "text", "latex").index(style)]


class FunctionFamily(Family):
    """Mixin of the families indexed by one entry ``fn`` of a function table (entrywise kernels,
    activated MLPs, activated GLUs): validation, ``function``, the key ``<prefix><fn>``, parsing, and
    the grammar key that names them. Concrete classes (frozen dataclasses, also subclasses of an edge or
    token family) set the class attributes and a field ``fn``."""

    table: ClassVar[dict[str, ScalarFunction]]
    prefix: ClassVar[str]
    grammar_key: ClassVar[str]
    what: ClassVar[str]
    fn: str

    if TYPE_CHECKING:
        def __init__(self, fn: str) -> None:  # what the concrete dataclasses generate
            ...

    def __post_init__(self) -> None:
        if self.fn not in self.table:
            raise ValueError(f"unknown {self.what} {self.fn!r} (known: {', '.join(self.table)})")

    @property
    def function(self) -> ScalarFunction:
        return self.table[self.fn]

    @property
    def key(self) -> str:
        return f"{self.prefix}{self.fn}"

    @classmethod
    def parse(cls, key: str):
        return cls(key[len(cls.prefix):]) if key.startswith(cls.prefix) else None

    @classmethod
    def named(cls, families) -> list:
        from archsearch.families.base import Named

        return [Named(cls(fn), cls.grammar_key, i) for i, fn in enumerate(getattr(families, cls.grammar_key))]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _logcosh(s: np.ndarray) -> np.ndarray:
    a = np.abs(s)
    return a + np.log1p(np.exp(-2.0 * a)) - np.log(2.0)


_erf = np.vectorize(math.erf, otypes=[float])


def _normal_cdf(y: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + _erf(np.asarray(y, dtype=float) / math.sqrt(2.0)))


def _normal_pdf(y: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * np.square(y)) / math.sqrt(2.0 * math.pi)


def _relu(y: np.ndarray) -> np.ndarray:
    return np.maximum(y, 0.0)


def _table(*entries: ScalarFunction) -> dict[str, ScalarFunction]:
    return {f.name: f for f in entries}


#: V = Σ_jk φ(S_jk): named by φ; the field uses σ = φ′
EDGE_KERNELS: dict[str, ScalarFunction] = _table(
    ScalarFunction("exp", np.exp, "torch.exp({})", ("exp", "exp", r"\exp"), ("exp", "exp", r"\exp"),
                   phi=np.exp, phi_torch="torch.exp({})"),
    ScalarFunction("cosh", np.sinh, "torch.sinh({})", ("sinh", "sinh", r"\sinh"), ("cosh", "cosh", r"\cosh"),
                   phi=np.cosh, phi_torch="torch.cosh({})"),
    ScalarFunction("logcosh", np.tanh, "torch.tanh({})", ("tanh", "tanh", r"\tanh"),
                   ("logcosh", "logcosh", r"\operatorname{logcosh}"),
                   phi=_logcosh, phi_torch="torch.log(torch.cosh({}))"),
    ScalarFunction("softplus", _sigmoid, "torch.sigmoid({})", ("σ", "sigmoid", r"\sigma"),
                   ("softplus", "softplus", r"\operatorname{softplus}"),
                   phi=lambda s: np.logaddexp(0.0, s), phi_torch="F.softplus({})"),
)

#: V = Σ_jc φ(X A)_jc: named by the activation σ = φ′ of the field σ(X A) Aᵀ
ACTIVATIONS: dict[str, ScalarFunction] = _table(
    ScalarFunction("relu2", lambda y: np.square(_relu(y)), "torch.relu({}).square()",
                   ("relu²", "relu^2", r"\operatorname{relu}^2"),
                   ("relu³/3", "relu^3/3", r"\tfrac13\operatorname{relu}^3"),
                   phi=lambda y: _relu(y) ** 3 / 3.0, phi_torch="torch.relu({}).pow(3) / 3"),
    ScalarFunction("gelu", lambda y: y * _normal_cdf(y), "F.gelu({})", ("gelu", "gelu", r"\operatorname{gelu}"),
                   ("∫gelu", "int_gelu", r"\textstyle\int\operatorname{gelu}"),
                   phi=lambda y: (np.square(y) - 1.0) / 2.0 * _normal_cdf(y) + y * _normal_pdf(y) / 2.0 + 0.25),
    ScalarFunction("silu", lambda y: y * _sigmoid(y), "F.silu({})", ("silu", "silu", r"\operatorname{silu}"),
                   ("∫silu", "int_silu", r"\textstyle\int\operatorname{silu}")),
)
