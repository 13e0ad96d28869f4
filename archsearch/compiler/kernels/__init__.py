"""Hot-path kernels: a small explicit registry of Triton kernels and their pure-torch fallbacks.

Importing this package never imports Triton; the Triton backend is loaded on first use, and when
Triton is missing (or disabled with ``ARCHSEARCH_DISABLE_TRITON=1``) the torch fallback runs.

    KERNELS["causal_linear_attention"]["triton"]  # Triton chunked scan (CUDA, or CPU interpreter)
    KERNELS["causal_linear_attention"]["torch"]   # chunked torch scan, any device / dtype

On CPU the Triton path is reachable with ``backend="triton"`` when TRITON_INTERPRET=1 was set
before the kernel module was first imported.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable

import torch

from .reference import (
    causal_linear_attention_chunked,
    causal_linear_attention_quadratic,
    linear_attention,
)

__all__ = [
    "KERNELS",
    "causal_linear_attention",
    "causal_linear_attention_chunked",
    "causal_linear_attention_quadratic",
    "linear_attention",
    "triton_available",
    "triton_disabled",
]

_TRITON_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def triton_disabled() -> bool:
    """True when the environment turns the Triton backends off (ARCHSEARCH_DISABLE_TRITON=1)."""
    return os.environ.get("ARCHSEARCH_DISABLE_TRITON", "0").lower() not in ("", "0", "false", "no")


def triton_available() -> bool:
    """True when Triton can be imported (checked without importing it) and is not disabled."""
    if triton_disabled():
        return False
    try:
        return importlib.util.find_spec("triton") is not None
    except (ImportError, ValueError):  # ValueError: sys.modules["triton"] is None or has no spec
        return False


def _triton_causal_linear_attention(q, k, v, chunk: int = 64, **kwargs) -> torch.Tensor:
    from .triton_causal import causal_linear_attention as impl  # lazy: imports triton

    return impl(q, k, v, chunk, **kwargs)


KERNELS: dict[str, dict[str, Callable[..., torch.Tensor]]] = {
    "causal_linear_attention": {
        "triton": _triton_causal_linear_attention,
        "torch": causal_linear_attention_chunked,
    },
}


def _auto_uses_triton(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, chunk: int) -> bool:
    return (
        q.is_cuda
        and q.dtype == k.dtype == v.dtype
        and q.dtype in _TRITON_DTYPES
        and chunk >= 16
        and chunk & (chunk - 1) == 0
        and triton_available()
    )


def causal_linear_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, chunk: int = 64, backend: str = "auto"
) -> torch.Tensor:
    """out[b, h, t] = Σ_{s ≤ t} (q_t · k_s) v_s, linear in T; q, k (B, H, T, D), v (B, H, T, Dv).

    backend: "auto" (Triton for CUDA fp32/fp16/bf16 when Triton imports and is not disabled,
    else the chunked torch scan), "triton" (forced; CPU needs TRITON_INTERPRET=1) or "torch".
    """
    table = KERNELS["causal_linear_attention"]
    if backend == "auto":
        if _auto_uses_triton(q, k, v, chunk):
            try:
                return table["triton"](q, k, v, chunk)
            except ImportError:  # a broken Triton install: fall back
                pass
        backend = "torch"
    if backend not in table:
        raise ValueError(f"unknown backend {backend!r}; choose 'auto' or one of {sorted(table)}")
    return table[backend](q, k, v, chunk)
