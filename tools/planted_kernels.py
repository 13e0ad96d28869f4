"""Hand-planted bugs in the kernel code: ``python tools/plant.py tools/planted_kernels.py``. Mostly the
``@triton.jit`` kernels (run on CPU under TRITON_INTERPRET=1), which mutmut does not mutate (it skips functions
under a decorator other than ``@staticmethod``), and the torch scan's backward (under
``once_differentiable``); a few lines of the autograd Functions' forward/backward are planted too (mutmut mutates
those as well). Each is one realistic slip — a mask off by one, a dropped accumulator, a wrong offset or stride, a
reversed walk, a lost cast or state — checked by the kernel tests against the quadratic reference."""

TRITON = "archsearch/compiler/kernels/triton_causal.py"
REFERENCE = "archsearch/compiler/kernels/reference.py"
KERNEL_TESTS = ["tests/compiler/kernels"]
SCAN_TESTS = ["tests/compiler/kernels", "tests/compiler/test_causal.py"]

MUTANTS = [
    # the forward kernel
    (TRITON, "    causal = o_t[:, None] >= o_t[None, :]", "    causal = o_t[:, None] > o_t[None, :]", KERNEL_TESTS),
    (TRITON, "        b_a = tl.where(causal, b_a, 0.0)\n", "", KERNEL_TESTS),
    (TRITON, "        b_o = tl.dot(b_q, b_s.to(b_q.dtype), input_precision=PRECISION)",
     "        b_o = tl.zeros([BT, BV], dtype=tl.float32)", KERNEL_TESTS),
    (TRITON, "        b_s = tl.dot(tl.trans(b_k), b_v, acc=b_s, input_precision=PRECISION)",
     "        b_s = tl.dot(tl.trans(b_k), b_v, input_precision=PRECISION)", KERNEL_TESTS),
    (TRITON, "    o += (i_k * BH + i_bh) * T * DV", "    o += i_bh * T * DV", KERNEL_TESTS),
    (TRITON, "    for i_t in range(0, tl.cdiv(T, BT)):\n        rows = i_t * BT + o_t\n        m_t = (rows < T)",
     "    for i_t in range(0, tl.cdiv(T, BT)):\n        rows = i_t * BT + o_t\n        m_t = (rows <= T)",
     KERNEL_TESTS),
    (TRITON, "    q += i_bh * T * D\n    k += i_bh * T * D\n    v += i_bh * T * DV\n    o +=",
     "    q += i_bh * T * D\n    k += i_bh * T * D\n    v += i_bh * T * D\n    o +=", KERNEL_TESTS),
    (TRITON, "    x = tl.load(ptr + rows[:, None] * width + cols[None, :], mask=mask, other=0.0)",
     "    x = tl.load(ptr + rows[:, None] * width + cols[None, :], mask=mask, other=1.0)", KERNEL_TESTS),
    # the backward kernel (dk, dv)
    (TRITON, "        i_t = n_t - 1 - i", "        i_t = i", KERNEL_TESTS),
    (TRITON, "    anticausal = o_t[:, None] <= o_t[None, :]", "    anticausal = o_t[:, None] < o_t[None, :]",
     KERNEL_TESTS),
    (TRITON, "        b_dv = tl.dot(b_kq.to(b_do.dtype), b_do, acc=b_dv, input_precision=PRECISION)",
     "        b_dv = tl.dot(b_kq.to(b_do.dtype), b_do, input_precision=PRECISION)", KERNEL_TESTS),
    (TRITON, "        b_dk = tl.dot(b_vdo.to(b_q.dtype), b_q, acc=b_dk, input_precision=PRECISION)",
     "        b_dk = tl.dot(b_vdo.to(b_q.dtype), b_q, input_precision=PRECISION)", KERNEL_TESTS),
    (TRITON, "        b_ds = tl.dot(tl.trans(b_q), b_do, acc=b_ds, input_precision=PRECISION)",
     "        b_ds = tl.dot(tl.trans(b_q), b_do, input_precision=PRECISION)", KERNEL_TESTS),
    (TRITON, "    dk += (i_v * BH + i_bh) * T * D", "    dk += i_bh * T * D", KERNEL_TESTS),
    (TRITON, "    dv += (i_k * BH + i_bh) * T * DV", "    dv += i_bh * T * DV", KERNEL_TESTS),
    (TRITON, "    do += i_bh * T * DV", "    do += i_bh * T * D", KERNEL_TESTS),
    # the autograd Function around the kernels
    (TRITON, "            dq = _scan_fwd(dop, vp, kp, chunk, block_v, block_k, allow_tf32)[..., :d]",
     "            dq = _scan_fwd(dop, kp, vp, chunk, block_k, block_v, allow_tf32)[..., :d]", KERNEL_TESTS),
    (TRITON, "        return o[..., :dv]  #", "        return o  #", KERNEL_TESTS),
    (TRITON, "        dop = _pad_last(do, vp.shape[-1])", "        dop = _pad_last(do, qp.shape[-1])", KERNEL_TESTS),
    # the torch scan's autograd Function
    (REFERENCE, "        bounds = [(s0, min(t, s0 + step)) for s0 in range(0, t, step)]",
     "        bounds = [(s0, s0 + step) for s0 in range(0, t, step)]", SCAN_TESTS),
    (REFERENCE, "        wide = torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype",
     "        wide = dtype", SCAN_TESTS),
    (REFERENCE, "            for i in reversed(range(len(bounds))):", "            for i in range(len(bounds)):",
     SCAN_TESTS),
    (REFERENCE, "                    g[:, :, s0:s1], ds, saved[5 * i:5 * i + 5], c)",
     "                    g[:, :, s0:s1], ds, saved[:5], c)", SCAN_TESTS),
    (REFERENCE, "        return dq, dk, dv_, (ds if ctx.has_state else None), None, None",
     "        return dq, dk, dv_, None, None, None", SCAN_TESTS),
]
