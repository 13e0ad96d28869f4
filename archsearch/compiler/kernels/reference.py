"""Pure-torch causal / non-causal linear attention: the reference and the linear-time fallback.

Tr(G₁G₂) with G = X W Xᵀ gives linear attention; its causal variant restricts every summed token
index s to be ≤ the output index t:

    out[b, h, t] = Σ_{s ≤ t} (q_t · k_s) v_s

Shapes: q, k (B, H, T, D); v (B, H, T, Dv); out (B, H, T, Dv). Every function here runs on any
device, in float32 / float64 (and half types), and is differentiable by autograd.
"""

from __future__ import annotations

import torch

__all__ = [
    "causal_linear_attention_quadratic",
    "causal_linear_attention_chunked",
    "linear_attention",
]


def _check_shapes(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> None:
    if q.dim() != 4 or k.dim() != 4 or v.dim() != 4:
        raise ValueError(f"expected 4-d (B, H, T, D) tensors, got {tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}")
    if q.shape != k.shape:
        raise ValueError(f"q and k must have the same shape, got {tuple(q.shape)} and {tuple(k.shape)}")
    if v.shape[:3] != q.shape[:3]:
        raise ValueError(f"v must be (B, H, T, Dv) with q's (B, H, T) = {tuple(q.shape[:3])}, got {tuple(v.shape)}")


def causal_linear_attention_quadratic(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Reference: the masked (T × T) product ``tril(q kᵀ) v``; O(T²·(D + Dv)) time, O(T²) memory."""
    _check_shapes(q, k, v)
    t = q.shape[-2]
    scores = q @ k.transpose(-1, -2)
    mask = torch.ones(t, t, dtype=torch.bool, device=q.device).tril()
    return scores.masked_fill(~mask, 0) @ v


def causal_linear_attention_chunked(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, chunk: int = 64) -> torch.Tensor:
    """Causal linear attention in O(T·C·(D + Dv) + T·D·Dv) time with a chunked scan.

    The sequence is cut into chunks of ``chunk`` tokens (the last one zero-padded; zero keys and
    values add nothing). Within a chunk the masked quadratic product; across chunks the running
    state S_c = Σ_{s < start of chunk c} k_sᵀ v_s (D × Dv), formed as an exclusive prefix sum of the
    per-chunk states k_cᵀ v_c, so the output of chunk c is q_c S_c + tril(q_c k_cᵀ) v_c.
    """
    _check_shapes(q, k, v)
    if chunk < 1:
        raise ValueError(f"chunk must be positive, got {chunk}")
    b, h, t, d = q.shape
    dv = v.shape[-1]
    if t == 0:
        return q.new_zeros(b, h, 0, dv)
    c = min(chunk, t)
    n = -(-t // c)
    pad = n * c - t
    if pad:
        q = torch.nn.functional.pad(q, (0, 0, 0, pad))
        k = torch.nn.functional.pad(k, (0, 0, 0, pad))
        v = torch.nn.functional.pad(v, (0, 0, 0, pad))
    qc = q.reshape(b, h, n, c, d)
    kc = k.reshape(b, h, n, c, d)
    vc = v.reshape(b, h, n, c, dv)
    # intra-chunk: masked quadratic product on (c × c) blocks
    mask = torch.ones(c, c, dtype=torch.bool, device=q.device).tril()
    intra = (qc @ kc.transpose(-1, -2)).masked_fill(~mask, 0) @ vc
    # inter-chunk: state before each chunk = exclusive prefix sum of the chunk states kᵀv
    kv = kc.transpose(-1, -2) @ vc  # (b, h, n, d, dv)
    state = torch.nn.functional.pad(kv[:, :, :-1].cumsum(dim=2), (0, 0, 0, 0, 1, 0))
    out = intra + qc @ state
    out = out.reshape(b, h, n * c, dv)
    return out[:, :, :t] if pad else out


def linear_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Non-causal linear attention ``q (kᵀ v)`` in the linear-time order: O(T·D·Dv)."""
    _check_shapes(q, k, v)
    return q @ (k.transpose(-1, -2) @ v)
