"""The module a :class:`~archsearch.compiler.block.CompiledBlock` builds: its generated class, with a readable
``repr`` and its input checked.

The generated classes (:mod:`~archsearch.compiler.codegen`) are written for speed and for export, verbatim; this
subclass adds, without changing their parameters, state_dict keys or arithmetic:

- ``extra_repr``: ``features=64, rank=16, heads=4, dtype=torch.float32, field='real', causal=False``;
- a shape check with a one-line ``ValueError`` (X must be (B, N, C) or unbatched (N, C), C = ``features``; a
  real tensor for a real-field block, a complex one for a complex-field block);
- unbatched input: (N, C) → (N, C), computed as a batch of one.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

__all__ = ["checked_class"]


@lru_cache(maxsize=512)
def checked_class(cls: type[Any], field: str, causal: bool) -> type[Any]:
    """The subclass of the generated block class ``cls`` (same name) that checks its input and prints its
    sizes. Cached, so every build of one compiled block shares one class."""

    def extra_repr(self: Any) -> str:
        dtype = next((p.dtype for p in self.parameters()), None)
        return (f"features={self.features}, rank={self.rank}, heads={self.heads}, dtype={dtype}, "
                f"field={field!r}, causal={causal}")

    def forward(self: Any, x: Any) -> Any:
        shape = tuple(x.shape)
        if x.dim() not in (2, 3) or shape[-1] != self.features:
            raise ValueError(f"{type(self).__name__} takes X of shape (batch, tokens, {self.features}) or "
                             f"(tokens, {self.features}); got {shape}")
        if x.is_complex() != (field == "complex"):
            want = "complex" if field == "complex" else "real"
            raise ValueError(f"{type(self).__name__} is a {field}-field block and takes a {want} tensor; "
                             f"got {x.dtype}")
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
