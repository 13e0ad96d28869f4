"""Causal blocks: BFS-tree semantics, the masked quadratic reference, the linear fast path."""

from __future__ import annotations

import copy
import dataclasses
import zlib

import numpy as np
import pytest
import torch

from archsearch.calculus import derive
from archsearch.compiler import CausalFieldPlan, causal_reference, causal_tree, compile_term, plan_causal, plan_field
from archsearch.enumeration import enumerate_terms
from archsearch.enumeration.axioms import Axioms
from archsearch.enumeration.diagrams import diagrams
from archsearch.grammar import load_grammar
from archsearch.terms import Diagram

pytestmark = pytest.mark.filterwarnings("ignore:Complex modules")

B, N, C, RANK = 2, 6, 4, 3


def _terms() -> list[tuple[Diagram, str]]:
    real: list[Diagram] = []
    for name in ("permutation", "paper"):
        real += [t for t in enumerate_terms(load_grammar(f"grammars/{name}.toml")) if isinstance(t, Diagram)]
    cplx: list[Diagram] = []
    for left in ("perm", "unitary"):
        ax = Axioms(left=left, field="complex", max_order=6)
        cplx += [t for d in (1, 2, 3) for t in diagrams(ax, d) if t not in cplx]
    return [(t, "real") for t in dict.fromkeys(real)] + [(t, "complex") for t in cplx]


CASES = _terms()


def _seed(*parts) -> int:
    return zlib.crc32(repr(parts).encode()) ^ int(np.random.SeedSequence().entropy % (1 << 30))


def rel_err(a, b) -> float:
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / max(np.linalg.norm(np.asarray(b)), 1e-300))


def reference(field, x: torch.Tensor, weights) -> np.ndarray:
    """Σ_h causal_reference(field, X_b, {name: W[h]}) per batch element (float64 numpy)."""
    wide = np.complex128 if x.is_complex() else np.float64
    w = {k: v.detach().numpy().astype(wide) for k, v in weights.items()}
    heads = next(iter(w.values())).shape[0]
    return np.stack([
        sum(causal_reference(field, xb, {k: v[h] for k, v in w.items()}) for h in range(heads))
        for xb in x.detach().numpy().astype(wide)
    ])


def test_no_cycles_after_opening_at_orders_up_to_six():
    """Every branch of every order-≤6 diagram of the grammars has a cycle-free opened diagram:
    the causal plans are linear in N (no masked-quadratic fallback)."""
    assert len(CASES) > 50
    for term, field in CASES:
        assert term.order <= 6
        f = derive(term, field, tied=True)
        for b in f.branches:
            assert causal_tree(b).linear, (term.key, b)
        plan = plan_causal(f, {"N": 1 << 16, "C": 64, "C_A": 16, "H": 4})
        assert plan.linear and plan.polynomial().degree("N") == 1, (term.key, str(plan))


@pytest.mark.parametrize("term,field", CASES, ids=[f"{t.key}-{f}" for t, f in CASES])
def test_causal_block_matches_masked_reference(term, field):
    cplx = field == "complex"
    seed = _seed("causal", term.key, field)
    torch.manual_seed(seed)
    for tied in (True, False):
        block = compile_term(term, field, tied=tied, causal=True)
        assert block.causal and isinstance(block.plan, CausalFieldPlan) and block.plan.linear
        f = derive(term, field, tied)
        for rank in (None, RANK):
            for heads in (1, 2):
                m32 = block.build(C, rank=rank, heads=heads)
                m64 = copy.deepcopy(m32).to(torch.complex128 if cplx else torch.float64)
                x32 = torch.randn(B, N, C, dtype=torch.complex64 if cplx else torch.float32)
                x64 = x32.to(torch.complex128 if cplx else torch.float64)
                ref = reference(f, x64, m64.effective_weights())
                with torch.no_grad():
                    y32, y64 = m32(x32), m64(x64)
                where = f"{term.key} {field} tied={tied} rank={rank} heads={heads} seed={seed}"
                assert rel_err(y64.numpy(), ref) < 1e-10, where
                assert rel_err(y32.numpy(), ref) < 1e-5, where


@pytest.mark.parametrize("term,field", CASES, ids=[f"{t.key}-{f}" for t, f in CASES])
def test_streamed_segments_match_one_pass(term, field):
    """The streamed pass (token segments of 4, the last one short, every prefix sum and scan carrying its
    state) gives the one-pass output and the same input and weight gradients, and matches the reference."""
    cplx = field == "complex"
    dtype = torch.complex128 if cplx else torch.float64
    seed = _seed("streamed", term.key, field)
    torch.manual_seed(seed)
    for tied in (True, False):
        f = derive(term, field, tied)
        for rank in (None, RANK):
            one = compile_term(term, field, tied=tied, causal=True).build(C, rank=rank, heads=2, dtype=dtype)
            assert one.segment >= 512, "the CPU default streams long sequences only"
            seg = copy.deepcopy(one)
            seg.segment = 4
            x = torch.randn(B, 11, C, dtype=dtype)
            xs = [x.clone().requires_grad_(True) for _ in range(2)]
            ys = [one(xs[0]), seg(xs[1])]
            where = f"{term.key} {field} tied={tied} rank={rank} seed={seed}"
            assert rel_err(ys[1].detach().numpy(), ys[0].detach().numpy()) < 1e-12, where
            assert rel_err(ys[1].detach().numpy(), reference(f, x, one.effective_weights())) < 1e-10, where
            probe = torch.randn_like(ys[0])
            for y in ys:
                (y * probe.conj()).real.sum().backward()
            assert rel_err(xs[1].grad.numpy(), xs[0].grad.numpy()) < 1e-12, where
            for (name, p0), p1 in zip(one.named_parameters(), seg.parameters(), strict=True):
                assert rel_err(p1.grad.numpy(), p0.grad.numpy()) < 1e-12, (where, name)


@pytest.mark.parametrize("key", ["0-1.0-1", "0-1.0-2.1-2", "0-1.0-1.0-1", "0-2.1-3.2-3"])
def test_causal_block_across_several_chunks(key):
    """N = 150 > 2 chunks of 64 (with padding): the chunked scan's state carries across chunks."""
    torch.manual_seed(_seed("chunks", key))
    term = Diagram.from_key(key)
    f = derive(term, "real", tied=False)
    m = compile_term(term, "real", tied=False, causal=True).build(3, rank=2, heads=2, dtype=torch.float64)
    x = torch.randn(1, 150, 3, dtype=torch.float64)
    with torch.no_grad():
        assert rel_err(m(x).numpy(), reference(f, x, m.effective_weights())) < 1e-10


def test_causality():
    """The output at token t does not depend on tokens after t."""
    torch.manual_seed(3)
    m = compile_term(Diagram.from_key("0-1.0-2.1-2"), "real", causal=True).build(4, rank=2, heads=2,
                                                                                 dtype=torch.float64)
    x = torch.randn(1, 9, 4, dtype=torch.float64)
    y = m(x).detach()
    x2 = x.clone()
    x2[:, 5:] = torch.randn(1, 4, 4, dtype=torch.float64)
    y2 = m(x2).detach()
    assert torch.allclose(y[:, :5], y2[:, :5]) and not torch.allclose(y[:, 5:], y2[:, 5:])


def test_trace_word_is_stacked_causal_attention():
    """Opened Tr(G₁G₂G₃) at G₁'s X* end is (L∘G₂)(L∘G₃) X W₁: two stacked causal linear attentions."""
    term = Diagram.from_key("0-1.0-2.1-2")
    f = derive(term, "real", tied=True)
    b = f.branches[0]
    tree = causal_tree(b)
    assert tree.root == b.vertex and tree.half != tree.root
    assert len(tree.masks()) == 2 and all(len(tree.tree_edges[c]) == 1 for _, c in tree.masks())
    rng = np.random.default_rng(_seed("word"))
    n, c = 7, 3
    X = rng.standard_normal((n, c))
    W = {name: rng.standard_normal((c, c)) for name in f.parameters()}
    L = np.tril(np.ones((n, n)))
    rep = term.rep
    assert [(e.src, e.dst) for e in rep] == [(0, 1), (1, 2), (2, 0)]
    G = [X @ W[f"W{i + 1}"] @ X.T for i in range(3)]
    expected = (L * G[1]) @ (L * G[2]) @ X @ W["W1"]
    one = dataclasses.replace(f, branches=(b,))
    assert np.allclose(causal_reference(one, X, W), expected, rtol=1e-12, atol=1e-12)


def test_hanging_half_edge_is_a_prefix_sum():
    """1ᵀ G₁ G₂ 1 opened at its lonely end: the rest hangs below the output token (a prefix sum)."""
    term = Diagram.from_key("0-1.1-2")
    f = derive(term, "real", tied=True)
    lonely = [b for b in f.branches if b.vertex not in {v for i, e in enumerate(term.rep) if i != b.edge
                                                         for v in (e.src, e.dst)}]
    assert lonely
    for b in lonely:
        tree = causal_tree(b)
        assert tree.parent[tree.half] == tree.root and tree.tree_edges[tree.half] == ()
    torch.manual_seed(4)
    m = compile_term(term, "real", tied=True, causal=True).build(3, heads=1, dtype=torch.float64)
    assert "torch.cumsum(" in compile_term(term, "real", tied=True, causal=True).source
    x = torch.randn(1, 8, 3, dtype=torch.float64)
    with torch.no_grad():
        assert rel_err(m(x).numpy(), reference(f, x, m.effective_weights())) < 1e-10


def test_cycle_falls_back_to_masked_einsum():
    """Order 8: a triangle with a loop; opening the loop leaves a cycle → not linear, still exact."""
    term = Diagram.from_key("0-0.0-1.0-2.1-2")
    f = derive(term, "real", tied=False)
    trees = [causal_tree(b) for b in f.branches]
    assert any(not t.linear for t in trees) and any(t.linear for t in trees)
    block = compile_term(term, "real", tied=False, causal=True)
    assert not block.plan.linear and "tril" in block.plan.leaves
    assert "NOT linear" in str(block.plan) and "tril = torch.ones(" in block.source
    torch.manual_seed(_seed("cycle"))
    for rank in (None, 2):
        m = block.build(3, rank=rank, heads=2, dtype=torch.float64)
        x = torch.randn(2, 7, 3, dtype=torch.float64)
        with torch.no_grad():
            assert rel_err(m(x).numpy(), reference(f, x, m.effective_weights())) < 1e-10


def test_masked_baseline_matches_fast_path():
    torch.manual_seed(5)
    term = Diagram.from_key("0-1.0-2.1-2")
    fast = compile_term(term, "real", tied=False, causal=True)
    slow = compile_term(term, "real", tied=False, causal=True, naive=True)
    assert slow.class_name.endswith("_causal_naive") and not slow.plan.linear
    assert slow.plan.polynomial().degree("N") >= 2 and fast.plan.polynomial().degree("N") == 1
    m = fast.build(4, rank=2, heads=2, dtype=torch.float64)
    s = slow.build(4, rank=2, heads=2, dtype=torch.float64)
    s.load_state_dict(m.state_dict())
    x = torch.randn(2, 70, 4, dtype=torch.float64)
    with torch.no_grad():
        assert torch.allclose(m(x), s(x), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("field", ["real", "complex"])
def test_fast_block_gradients_match_masked_baseline(field):
    """End to end through the generated block: the scans' written-out backward, one pass and streamed
    (segments of 4 tokens carrying the states), full and low-rank weights, gives the input and weight
    gradients of the masked quadratic baseline (autograd through tril) holding the same weights."""
    seed = _seed("fast-vs-naive-grad", field)
    torch.manual_seed(seed)
    dtype = torch.complex128 if field == "complex" else torch.float64
    term = Diagram.from_key("0-1.0-2.1-2" if field == "real" else "0-1.0-1")
    fast = compile_term(term, field, tied=False, causal=True)
    slow = compile_term(term, field, tied=False, causal=True, naive=True)
    for rank in (None, 2):
        m = fast.build(4, rank=rank, heads=2, dtype=dtype)
        s = slow.build(4, rank=rank, heads=2, dtype=dtype)
        s.load_state_dict(m.state_dict())
        streamed = copy.deepcopy(m)
        streamed.segment = 4
        x = torch.randn(2, 70, 4, dtype=dtype)
        probe = torch.randn(2, 70, 4, dtype=dtype)
        grads = []
        for block in (s, m, streamed):
            xg = x.clone().requires_grad_(True)
            (block(xg) * probe.conj()).real.sum().backward()
            grads.append([xg.grad] + [p.grad for p in block.parameters()])
        for got in grads[1:]:
            for a, e in zip(got, grads[0], strict=True):
                assert rel_err(a.numpy(), e.numpy()) < 1e-10, (field, rank, seed)


def test_causal_plan_reports_kernel_calls():
    plan = compile_term(Diagram.from_key("0-1.0-1"), "real", tied=True, causal=True,
                        sizes={"N": 8192, "C": 64, "C_A": 16, "H": 4}).plan
    calls = [s for s in plan.steps if s.expr.startswith("_causal_linear_attention(")]
    assert len(calls) == 4  # one causal linear attention per branch
    # values at width C_A (the state C_A × C_A), the output factor applied once after the scans
    assert plan.big_o() == "O(H N C C_A + H N C_A²)"
    values = [s.expr.split("(", 1)[1].split(",")[2].strip() for s in calls]
    assert all(v.startswith("x_") and v.endswith(("_q", "_k")) for v in values), values  # x Q or x K: width C_A
    assert plan.steps[-1].expr.startswith("torch.matmul(") and "permute(0, 2, 1, 3)" in plan.steps[-1].expr
    text = str(plan)
    assert "root" in text and "half-edge" in text and "Σ_{s≤t}" in text


def test_symmetric_letters_causal():
    """Alphabet grammar (symmetric letters A, B): causal blocks with symmetrised weights."""
    torch.manual_seed(_seed("alphabet-causal"))
    terms = [t for t in enumerate_terms(load_grammar("grammars/alphabet.toml")) if t.order <= 6]
    for term in terms[::2]:
        f = derive(term, "real", tied=False)
        block = compile_term(term, "real", tied=False, causal=True)
        for rank in (None, 2):
            m = block.build(3, rank=rank, heads=2, dtype=torch.float64)
            x = torch.randn(2, 7, 3, dtype=torch.float64)
            with torch.no_grad():
                assert rel_err(m(x).numpy(), reference(f, x, m.effective_weights())) < 1e-10, (term.key, rank)


@pytest.mark.parametrize("heads", [1, 3])
def test_untied_linear_attention_runs_one_batched_scan(heads):
    """Causal 0-1.0-1, untied, low rank: one projection of x onto the 12 slot factors and one scan with the
    4 branches on the batch axis, in one pass (the scan walks its own segments: the block's segment setting
    changes nothing); equal to the masked reference and its gradients equal autograd through the
    full-weight block holding W = Q Kᵀ."""
    seed = _seed("batched-scan", heads)
    torch.manual_seed(seed)
    block = compile_term(Diagram.from_key("0-1.0-1"), "real", tied=False, causal=True)
    body = block.source[block.source.index("def _forward_lowrank"):]
    assert "the 4 scans" in body and body.count("_causal_linear_attention(") == 1
    assert "return self._forward_lowrank(x, None)" in block.source
    f = derive(Diagram.from_key("0-1.0-1"), "real", False)
    m = block.build(C, rank=RANK, heads=heads, dtype=torch.float64)
    seg = copy.deepcopy(m)
    seg.segment = 4
    x = torch.randn(B, 13, C, dtype=torch.float64, requires_grad=True)
    y = m(x)
    ref = reference(f, x.detach(), m.effective_weights())
    assert rel_err(y.detach().numpy(), ref) < 1e-10, seed
    assert rel_err(seg(x).detach().numpy(), ref) < 1e-10, seed
    probe = torch.randn_like(y)
    (y * probe).sum().backward()
    gx, gw = x.grad.clone(), m.weight.grad.clone()
    x.grad, m.weight.grad = None, None
    (m._forward_full(x, m.effective_weights()) * probe).sum().backward()
    assert rel_err(gx.numpy(), x.grad.numpy()) < 1e-10, seed
    assert rel_err(gw.numpy(), m.weight.grad.numpy()) < 1e-10, seed


@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128])
def test_product_attention_takes_the_cheaper_of_two_equal_paths(dtype):
    """_causal_product_attention (scores Π_i q_i[t]·k_i[s], the keys of a multi-edge tree edge): at short N
    the masked product of the factors' Gram matrices, at long N the scan of the lifted features q₁ ⊗ q₂
    (D = 16, Dv = 4: the Gram path costs 14·N² against the scan's 16·N·(8 + min(N, 64)), and its N × N
    scores must not outgrow the N × D lifted features: masked up to N = 16) —
    both equal to the masked sum written out, values and gradients; with a carried state always the scan."""
    block = compile_term(Diagram.from_key("0-1.0-1.0-1"), "real", tied=False, causal=True)
    assert "_causal_product_attention((" in block.source
    helpers = block.module_class().forward.__globals__  # the generated module's namespace
    attend = helpers["_causal_product_attention"]
    scans = []

    def counting(q, k, v, states=None, slot=None):
        scans.append(q.shape[-1])
        return original(q, k, v, states, slot)

    original = helpers["_causal_linear_attention"]
    helpers["_causal_linear_attention"] = counting
    try:
        for n, scanned in ((5, False), (12, False), (16, False), (17, True), (100, True), (200, True)):
            torch.manual_seed(_seed("product-attention", n, str(dtype)))
            qs = [torch.randn(2, 1, n, 4, dtype=dtype, requires_grad=True) for _ in range(2)]
            ks = [torch.randn(2, 3, n, 4, dtype=dtype, requires_grad=True) for _ in range(2)]
            v = torch.randn(2, 3, n, 4, dtype=dtype, requires_grad=True)
            scans.clear()
            got = attend(qs, ks, v)
            assert bool(scans) == scanned and (not scanned or scans == [16]), (n, scans)
            scores = (qs[0] @ ks[0].mT) * (qs[1] @ ks[1].mT)
            mask = torch.ones(n, n, dtype=torch.bool).tril()
            want = torch.where(mask, scores, torch.zeros((), dtype=dtype)) @ v
            assert rel_err(got.detach().numpy(), want.detach().numpy()) < 1e-10, n
            probe = torch.randn_like(got)
            g_got = torch.autograd.grad((got * probe).sum().real, [*qs, *ks, v])
            g_want = torch.autograd.grad((want * probe).sum().real, [*qs, *ks, v])
            for a, e in zip(g_got, g_want, strict=True):
                assert rel_err(a.numpy(), e.numpy()) < 1e-10, n
            scans.clear()
            with torch.no_grad():
                states: dict = {}
                streamed = attend(qs, ks, v, states, "s")
            assert scans == [16] and "s" in states, n  # a carried state: the scan, whatever N
            assert rel_err(streamed.numpy(), want.detach().numpy()) < 1e-10, n
    finally:
        helpers["_causal_linear_attention"] = original


def test_plan_causal_defaults_and_refusal():
    """plan_causal plans low-rank weights by default (the full-weight plan of a pooled term costs more) and
    refuses a non-diagram field by name; causal_tree a non-diagram branch."""
    from archsearch.terms import Softmax

    f = derive(Diagram.from_key("0-2.1-2"), "real", False)
    assert plan_causal(f).polynomial() == plan_causal(f, lowrank=True).polynomial()
    assert plan_causal(f).polynomial() != plan_causal(f, lowrank=False).polynomial()
    with pytest.raises(TypeError) as err:
        plan_causal(derive(Softmax(), "real", True))
    assert str(err.value) == "plan_causal plans diagram fields"
    with pytest.raises(TypeError) as err:
        causal_tree(derive(Softmax(), "real", True).branches[0])
    assert str(err.value) == "causal trees are defined for diagram branches"


def _names_read(expr: str) -> list[str]:
    """The bare names a torch expression reads, in order of first appearance (Python's own parser)."""
    import ast

    nodes = [n for n in ast.walk(ast.parse(expr, mode="eval")) if isinstance(n, ast.Name)]
    return list(dict.fromkeys(n.id for n in sorted(nodes, key=lambda n: n.col_offset)))


@pytest.mark.parametrize("masked", [False, True], ids=["linear", "masked"])
def test_causal_steps_record_what_they_read(masked):
    """Every step of a causal program records its kind ("causal" for the program's own steps, the non-causal
    planner's kinds with their subscripts for merged ones) and its inputs: exactly the leaves and earlier
    outputs its expression reads (as Python parses it). The leaves start with x, and each is read."""
    kinds = set()
    for term, field in CASES[::3]:
        f = derive(term, field, False)
        for lowrank in (True, False):
            plan = plan_causal(f, lowrank=lowrank, masked=masked)
            assert plan.leaves[0] == "x", (term.key, plan.leaves)
            earlier: set[str] = set()
            read: set[str] = set()
            for s in plan.steps:
                known = [n for n in _names_read(s.expr) if n in plan.leaves or n in earlier]
                if s.kind == "causal":
                    assert s.subscripts == "" and s.inputs == tuple(known), (term.key, s.output, s.inputs, known)
                else:
                    assert s.kind in ("contract", "reduce", "add") and "->" in s.subscripts, (term.key, s)
                    assert set(s.inputs) == set(known), (term.key, s.output, s.inputs, known)
                kinds.add(s.kind)
                read |= set(s.inputs)
                earlier.add(s.output)
            read |= {n for n in _names_read(plan.result) if n in plan.leaves}
            assert set(plan.leaves) <= read, (term.key, set(plan.leaves) - read)
    # the masked baseline is the non-causal planner's alone; the linear programs merge its steps for the
    # branches without a token sum
    assert kinds == ({"contract", "reduce"} if masked else {"causal", "contract", "reduce", "add"}), kinds


@pytest.mark.parametrize("key", ["0-0.1-1", "0-0.1-1.2-2", "0-1.2-2.3-3", "0-1.0-1.2-2"])
def test_disconnected_terms_hang_every_component(key):
    """A product of traces: every component the opened edge's vertex does not reach hangs below the root as
    its own prefix sum (two or three of them at once), equal to the masked reference."""
    term = Diagram.from_key(key)
    seed = _seed("disconnected", key)
    torch.manual_seed(seed)
    for tied in (True, False):
        f = derive(term, "real", tied)
        trees = [causal_tree(b) for b in f.branches]
        assert max(sum(1 for v in t.order if t.parent[v] == t.root and not t.tree_edges[v]) for t in trees) >= 1
        block = compile_term(term, "real", tied=tied, causal=True)
        for rank in (None, RANK):
            m = block.build(C, rank=rank, heads=2, dtype=torch.float64)
            x = torch.randn(B, N, C, dtype=torch.float64)
            with torch.no_grad():
                got = m(x).numpy()
            assert rel_err(got, reference(f, x, m.effective_weights())) < 1e-10, (key, tied, rank, seed)


@pytest.mark.parametrize("key", ["0-0", "0-0.0-0", "0~0.0~0"])
def test_one_vertex_terms_are_planned_as_the_non_causal_field(key):
    """A term on one vertex sums no token in any branch: its causal program is the non-causal plan at the
    same sizes, step for step (for 0-0 at short N that plan differs from the default sizes' plan)."""
    term = Diagram.from_key(key)
    field = "complex" if "~" in key else "real"
    for tied in (True, False):
        f = derive(term, field, tied)
        assert not any(causal_tree(b).masks() for b in f.branches)
        for sizes in ({"N": 16, "C": 64, "C_A": 16, "H": 4}, {"N": 4096, "C": 8, "C_A": 2, "H": 1}, None):
            for lowrank in (True, False):
                causal, full = plan_causal(f, sizes, lowrank), plan_field(f, sizes, lowrank)
                assert [(s.output, s.expr, s.cost, s.shared) for s in causal.steps] == \
                    [(s.output, s.expr, s.cost, s.shared) for s in full.steps], (key, tied, sizes, lowrank)
                assert causal.result == full.result and causal.linear
    if key == "0-0":
        f = derive(term, "real", False)
        assert plan_causal(f, {"N": 16, "C": 64, "C_A": 16, "H": 4}).steps != plan_causal(f).steps
