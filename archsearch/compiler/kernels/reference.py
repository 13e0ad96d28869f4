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
    "chunked_scan",
    "linear_attention",
    "scan_segment",
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


def scan_segment(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, state: torch.Tensor | None = None,
                 chunk: int = 64):
    """One segment of the causal scan: (out, S') with out[t] = q_t S + Σ_{s ≤ t} (q_t · k_s) v_s and
    S' = S + Σ_s k_sᵀ v_s, for (B, H, T, D) q, k, (B, H, T, Dv) v and the carried state S (B, H, D, Dv)
    (None: zero). Chunks of ``chunk`` tokens (the last zero-padded: zero keys and values add nothing):
    within a chunk the masked quadratic product, across chunks the prefix sums of the chunk states."""
    b, h, t, d = q.shape
    dv = v.shape[-1]
    if state is None:
        state = q.new_zeros(b, h, d, dv)
    if t == 0:
        return q.new_zeros(b, h, 0, dv), state
    c = min(chunk, t)
    m = -(-t // c)
    pad = m * c - t
    if pad:
        q, k, v = (torch.nn.functional.pad(a, (0, 0, 0, pad)) for a in (q, k, v))
    qc, kc, vc = (a.reshape(b, h, m, c, a.shape[-1]) for a in (q, k, v))
    mask = torch.ones(c, c, dtype=torch.bool, device=q.device).tril()
    intra = (qc @ kc.transpose(-1, -2)).masked_fill(~mask, 0) @ vc  # within a chunk
    after = torch.cumsum(kc.transpose(-1, -2) @ vc, dim=2) + state.unsqueeze(2)  # S after each chunk
    before = torch.cat([state.unsqueeze(2), after[:, :, :-1]], dim=2)  # S before each chunk
    out = (intra + qc @ before).reshape(b, h, m * c, dv)
    return (out[:, :, :t] if pad else out), after[:, :, -1]


def chunked_scan(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, chunk: int = 64, segment: int = 512):
    """out[t] = Σ_{s ≤ t} (q_t · k_s) v_s for (B, H, T, D) q, k and (B, H, T, Dv) v, linear in T.

    The sequence is walked in segments of about ``segment`` tokens (:func:`scan_segment`) carrying the
    state S = Σ k_sᵀ v_s (D × Dv), so the intermediates stay cache-sized and the time per token does not
    grow with T. Self-contained (torch only): the generated causal blocks inline this source. Under
    torch.export it is the masked quadratic product tril(q kᵀ) v — O(T²), valid for every T
    (a dynamic T); the eager scan stays linear.
    """
    if getattr(torch.compiler, "is_exporting", torch.compiler.is_compiling)():
        # under torch.export (torch.compile too before torch 2.5): the masked quadratic product, whose shapes
        # hold for every T. The chunks' counts (⌈T/chunk⌉, which may be 1) put guards on T that tracing cannot discharge
        return (q @ k.transpose(-1, -2)).tril() @ v
    t = q.shape[2]
    step = max(1, segment // chunk) * chunk
    if t <= step:
        return scan_segment(q, k, v, None, chunk)[0]
    state, outs = None, []
    for s0 in range(0, t, step):
        out, state = scan_segment(q[:, :, s0:s0 + step], k[:, :, s0:s0 + step], v[:, :, s0:s0 + step], state, chunk)
        outs.append(out)
    return torch.cat(outs, dim=2)


def causal_linear_attention_chunked(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, chunk: int = 64, segment: int = 512
) -> torch.Tensor:
    """Causal linear attention in O(T·c·(D + Dv) + T·D·Dv) time: :func:`chunked_scan`, checked."""
    _check_shapes(q, k, v)
    if chunk < 1:
        raise ValueError(f"chunk must be positive, got {chunk}")
    return chunked_scan(q, k, v, chunk, segment)


def linear_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Non-causal linear attention ``q (kᵀ v)`` in the linear-time order: O(T·D·Dv)."""
    _check_shapes(q, k, v)
    return q @ (k.transpose(-1, -2) @ v)
