"""The small helpers the compiler's plans rely on, on inputs today's callers do not produce: every order of
up to four axes (cyclic ones included), random pairwise contractions and renamings, and index letters at
the compiler's size limit (16 vertices, 8 low-rank weights)."""

from __future__ import annotations

import random
from itertools import permutations

import numpy as np
import pytest
import torch

from archsearch.calculus.evaluate import FEATURE_LETTERS, TOKEN_LETTERS
from archsearch.compiler import compile_term
from archsearch.compiler.plan import (
    BATCH,
    HEAD,
    MAX_DEGREE,
    RANK_LETTERS,
    PlanBuilder,
    PlanSizes,
    _align,
    _lower,
    _lowered,
    _merge_key,
    _Node,
    _Op,
    _wiring,
    perm_to,
    permute_expr,
)
from archsearch.compiler.plan import (
    _run as run_path,
)
from archsearch.terms import Diagram

LETTERS = "zyijkabcR"
SIZE = {c: 2 + i % 4 for i, c in enumerate(LETTERS)}  # mostly distinct sizes: a misplaced axis changes the shape


def _run(expr: str, *tensors: torch.Tensor) -> torch.Tensor:
    """Evaluate a generated expression: ``{0}``, ``{1}`` (as _lower writes them) or ``t``."""
    names = {f"t{i}": t for i, t in enumerate(tensors)}
    code = expr.format(*names) if "{0}" in expr else expr
    return eval(code, {"torch": torch}, {"t": tensors[0], **names})


def _tensor(idx: str, same: bool = False) -> torch.Tensor:
    return torch.randn(*(3 if same else SIZE[c] for c in idx), dtype=torch.float64)


@pytest.mark.parametrize("n", [1, 2, 3, 4])
@pytest.mark.parametrize("same", [False, True], ids=["distinct-sizes", "equal-sizes"])
def test_perm_to_and_permute_expr_on_every_order(n, same):
    """perm[i] is the source axis of output axis i (torch.permute's convention), for every target order,
    the cyclic ones included (their inverse is another permutation; transpositions are their own)."""
    torch.manual_seed(n)
    idx = "zyij"[:n]  # sizes 2, 3, 4, 5
    t = _tensor(idx, same)
    for order in permutations(idx):
        target = "".join(order)
        perm = perm_to(idx, target)
        assert "".join(idx[p] for p in perm) == target
        got = _run(permute_expr("t", perm), t)
        assert got.shape == torch.einsum(f"{idx}->{target}", t).shape, (idx, target, perm)
        assert torch.equal(got, torch.einsum(f"{idx}->{target}", t)), (idx, target, perm)
    assert permute_expr("v", (0, 1, 2)) == "v" and permute_expr("v", (0, 2, 1)) == "v.mT"


def test_align_broadcasts_along_any_order():
    """``_align(var, s, order)``: var's axes (letters s) permuted into their order in ``order``, with a
    length-1 axis for every letter of ``order`` that var lacks; checked on random orders of 2–4 letters."""
    rng = random.Random(0)
    for _ in range(200):
        order = rng.sample("zyij", rng.randint(2, 4))
        s = "".join(rng.sample(order, rng.randint(1, len(order))))
        t = _tensor(s)
        got = _run(_align("t", s, order), t)
        mine = "".join(c for c in order if c in s)
        expected = torch.einsum(f"{s}->{mine}", t).reshape([SIZE[c] if c in s else 1 for c in order])
        assert got.shape == expected.shape and torch.equal(got, expected), (s, order)


def _random_pair(rng: random.Random) -> tuple[str, str, frozenset[str]]:
    """Two operands' letters and the letters kept: every letter is kept or shared by both operands (the
    callers sum a letter of one operand only before it gets here)."""
    while True:
        a = "".join(rng.sample(LETTERS, rng.randint(1, 3)))
        b = "".join(rng.sample(LETTERS, rng.randint(1, 3)))
        keep = {c for c in set(a) | set(b) if rng.random() < 0.5}
        keep |= set(a) ^ set(b)
        if keep or set(a) & set(b):
            return a, b, frozenset(keep)


def test_lower_on_random_contractions():
    """``_lower`` (matmul with transposes and broadcast axes, broadcast products, einsum) equals torch.einsum
    on random operand orders, kept letters and sizes; each path (matmul, broadcast, einsum) is exercised."""
    rng = random.Random(1)
    torch.manual_seed(1)
    seen = set()
    for trial in range(600):
        a, b, keep = _random_pair(rng)
        sizes = {c: rng.choice([2, 3, 64]) for c in LETTERS} if trial % 2 else None
        out, expr, is_mm = _lower(a, b, keep, sizes)
        assert set(out) == keep & (set(a) | set(b)) and len(set(out)) == len(out), (a, b, keep, out)
        ta, tb = _tensor(a), _tensor(b)
        expected = torch.einsum(f"{a},{b}->{out}", ta, tb)
        got = _run(expr, ta, tb)
        assert got.shape == expected.shape, (a, b, keep, expr)
        torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12, msg=f"{a},{b} keep {sorted(keep)}: {expr}")
        seen.add("matmul" if is_mm else "einsum" if "einsum" in expr else "broadcast")
    assert seen == {"matmul", "einsum", "broadcast"}


def test_lower_broadcasts_a_batched_product_only_when_it_stays_small():
    """A product batched over a kept letter that is not the batch or head letter: ``_lower`` writes the
    broadcast product ``(a * b).sum(-1)`` exactly when rows·inner·cols ≤ 2·max(rows·inner, inner·cols,
    rows·cols) (rows: a's own letters, cols: b's, inner: the summed ones; a letter missing from the sizes
    counts 1), and einsum otherwise. Checked against that rule at random sizes, on both sides of the
    bound and at equality, by the exact expression written."""
    rng = random.Random(3)
    torch.manual_seed(3)
    cases = [  # (a, b, kept): t is the batched letter
        ("itk", "tkj", "tij"), ("tk", "tk", "t"), ("itk", "tk", "ti"), ("tk", "tkj", "tj"),
        ("ptqk", "tkrs", "tpqrs"), ("ptqkl", "tklrs", "tpqrs"), ("itk", "tkl", "tikl"),
    ]
    sides = set()
    for a, b, kept in cases:
        for trial in range(40):
            size = {c: rng.choice([1, 2, 3, 4, 8]) for c in a + b}
            if trial == 0:
                size = {c: 2 for c in a + b}  # at equality for one row, inner and column letter: 8 ≤ 2 · 4
            elif trial == 1:
                size = {c: 3 for c in a + b}  # 27 > 18: einsum; (a bound of 3 · 9 would broadcast)
            out, expr, is_mm = _lower(a, b, frozenset(kept), size)
            assert not is_mm and sorted(out) == sorted(kept), (a, b, out, expr)

            rows = int(np.prod([size[c] for c in a if c not in b]))
            cols = int(np.prod([size[c] for c in b if c not in a]))
            inner = int(np.prod([size[c] for c in a if c in b and c not in kept]))
            broadcast = rows * inner * cols <= 2 * max(rows * inner, inner * cols, rows * cols)
            assert ("einsum" not in expr) == broadcast, (a, b, size, expr)
            summed = [c for c in a if c in b and c not in kept]
            if broadcast:
                assert expr.count(" * ") == 1
                dims = -1 if len(summed) == 1 else tuple(range(-len(summed), 0))
                assert expr.endswith(f".sum({dims})") if summed else ".sum(" not in expr, expr
            sides.add(broadcast)
            ta, tb = (torch.randn(*(size[c] for c in s), dtype=torch.float64) for s in (a, b))
            torch.testing.assert_close(_run(expr, ta, tb), torch.einsum(f"{a},{b}->{out}", ta, tb), rtol=1e-12,
                                       atol=1e-12)
    assert sides == {True, False}
    # without sizes every letter counts 1: the broadcast product, even for four row, inner and column letters
    assert "einsum" not in _lower("tpqkl", "tklrs", frozenset("tpqrs"))[1]


def test_lowered_sizes_a_symmetric_weights_rank_letter_at_twice_the_rank():
    """``_lowered`` sizes each letter by its kind; a symmetric letter's weight Q Kᵀ + K Qᵀ has rank 2·C_A
    ("rank2"). Per token, C·C·2C_A = 256 > 2·max(2C·C_A, C²) = 128 at C = 8, C_A = 2: einsum; a rank letter
    of size C_A sits at the bound (128 ≤ 128): the broadcast product."""
    sizes = PlanSizes(N=16, C=8, C_A=2, H=1)
    for kind, broadcast in (("rank2", False), ("rank", True)):
        (out, expr, rank, _), _ = _lowered("ptR", ("feature", "token", kind), "tRq", ("token", kind, "feature"),
                                            frozenset("ptq"), sizes)
        assert sorted(out) == sorted("ptq") and rank[0], (kind, expr)
        assert ("einsum" not in expr) == broadcast, (kind, expr)


def test_wiring_names_a_contraction_up_to_renaming():
    """``_wiring`` keys common subexpressions: renaming the letters leaves it unchanged, it evaluates to the
    same contraction, and a different output order gives a different key."""
    rng = random.Random(2)
    for _ in range(200):
        a, b, keep = _random_pair(rng)
        out = "".join(rng.sample(sorted(keep & (set(a) | set(b))), len(keep & (set(a) | set(b)))))
        rename = dict(zip(LETTERS, rng.sample("ABCDEFGHIJKLMNOPQ", len(LETTERS)), strict=True))
        moved = ["".join(rename[c] for c in s) for s in (a, b, out)]
        key = _wiring(a, b, out)
        assert _wiring(*moved) == key
        ta, tb = _tensor(a).numpy(), _tensor(b).numpy()
        assert np.allclose(np.einsum(key, ta, tb), np.einsum(f"{a},{b}->{out}", ta, tb), rtol=1e-12, atol=1e-12)
        if len(out) >= 2:
            assert _wiring(a, b, out[1:] + out[0]) != key


def test_reserved_letters_are_never_vertex_feature_or_rank_letters_up_to_the_size_limit():
    """The compiler's batch, head and rank letters against the calculus's vertex and feature letters for every
    diagram it accepts (≤ MAX_DEGREE edges: ≤ 2·MAX_DEGREE vertices, 2·MAX_DEGREE feature letters)."""
    tokens = set(TOKEN_LETTERS[: 2 * MAX_DEGREE])
    features = set(FEATURE_LETTERS[: 2 * MAX_DEGREE])
    ranks = set(RANK_LETTERS)
    assert len(TOKEN_LETTERS) >= 2 * MAX_DEGREE and len(RANK_LETTERS) == len(ranks) >= MAX_DEGREE
    assert not (tokens & features) and not ({BATCH, HEAD} & (tokens | features | ranks))
    assert not (ranks & (tokens | features))


@pytest.mark.parametrize("rank", [None, 2])
def test_block_with_sixteen_vertices_is_the_gradient_of_its_closed_form(rank):
    """The largest diagram the compiler takes, eight disjoint edges (16 vertices, 8 weights, 8 rank letters):
    V = Π_e sᵀ W_e s with s = Σ_j x_j, and the tied block is ∇V (autograd of that closed form)."""
    vertices = "0123456789abcdef"
    d = Diagram.from_key(".".join(f"{vertices[2 * e]}-{vertices[2 * e + 1]}" for e in range(MAX_DEGREE)))
    assert d.n_vertices == 2 * MAX_DEGREE and d.degree == MAX_DEGREE
    torch.manual_seed(3)
    m = compile_term(d, "real", tied=True).build(3, rank=rank, heads=1, dtype=torch.float64)
    weights = [w[0] for w in m.effective_weights().values()]
    assert len(weights) == MAX_DEGREE
    x = torch.randn(1, 5, 3, dtype=torch.float64, requires_grad=True)
    s = x[0].sum(0)
    potential = torch.stack([s @ w @ s for w in weights]).prod()
    (grad,) = torch.autograd.grad(potential, x)
    with torch.no_grad():
        torch.testing.assert_close(m(x), grad, rtol=1e-10, atol=1e-12)


def _execute(builder, leaves: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Run a builder's steps (their torch expressions) on the leaves."""
    scope = dict(leaves)
    for s in builder.finished_steps():
        scope[s.output] = eval(s.expr, {"torch": torch}, scope)  # noqa: S307 - the plan's own expression
    return scope


@pytest.mark.parametrize("inputs, output, path, kinds", [
    (("zij", "zjk", "zkc"), "zic", ((0, 1, 2),), "contract contract"),  # one three-operand step
    (("zij", "zjk", "zkc", "zca"), "zia", ((0, 2, 3), (0, 1)), "contract contract contract"),  # positions shift
    (("zij", "zjk", "zkc", "zca"), "zia", ((0, 1, 2, 3),), "contract contract contract"),
    (("zijab", "zjk"), "zik", ((0,), (0, 1)), "reduce contract"),  # a one-operand step sums a and b first
    (("zijab",), "zij", ((0,),), "reduce"),  # and as the only step
    (("zijab", "zjk"), "zik", ((0, 1), (0,)), "reduce contract"),  # the pair pre-sums a, b; nothing left after
])
def test_run_executes_multi_and_single_operand_path_steps(inputs, output, path, kinds):
    """``_run`` takes any opt_einsum-style path (today's only give pairs): a step over several operands is
    contracted pairwise left to right, a one-operand step sums the letters nothing later needs (none: no
    step); the result is the einsum of the operands. With ``stop_before_last`` a path ending in a one-operand
    step returns that operand and None."""
    torch.manual_seed(len(path))
    kinds_of = {c: "batch" if c == "z" else "feature" for c in "".join(inputs)}
    leaves = {f"v{n}": _tensor(s) for n, s in enumerate(inputs)}
    builder = PlanBuilder(sizes=PlanSizes(N=3, C=4, C_A=5, H=2))
    ops = [builder.leaf(f"v{n}", s, kinds_of) for n, s in enumerate(inputs)]
    res = run_path(builder, ops, output, path)
    assert " ".join(s.kind for s in builder.finished_steps()) == kinds
    if len(path[0]) > 2:  # pairwise from the left: the step's first two operands first
        assert set(builder.finished_steps()[0].inputs) == {f"v{path[0][0]}", f"v{path[0][1]}"}
    got = _run(permute_expr("t", perm_to(res.idx, output)), _execute(builder, leaves)[res.node.var])
    assert torch.allclose(got, torch.einsum(",".join(inputs) + "->" + output, *leaves.values()))
    if len(path[-1]) == 1:
        again = PlanBuilder()
        last, none = run_path(again, [again.leaf(f"v{n}", s, kinds_of) for n, s in enumerate(inputs)], output,
                              path, stop_before_last=True)
        assert none is None and last.idx == res.idx and len(again.steps) == len(builder.steps)


def test_prereduce_sums_every_letter_only_one_operand_carries_in_one_step():
    """Before a pairwise product, the letters only one operand carries and nothing later needs are summed out of
    it in one reduce step (two letters: ``.sum((3, 4))``)."""
    torch.manual_seed(0)
    builder = PlanBuilder()
    kinds = {c: "feature" for c in "zijabk"}
    a, b = builder.leaf("a", "zijab", kinds), builder.leaf("b", "zjk", kinds)
    ra, rb = builder.prereduce(a, b, frozenset("zik"))
    assert (ra.idx, rb.idx) == ("zij", "zjk") and rb is b
    (step,) = builder.finished_steps()
    assert (step.kind, step.subscripts, step.expr) == ("reduce", "zijab->zij", "a.sum((3, 4))")
    t = _tensor("zijab")
    assert torch.allclose(_execute(builder, {"a": t})[step.output], t.sum((3, 4)))


def test_merge_key_groups_final_products_only_where_one_sum_serves_them():
    """Final products ``L × R_b`` share a key (L·Σ_b R_b) only where L's axes land on the same output axes: the
    same left with its output axes swapped (a free axis, or one it shares with R) gets another key. Equal keys
    put the right factors' axes in one canonical order."""
    def op(name: str, idx: str) -> _Op:
        return _Op(_Node(name, name, tuple("feature" for _ in idx)), idx)

    left = op("L", "zijk")  # z shared and kept, i and j free, k summed
    swapped = [_merge_key(left, op("R", "zk"), out)[0] for out in ("zij", "zji")]
    assert swapped[0] != swapped[1]
    both = op("L", "zij")  # every axis shared with R and kept
    keys = [_merge_key(both, op(name, "zij"), out)[0] for name, out in (("R", "zij"), ("R", "zji"))]
    assert keys[0] != keys[1]
    (k1, _, r1, p1), (k2, _, r2, p2) = (_merge_key(both, op(n, idx), "zij") for n, idx in (("R", "zij"), ("S", "zji")))
    assert k1[1:] == k2[1:]
    assert "".join(r1.idx[i] for i in p1) == "".join(r2.idx[i] for i in p2) == "zij"
