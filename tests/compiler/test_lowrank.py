"""The low-rank programs (archsearch.compiler.lowrank) and their parts (cores, order).

Every candidate program — batched cores, one core per branch, Gram — of every diagram up to order 6,
planned at the search's sizes (small N: the N×N products first) and at the default sizes (the
C_A×C_A states first), is emitted as a module and checked in float64 against the numpy reference
Σ_h field_value(field, X, Q_h K_hᵀ) on fresh random inputs; gradients against autograd of the full-
weight block. The contraction paths of order.py are checked against every pairwise order (brute
force) and by evaluating them; the cost the enumerator reports without a program equals the plan's.
"""

from __future__ import annotations

import itertools
import zlib

import numpy as np
import pytest
import torch

from archsearch.calculus import derive, field_value
from archsearch.compiler.block import _exec_source
from archsearch.compiler.codegen import diagram_source
from archsearch.compiler.cores import canonical, field_cores, groups, lowrank_ok
from archsearch.compiler.lowrank import (
    _fused,
    _gram,
    gram_eligible,
    lowrank_cost,
    only_batched,
    plan_lowrank,
    storage_order,
)
from archsearch.compiler.order import _pair, contraction_path, path_monomials
from archsearch.compiler.plan import PlanSizes, plan_field
from archsearch.enumeration.axioms import Axioms
from archsearch.enumeration.diagrams import diagrams

B, N, C, RANK, HEADS = 2, 5, 4, 3, 2
SMALL = PlanSizes.of({"N": 11, "C": 32, "C_A": 16, "H": 2})  # the search's default trial
LARGE = PlanSizes.of(None)  # N=1024, C=256, C_A=64, H=4


def _terms(field: str, max_order: int):
    ax = Axioms(left="perm", field=field, max_order=max_order, connected=False)
    return [t for d in range(1, max_order // 2 + 1) for t in diagrams(ax, d)]


CASES = [(t, "real") for t in _terms("real", 6)] + [(t, "complex") for t in _terms("complex", 4)]


def _seed(*parts) -> int:
    return zlib.crc32(repr(parts).encode()) ^ int(np.random.SeedSequence().entropy % (1 << 30))


def _candidates(f, sizes: PlanSizes):
    out = {"batched": _fused(f, sizes, False, True)}
    if f.tied:
        out["per-branch"] = _fused(f, sizes, False, False)
    if gram_eligible(f):
        out["gram"] = _gram(f, sizes)
    return out


def _module(f, low, label: str, dtype):
    full = plan_field(f, low.sizes, lowrank=False)
    name = f"LowRankTest_{abs(hash((f, low.sizes, label)))}"
    source = diagram_source(f, full, low, name, factor_order=storage_order(f, False))
    return _exec_source(source, name, f"<test {name}>")(C, rank=RANK, heads=HEADS, dtype=dtype)


def _reference(f, x: torch.Tensor, eff: dict[str, torch.Tensor]) -> np.ndarray:
    w = {k: v.detach().numpy() for k, v in eff.items()}
    return np.stack([sum(field_value(f, xb, {k: v[h] for k, v in w.items()}) for h in range(HEADS))
                     for xb in x.detach().numpy()])


@pytest.mark.parametrize("term,field", CASES, ids=[f"{t.key}-{f}" for t, f in CASES])
def test_every_program_matches_reference(term, field):
    cplx = field == "complex"
    dtype = torch.complex128 if cplx else torch.float64
    seed = _seed(term.key, field)
    torch.manual_seed(seed)
    for tied in (False, True):
        f = derive(term, field, tied)
        assert lowrank_ok(f)
        for sizes in (SMALL, LARGE):
            for label, low in _candidates(f, sizes).items():
                m = _module(f, low, label, dtype)
                x = torch.randn(B, N, C, dtype=dtype)
                with torch.no_grad():
                    y = m(x).numpy()
                ref = _reference(f, x, m.effective_weights())
                err = np.linalg.norm(y - ref) / max(np.linalg.norm(ref), 1e-300)
                assert err < 1e-10, (term.key, field, tied, sizes, label, seed)


@pytest.mark.parametrize("key", ["0-0", "0-1.0-1", "0-1.1-2.2-0", "0-0.0-1.1-1", "0-1.0-1.0-1"])
def test_gradients_match_full_weights(key):
    """The program's gradient w.r.t. X and the factors equals autograd through the full-weight block
    holding W_h = Q_h K_hᵀ (the same function, computed another way)."""
    from archsearch.terms import Diagram

    torch.manual_seed(_seed("grad", key))
    for tied in (False, True):
        f = derive(Diagram.from_key(key), "real", tied)
        for sizes in (SMALL, LARGE):
            for label, low in _candidates(f, sizes).items():
                m = _module(f, low, label, torch.float64)
                x = torch.randn(B, N, C, dtype=torch.float64, requires_grad=True)
                probe = torch.randn(B, N, C, dtype=torch.float64)
                (m(x) * probe).sum().backward()
                gx, gw = x.grad.clone(), m.weight.grad.clone()
                x.grad = None
                m.weight.grad = None
                ws = m.effective_weights()
                y = m._forward_full(x, ws)
                (y * probe).sum().backward()
                assert torch.allclose(gx, x.grad, atol=1e-10, rtol=1e-9), (key, tied, label)
                assert torch.allclose(gw, m.weight.grad, atol=1e-10, rtol=1e-9), (key, tied, label)


def test_batched_groups_share_one_core():
    """Linear attention's four branches (untied) are one core on 4·B stacked slots; every core of a group
    has the same canonical text, and different groups different texts."""
    from archsearch.terms import Diagram

    f = derive(Diagram.from_key("0-1.0-1"), "real", False)
    cores = field_cores(f)
    gs = groups(cores)
    assert [g.size for g in gs] == [4]
    for key in ("0-1.1-2.2-0", "0-0.0-1.1-1", "0-0.1-1.0-1"):
        f = derive(Diagram.from_key(key), "real", False)
        cores = field_cores(f)
        gs = groups(cores)
        assert sum(g.size for g in gs) == len(f.branches)
        texts = [canonical(cores[g.members[0]]).text for g in gs]
        assert len(set(texts)) == len(texts)
        for g in gs:
            assert {canonical(cores[i]).text for i in g.members} == {texts[gs.index(g)]}


def test_plan_order_follows_sizes():
    """Small N: linear attention's core multiplies the N×N scores; large N: the C_A×C_A state."""
    from archsearch.terms import Diagram

    f = derive(Diagram.from_key("0-1.0-1"), "real", False)
    small, large = plan_lowrank(f, SMALL), plan_lowrank(f, LARGE)
    assert "N²" in small.cost_polynomial() and "N²" not in large.cost_polynomial()


@pytest.mark.parametrize("term", _terms("real", 8)[:40], ids=lambda t: t.key)
def test_cost_without_program_equals_plan(term):
    f = derive(term, "real", False)
    for sizes in (SMALL, LARGE):
        if only_batched(f, False):
            assert str(lowrank_cost(f, sizes)) == plan_lowrank(f, sizes).cost_polynomial()
        order = storage_order(f)
        assert sorted(order) == sorted(f"{p}_{s}" for p in f.parameters() for s in "qk")


def _sequence_cost(inputs, output, seq, size):
    ops = [frozenset(s) for s in inputs]
    out = frozenset(output)
    total = 0.0
    for i, j in seq:
        keep = out.union(*(o for n, o in enumerate(ops) if n not in (i, j)))
        cost, res = _pair(ops[i], ops[j], keep, size)
        total += cost
        ops = [o for n, o in enumerate(ops) if n not in (i, j)] + [res]
    return total


def _all_sequences(n):
    if n == 1:
        yield ()
        return
    for i, j in itertools.combinations(range(n), 2):
        for rest in _all_sequences(n - 1):
            yield ((i, j), *rest)


def _random_network(rng, n_ops):
    letters = "abcdefg"
    inputs = []
    for _ in range(n_ops):
        k = rng.integers(1, 4)
        inputs.append("".join(sorted(rng.choice(list(letters), size=k, replace=False))))
    used = sorted(set("".join(inputs)))
    output = "".join(c for c in used if rng.random() < 0.3)
    size = {c: float(rng.choice([1, 2, 3, 5, 11, 16, 64])) for c in used}
    return tuple(inputs), output, size


def test_exact_path_is_cheapest_and_correct():
    rng = np.random.default_rng(_seed("order"))
    for _ in range(60):
        inputs, output, size = _random_network(rng, int(rng.integers(2, 7)))
        kinds = {c: "token" for c in size}
        path = contraction_path(inputs, output, size, kinds)
        best = min(_sequence_cost(inputs, output, s, size) for s in _all_sequences(len(inputs)))
        got = _sequence_cost(inputs, output, path, size)
        assert got <= best * (1 + 1e-9), (inputs, output, size, path)
        assert len(path_monomials(inputs, output, path, kinds)) >= len(path)
        got_t, want = _evaluate(inputs, output, path, size)  # evaluating the path pairwise gives the einsum
        assert torch.allclose(got_t, want, atol=1e-9, rtol=1e-9)


ORDER8 = [t for t in _terms("real", 8) if t.order == 8]


@pytest.mark.parametrize("term", ORDER8[::3], ids=lambda t: t.key)
def test_order8_programs_match_reference(term):
    """Order 8: cores of 8 operands and more (greedy paths; disconnected diagrams component by component)."""
    seed = _seed("order8", term.key)
    torch.manual_seed(seed)
    f = derive(term, "real", False)
    for sizes in (SMALL, LARGE):
        low = plan_lowrank(f, sizes)
        m = _module(f, low, "chosen", torch.float64)
        x = torch.randn(B, N, C, dtype=torch.float64)
        with torch.no_grad():
            y = m(x).numpy()
        ref = _reference(f, x, m.effective_weights())
        assert np.linalg.norm(y - ref) / np.linalg.norm(ref) < 1e-10, (term.key, sizes, seed)


def _evaluate(inputs, output, path, size):
    """The network contracted pair by pair along ``path`` (fresh float64 operands), and its einsum."""
    shapes = [tuple(int(size[c]) for c in s) for s in inputs]
    ts = [torch.randn(s, dtype=torch.float64) for s in shapes]
    want = torch.einsum(",".join(inputs) + "->" + output, *ts)
    ops = list(zip(inputs, ts, strict=True))
    for i, j in path:
        (a, ta), (b, tb) = ops[i], ops[j]
        rest = [o for n, o in enumerate(ops) if n not in (i, j)]
        keep = set(output).union(*(set(s) for s, _ in rest))
        res = "".join(c for c in dict.fromkeys(a + b) if c in keep)
        ops = [*rest, (res, torch.einsum(f"{a},{b}->{res}", ta, tb))]
    (res, t), = ops
    return torch.einsum(f"{res}->{output}", t), want


def test_disconnected_paths_are_correct():
    """Networks of 8–12 operands in several components besides the common letters: the path contracts
    everything and evaluates to the einsum."""
    rng = np.random.default_rng(_seed("components"))
    for _ in range(40):
        parts = []
        letters = iter("abcdefghijklmnopqrstuvwx")
        for _ in range(int(rng.integers(2, 4))):
            own = [next(letters) for _ in range(3)]
            for _ in range(int(rng.integers(2, 5))):
                parts.append("zy" + "".join(sorted(rng.choice(own, size=2, replace=False))))
        inputs = tuple(parts)
        used = sorted(set("".join(inputs)))
        output = "zy" + "".join(c for c in used if c not in "zy" and rng.random() < 0.15)
        size = {c: float(rng.choice([1, 2, 3])) for c in used}
        kinds = dict.fromkeys(size, "token")
        path = contraction_path(inputs, output, size, kinds)
        assert len(path) == len(inputs) - 1
        got, want = _evaluate(inputs, output, path, size)
        assert torch.allclose(got, want, atol=1e-9, rtol=1e-9), (inputs, output, path)


def test_greedy_path_is_valid():
    """Above the exact size the greedy path still contracts everything (evaluated)."""
    inputs = ("ab", "bc", "cd", "de", "ef", "fg", "ga", "a")
    size = dict.fromkeys("abcdefg", 3.0)
    path = contraction_path(inputs, "", size, dict.fromkeys(size, "token"))
    assert len(path) == len(inputs) - 1


@pytest.mark.parametrize("field", ["real", "complex"])
def test_cores_read_off_the_edges_are_the_einsum_cores(field):
    """branch_core reads a core off the diagram's edges; the same Core as from the planned branch einsum
    (tied and untied, with and without the causal tree's masks)."""
    from archsearch.compiler.causal import causal_tree
    from archsearch.compiler.cores import _branch_core_einsum, branch_core

    for term in _terms(field, 8 if field == "real" else 6):
        for tied in (False, True):
            f = derive(term, field, tied)
            for b in f.branches:
                for masks in ((), tuple(causal_tree(b).masks())):
                    assert branch_core(b, f, masks) == _branch_core_einsum(b, f, masks), (term.key, b)


def test_group_networks_are_the_groups():
    """group_networks (what the cost column uses) gives the members and networks of groups()."""
    from archsearch.compiler.cores import group_networks

    for field, order in (("real", 8), ("complex", 6)):
        for term in _terms(field, order):
            for tied in (False, True):
                cores = field_cores(derive(term, field, tied))
                assert group_networks(cores) == tuple((g.members, g.network) for g in groups(cores)), term.key


def _greedy_on_sets(inputs, output, size):
    """The greedy rule on index sets with _pair: of the pairs sharing an index (disjoint pairs only when none
    does) the least (result size − input sizes, cost), the first such pair in order."""
    ops = [frozenset(s) for s in inputs]
    path = []

    def volume(idx) -> float:
        out = 1.0
        for c in sorted(idx):
            out *= size[c]
        return out

    while len(ops) > 1:
        best = None
        for disjoint in (False, True):
            for i, j in itertools.combinations(range(len(ops)), 2):
                a, b = ops[i], ops[j]
                if not disjoint and not a & b:
                    continue
                keep = frozenset(output).union(*(o for k, o in enumerate(ops) if k not in (i, j)))
                cost, res = _pair(a, b, keep, size)
                key = (volume(res) - volume(a) - volume(b), cost)
                if best is None or key < best[0]:
                    best = (key, i, j, res)
            if best is not None:
                break
        _, i, j, res = best
        path.append((i, j))
        ops.pop(j)
        ops.pop(i)
        ops.append(res)
    return tuple(path)


@pytest.mark.parametrize("table", [200_000, 10])
def test_greedy_memo_makes_the_set_rules_choices(table, monkeypatch):
    """The bitmask greedy (pair scores memoised while their letters' multiplicities stand, and shared across
    networks with the same letter sizes; also with a tiny shared table, emptied all the time) chooses as the
    rule on sets does, on random networks above the exact size (integer sizes: exact products)."""
    from archsearch.compiler import order
    from archsearch.compiler.order import EXACT_MAX, _greedy

    monkeypatch.setattr(order, "_PAIR_SCORES_MAX", table)
    rng = np.random.default_rng(7)
    letters = "ABCDEFGHIJKLMNOP"
    for _ in range(150):
        n_letters = int(rng.integers(4, 12))
        pool = letters[:n_letters]
        size = {c: float(rng.choice([1, 2, 3, 4, 8])) for c in pool}
        inputs = tuple("".join(sorted(set(rng.choice(list(pool), size=int(rng.integers(1, 4))))))
                       for _ in range(int(rng.integers(EXACT_MAX + 1, 14))))
        used = sorted(set("".join(inputs)))
        output = "".join(c for c in used if rng.random() < 0.2)
        assert _greedy(inputs, output, size) == _greedy_on_sets(inputs, output, size), (inputs, output, size)
