"""Generated family blocks (softmax, entrywise, conic, gated) against the float64 numpy reference.

Every block is built by exec-ing its generated source in a fresh namespace that holds only torch,
math and F, and compared with :func:`archsearch.calculus.evaluate.field_value` summed over heads
(through the block's ``effective_weights``); causal variants with a masked float64 reference written
here from the same formulas.
"""

from __future__ import annotations

import itertools
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812

from archsearch.calculus.evaluate import branch_value, field_value
from archsearch.calculus.fields import derive
from archsearch.compiler.families import family_class, family_source
from archsearch.terms import Conic, Diagram, Entrywise, Gated, Softmax

EDGE_TERMS = [Softmax(), Softmax(0.5), Entrywise("exp"), Entrywise("cosh"), Entrywise("logcosh"), Entrywise("softplus")]
PER_TOKEN_TERMS = [Conic("relu"), Conic("soc", 4), Conic("colu", 4), Gated(3), Gated(4)]
#: (id, lowrank flag of the source, rank passed to the block)
WEIGHTINGS = [("lowrank3", True, 3), ("lowrank-default", True, None), ("full", False, None)]
TOL = {torch.float64: 1e-10, torch.float32: 1e-5}
B, N, C = 2, 7, 8


def build(term, tied, causal, lowrank=True, branches="all", class_name="Block", **init):
    """Exec the generated source with only torch, math and F in the namespace; instantiate it."""
    source = family_source(term, "real", tied, causal, class_name, lowrank, branches=branches, imports=False)
    namespace = {"torch": torch, "math": math, "F": F}
    exec(compile(source, f"<{class_name}>", "exec"), namespace)
    return namespace[class_name](**init)


def effective(block) -> dict[str, np.ndarray]:
    with torch.no_grad():
        return {k: v.detach().to(torch.float64).numpy() for k, v in block.effective_weights().items()}


def masked_branch(branch, X, weights, scale):
    """A Softmax/Entrywise branch with the causal mask (keys k ≤ j), float64: same formulas as
    evaluate.branch_value, with P = row-softmax over k ≤ j (or f'(S) zeroed for k > j)."""
    t = branch.term
    w = weights[branch.weight(0)]
    s = X @ w @ X.T * scale
    future = np.triu(np.ones(s.shape, dtype=bool), 1)  # entry (j, k) with k > j
    if t.kind == "softmax":
        p = t.matrix(np.where(future, -np.inf, s))
    else:
        p = np.where(future, 0.0, t.matrix(s))
    if branch.end == "dst":
        # the transposed branch: output index k, summed index j ≤ k, and P_jk = 0 for k > j,
        # so only the diagonal j = k is causal
        p = np.diag(np.diag(p))
    out = weights[branch.output] if branch.output else (w.T if branch.end == "src" else w)
    return p @ X @ out * scale


def reference(term, tied, causal, block, x, branches="all"):
    """Σ_h of the field (or of the paper branch) per batch element, float64."""
    fld = derive(term, "real", tied)
    chosen = fld.branches[:1] if branches == "paper" else fld.branches
    eff = effective(block)
    heads = next(iter(eff.values())).shape[0]
    scale = getattr(block, "scale", None)
    X = x.detach().to(torch.float64).numpy()
    out = np.zeros_like(X)
    for b_i, h in itertools.product(range(X.shape[0]), range(heads)):
        w = {k: v[h] for k, v in eff.items()}
        if causal and isinstance(term, (Softmax, Entrywise)):
            out[b_i] += sum(masked_branch(br, X[b_i], w, scale) for br in chosen)
        elif branches == "paper":
            out[b_i] += branch_value(chosen[0], X[b_i], w, scale)
        else:
            out[b_i] += field_value(fld, X[b_i], w, scale)
    return out


def assert_close(got, ref, dtype):
    got = got.detach().to(torch.float64).numpy()
    err = np.max(np.abs(got - ref)) / max(1.0, np.max(np.abs(ref)))
    assert err <= TOL[dtype], f"relative error {err:.3g} > {TOL[dtype]:g}"


def inputs(dtype, seed=0, b=B, n=N, c=C):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(b, n, c, generator=gen, dtype=torch.float64).to(dtype)


# --------------------------------------------------------------------------------------------------
# Each family against the numpy reference
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("weighting", WEIGHTINGS, ids=[w[0] for w in WEIGHTINGS])
@pytest.mark.parametrize("heads", [1, 2])
@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("tied", [True, False], ids=["tied", "untied"])
@pytest.mark.parametrize("term", EDGE_TERMS, ids=[t.key for t in EDGE_TERMS])
def test_edge_family_matches_reference(term, tied, causal, heads, weighting, dtype):
    _, lowrank, rank = weighting
    torch.manual_seed(1)
    block = build(term, tied, causal, lowrank, features=C, rank=rank, heads=heads, dtype=dtype)
    assert block.scale == pytest.approx(1 / math.sqrt(rank or C))
    eff = block.effective_weights()
    assert list(eff) == derive(term, "real", tied).parameters()
    assert all(v.shape == (heads, C, C) for v in eff.values())
    if dtype == torch.float64:  # exercise the row chunks of the exact branches: 3 + 3 + 1 rows
        block.max_chunk_elements = B * heads * N * 3
    x = inputs(dtype, seed=2)
    assert_close(block(x), reference(term, tied, causal, block, x), dtype)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("heads", [1, 2])
@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("tied", [True, False], ids=["tied", "untied"])
@pytest.mark.parametrize("term", PER_TOKEN_TERMS, ids=[t.key for t in PER_TOKEN_TERMS])
def test_per_token_family_matches_reference(term, tied, causal, heads, dtype):
    """Conic and gated blocks: full (H, C, C) weights whatever the rank; causal changes nothing."""
    torch.manual_seed(3)
    block = build(term, tied, causal, features=C, rank=3, heads=heads, dtype=dtype)
    eff = block.effective_weights()
    assert list(eff) == derive(term, "real", tied).parameters()
    assert all(v.shape == (heads, C, C) for v in eff.values())
    x = inputs(dtype, seed=4)
    assert_close(block(x), reference(term, tied, False, block, x), dtype)


def test_chunking_does_not_change_the_result():
    torch.manual_seed(5)
    x = inputs(torch.float64, seed=6, n=11)
    for term, causal in itertools.product([Softmax(), Entrywise("softplus")], [False, True]):
        block = build(term, True, causal, features=C, rank=4, heads=2, dtype=torch.float64)
        whole = block(x)
        for rows in (1, 2, 5):
            block.max_chunk_elements = B * 2 * 11 * rows
            assert torch.allclose(block(x), whole, rtol=0, atol=1e-12)


# --------------------------------------------------------------------------------------------------
# Tied blocks are gradients of their potentials (causal potentials included)
# --------------------------------------------------------------------------------------------------


def torch_potential(term, eff, x, scale, causal):
    """V(X) summed over batch and heads, from the effective weights (float64, differentiable)."""
    total = x.new_zeros(())
    for h in range(next(iter(eff.values())).shape[0]):
        if isinstance(term, (Softmax, Entrywise)):
            s = x @ eff["W1"][h] @ x.transpose(-1, -2) * scale
            future = torch.ones(s.shape[-2:], dtype=torch.bool).triu(1)
            if isinstance(term, Softmax):  # τ Σ_j logsumexp_k S_jk/τ: the free energy at temperature τ
                s = s.masked_fill(future, float("-inf")) if causal else s
                total = total + term.temperature * torch.logsumexp(s / term.temperature, dim=-1).sum()
            else:
                f = {
                    "exp": torch.exp,
                    "cosh": torch.cosh,
                    "logcosh": lambda v: torch.log(torch.cosh(v)),
                    "softplus": F.softplus,
                }[term.fn](s)
                total = total + (f.masked_fill(future, 0.0) if causal else f).sum()
        elif isinstance(term, Conic):
            y = x @ eff["A"][h]
            if term.projection == "relu":
                p = torch.relu(y)
            else:
                g = y.unflatten(-1, (-1, term.cone_size))
                t, u = g[..., :1], g[..., 1:]
                nu = u.norm(dim=-1, keepdim=True)
                out = torch.cat([(t + nu) / 2, (t + nu) / 2 * u / nu], dim=-1)
                p = torch.where(nu <= t, g, torch.where(nu <= -t, torch.zeros_like(g), out)).flatten(-2)
            total = total + 0.5 * (p * p).sum()
        else:
            prod = torch.ones_like(x)
            for m in range(term.k):
                prod = prod * (x @ eff[f"W{m + 1}"][h])
            total = total + prod.sum()
    return total


GRADIENT_CASES = [(t, c) for t in EDGE_TERMS for c in (False, True)] + [
    (t, False) for t in PER_TOKEN_TERMS if t.has_potential
]


GRADIENT_IDS = [f"{t.key}-{'causal' if c else 'full'}" for t, c in GRADIENT_CASES]


@pytest.mark.parametrize("term,causal", GRADIENT_CASES, ids=GRADIENT_IDS)
def test_tied_block_is_the_gradient_of_its_potential(term, causal):
    torch.manual_seed(7)
    block = build(term, True, causal, features=C, rank=4, heads=2, dtype=torch.float64)
    x = inputs(torch.float64, seed=8).requires_grad_()
    with torch.no_grad():
        eff = block.effective_weights()
    (grad,) = torch.autograd.grad(torch_potential(term, eff, x, getattr(block, "scale", None), causal), x)
    if not causal:
        assert torch.allclose(block(x), grad, rtol=1e-10, atol=1e-10)
        return
    # The gradient of a causal potential is not causal (its Pᵀ branch reaches later queries), so
    # the causal block is that gradient minus its anti-causal part: equal at the last token, where
    # nothing lies in the future, and causal everywhere (checked in test_causal_blocks_are_causal).
    assert torch.allclose(block(x)[:, -1], grad[:, -1], rtol=1e-10, atol=1e-10)
    assert not torch.allclose(block(x)[:, 0], grad[:, 0], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("term", EDGE_TERMS, ids=[t.key for t in EDGE_TERMS])
@pytest.mark.parametrize("tied", [True, False], ids=["tied", "untied"])
def test_causal_blocks_are_causal(term, tied):
    """Perturbing token t changes no output before t."""
    torch.manual_seed(3)
    block = build(term, tied, True, features=C, rank=4, heads=2, dtype=torch.float64)
    x = inputs(torch.float64, seed=4)
    y = x.clone()
    y[:, N // 2] += torch.randn(C, dtype=torch.float64)
    with torch.no_grad():
        before, after = block(x), block(y)
    assert torch.allclose(before[:, : N // 2], after[:, : N // 2], rtol=0, atol=1e-12)
    assert not torch.allclose(before[:, N // 2], after[:, N // 2])


# --------------------------------------------------------------------------------------------------
# The paper's branch: standard attention, not the gradient
# --------------------------------------------------------------------------------------------------


class RawAttention(torch.nn.Module):
    """The minimal multi-head attention a user would write: fused qkv Linear, SDPA, output Linear."""

    def __init__(self, c, heads, d, causal, dtype):
        super().__init__()
        self.heads, self.d, self.causal = heads, d, causal
        self.qkv = torch.nn.Linear(c, 3 * heads * d, bias=False, dtype=dtype)
        self.out = torch.nn.Linear(heads * d, c, bias=False, dtype=dtype)

    def forward(self, x):
        b, n, _ = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, self.d).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=self.causal)
        return self.out(y.transpose(1, 2).reshape(b, n, self.heads * self.d))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
def test_paper_variant_is_standard_attention(causal, dtype):
    torch.manual_seed(9)
    heads, d = 2, 4
    block = build(Softmax(), False, causal, branches="paper", features=C, rank=d, heads=heads, dtype=dtype)
    assert list(block.effective_weights()) == ["W1_b0", "O_b0"]
    raw = RawAttention(C, heads, d, causal, dtype)
    with torch.no_grad():
        raw.qkv.weight.copy_(block.b0_qkv.reshape(3 * heads * d, C))
        raw.out.weight.copy_(block.b0_out.reshape(C, heads * d))
    x = inputs(dtype, seed=10)
    with torch.no_grad():
        got, want = block(x), raw(x)
    assert torch.allclose(got, want, rtol=0, atol=10 * torch.finfo(dtype).eps * want.abs().max().item())
    assert_close(got, reference(Softmax(), False, causal, block, x, branches="paper"), dtype)


@pytest.mark.parametrize("weighting", WEIGHTINGS, ids=[w[0] for w in WEIGHTINGS])
@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("tied", [True, False], ids=["tied", "untied"])
def test_paper_variant_matches_its_branch(tied, causal, weighting):
    _, lowrank, rank = weighting
    torch.manual_seed(11)
    block = build(Softmax(), tied, causal, lowrank, branches="paper", features=C, rank=rank, heads=2,
                  dtype=torch.float64)
    x = inputs(torch.float64, seed=12)
    assert_close(block(x), reference(Softmax(), tied, causal, block, x, branches="paper"), torch.float64)


@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
def test_dropped_branch_matters(causal):
    """The tied two-branch block (the gradient of V) minus the paper block (same weights) is the
    transposed branch Pᵀ X W₁·scale, and it is not small."""
    torch.manual_seed(13)
    paper = build(Softmax(), True, causal, branches="paper", features=C, rank=4, heads=2, dtype=torch.float64)
    exact = build(Softmax(), True, causal, features=C, rank=4, heads=2, dtype=torch.float64)
    exact.load_state_dict(paper.state_dict())
    x = inputs(torch.float64, seed=14)
    with torch.no_grad():
        diff = exact(x) - paper(x)
    dropped = derive(Softmax(), "real", True).branches[1]
    assert dropped.end == "dst"
    eff, X = effective(exact), x.numpy()
    want = np.zeros_like(X)
    for b_i, h in itertools.product(range(B), range(2)):
        w = {"W1": eff["W1"][h]}
        want[b_i] += masked_branch(dropped, X[b_i], w, exact.scale) if causal else branch_value(
            dropped, X[b_i], w, exact.scale
        )
    assert_close(diff, want, torch.float64)
    assert diff.norm() > 0.1 * exact(x).norm()


# --------------------------------------------------------------------------------------------------
# gradcheck, Jacobian symmetry
# --------------------------------------------------------------------------------------------------


def _gradcheck(block, x):
    names, values = zip(*[(n, p.detach().clone().requires_grad_()) for n, p in block.named_parameters()], strict=True)

    def fn(x, *vals):
        return torch.func.functional_call(block, dict(zip(names, vals, strict=True)), (x,))

    assert torch.autograd.gradcheck(fn, (x.requires_grad_(), *values), eps=1e-6, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
def test_gradcheck_softmax_tied(causal):
    torch.manual_seed(15)
    block = build(Softmax(), True, causal, features=4, rank=2, heads=2, dtype=torch.float64)
    block.max_chunk_elements = 2 * 5 * 2  # two rows per chunk: the chunked path is differentiated
    _gradcheck(block, inputs(torch.float64, seed=16, b=1, n=5, c=4))


@pytest.mark.parametrize("term", [Conic("soc", 4), Conic("colu", 4)], ids=["soc4", "colu4"])
def test_gradcheck_conic(term):
    torch.manual_seed(17)
    block = build(term, False, False, features=8, heads=2, dtype=torch.float64)
    _gradcheck(block, inputs(torch.float64, seed=18, b=1, n=3, c=8))


def _jacobian_at_identity(term):
    block = build(term, True, False, features=8, heads=1, dtype=torch.float64)
    with torch.no_grad():
        block.A.copy_(torch.eye(8, dtype=torch.float64)[None])
    # two cones (t, u): t > 0 and ‖u‖ > t, so both CoLU's clip and the SOC projection are active
    x = torch.tensor([0.5, 0.9, -0.7, 0.4, 0.3, -0.2, 0.8, 0.6], dtype=torch.float64)
    return torch.autograd.functional.jacobian(lambda v: block(v.view(1, 1, 8)).view(8), x)


@pytest.mark.parametrize("term", [Conic("relu"), Conic("soc", 4)], ids=["relu", "soc4"])
def test_projection_jacobians_are_symmetric(term):
    j = _jacobian_at_identity(term)
    assert torch.allclose(j, j.T, atol=1e-12)
    assert not torch.allclose(j, torch.eye(8, dtype=j.dtype))  # a nontrivial point


def test_colu_jacobian_is_not_symmetric():
    """Evidence that CoLU has no potential: its Jacobian (tied, A = I) is not symmetric."""
    j = _jacobian_at_identity(Conic("colu", 4))
    assert (j - j.T).abs().max() > 0.1


# --------------------------------------------------------------------------------------------------
# Errors and the source itself
# --------------------------------------------------------------------------------------------------


def test_errors():
    with pytest.raises(ValueError, match="real field only"):
        family_source(Softmax(), "complex", True, False, "Block")
    with pytest.raises(ValueError, match="field must be"):
        family_source(Softmax(), "quaternion", True, False, "Block")
    with pytest.raises(ValueError, match="softmax term only"):
        family_source(Entrywise("exp"), "real", True, False, "Block", branches="paper")
    with pytest.raises(ValueError, match="branches"):
        family_source(Softmax(), "real", True, False, "Block", branches="some")
    with pytest.raises(ValueError, match="identifier"):
        family_source(Softmax(), "real", True, False, "not a name")
    with pytest.raises(TypeError, match="Diagram"):
        family_source(Diagram.from_key("0-1.0-1"), "real", True, False, "Block")
    with pytest.raises(ValueError, match="not divisible by the cone size 4"):
        build(Conic("soc", 4), True, False, features=6)
    with pytest.raises(ValueError, match="not divisible by the cone size 3"):
        build(Conic("colu", 3), False, False, features=8)
    with pytest.raises(ValueError, match="rank must be None"):
        build(Softmax(), True, False, lowrank=False, features=8, rank=4)
    with pytest.raises(ValueError, match="positive"):
        build(Softmax(), True, False, features=8, rank=0)


def test_source_is_standalone_and_documented():
    source = family_source(Softmax(), "real", False, True, "CausalAttention", branches="paper")
    assert "import torch.nn.functional as F" in source and "NOT the gradient" in source
    namespace: dict = {}
    exec(compile(source, "<standalone>", "exec"), namespace)  # its own imports only
    block = namespace["CausalAttention"](16, rank=4, heads=4)
    assert block(torch.randn(2, 5, 16)).shape == (2, 5, 16)
    conic = family_source(Conic("relu"), "real", True, False, "Mlp")
    assert "torch.nn.functional" not in conic  # only what it uses
    cls = family_class(Gated(3), "real", False, False, "Glu")
    assert cls.__name__ == "Glu" and cls(8)(torch.randn(1, 2, 8)).shape == (1, 2, 8)


def _ruff() -> str | None:
    local = Path(sys.executable).parent / "ruff"
    return str(local) if local.exists() else shutil.which("ruff")


@pytest.mark.skipif(_ruff() is None, reason="ruff not installed")
def test_generated_source_is_lint_clean(tmp_path):
    for i, (term, tied, causal, lowrank) in enumerate(
        itertools.product(EDGE_TERMS[:2] + PER_TOKEN_TERMS, [True, False], [True, False], [True, False])
    ):
        (tmp_path / f"g{i}.py").write_text(family_source(term, "real", tied, causal, "Block", lowrank))
    (tmp_path / "paper.py").write_text(family_source(Softmax(), "real", False, True, "Block", branches="paper"))
    result = subprocess.run(
        [_ruff(), "check", "--isolated", "--line-length", "120", "--select", "E,F,W,I,B,UP", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_refusals_name_the_argument_and_the_reason():
    """Each refusal's whole message (the tests above match a word of each)."""
    cases = [
        (lambda: family_source(Diagram.from_key("0-1.0-1"), "real", True, False, "Block"), TypeError,
         "family_source compiles the non-diagram families, not Diagram (contraction diagrams go through the "
         "contraction plans)"),
        (lambda: family_source(Softmax(), "complex", True, False, "Block"), ValueError,
         "softmax blocks are defined for the real field only (the potential is not a function of edges X W X*); "
         "use field='real'"),
        (lambda: family_source(Softmax(), "real", True, False, "class"), ValueError,
         "class_name must be a Python identifier, not 'class'"),
        (lambda: family_source(Softmax(), "real", True, False, "Block", branches="some"), ValueError,
         "branches must be one of all, paper, not 'some'"),
        (lambda: family_source(Entrywise("exp"), "real", True, False, "Block", branches="paper"), ValueError,
         "branches='paper' (the standard-attention branch only) exists for the softmax term only"),
    ]
    for call, kind, message in cases:
        with pytest.raises(kind) as err:
            call()
        assert str(err.value) == message


@pytest.mark.parametrize("term", [Softmax(), Entrywise("exp"), Gated(3), Conic("relu")],
                         ids=["lse", "f-exp", "gated3", "conic-relu"])
def test_the_note_says_what_tying_means_causal_included(term):
    """Tied and causal, a token-mixing block's note says its field is not a gradient (CAUSAL_TIE); otherwise the
    note ends with the plain tied/untied sentence. Per-token blocks ignore causal."""
    from archsearch.families.base import CAUSAL_TIE, tie_note

    def words(text: str) -> str:  # the docstring wraps the note over lines
        return " ".join(text.split())

    for tied, causal in itertools.product([True, False], repeat=2):
        source = words(family_source(term, "real", tied, causal, "Block"))
        masked = tied and causal and term.mixes_tokens
        assert (words(CAUSAL_TIE) in source) == masked, (tied, causal)
        assert (words(tie_note(tied)) in source) == (not masked), (tied, causal)


def test_imports_are_prepended_or_left_to_the_caller():
    from archsearch.compiler.emit import module_imports

    for term in (Softmax(), Conic("relu")):
        body = family_source(term, "real", True, False, "Block", imports=False)
        assert not body.lstrip().startswith(("import", "from"))
        assert family_source(term, "real", True, False, "Block") == module_imports(body) + "\n\n" + body


@pytest.mark.parametrize("tied, causal, kwargs", [(True, False, {}), (False, True, {}),
                                                  (True, True, {"lowrank": False}),
                                                  (False, False, {"branches": "paper"})])
def test_family_class_is_the_class_family_source_writes(tied, causal, kwargs):
    """family_class executes exactly family_source(…, imports=False, **kwargs) (the generated module is named by
    a digest of its source) with math, torch and F preset, and defaults the class name to FamilyBlock."""
    import hashlib

    source = family_source(Softmax(), "real", tied, causal, "Attn", imports=False, **kwargs)
    cls = family_class(Softmax(), "real", tied, causal, "Attn", **kwargs)
    assert cls.__module__ == f"archsearch_generated_Attn_{hashlib.sha1(source.encode()).hexdigest()[:12]}"
    block = cls(8, heads=2) if kwargs.get("lowrank") is False else cls(8, rank=4, heads=2)
    assert block(torch.randn(2, 5, 8)).shape == (2, 5, 8)  # F.softmax / F.scaled_dot_product_attention resolve
    assert family_class(Conic("relu"), "real", True, False).__name__ == "FamilyBlock"
