"""Causal linear attention: chunked torch scan and Triton kernels against the quadratic reference.

Every test draws fresh inputs from its own seed (derived from the test id; set
ARCHSEARCH_TEST_SEED to shift all seeds). Triton runs under the CPU interpreter (see conftest.py).
"""

import os

os.environ.setdefault("TRITON_INTERPRET", "1")  # before any import of the kernels (conftest does it too)

import subprocess  # noqa: E402
import sys  # noqa: E402
import zlib  # noqa: E402
from types import SimpleNamespace  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

from archsearch.compiler import kernels  # noqa: E402
from archsearch.compiler.kernels import (  # noqa: E402
    causal_linear_attention_chunked,
    causal_linear_attention_quadratic,
    linear_attention,
    reference,
)
from archsearch.compiler.kernels.reference import scan_segment  # noqa: E402

# (B, H, T, D, Dv, chunk): T multiple / not a multiple of / below the chunk, D ≠ Dv, B·H > 1
TORCH_SHAPES = [
    (1, 1, 64, 16, 16, 16),
    (2, 3, 100, 16, 32, 32),
    (1, 2, 7, 8, 5, 64),
    (2, 2, 130, 32, 8, 64),
    (3, 1, 33, 4, 6, 1),
]


@pytest.fixture
def gen(request) -> torch.Generator:
    seed = (zlib.crc32(request.node.nodeid.encode()) + int(os.environ.get("ARCHSEARCH_TEST_SEED", "0"))) % 2**31
    request.node.user_properties.append(("seed", seed))
    return torch.Generator().manual_seed(seed)


def _inputs(gen, b, h, t, d, dv, dtype=torch.float32, device="cpu"):
    q = torch.randn(b, h, t, d, generator=gen, dtype=torch.float64)
    k = torch.randn(b, h, t, d, generator=gen, dtype=torch.float64)
    v = torch.randn(b, h, t, dv, generator=gen, dtype=torch.float64)
    return [x.to(dtype=dtype, device=device) for x in (q, k, v)]


def _assert_rel(actual: torch.Tensor, expected: torch.Tensor, tol: float, what: str = "") -> None:
    """Everywhere-close relative to the largest reference entry; NaN anywhere fails."""
    assert actual.shape == expected.shape, what
    actual = actual.detach().to("cpu", torch.float64)
    expected = expected.detach().to("cpu", torch.float64)
    assert not torch.isnan(actual).any(), f"{what}: NaN in output (unwritten or poisoned element)"
    scale = expected.abs().max().item() or 1.0
    torch.testing.assert_close(actual, expected, rtol=tol, atol=tol * scale, msg=lambda m: f"{what}: {m}")


# --------------------------------------------------------------------------------------------
# pure torch


def test_quadratic_reference_matches_explicit_sum(gen):
    q, k, v = _inputs(gen, 2, 2, 9, 3, 4, torch.float64)
    out = causal_linear_attention_quadratic(q, k, v)
    expected = torch.zeros_like(out)
    for t in range(q.shape[2]):
        for s in range(t + 1):
            expected[:, :, t] += (q[:, :, t] * k[:, :, s]).sum(-1, keepdim=True) * v[:, :, s]
    _assert_rel(out, expected, 1e-12)


@pytest.mark.parametrize("shape", TORCH_SHAPES, ids=str)
@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-5), (torch.float64, 1e-10)], ids=["fp32", "fp64"])
def test_chunked_matches_quadratic(gen, shape, dtype, tol):
    b, h, t, d, dv, chunk = shape
    q, k, v = _inputs(gen, b, h, t, d, dv, dtype)
    out = causal_linear_attention_chunked(q, k, v, chunk=chunk)
    assert out.dtype == dtype and out.shape == (b, h, t, dv)
    _assert_rel(out, causal_linear_attention_quadratic(q, k, v), tol, f"chunked {shape}")


@pytest.mark.parametrize("segment", [16, 48, 1000])
def test_chunked_segments_match_quadratic(gen, segment):
    """The segmented walk (segments of 16 and 48 tokens, 130 = not a multiple of either) carries the state."""
    q, k, v = _inputs(gen, 2, 2, 130, 8, 5, torch.float64)
    out = causal_linear_attention_chunked(q, k, v, chunk=16, segment=segment)
    _assert_rel(out, causal_linear_attention_quadratic(q, k, v), 1e-10, f"segment {segment}")


def test_scan_segment_carries_the_state(gen):
    """Two segment calls, the second starting from the first's state S = Σ kᵀv, give the one-pass scan;
    the returned state is Σ_s k_sᵀ v_s over everything seen."""
    q, k, v = _inputs(gen, 2, 3, 37, 4, 6, torch.float64)
    cut = 23
    first, state = scan_segment(q[:, :, :cut], k[:, :, :cut], v[:, :, :cut], None, 8)
    second, final = scan_segment(q[:, :, cut:], k[:, :, cut:], v[:, :, cut:], state, 8)
    _assert_rel(torch.cat([first, second], dim=2), causal_linear_attention_quadratic(q, k, v), 1e-10)
    _assert_rel(state, k[:, :, :cut].transpose(-1, -2) @ v[:, :, :cut], 1e-12)
    _assert_rel(final, k.transpose(-1, -2) @ v, 1e-12)


def test_chunked_is_causal(gen):
    q, k, v = _inputs(gen, 1, 2, 40, 8, 8, torch.float64)
    out = causal_linear_attention_chunked(q, k, v, chunk=16)
    k2, v2 = k.clone(), v.clone()
    k2[:, :, 25:] += 1.0
    v2[:, :, 25:] -= 2.0
    out2 = causal_linear_attention_chunked(q, k2, v2, chunk=16)
    torch.testing.assert_close(out[:, :, :25], out2[:, :, :25], rtol=0, atol=1e-12)
    assert not torch.allclose(out[:, :, 25:], out2[:, :, 25:])


def test_chunked_empty_sequence():
    q = torch.zeros(2, 1, 0, 4)
    assert causal_linear_attention_chunked(q, q, torch.zeros(2, 1, 0, 3)).shape == (2, 1, 0, 3)


def test_linear_attention_noncausal(gen):
    q, k, v = _inputs(gen, 2, 3, 21, 5, 7, torch.float64)
    _assert_rel(linear_attention(q, k, v), (q @ k.transpose(-1, -2)) @ v, 1e-12)


def test_shape_errors():
    with pytest.raises(ValueError):
        causal_linear_attention_chunked(torch.zeros(1, 1, 4, 3), torch.zeros(1, 1, 4, 2), torch.zeros(1, 1, 4, 3))
    with pytest.raises(ValueError):
        causal_linear_attention_quadratic(torch.zeros(1, 4, 3), torch.zeros(1, 4, 3), torch.zeros(1, 4, 3))


@pytest.mark.parametrize("shape", [(1, 2, 10, 3, 4, 4), (2, 1, 7, 2, 3, 3)], ids=str)
def test_chunked_gradcheck_fp64(gen, shape):
    b, h, t, d, dv, chunk = shape
    q, k, v = (x.requires_grad_() for x in _inputs(gen, b, h, t, d, dv, torch.float64))
    assert torch.autograd.gradcheck(lambda q, k, v: causal_linear_attention_chunked(q, k, v, chunk), (q, k, v))


def _quadratic_with_state(q, k, v, state):
    """(out, S') of a segment from the masked quadratic product: autograd's gradients are the reference."""
    return causal_linear_attention_quadratic(q, k, v) + q @ state, state + k.transpose(-1, -2) @ v


# (B, H, T, D, Dv, chunk, segment): T = 1, T < chunk, T a multiple of the chunk, T not a multiple of the
# chunk, several segments with a short last one
BACKWARD_SHAPES = [
    (1, 1, 1, 3, 2, 64, 512),
    (2, 1, 5, 4, 3, 8, 512),
    (1, 2, 64, 8, 8, 16, 512),
    (2, 2, 100, 8, 5, 16, 512),
    (1, 3, 130, 6, 7, 16, 48),
]


@pytest.mark.parametrize("shape", BACKWARD_SHAPES, ids=str)
def test_written_out_backward_matches_quadratic_autograd(gen, shape):
    """The scan's written-out backward (kernels.reference._CausalScan) gives autograd's gradients through the
    masked quadratic product, for q, k, v and the carried state, from cotangents of the output and the
    final state together and of either alone (fresh random inputs, float64)."""
    b, h, t, d, dv, chunk, segment = shape
    q, k, v = _inputs(gen, b, h, t, d, dv, torch.float64)
    state = torch.randn(b, h, d, dv, generator=gen, dtype=torch.float64)
    leaves = [a.clone().requires_grad_() for a in (q, k, v, state)]
    out, final = scan_segment(*leaves, chunk, segment)
    ref_out, ref_final = _quadratic_with_state(*leaves)
    _assert_rel(out, ref_out, 1e-10, "output")
    _assert_rel(final, ref_final, 1e-12, "state")
    g_out = torch.randn(out.shape, generator=gen, dtype=torch.float64)
    g_final = torch.randn(final.shape, generator=gen, dtype=torch.float64)
    for which in ("both", "out", "state"):
        def loss(o, f, which=which):  # an output left out of the loss gets no cotangent at all (None in the backward)
            parts = [(o * g_out).sum()] if which != "state" else []
            return sum(parts + ([(f * g_final).sum()] if which != "out" else []))
        out, final = scan_segment(*leaves, chunk, segment)
        got = torch.autograd.grad(loss(out, final), leaves)
        want = torch.autograd.grad(loss(*_quadratic_with_state(*leaves)), leaves, allow_unused=True,
                                   materialize_grads=True)  # state alone: q has no gradient
        for name, a, e in zip("qkvS", got, want, strict=True):
            _assert_rel(a, e, 1e-10, f"d{name} ({which})")


@pytest.mark.parametrize("shape", [(1, 1, 1, 2, 3, 64, 512), (2, 1, 5, 3, 2, 8, 512), (1, 2, 13, 3, 2, 4, 8)],
                         ids=str)
@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128], ids=["fp64", "complex128"])
def test_written_out_backward_gradcheck(gen, shape, dtype):
    """gradcheck of the scan with a carried state: T = 1, T < chunk, several chunks and segments; complex too
    (the generated blocks of complex fields run the same scan)."""
    b, h, t, d, dv, chunk, segment = shape
    q, k, v = (a.to(dtype) for a in _inputs(gen, b, h, t, d, dv, torch.float64))
    if dtype.is_complex:
        q, k, v = (a + 1j * torch.randn(a.shape, generator=gen, dtype=torch.float64) for a in (q, k, v))
    state = torch.randn(b, h, d, dv, generator=gen, dtype=torch.float64).to(dtype)
    leaves = [a.requires_grad_() for a in (q, k, v, state)]
    assert torch.autograd.gradcheck(lambda *a: scan_segment(*a, chunk, segment), leaves)


def test_written_out_backward_of_broadcast_inputs(gen):
    """Expanded (stride-0) and permuted inputs, as the generated blocks pass them: the gradients reach the
    un-expanded tensors summed over the broadcast axis."""
    x = torch.randn(2, 1, 40, 6, generator=gen, dtype=torch.float64, requires_grad=True)
    w = torch.randn(2, 3, 40, 6, generator=gen, dtype=torch.float64, requires_grad=True)
    qv = w.transpose(0, 1).contiguous().transpose(0, 1)  # a non-contiguous layout
    got = torch.autograd.grad(causal_linear_attention_chunked(qv, x.expand(2, 3, 40, 6), w, 16, 32).sum(), (x, w))
    want = torch.autograd.grad(causal_linear_attention_quadratic(qv, x.expand(2, 3, 40, 6), w).sum(), (x, w))
    for a, e in zip(got, want, strict=True):
        _assert_rel(a, e, 1e-10)


# --------------------------------------------------------------------------------------------
# registry


def test_registry_and_torch_backend(gen):
    assert set(kernels.KERNELS["causal_linear_attention"]) == {"triton", "torch"}
    q, k, v = _inputs(gen, 2, 2, 50, 8, 4)
    out = kernels.causal_linear_attention(q, k, v, chunk=16, backend="torch")
    _assert_rel(out, causal_linear_attention_quadratic(q, k, v), 1e-5)
    with pytest.raises(ValueError, match="backend"):
        kernels.causal_linear_attention(q, k, v, backend="cuda-magic")


def test_auto_backend_uses_torch_on_cpu(gen, monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("auto picked Triton for a CPU tensor")

    monkeypatch.setitem(kernels.KERNELS["causal_linear_attention"], "triton", boom)
    q, k, v = _inputs(gen, 1, 2, 20, 4, 4)
    _assert_rel(kernels.causal_linear_attention(q, k, v), causal_linear_attention_quadratic(q, k, v), 1e-5)


def test_disable_env(monkeypatch):
    monkeypatch.setenv("ARCHSEARCH_DISABLE_TRITON", "1")
    assert kernels.triton_disabled() and not kernels.triton_available()
    monkeypatch.setenv("ARCHSEARCH_DISABLE_TRITON", "0")
    assert not kernels.triton_disabled()


def _python(code: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)


def test_import_is_lazy_and_works_without_triton():
    code = (
        "import sys\n"
        "import archsearch.compiler.kernels as K\n"
        "assert 'triton' not in sys.modules, 'triton imported eagerly'\n"
        "sys.modules['triton'] = None  # as if not installed\n"
        "import torch\n"
        "assert not K.triton_available()\n"
        "q = torch.randn(1, 2, 10, 4)\n"
        "out = K.causal_linear_attention(q, q, q, chunk=4)\n"
        "ref = K.causal_linear_attention_quadratic(q, q, q)\n"
        "assert torch.allclose(out, ref, atol=1e-5), 'fallback mismatch'\n"
        "print('ok')\n"
    )
    proc = _python(code)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


# --------------------------------------------------------------------------------------------
# Triton (CPU interpreter; on CUDA when run with TRITON_INTERPRET=0)

# (B, H, T, D, Dv, chunk, block_k, block_v)
TRITON_SHAPES = [
    (2, 2, 100, 16, 32, 32, None, None),  # T not a multiple of the chunk, D ≠ Dv
    (1, 3, 64, 32, 16, 16, None, None),  # several chunks, exact multiple
    (1, 2, 37, 10, 24, 16, None, None),  # D, Dv padded to 16, 32
    (1, 2, 48, 32, 32, 16, 16, 16),  # state split into 2 × 2 tiles: partial sums
    (2, 1, 5, 16, 16, 64, None, None),  # T below one chunk
    (1, 1, 1, 16, 16, 16, None, None),  # a single token, B·H = 1
]


@pytest.fixture
def triton_causal():
    """The Triton kernel module, imported only by the tests that use it (Triton may be absent: they skip)."""
    pytest.importorskip("triton", exc_type=ImportError)
    from archsearch.compiler.kernels import triton_causal as module

    return module


@pytest.fixture
def tc(monkeypatch, triton_causal):
    if triton_causal.INTERPRET:
        device = "cpu"
    elif torch.cuda.is_available():
        device = "cuda"
    else:
        pytest.skip("Triton kernels were built without the interpreter and there is no CUDA device")
    monkeypatch.setattr(triton_causal, "_POISON", True)  # every output buffer starts as NaN
    return SimpleNamespace(causal_linear_attention=triton_causal.causal_linear_attention, device=device)


def _fwd_bwd_check(tc, gen, shape, dtype, tol):
    b, h, t, d, dv, chunk, bk, bv = shape
    device = tc.device
    q, k, v = _inputs(gen, b, h, t, d, dv, dtype, device)
    leaves = [x.clone().requires_grad_() for x in (q, k, v)]
    out = tc.causal_linear_attention(*leaves, chunk, block_k=bk, block_v=bv)
    assert out.dtype == dtype and out.shape == (b, h, t, dv)
    do = torch.randn(out.shape, generator=gen, dtype=torch.float64).to(dtype=dtype, device=device)
    out.backward(do)
    # reference in fp64 from the same (rounded) inputs
    ref_leaves = [x.detach().to("cpu", torch.float64).requires_grad_() for x in (q, k, v)]
    ref = causal_linear_attention_quadratic(*ref_leaves)
    ref.backward(do.to("cpu", torch.float64))
    _assert_rel(out, ref, tol, f"out {shape} {dtype}")
    for name, leaf, ref_leaf in zip("qkv", leaves, ref_leaves, strict=True):
        assert leaf.grad.dtype == dtype
        _assert_rel(leaf.grad, ref_leaf.grad, tol, f"d{name} {shape} {dtype}")


@pytest.mark.parametrize("shape", TRITON_SHAPES, ids=str)
def test_triton_fp32_forward_backward(tc, gen, shape):
    _fwd_bwd_check(tc, gen, shape, torch.float32, 1e-4)


@pytest.mark.parametrize("dtype, tol", [(torch.float16, 1e-2), (torch.bfloat16, 2e-2)], ids=["fp16", "bf16"])
def test_triton_half_inputs(tc, gen, dtype, tol):
    _fwd_bwd_check(tc, gen, (1, 2, 64, 16, 16, 32, None, None), dtype, tol)


def test_triton_through_registry(tc, gen):
    q, k, v = _inputs(gen, 2, 2, 40, 16, 16, device=tc.device)
    out = kernels.causal_linear_attention(q, k, v, chunk=16, backend="triton")
    _assert_rel(out, causal_linear_attention_quadratic(q, k, v), 1e-4, "registry triton")


def test_triton_rejects_bad_arguments(tc):
    x = torch.zeros(1, 1, 8, 16, device=tc.device)
    with pytest.raises(ValueError, match="chunk"):
        tc.causal_linear_attention(x, x, x, chunk=24)
    with pytest.raises(TypeError):
        tc.causal_linear_attention(x.double(), x.double(), x.double())
    with pytest.raises(ValueError, match="block_k"):
        tc.causal_linear_attention(x, x, x, block_k=32)


def test_bfloat16_inputs_are_scanned_in_float32():
    """The torch scan's prefix sums of chunk states run in float32 for bf16 inputs: over 4096 tokens the output
    is the exact causal attention of the (bf16) inputs rounded once to bf16 (relative error below 2⁻⁸; scanned
    in bf16 itself it is about 5·10⁻³)."""
    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 2, 4096, 16, generator=gen, dtype=torch.float64).to(torch.bfloat16) for _ in range(3))
    out = reference.chunked_scan(q, k, v, chunk=64)
    assert out.dtype == torch.bfloat16
    ref = causal_linear_attention_quadratic(q.double(), k.double(), v.double())
    assert ((out.double() - ref).norm() / ref.norm()).item() < 2**-8


def test_the_triton_switch_reads_the_environment(monkeypatch):
    """ARCHSEARCH_DISABLE_TRITON turns Triton off unless it is unset, empty, 0, false or no (any case)."""
    monkeypatch.delenv("ARCHSEARCH_DISABLE_TRITON", raising=False)
    assert kernels.triton_disabled() is False
    for value, off in (("1", True), ("true", True), ("yes", True), ("YES", True), ("0", False), ("", False),
                       ("false", False), ("FALSE", False), ("no", False), ("No", False)):
        monkeypatch.setenv("ARCHSEARCH_DISABLE_TRITON", value)
        assert kernels.triton_disabled() is off, value


def test_triton_is_available_when_its_spec_is_found_and_it_is_not_disabled(monkeypatch):
    monkeypatch.delenv("ARCHSEARCH_DISABLE_TRITON", raising=False)
    asked = []
    monkeypatch.setattr(kernels.importlib.util, "find_spec", lambda name: asked.append(name) or object())
    assert kernels.triton_available() is True and asked == ["triton"]
    monkeypatch.setattr(kernels.importlib.util, "find_spec", lambda name: None)
    assert kernels.triton_available() is False

    def broken(name):
        raise ValueError("sys.modules['triton'] is None")

    monkeypatch.setattr(kernels.importlib.util, "find_spec", broken)
    assert kernels.triton_available() is False


def test_auto_picks_triton_for_cuda_inputs_of_one_supported_dtype_and_a_power_of_two_chunk(monkeypatch):
    """The rule (checked on stand-ins: CI has no CUDA): CUDA, one dtype among fp32/fp16/bf16, chunk a power of two
    ≥ 16, Triton available; then the Triton entry gets the same q, k, v and chunk (64 by default)."""
    monkeypatch.setattr(kernels, "triton_available", lambda: True)

    def t(dtype=torch.float16, cuda=True):
        return SimpleNamespace(is_cuda=cuda, dtype=dtype)

    q = t()
    assert kernels._auto_uses_triton(q, q, q, 64) and kernels._auto_uses_triton(q, q, q, 16)
    for chunk in (8, 24, 48, 17):
        assert not kernels._auto_uses_triton(q, q, q, chunk), chunk
    assert not kernels._auto_uses_triton(q, t(torch.float32), q, 64)
    assert not kernels._auto_uses_triton(q, q, t(torch.float32), 64)
    f64 = t(torch.float64)
    assert not kernels._auto_uses_triton(f64, f64, f64, 64)
    cpu = t(cuda=False)
    assert not kernels._auto_uses_triton(cpu, cpu, cpu, 64)
    monkeypatch.setattr(kernels, "triton_available", lambda: False)
    assert not kernels._auto_uses_triton(q, q, q, 64)

    seen = {}
    monkeypatch.setattr(kernels, "_auto_uses_triton", lambda *args: seen.setdefault("auto", args) is not None)
    monkeypatch.setitem(kernels.KERNELS["causal_linear_attention"], "triton",
                        lambda *args: seen.setdefault("triton", args) and "triton ran")
    a, b, c = torch.zeros(1), torch.ones(1), torch.full((1,), 2.0)
    assert kernels.causal_linear_attention(a, b, c) == "triton ran"
    assert all(x is y for x, y in zip(seen["auto"][:3], (a, b, c), strict=True)) and seen["auto"][3] == 64
    assert all(x is y for x, y in zip(seen["triton"][:3], (a, b, c), strict=True)) and seen["triton"][3] == 64


def test_the_chunk_reaches_the_backend(gen, tc):
    """A chunk the backend refuses is refused through the registry and its Triton entry (which passes its
    keyword arguments on); without one, both scan in chunks of 64."""
    x = torch.zeros(1, 1, 8, 16, device=tc.device)
    with pytest.raises(ValueError, match="chunk must be positive, got 0"):
        kernels.causal_linear_attention(x.cpu(), x.cpu(), x.cpu(), chunk=0, backend="torch")
    entry = kernels.KERNELS["causal_linear_attention"]["triton"]
    with pytest.raises(ValueError, match="chunk must be a power of two"):
        entry(x, x, x, 17)
    with pytest.raises(ValueError, match="block_k=32"):
        entry(x, x, x, block_k=32)
    q, k, v = _inputs(gen, 1, 1, 70, 16, 16, device=tc.device)
    _assert_rel(entry(q, k, v), causal_linear_attention_quadratic(q, k, v), 1e-4, "default chunk")


def test_shape_refusals_name_every_shape():
    x4, x3 = torch.zeros(1, 2, 5, 4), torch.zeros(2, 5, 4)
    cases = [((x4, x4, x3), "expected 4-d (B, H, T, D) tensors, got (1, 2, 5, 4), (1, 2, 5, 4), (2, 5, 4)"),
             ((x4, x3, x4), "expected 4-d (B, H, T, D) tensors, got (1, 2, 5, 4), (2, 5, 4), (1, 2, 5, 4)"),
             ((x4, torch.zeros(1, 2, 5, 3), x4), "q and k must have the same shape, got (1, 2, 5, 4) and (1, 2, 5, 3)"),
             ((x4, x4, torch.zeros(1, 2, 6, 4)),
              "v must be (B, H, T, Dv) with q's (B, H, T) = (1, 2, 5), got (1, 2, 6, 4)")]
    for args, message in cases:
        with pytest.raises(ValueError) as bad:
            causal_linear_attention_quadratic(*args)
        assert str(bad.value) == message
    with pytest.raises(ValueError) as bad:
        causal_linear_attention_chunked(x4, x4, x4, chunk=0)
    assert str(bad.value) == "chunk must be positive, got 0"


def test_the_quadratic_reference_stays_on_its_inputs_device():
    q = torch.empty(1, 2, 5, 4, device="meta")
    assert causal_linear_attention_quadratic(q, q, q).device.type == "meta"


def test_an_empty_sequence_keeps_or_makes_the_state(gen):
    q, v = torch.zeros(2, 3, 0, 4), torch.zeros(2, 3, 0, 5)
    out, state = scan_segment(q, q, v)
    assert out.shape == (2, 3, 0, 5) and state.shape == (2, 3, 4, 5) and not state.any()
    given = torch.randn(2, 3, 4, 5, generator=gen)
    assert scan_segment(q, q, v, given)[1] is given


def test_chunks_and_segments_reach_the_scan(monkeypatch):
    """The scan runs in chunks of min(chunk, T) tokens and segments of whole chunks (at least one) — the sizes
    change only the order of the additions, so they are checked where they are passed."""
    seen = []
    real = reference._CausalScan.apply
    monkeypatch.setattr(reference._CausalScan, "apply", lambda *a: seen.append(a[4:]) or real(*a))
    x = torch.zeros(1, 1, 700, 4)
    for call, want in ((lambda: causal_linear_attention_chunked(x, x, x), (64, 512)),
                       (lambda: causal_linear_attention_chunked(x, x, x, chunk=16, segment=40), (16, 32)),
                       (lambda: causal_linear_attention_chunked(x, x, x, chunk=16, segment=8), (16, 16)),
                       (lambda: causal_linear_attention_chunked(x[:, :, :10], x[:, :, :10], x[:, :, :10]), (10, 510)),
                       (lambda: scan_segment(x, x, x), (64, 512)),
                       (lambda: reference.chunked_scan(x, x, x), (64, 512)),
                       (lambda: reference.chunked_scan(x, x, x, 32, 100), (32, 96))):
        seen.clear()
        call()
        assert seen == [want]


def test_under_torch_export_the_scan_is_the_masked_quadratic_product(gen, monkeypatch):
    """While exporting, chunked_scan is tril(q kᵀ) v (no chunk counts for the tracer to guard on)."""
    q, k, v = _inputs(gen, 2, 2, 9, 4, 3)
    monkeypatch.setattr(torch.compiler, "is_exporting", lambda: True)
    monkeypatch.setattr(reference, "scan_segment", lambda *a: pytest.fail("the chunked scan ran while exporting"))
    _assert_rel(reference.chunked_scan(q, k, v), causal_linear_attention_quadratic(q, k, v), 1e-12, "export")


def test_triton_input_refusals_word_for_word(tc, triton_causal, monkeypatch):
    """Each of q, k, v checked on its own, with what was given; dtypes; a kernel needs CUDA or the interpreter."""
    x, x3 = torch.zeros(1, 1, 8, 16), torch.zeros(1, 8, 16)
    shapes = "expected q, k (B, H, T, D) and v (B, H, T, Dv); got "
    for args in ((x3, x3, x), (x, torch.zeros(1, 1, 8, 32), x), (x, x, x3), (x, x, torch.zeros(1, 1, 9, 16))):
        with pytest.raises(ValueError) as bad:
            tc.causal_linear_attention(*args)
        assert str(bad.value) == shapes + ", ".join(str(a.shape) for a in args)
    with pytest.raises(TypeError) as bad:
        tc.causal_linear_attention(x, x.half(), x)
    assert str(bad.value) == "q, k, v must share a dtype, got torch.float32, torch.float16, torch.float32"
    with pytest.raises(TypeError) as bad:
        tc.causal_linear_attention(x.double(), x.double(), x.double())
    assert str(bad.value) == f"Triton causal linear attention supports {triton_causal._SUPPORTED}, got torch.float64"
    for block, name in ((8, "block_k"), (24, "block_k")):
        with pytest.raises(ValueError) as bad:
            tc.causal_linear_attention(x, x, x, block_k=block)
        assert str(bad.value) == f"{name}={block} must be a power of two ≥ 16 dividing 16"
    with pytest.raises(ValueError) as bad:
        tc.causal_linear_attention(x, x, torch.zeros(1, 1, 8, 32), block_v=24)
    assert str(bad.value) == "block_v=24 must be a power of two ≥ 16 dividing 32"
    monkeypatch.setattr(triton_causal, "INTERPRET", False)
    if tc.device == "cpu":
        with pytest.raises(RuntimeError) as bad:
            tc.causal_linear_attention(x, x, x)
        assert str(bad.value) == "Triton kernels need a CUDA tensor, or TRITON_INTERPRET=1 set before import"


@pytest.mark.parametrize("h, t, d", [(16, 8, 10), (1, 16, 10), (1, 8, 128)], ids=["H=16", "T=16", "D=128"])
def test_triton_pads_the_feature_axis_and_tiles_wide_states(tc, gen, h, t, d):
    """D and Dv are padded along the last axis (not H or T, even when those equal the padded size); a feature
    size above 64 is tiled in blocks of 64 by default."""
    q, k, v = _inputs(gen, 1, h, t, d, d, device=tc.device)
    _assert_rel(tc.causal_linear_attention(q, k, v, 16), causal_linear_attention_quadratic(q, k, v), 1e-4, "pad")


@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-4), (torch.float16, 1e-2)], ids=["fp32", "fp16"])
def test_triton_without_poisoned_buffers(tc, triton_causal, gen, monkeypatch, dtype, tol):
    """The buffers as production allocates them (uninitialised, not NaN-filled): same results and dtypes."""
    monkeypatch.setattr(triton_causal, "_POISON", False)
    _fwd_bwd_check(tc, gen, (1, 2, 40, 16, 32, 16, None, None), dtype, tol)


def test_launch_options_per_dtype(triton_causal, monkeypatch):
    """fp32 (and bf16 under the interpreter, which has no bf16 products) is cast to fp32 inside the kernel and
    multiplied in IEEE fp32 unless tf32 is allowed; fp16 and compiled bf16 feed the tensor cores as they are."""
    f32, f16, bf16 = torch.float32, torch.float16, torch.bfloat16
    for interpret in (False, True):
        monkeypatch.setattr(triton_causal, "INTERPRET", interpret)
        assert triton_causal._launch_options(f32, False) == (True, "ieee")
        assert triton_causal._launch_options(f32, True) == (True, "tf32")
        assert triton_causal._launch_options(f16, False) == (False, "tf32")
        assert triton_causal._launch_options(bf16, False) == ((True, "ieee") if interpret else (False, "tf32"))
        assert triton_causal._launch_options(bf16, True) == (interpret, "tf32")


@pytest.mark.parametrize("poison", [False, True])
def test_buffers_are_allocated_as_asked(triton_causal, poison, monkeypatch):
    """Shape, dtype and device as given (a meta tensor stays meta), NaN-filled when poisoning."""
    monkeypatch.setattr(triton_causal, "_POISON", poison)
    buf = triton_causal._alloc((2, 3), torch.float16, torch.device("meta"))
    assert (buf.shape, buf.dtype, buf.device.type) == ((2, 3), torch.float16, "meta")
    if poison:
        assert triton_causal._alloc((4,), torch.float32, torch.device("cpu")).isnan().all()


def _spy_launches(monkeypatch, triton_causal) -> list[tuple[str, tuple, dict]]:
    """Every kernel launch as (kernel, grid, keyword arguments); the kernels still run."""
    launches: list[tuple[str, tuple, dict]] = []

    class Spy:
        def __init__(self, name, kernel):
            self.name, self.kernel = name, kernel

        def __getitem__(self, grid):
            def launch(*args, **kwargs):
                launches.append((self.name, grid, kwargs))
                return self.kernel[grid](*args, **kwargs)
            return launch

    for name in ("_chunk_scan_fwd_kernel", "_chunk_scan_bwd_dkdv_kernel"):
        monkeypatch.setattr(triton_causal, name, Spy(name, getattr(triton_causal, name)))
    return launches


@pytest.mark.parametrize("allow_tf32", [None, False, True], ids=["default", "ieee", "tf32"])
def test_blocks_and_precision_reach_every_launch(tc, triton_causal, gen, monkeypatch, allow_tf32):
    """The state tile asked for and the fp32 product precision reach the forward, dq (the forward kernel with
    the roles of D and Dv swapped) and dk/dv launches; tf32 only when allowed (the default is IEEE fp32)."""
    launches = _spy_launches(monkeypatch, triton_causal)
    q, k, v = (x.requires_grad_() for x in _inputs(gen, 2, 1, 20, 32, 64, device=tc.device))
    options = {} if allow_tf32 is None else {"allow_tf32": allow_tf32}
    tc.causal_linear_attention(q, k, v, 16, block_k=16, block_v=32, **options).sum().backward()
    precision = "tf32" if allow_tf32 else "ieee"
    seen = [(name, grid, kw["BK"], kw["BV"], kw["PRECISION"], kw["CAST_FP32"]) for name, grid, kw in launches]
    assert seen == [("_chunk_scan_fwd_kernel", (2, 2, 2), 16, 32, precision, True),
                    ("_chunk_scan_fwd_kernel", (2, 2, 2), 32, 16, precision, True),
                    ("_chunk_scan_bwd_dkdv_kernel", (2, 2, 2), 16, 32, precision, True)]


@pytest.mark.parametrize("b, t", [(2, 0), (0, 5)], ids=["T=0", "B=0"])
def test_empty_inputs_launch_nothing(tc, triton_causal, monkeypatch, b, t):
    """An empty sequence or batch gives empty outputs and gradients without a kernel launch."""
    launches = _spy_launches(monkeypatch, triton_causal)
    q, k, v = (torch.zeros(b, 2, t, n, device=tc.device, requires_grad=True) for n in (16, 16, 32))
    out = tc.causal_linear_attention(q, k, v, 16)
    out.sum().backward()
    assert out.shape == (b, 2, t, 32) and q.grad.shape == k.grad.shape == (b, 2, t, 16) and v.grad.shape == v.shape
    assert launches == []


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32], ids=["fp16", "fp32"])
def test_partial_sums_are_float32_buffers(tc, triton_causal, gen, monkeypatch, dtype):
    """One state tile along the summed axis writes the result's dtype directly; several write fp32 partial
    results (summed, then cast), on the inputs' device."""
    allocated = []
    real = triton_causal._alloc
    monkeypatch.setattr(triton_causal, "_alloc", lambda *a: allocated.append(a) or real(*a))
    q, k, v = (x.requires_grad_() for x in _inputs(gen, 1, 1, 20, 32, 32, dtype, tc.device))
    device = q.device
    for block_k, block_v in ((None, None), (16, None), (None, 16)):  # D = Dv = 32 in one block or two
        nk, nv = 32 // (block_k or 32), 32 // (block_v or 32)
        allocated.clear()
        tc.causal_linear_attention(q, k, v, 16, block_k=block_k, block_v=block_v).sum().backward()
        shape = (1, 1, 20, 32)
        d_blocks = ((nk, *shape), dtype if nk == 1 else torch.float32, device)  # partials over the D-blocks
        dv_blocks = ((nv, *shape), dtype if nv == 1 else torch.float32, device)  # partials over the Dv-blocks
        # o; dq (the forward with Dv as its summed axis); dk; dv
        assert allocated == [d_blocks, dv_blocks, dv_blocks, d_blocks]
        assert all(isinstance(a[2], torch.device) for a in allocated)


@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-4), (torch.float16, 1e-2)], ids=["fp32", "fp16"])
def test_triton_tiles_summed_over_blocks_not_batch(tc, gen, dtype, tol):
    """B = 2 with 2 × 2 state tiles: the partial results are summed over the tiles (the batch stays apart), and
    half inputs come back in their dtype."""
    _fwd_bwd_check(tc, gen, (2, 1, 40, 32, 32, 16, 16, 16), dtype, tol)


@pytest.mark.parametrize("which", [0, 1, 2], ids=["q", "k", "v"])
def test_triton_gradient_of_one_input(tc, gen, which):
    """Only the inputs that need a gradient get one (the others None), and it is the reference's."""
    q, k, v = _inputs(gen, 1, 2, 24, 16, 32, device=tc.device)
    leaves = [x.clone().requires_grad_(i == which) for i, x in enumerate((q, k, v))]
    do = torch.randn(1, 2, 24, 32, generator=gen).to(tc.device)
    tc.causal_linear_attention(*leaves, 16).backward(do)
    ref = [x.detach().to("cpu", torch.float64).requires_grad_() for x in (q, k, v)]
    causal_linear_attention_quadratic(*ref).backward(do.to("cpu", torch.float64))
    for i, (leaf, r) in enumerate(zip(leaves, ref, strict=True)):
        if i == which:
            _assert_rel(leaf.grad, r.grad, 1e-4, "dqkv"[i])
        else:
            assert leaf.grad is None
