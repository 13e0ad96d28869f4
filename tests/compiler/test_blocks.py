"""Compiled diagram blocks against the float64 numpy reference, gradients and equivariance.

Every diagram of grammars/permutation.toml and grammars/paper.toml (real field) and every
order-≤6 diagram with left = perm or unitary in the complex field, tied and untied, full and
low-rank weights, 1 and 2 heads: the block (float32) equals Σ_h field_value(field, X, W_h)
(float64, with the block's effective weights) to 1e-6 relative, and in float64 to 1e-10.
"""

from __future__ import annotations

import copy
import zlib

import numpy as np
import pytest
import torch

from archsearch.calculus import derive, field_value
from archsearch.compiler import CompiledBlock, compile_term
from archsearch.enumeration import enumerate_terms
from archsearch.enumeration.axioms import Axioms
from archsearch.enumeration.diagrams import diagrams
from archsearch.grammar import load_grammar
from archsearch.terms import Diagram

pytestmark = pytest.mark.filterwarnings("ignore:Complex modules")

B, N, C, RANK = 2, 6, 4, 3


def _grammar_terms(name: str) -> list[Diagram]:
    terms = enumerate_terms(load_grammar(f"grammars/{name}.toml"))
    return [t for t in terms if isinstance(t, Diagram) and t.order <= 6]


def _complex_terms() -> list[Diagram]:
    out: list[Diagram] = []
    for left in ("perm", "unitary"):
        ax = Axioms(left=left, field="complex", max_order=6)
        out += [t for d in (1, 2, 3) for t in diagrams(ax, d) if t not in out]
    return out


REAL = list(dict.fromkeys(_grammar_terms("permutation") + _grammar_terms("paper")))
COMPLEX = _complex_terms()
CASES = [(t, "real") for t in REAL] + [(t, "complex") for t in COMPLEX]


def _seed(*parts) -> int:
    return zlib.crc32(repr(parts).encode()) ^ int(np.random.SeedSequence().entropy % (1 << 30))


def rel_err(a, b) -> float:
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / max(np.linalg.norm(np.asarray(b)), 1e-300))


def reference(field, x: torch.Tensor, weights: dict[str, torch.Tensor]) -> np.ndarray:
    """Σ_h field_value(field, X_b, {name: W[h]}) for every batch element (float64 numpy)."""
    wide = np.complex128 if x.is_complex() else np.float64
    w = {k: v.detach().numpy().astype(wide) for k, v in weights.items()}
    heads = next(iter(w.values())).shape[0]
    xs = x.detach().numpy().astype(wide)
    return np.stack([sum(field_value(field, xb, {k: v[h] for k, v in w.items()}) for h in range(heads)) for xb in xs])


def _pair(block: CompiledBlock, rank, heads, cplx: bool):
    """The block in single precision and an exact double-precision copy (same weights)."""
    m32 = block.build(C, rank=rank, heads=heads, dtype=torch.complex64 if cplx else torch.float32)
    m64 = copy.deepcopy(m32).to(torch.complex128 if cplx else torch.float64)
    return m32, m64


@pytest.mark.parametrize("term,field", CASES, ids=[f"{t.key}-{f}" for t, f in CASES])
def test_block_matches_numpy_reference(term, field):
    cplx = field == "complex"
    seed = _seed(term.key, field)
    torch.manual_seed(seed)
    for tied in (True, False):
        block = compile_term(term, field, tied=tied)
        f = derive(term, field, tied)
        assert block.plan is not None and block.cost.startswith("O(")
        for rank in (None, RANK):
            for heads in (1, 2):
                m32, m64 = _pair(block, rank, heads, cplx)
                x32 = torch.randn(B, N, C, dtype=torch.complex64 if cplx else torch.float32)
                x64 = x32.to(m64.effective_weights()[f.parameters()[0]].dtype)
                weights = m64.effective_weights()
                ref = reference(f, x64, weights)
                # the same sums without cancellation (|X|, |W|): how much single precision may lose here
                size = reference(f, x64.abs().to(x64.dtype), {k: v.abs().to(v.dtype) for k, v in weights.items()})
                cond = max(1.0, float(np.linalg.norm(size) / max(np.linalg.norm(ref), 1e-300)))
                with torch.no_grad():
                    y32, y64 = m32(x32), m64(x64)
                where = f"{term.key} {field} tied={tied} rank={rank} heads={heads} seed={seed}"
                assert y32.shape == (B, N, C) and y32.dtype == x32.dtype, where
                assert rel_err(y64.numpy(), ref) < 1e-10, where
                assert rel_err(y32.numpy(), ref) < 1e-6 * cond, f"{where} cond={cond:.3g}"


def test_symmetric_letters_get_symmetric_weights():
    """Alphabet grammar (symmetric A, B): (W + Wᵀ)/2 in full mode, Q Kᵀ + K Qᵀ in low rank."""
    terms = [t for t in enumerate_terms(load_grammar("grammars/alphabet.toml")) if t.order <= 6]
    torch.manual_seed(_seed("alphabet"))
    for term in terms:
        for tied in (True, False):
            block = compile_term(term, "real", tied=tied)
            f = derive(term, "real", tied)
            for rank in (None, 2):
                m = block.build(C, rank=rank, heads=2, dtype=torch.float64)
                eff = m.effective_weights()
                assert set(eff) == set(f.parameters())
                for w in eff.values():
                    assert torch.allclose(w, w.mT)
                x = torch.randn(B, N, C, dtype=torch.float64)
                with torch.no_grad():
                    assert rel_err(m(x).numpy(), reference(f, x, eff)) < 1e-10, (term.key, tied, rank)


def _functional(m):
    names = [n for n, _ in m.named_parameters()]

    def fn(x, *params):
        return torch.func.functional_call(m, dict(zip(names, params, strict=True)), (x,))

    return fn, tuple(p.detach().clone().requires_grad_() for p in m.parameters())


@pytest.mark.parametrize(
    "key,field,tied,causal,rank,heads",
    [
        ("0-1.0-1", "real", False, False, 2, 2),
        ("0-1.0-2.1-2", "real", True, False, None, 1),
        ("0-0.0-1.1-1", "real", False, False, 2, 1),
        ("0~1.1~0", "complex", True, False, 2, 2),
        ("0-1.0-2.1-2", "real", True, True, 2, 2),
        ("0-1.0-1.0-1", "real", True, True, None, 1),
    ],
)
def test_gradcheck(key, field, tied, causal, rank, heads):
    torch.manual_seed(_seed(key, causal))
    cplx = field == "complex"
    m = compile_term(Diagram.from_key(key), field, tied=tied, causal=causal).build(
        3, rank=rank, heads=heads, dtype=torch.complex128 if cplx else torch.float64
    )
    fn, params = _functional(m)
    x = torch.randn(1, 4, 3, dtype=torch.complex128 if cplx else torch.float64, requires_grad=True)
    # causal blocks run many small kernel calls: the fast mode (random projections) keeps this quick
    assert torch.autograd.gradcheck(fn, (x, *params), eps=1e-6, atol=1e-6, fast_mode=causal)


@pytest.mark.parametrize("term,field", CASES[::2], ids=[f"{t.key}-{f}" for t, f in CASES[::2]])
def test_token_permutation_equivariance(term, field):
    """F(P X) = P F(X) for the non-causal blocks."""
    cplx = field == "complex"
    dtype = torch.complex128 if cplx else torch.float64
    torch.manual_seed(_seed("perm", term.key, field))
    m = compile_term(term, field, tied=False).build(C, rank=RANK, heads=2, dtype=dtype)
    x = torch.randn(B, N, C, dtype=dtype)
    perm = torch.randperm(N)
    with torch.no_grad():
        assert torch.allclose(m(x[:, perm]), m(x)[:, perm], atol=1e-10, rtol=1e-10)


def _random_unitary(c: int, cplx: bool) -> torch.Tensor:
    a = torch.randn(c, c, dtype=torch.complex128 if cplx else torch.float64)
    q, r = torch.linalg.qr(a)
    return q * torch.diagonal(r).sgn()


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("term,field", CASES[1::3], ids=[f"{t.key}-{f}" for t, f in CASES[1::3]])
def test_centralizer_equivariance(term, field, causal):
    """With every weight a scalar multiple of I, F(X R*) = F(X) R* for R orthogonal (unitary)."""
    cplx = field == "complex"
    dtype = torch.complex128 if cplx else torch.float64
    torch.manual_seed(_seed("centralizer", term.key, field, causal))
    block = compile_term(term, field, tied=False, causal=causal)
    for rank in (None, C):
        m = block.build(C, rank=rank, heads=2, dtype=dtype)
        eye = torch.eye(C, dtype=dtype)
        with torch.no_grad():
            if rank is not None and hasattr(m, "factor_names"):  # diagrams: rows of the stacked factors
                for f, name in enumerate(m.factor_names):  # each Q_h a random multiple of I, each K_h = I
                    scale = torch.randn(2, 1, 1, dtype=dtype) if name.endswith("_q") else 1.0
                    m.weight[f] = scale * eye
            else:  # one parameter per weight (or per factor of the other families)
                for name, p in m.named_parameters():
                    scale = torch.randn(2, 1, 1, dtype=dtype)
                    p.copy_(scale * eye if (rank is None or name.endswith("_q")) else eye.expand(2, C, C))
        r_star = _random_unitary(C, cplx).mH
        x = torch.randn(B, N, C, dtype=dtype)
        with torch.no_grad():
            assert torch.allclose(m(x @ r_star), m(x) @ r_star, atol=1e-10, rtol=1e-9), (term.key, rank)


def test_centralizer_check_fails_for_generic_weights():
    """The equivariance check above is not vacuous: generic weights break it."""
    torch.manual_seed(1)
    m = compile_term(Diagram.from_key("0-1.0-1"), "real").build(C, heads=1, dtype=torch.float64)
    r = _random_unitary(C, False)
    x = torch.randn(B, N, C, dtype=torch.float64)
    with torch.no_grad():
        assert not torch.allclose(m(x @ r.mT), m(x) @ r.mT, atol=1e-6)
