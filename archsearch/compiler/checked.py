"""The module a :class:`~archsearch.compiler.block.CompiledBlock` builds: its generated class, with a readable
``repr``, its input checked and an optional padding mask.

The generated classes (:mod:`~archsearch.compiler.codegen`) are written for speed and for export, verbatim; this
subclass adds, without changing their parameters, state_dict keys or arithmetic:

- ``extra_repr``: ``features=64, rank=16, heads=4, dtype=torch.float32, field='real', causal=False``;
- a shape check with a one-line ``ValueError`` (X must be (B, N, C) or unbatched (N, C), C = ``features``; a
  real tensor for a real-field block, a complex one for a complex-field block);
- unbatched input: (N, C) → (N, C), computed as a batch of one;
- ``forward(x, mask=None)``: ``mask`` a bool tensor of X's shape without C, (B, N) or (N,), True = a real token.
  The potential then runs over the real tokens only: each sequence's output at its real tokens is the block's
  output on that sequence with the padded tokens removed (wherever they are; causal: the compacted sequence's
  causal output), and the output at padded tokens is 0. ``mask=None`` is the plain forward, unchanged.

How the mask is exact, family by family: the padded rows of X are set to 0 and so is the output's. That alone is
exact for every family whose field sums over tokens only through terms that carry a factor of each summed
token's row (x_k, or x_k W): every diagram (each token vertex has an edge endpoint; no compiled field divides
by N — the pooling term 0-1 is a sum, not a mean), causal diagrams (prefix sums and scans of zero rows add
nothing), the entrywise edge kernels f-φ (σ(S_jk) multiplies x_k or q_j = x_j W), the gated products
(pooled sums of products of x_j W_m) and the per-token families (activation, conic, GLU). It is not exact for
softmax (lse): exp(0) = 1, so a zero key still takes a share of every row-softmax. Those blocks' generated
``forward(x, mask)`` takes the mask (SDPA's ``attn_mask``, -inf in the exact transposed branch); this wrapper
passes it to any generated forward that has a ``mask`` parameter. A row with no real token is well defined (its
output is all zeros).

``torch.jit.script`` is not supported, and is not made to be: TorchScript compiles a typed subset of Python, and
the generated forwards use what it lacks — bound methods passed as values (the causal ``_streamed(self._forward_full,
…)``), helper arguments left unannotated that take None or ints (TorchScript types every unannotated argument as a
Tensor), variadic calls (``torch.broadcast_shapes(q, k, v)``, ``expand(*shape, d)``), generator expressions — and this
wrapper is a class made by ``type()`` whose forward is annotated ``Any`` and calls the generated class's forward.
Rewriting the generated code for it would distort the code that runs and is exported, and TorchScript is deprecated
in current PyTorch in favour of ``torch.export``, which every built block supports with a dynamic N (one pass where
the eager block walks chunks: softmax's exact branch holds the (N, N) scores; a causal diagram's scan is the masked
quadratic product). tests/compiler/test_mask.py checks both, and that ``torch.jit.script`` still raises, so this
note cannot go stale silently.
"""

from __future__ import annotations

import inspect
from functools import lru_cache
from typing import Any

import torch

__all__ = ["checked_class"]


def _takes_mask(cls: type[Any]) -> bool:
    """Whether the generated ``forward`` takes the padding mask itself (softmax: the keys it may attend to)."""
    return "mask" in inspect.signature(cls.forward).parameters


@lru_cache(maxsize=512)
def checked_class(cls: type[Any], field: str, causal: bool) -> type[Any]:
    """The subclass of the generated block class ``cls`` (same name) that checks its input, takes an optional
    padding mask and prints its sizes. Cached, so every build of one compiled block shares one class."""
    takes_mask = _takes_mask(cls)

    def extra_repr(self: Any) -> str:
        dtype = next((p.dtype for p in self.parameters()), None)
        return (f"features={self.features}, rank={self.rank}, heads={self.heads}, dtype={dtype}, "
                f"field={field!r}, causal={causal}")

    def masked(self: Any, x: Any, mask: Any) -> Any:
        """The forward over the real tokens of a (B, N, C) x, mask (B, N) (checked)."""
        pad = ~mask.unsqueeze(-1)
        x = x.masked_fill(pad, 0)  # padded rows: 0, whatever they held (NaN included)
        y = cls.forward(self, x, mask) if takes_mask else cls.forward(self, x)
        return y.masked_fill(pad, 0)

    def forward(self: Any, x: Any, mask: Any = None) -> Any:
        shape = tuple(x.shape)
        if x.dim() not in (2, 3) or shape[-1] != self.features:
            raise ValueError(f"{type(self).__name__} takes X of shape (batch, tokens, {self.features}) or "
                             f"(tokens, {self.features}); got {shape}")
        if x.is_complex() != (field == "complex"):
            want = "complex" if field == "complex" else "real"
            raise ValueError(f"{type(self).__name__} is a {field}-field block and takes a {want} tensor; "
                             f"got {x.dtype}")
        if mask is not None:
            _check_mask(type(self).__name__, x, mask)
            if x.dim() == 2:
                return masked(self, x.unsqueeze(0), mask.unsqueeze(0)).squeeze(0)
            return masked(self, x, mask)
        if x.dim() == 2:
            return cls.forward(self, x.unsqueeze(0)).squeeze(0)
        return cls.forward(self, x)

    return type(cls.__name__, (cls,), {
        "__doc__": cls.__doc__,
        "__module__": cls.__module__,
        "__qualname__": cls.__qualname__,
        "extra_repr": extra_repr,
        "forward": forward,
    })


def _check_mask(name: str, x: torch.Tensor, mask: Any) -> None:
    """A one-line ValueError unless ``mask`` is a bool tensor of X's shape without C, on X's device."""
    want = "(batch, tokens)" if x.dim() == 3 else "(tokens,)"
    expected = tuple(x.shape[:-1])
    if not isinstance(mask, torch.Tensor):
        raise ValueError(f"{name} takes a mask of shape {want} = {expected}, a torch.bool tensor (True = a real "
                         f"token); got {type(mask).__name__}")
    if mask.dtype != torch.bool or tuple(mask.shape) != expected or mask.device != x.device:
        raise ValueError(f"{name} takes a mask of shape {want} = {expected}, a torch.bool tensor (True = a real "
                         f"token) on {x.device}; got {tuple(mask.shape)} {mask.dtype} on {mask.device}")
