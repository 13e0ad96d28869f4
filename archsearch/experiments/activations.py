"""The cone projections as activation functions along any axis, for models outside the term grammar
(ResNet-56 applies them along the channels of a feature map).

π_K(y) for K the orthant (``relu``), a product of Lorentz cones {(t, u): ‖u‖ ≤ t} of size S (``soc``, the
orthogonal projection) or CoLU's skew projection (``colu``: (t, u) → (t, clip(t/(‖u‖+ε), 0, 1)·u)). The
projection is the compiled conic block's own ``_project`` (archsearch.families.conic), so the activation
and the term blocks cannot disagree.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from torch import nn

from archsearch.families.conic import COLU_EPS, PROJECTIONS, Conic

ACTIVATIONS = PROJECTIONS  # relu, soc, colu


@functools.cache
def projection_function(projection: str, cone_size: int = 4) -> Callable[..., torch.Tensor]:
    """The ``_project`` method of the compiled tied block of ``projection`` (soc or colu): a function of
    (self, y) that reads ``self.cone_size`` and ``self.eps`` and projects the last axis of y."""
    from archsearch.compiler import compile_term

    cls = compile_term(Conic(projection, cone_size), tied=True).module_class()
    return cls.__dict__["_project"]


class ConeActivation(nn.Module):
    """π_K along ``dim``: x ↦ π_K(x) with the cones cut from consecutive entries of that axis (its size must
    be divisible by ``cone_size`` for soc and colu). No parameters."""

    def __init__(self, projection: str, cone_size: int = 4, dim: int = -1) -> None:
        super().__init__()
        Conic(projection, cone_size)  # validates both (ValueError listing what is known)
        self.projection = projection
        self.cone_size = cone_size
        self.dim = dim
        self.eps = COLU_EPS  # read by CoLU's _project
        self._fn = None if projection == "relu" else projection_function(projection, cone_size)

    def extra_repr(self) -> str:
        size = "" if self.projection == "relu" else f", cone_size={self.cone_size}"
        return f"{self.projection}{size}, dim={self.dim}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._fn is None:
            return torch.relu(x)  # the orthant: entrywise, any axis
        y = x.movedim(self.dim, -1)
        if y.shape[-1] % self.cone_size:
            raise ValueError(f"{self.projection}: the axis has {y.shape[-1]} entries, not a multiple of the cone "
                             f"size {self.cone_size}")
        return self._fn(self, y).movedim(-1, self.dim)


def activation(name: str, cone_size: int = 4, dim: int = -1) -> nn.Module:
    """``relu``, ``soc`` or ``colu`` as a module acting along ``dim`` (cones of ``cone_size``)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r} (known: {', '.join(ACTIVATIONS)})")
    return ConeActivation(name, cone_size, dim)
