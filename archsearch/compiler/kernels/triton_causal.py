"""Triton kernels for causal linear attention, out_t = Σ_{s ≤ t} (q_t · k_s) v_s, as a chunked scan.

Design (the "fused chunk" scheme of flash-linear-attention, written afresh):

* the sequence is cut into chunks of BT tokens; one program per (batch·head, Dv-block, D-block)
  walks the chunks in order, carrying its (BK × BV) tile of the state S = Σ k_sᵀ v_s in fp32
  registers; per chunk it does three tensor-core products:
      A = tril(q_c k_cᵀ)          (BT × BT)
      o_c = q_c S + A v_c          (BT × BV)
      S  += k_cᵀ v_c               (BK × BV)
  so the work is O(T·BT·(D + Dv) + T·D·Dv): linear in T.
* when D is split into several blocks, every D-block writes a partial output (fp32) and the
  wrapper sums them; likewise for the backward.
* backward (recomputes, stores nothing but q, k, v):
      dq = causal(dO, V, K)                                  — the forward kernel again
      dk_c = V_c dSᵀ + triu(V_c dO_cᵀ) Q_c,  dv_c = K_c dS + triu(K_c Q_cᵀ) dO_c
  with the reverse state dS = Σ_{t after chunk c} q_tᵀ dO_t, one reverse-scan kernel for dk, dv.

Inputs fp32 / fp16 / bf16; accumulation in fp32. fp32 products use IEEE fp32 (no tf32) unless
``allow_tf32``; half inputs feed tensor cores directly (state and scores rounded to the input
type before their products, as flash-linear-attention does). Under the interpreter
(TRITON_INTERPRET=1, which must be set before this module is imported) bf16 is computed in fp32.
D and Dv are zero-padded to powers of two ≥ 16 by the wrapper.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

__all__ = ["CausalLinearAttention", "causal_linear_attention", "INTERPRET"]

#: whether this module's kernels were built for Triton's CPU interpreter (decided at import time)
INTERPRET: bool = bool(triton.knobs.runtime.interpret)

#: testing aid: fill output buffers with NaN before the kernels run, so an unwritten element shows
_POISON: bool = False

_SUPPORTED = (torch.float32, torch.float16, torch.bfloat16)


@triton.jit
def _tile(ptr, rows, cols, width, mask, CAST_FP32: tl.constexpr):
    """The tile ptr[rows, cols] of a row-major (T, width) matrix, zero outside ``mask``; fp32 when CAST_FP32."""
    x = tl.load(ptr + rows[:, None] * width + cols[None, :], mask=mask, other=0.0)
    if CAST_FP32:
        x = x.to(tl.float32)
    return x


@triton.jit
def _chunk_scan_fwd_kernel(
    q,  # (BH, T, D)
    k,  # (BH, T, D)
    v,  # (BH, T, DV)
    o,  # (NK, BH, T, DV): one partial output per D-block
    T,
    BH,
    D: tl.constexpr,
    DV: tl.constexpr,
    BT: tl.constexpr,
    BK: tl.constexpr,
    BV: tl.constexpr,
    CAST_FP32: tl.constexpr,
    PRECISION: tl.constexpr,
):
    i_bh = tl.program_id(0).to(tl.int64)  # int64 offsets: B·H·T·D may pass 2³¹
    i_v = tl.program_id(1)
    i_k = tl.program_id(2)
    q += i_bh * T * D
    k += i_bh * T * D
    v += i_bh * T * DV
    o += (i_k * BH + i_bh) * T * DV

    o_t = tl.arange(0, BT)
    o_k = i_k * BK + tl.arange(0, BK)
    o_v = i_v * BV + tl.arange(0, BV)
    causal = o_t[:, None] >= o_t[None, :]

    b_s = tl.zeros([BK, BV], dtype=tl.float32)
    for i_t in range(0, tl.cdiv(T, BT)):
        rows = i_t * BT + o_t
        m_t = (rows < T)[:, None]
        b_q = _tile(q, rows, o_k, D, m_t, CAST_FP32)
        b_k = _tile(k, rows, o_k, D, m_t, CAST_FP32)
        b_v = _tile(v, rows, o_v, DV, m_t, CAST_FP32)
        b_a = tl.dot(b_q, tl.trans(b_k), input_precision=PRECISION)
        b_a = tl.where(causal, b_a, 0.0)
        b_o = tl.dot(b_q, b_s.to(b_q.dtype), input_precision=PRECISION)
        b_o = tl.dot(b_a.to(b_v.dtype), b_v, acc=b_o, input_precision=PRECISION)
        b_s = tl.dot(tl.trans(b_k), b_v, acc=b_s, input_precision=PRECISION)
        tl.store(o + rows[:, None] * DV + o_v[None, :], b_o.to(o.dtype.element_ty), mask=m_t)


@triton.jit
def _chunk_scan_bwd_dkdv_kernel(
    q,  # (BH, T, D)
    k,  # (BH, T, D)
    v,  # (BH, T, DV)
    do,  # (BH, T, DV)
    dk,  # (NV, BH, T, D): one partial per Dv-block
    dv,  # (NK, BH, T, DV): one partial per D-block
    T,
    BH,
    D: tl.constexpr,
    DV: tl.constexpr,
    BT: tl.constexpr,
    BK: tl.constexpr,
    BV: tl.constexpr,
    CAST_FP32: tl.constexpr,
    PRECISION: tl.constexpr,
):
    i_bh = tl.program_id(0).to(tl.int64)  # int64 offsets: B·H·T·D may pass 2³¹
    i_v = tl.program_id(1)
    i_k = tl.program_id(2)
    q += i_bh * T * D
    k += i_bh * T * D
    v += i_bh * T * DV
    do += i_bh * T * DV
    dk += (i_v * BH + i_bh) * T * D
    dv += (i_k * BH + i_bh) * T * DV

    o_t = tl.arange(0, BT)
    o_k = i_k * BK + tl.arange(0, BK)
    o_v = i_v * BV + tl.arange(0, BV)
    anticausal = o_t[:, None] <= o_t[None, :]  # row s, column t: t ≥ s

    b_ds = tl.zeros([BK, BV], dtype=tl.float32)  # Σ over later chunks of q_tᵀ dO_t
    n_t = tl.cdiv(T, BT)
    for i in range(0, n_t):
        i_t = n_t - 1 - i
        rows = i_t * BT + o_t
        m_t = (rows < T)[:, None]
        b_q = _tile(q, rows, o_k, D, m_t, CAST_FP32)
        b_k = _tile(k, rows, o_k, D, m_t, CAST_FP32)
        b_v = _tile(v, rows, o_v, DV, m_t, CAST_FP32)
        b_do = _tile(do, rows, o_v, DV, m_t, CAST_FP32)
        # dv_c = K_c dS + triu(K_c Q_cᵀ) dO_c
        b_kq = tl.dot(b_k, tl.trans(b_q), input_precision=PRECISION)
        b_kq = tl.where(anticausal, b_kq, 0.0)
        b_dv = tl.dot(b_k, b_ds.to(b_k.dtype), input_precision=PRECISION)
        b_dv = tl.dot(b_kq.to(b_do.dtype), b_do, acc=b_dv, input_precision=PRECISION)
        # dk_c = V_c dSᵀ + triu(V_c dO_cᵀ) Q_c
        b_vdo = tl.dot(b_v, tl.trans(b_do), input_precision=PRECISION)
        b_vdo = tl.where(anticausal, b_vdo, 0.0)
        b_dk = tl.dot(b_v, tl.trans(b_ds).to(b_v.dtype), input_precision=PRECISION)
        b_dk = tl.dot(b_vdo.to(b_q.dtype), b_q, acc=b_dk, input_precision=PRECISION)
        # dS += Q_cᵀ dO_c
        b_ds = tl.dot(tl.trans(b_q), b_do, acc=b_ds, input_precision=PRECISION)
        tl.store(dk + rows[:, None] * D + o_k[None, :], b_dk.to(dk.dtype.element_ty), mask=m_t)
        tl.store(dv + rows[:, None] * DV + o_v[None, :], b_dv.to(dv.dtype.element_ty), mask=m_t)


# ---------------------------------------------------------------------------------------------
# host side


def _pow2_at_least_16(n: int) -> int:
    return max(16, triton.next_power_of_2(n))


def _pad_last(x: torch.Tensor, n: int) -> torch.Tensor:
    if x.shape[-1] == n:
        return x.contiguous()
    return torch.nn.functional.pad(x, (0, n - x.shape[-1])).contiguous()


def _alloc(shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    if _POISON:
        return torch.full(shape, float("nan"), dtype=dtype, device=device)
    return torch.empty(shape, dtype=dtype, device=device)


def _blocks(d: int, dv: int, block_k: int | None, block_v: int | None) -> tuple[int, int]:
    bk = min(d, 64) if block_k is None else block_k
    bv = min(dv, 64) if block_v is None else block_v
    for name, blk, full in (("block_k", bk, d), ("block_v", bv, dv)):
        if blk < 16 or blk & (blk - 1) or full % blk:
            raise ValueError(f"{name}={blk} must be a power of two ≥ 16 dividing {full}")
    return bk, bv


def _launch_options(dtype: torch.dtype, allow_tf32: bool) -> tuple[bool, str]:
    cast = dtype == torch.float32 or (INTERPRET and dtype == torch.bfloat16)
    precision = "ieee" if cast and not allow_tf32 else "tf32"  # precision only matters for fp32 products
    return cast, precision


def _scan_fwd(q, k, v, chunk, block_k, block_v, allow_tf32):
    """o = causal(q, k, v) for contiguous (B, H, T, D|Dv) tensors with power-of-two D, Dv."""
    b, h, t, d = q.shape
    dv = v.shape[-1]
    bk, bv = _blocks(d, dv, block_k, block_v)
    nk, nv = d // bk, dv // bv
    bh = b * h
    out_dtype = q.dtype if nk == 1 else torch.float32
    o = _alloc((nk, b, h, t, dv), out_dtype, q.device)
    cast, precision = _launch_options(q.dtype, allow_tf32)
    if t > 0 and bh > 0:
        _chunk_scan_fwd_kernel[(bh, nv, nk)](
            q, k, v, o, t, bh, D=d, DV=dv, BT=chunk, BK=bk, BV=bv, CAST_FP32=cast, PRECISION=precision
        )
    return o[0] if nk == 1 else o.sum(0).to(q.dtype)


def _scan_bwd_dkdv(q, k, v, do, chunk, block_k, block_v, allow_tf32):
    b, h, t, d = q.shape
    dv = v.shape[-1]
    bk, bv = _blocks(d, dv, block_k, block_v)
    nk, nv = d // bk, dv // bv
    bh = b * h
    dk = _alloc((nv, b, h, t, d), q.dtype if nv == 1 else torch.float32, q.device)
    dvv = _alloc((nk, b, h, t, dv), q.dtype if nk == 1 else torch.float32, q.device)
    cast, precision = _launch_options(q.dtype, allow_tf32)
    if t > 0 and bh > 0:
        _chunk_scan_bwd_dkdv_kernel[(bh, nv, nk)](
            q, k, v, do, dk, dvv, t, bh, D=d, DV=dv, BT=chunk, BK=bk, BV=bv, CAST_FP32=cast, PRECISION=precision
        )
    dk = dk[0] if nv == 1 else dk.sum(0).to(q.dtype)
    dvv = dvv[0] if nk == 1 else dvv.sum(0).to(q.dtype)
    return dk, dvv


def _check_inputs(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, chunk: int) -> None:
    if q.dim() != 4 or q.shape != k.shape or v.dim() != 4 or v.shape[:3] != q.shape[:3]:
        raise ValueError(f"expected q, k (B, H, T, D) and v (B, H, T, Dv); got {q.shape}, {k.shape}, {v.shape}")
    if not (q.dtype == k.dtype == v.dtype):
        raise TypeError(f"q, k, v must share a dtype, got {q.dtype}, {k.dtype}, {v.dtype}")
    if q.dtype not in _SUPPORTED:
        raise TypeError(f"Triton causal linear attention supports {_SUPPORTED}, got {q.dtype}")
    if chunk < 16 or chunk & (chunk - 1):
        raise ValueError(f"chunk must be a power of two ≥ 16 for the Triton kernel, got {chunk}")
    if not (q.is_cuda or INTERPRET):
        raise RuntimeError("Triton kernels need a CUDA tensor, or TRITON_INTERPRET=1 set before import")


class CausalLinearAttention(torch.autograd.Function):
    """autograd.Function around the Triton chunked scan; see the module docstring."""

    @staticmethod
    def forward(ctx, q, k, v, chunk, block_k, block_v, allow_tf32):  # every argument from causal_linear_attention
        _check_inputs(q, k, v, chunk)
        d, dv = q.shape[-1], v.shape[-1]
        dp, dvp = _pow2_at_least_16(d), _pow2_at_least_16(dv)
        qp, kp, vp = _pad_last(q, dp), _pad_last(k, dp), _pad_last(v, dvp)
        o = _scan_fwd(qp, kp, vp, chunk, block_k, block_v, allow_tf32)
        ctx.save_for_backward(qp, kp, vp)
        ctx.cfg = (d, dv, chunk, block_k, block_v, allow_tf32)
        return o[..., :dv]  # Dv padded to dvp; a view of o either way

    @staticmethod
    def backward(ctx, do):
        qp, kp, vp = ctx.saved_tensors
        d, dv, chunk, block_k, block_v, allow_tf32 = ctx.cfg
        dop = _pad_last(do, vp.shape[-1])  # autograd hands do over in o's dtype (it casts a grad_output of another)
        dq = dk = dvv = None
        if ctx.needs_input_grad[0]:
            # dq_t = Σ_{s ≤ t} (dO_t · v_s) k_s: the same scan with (q, k, v) → (dO, V, K)
            dq = _scan_fwd(dop, vp, kp, chunk, block_v, block_k, allow_tf32)[..., :d]
        if ctx.needs_input_grad[1] or ctx.needs_input_grad[2]:
            dk, dvv = _scan_bwd_dkdv(qp, kp, vp, dop, chunk, block_k, block_v, allow_tf32)
            dk, dvv = dk[..., :d], dvv[..., :dv]
        return dq, dk, dvv, None, None, None, None


def causal_linear_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    chunk: int = 64,
    *,
    block_k: int | None = None,
    block_v: int | None = None,
    allow_tf32: bool = False,
) -> torch.Tensor:
    """out[b, h, t] = Σ_{s ≤ t} (q_t · k_s) v_s with the Triton chunked scan (differentiable).

    q, k: (B, H, T, D); v: (B, H, T, Dv); fp32 / fp16 / bf16, CUDA (or CPU under the interpreter).
    ``chunk`` is the scan's chunk length (a power of two ≥ 16); ``block_k`` / ``block_v`` the
    state tile (default min(64, padded D / Dv)).
    """
    return CausalLinearAttention.apply(q, k, v, chunk, block_k, block_v, allow_tf32)
