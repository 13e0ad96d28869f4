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


def _scan_forward(q, k, v, state, c):
    """One segment of the scan, no autograd: (out, S', saved) for (B, H, L, D) q, k, (B, H, L, Dv) v and
    the (B, H, D, Dv) state S. Chunks of c tokens (the last zero-padded: zero keys and values add
    nothing): within a chunk the masked quadratic product, across chunks the prefix sums of the chunk
    states; ``saved`` is what :func:`_scan_backward` reads (the chunks, their masked scores, the states
    before each chunk)."""
    b, h, t, d = q.shape
    dv = v.shape[-1]
    m = -(-t // c)
    pad = m * c - t
    if pad:
        q, k, v = (torch.nn.functional.pad(a, (0, 0, 0, pad)) for a in (q, k, v))
    qc, kc, vc = (a.reshape(b * h * m, c, a.shape[-1]) for a in (q, k, v))
    kv = torch.bmm(kc.transpose(1, 2), vc).view(b * h, m, d, dv)  # each chunk's Σ k_sᵀ v_s
    after = torch.cumsum(kv, dim=1)
    after += state.reshape(b * h, 1, d, dv)  # S after each chunk
    before = (after - kv).view(b * h * m, d, dv)  # S before each chunk
    scores = torch.bmm(qc, kc.transpose(1, 2)).tril_()  # (q_t · k_s) for s ≤ t within a chunk
    out = torch.baddbmm(torch.bmm(qc, before), scores, vc).view(b, h, m * c, dv)
    return (out[:, :, :t] if pad else out), after[:, -1].reshape(b, h, d, dv), (qc, kc, vc, scores, before)


def _scan_backward(g, ds, saved, c):
    """The gradients (dq, dk, dv, dS) of one segment from those of its output g (B, H, L, Dv) and of its
    final state ds (B, H, D, Dv), ``saved`` by :func:`_scan_forward`:

        dq_t = Σ_{s ≤ t} (g_t · v_s) k_s + g_t Sᵀ       (a causal scan of (g, v, k) from Sᵀ)
        dk_s = Σ_{t ≥ s} (g_t · v_s) q_t + ds v_s       (anti-causal scans: within a chunk the masked
        dv_s = Σ_{t ≥ s} (q_t · k_s) g_t + k_s ds        products transposed, across chunks the reverse
        dS = ds + Σ_t q_tᵀ g_t                           state R = ds + Σ_{later chunks} q_tᵀ g_t)

    (complex: the same with the saved inputs conjugated, the function being holomorphic)."""
    qc, kc, vc, scores, before = (a.conj() for a in saved)
    b, h, d, dv = ds.shape
    t = g.shape[2]
    m = qc.shape[0] // (b * h)
    if m * c > t:
        g = torch.nn.functional.pad(g, (0, 0, 0, m * c - t))
    gc = g.reshape(b * h * m, c, dv)
    p = torch.bmm(gc, vc.transpose(1, 2)).tril_()  # (g_t · v_s) for s ≤ t within a chunk
    dq = torch.baddbmm(torch.bmm(p, kc), gc, before.transpose(1, 2))
    qg = torch.bmm(qc.transpose(1, 2), gc).view(b * h, m, d, dv)  # each chunk's Σ q_tᵀ g_t
    total = qg.sum(1, keepdim=True) + ds.reshape(b * h, 1, d, dv)
    rev = (total - torch.cumsum(qg, dim=1)).view(b * h * m, d, dv)  # ds + Σ over the later chunks
    dk = torch.baddbmm(torch.bmm(p.transpose(1, 2), qc), vc, rev.transpose(1, 2))
    dv_ = torch.baddbmm(torch.bmm(scores.transpose(1, 2), gc), kc, rev)
    grads = [a.view(b, h, m * c, a.shape[-1])[:, :, :t] for a in (dq, dk, dv_)]
    return grads[0], grads[1], grads[2], total.view(b, h, d, dv)


class _CausalScan(torch.autograd.Function):
    """(out, S') = the causal scan of q, k, v from the state S over segments of ``step`` tokens, with the
    backward written out (:func:`_scan_backward`): fewer and larger kernels than autograd through the
    chunks' masks, prefix sums and concatenations, and only the chunks, scores and states kept.
    Inputs in bfloat16 or float16 (autocast) are scanned in float32, outside autocast, the output
    cast back: the prefix sums of chunk states need more than 8 bits of mantissa."""

    @staticmethod
    def forward(ctx, q, k, v, state, chunk, step):
        b, h, t, d = q.shape
        dv = v.shape[-1]
        dtype = q.dtype
        wide = torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype
        q, k, v = q.to(wide), k.to(wide), v.to(wide)
        s = q.new_zeros(b, h, d, dv) if state is None else state.to(wide)
        bounds = [(s0, min(t, s0 + step)) for s0 in range(0, t, step)]
        saved = []
        with torch.autocast(q.device.type, enabled=False):
            if len(bounds) == 1:
                out, s, part = _scan_forward(q, k, v, s, chunk)
                saved += part
            else:
                out = q.new_empty(b, h, t, dv)
                for s0, s1 in bounds:
                    out[:, :, s0:s1], s, part = _scan_forward(q[:, :, s0:s1], k[:, :, s0:s1], v[:, :, s0:s1], s,
                                                              chunk)
                    saved += part
        ctx.save_for_backward(*saved)
        ctx.bounds, ctx.chunk, ctx.has_state = bounds, chunk, state is not None
        ctx.shapes = (q.shape, v.shape)
        return out.to(dtype), s

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g, ds):
        saved, bounds, c = ctx.saved_tensors, ctx.bounds, ctx.chunk
        (b, h, t, d), dv = ctx.shapes[0], ctx.shapes[1][-1]
        wide = saved[0].dtype  # the dtype the forward scanned in (float32 for low-precision inputs)
        g = saved[0].new_zeros(b, h, t, dv) if g is None else g.to(wide)
        ds = saved[0].new_zeros(b, h, d, dv) if ds is None else ds.to(wide)
        if len(bounds) == 1:
            dq, dk, dv_, ds = _scan_backward(g, ds, saved, c)
        else:
            dq, dk, dv_ = g.new_empty(b, h, t, d), g.new_empty(b, h, t, d), g.new_empty(b, h, t, dv)
            for i in reversed(range(len(bounds))):
                s0, s1 = bounds[i]
                dq[:, :, s0:s1], dk[:, :, s0:s1], dv_[:, :, s0:s1], ds = _scan_backward(
                    g[:, :, s0:s1], ds, saved[5 * i:5 * i + 5], c)
        return dq, dk, dv_, (ds if ctx.has_state else None), None, None


def scan_segment(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, state: torch.Tensor | None = None,
                 chunk: int = 64, segment: int = 512):
    """(out, S') with out[t] = q_t S + Σ_{s ≤ t} (q_t · k_s) v_s and S' = S + Σ_s k_sᵀ v_s, for
    (B, H, T, D) q, k, (B, H, T, Dv) v and the carried state S (B, H, D, Dv) (None: zero). Chunks of
    ``chunk`` tokens (the last zero-padded): within a chunk the masked quadratic product, across chunks
    the prefix sums of the chunk states, walked in segments of about ``segment`` tokens so the
    intermediates stay cache-sized; the backward is written out (:class:`_CausalScan`)."""
    b, h, t, d = q.shape
    if t == 0:
        return q.new_zeros(b, h, 0, v.shape[-1]), (q.new_zeros(b, h, d, v.shape[-1]) if state is None else state)
    c = min(chunk, t)
    return _CausalScan.apply(q, k, v, state, c, max(1, segment // c) * c)


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
    return scan_segment(q, k, v, None, chunk, segment)[0]


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
