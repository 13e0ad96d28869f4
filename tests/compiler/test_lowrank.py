"""The low-rank programs (archsearch.compiler.lowrank) and their parts (cores, order).

Every candidate program — batched cores, one core per branch, Gram — of every diagram up to order 6,
planned at the search's sizes (small N: the N×N products first) and at the default sizes (the
C_A×C_A states first), is emitted as a module and checked in float64 against the numpy reference
Σ_h field_value(field, X, Q_h K_hᵀ) on fresh random inputs; gradients against autograd of the full-
weight block. The contraction paths of order.py are checked against every pairwise order (brute
force) and by evaluating them; the cost the enumerator reports without a program equals the plan's.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest
import torch
from compiler_helpers import perm_diagrams

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
from archsearch.compiler.plan import PlanSizes, plan_field

B, N, C, RANK, HEADS = 2, 5, 4, 3, 2
SMALL = PlanSizes.of({"N": 11, "C": 32, "C_A": 16, "H": 2})  # the search's default trial
LARGE = PlanSizes.of(None)  # N=1024, C=256, C_A=64, H=4


CASES = [(t, "real") for t in perm_diagrams("real", 6)] + [(t, "complex") for t in perm_diagrams("complex", 4)]


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


@pytest.mark.parametrize("term", perm_diagrams("real", 8)[:40], ids=lambda t: t.key)
def test_cost_without_program_equals_plan(term):
    f = derive(term, "real", False)
    for sizes in (SMALL, LARGE):
        if only_batched(f, False):
            assert str(lowrank_cost(f, sizes)) == plan_lowrank(f, sizes).cost_polynomial()
        order = storage_order(f)
        assert sorted(order) == sorted(f"{p}_{s}" for p in f.parameters() for s in "qk")


ORDER8 = [t for t in perm_diagrams("real", 8) if t.order == 8]


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


@pytest.mark.parametrize("field", ["real", "complex"])
def test_cores_read_off_the_edges_are_the_einsum_cores(field):
    """branch_core reads a core off the diagram's edges; the same Core as from the planned branch einsum
    (tied and untied, with and without the causal tree's masks)."""
    from archsearch.compiler.causal import causal_tree
    from archsearch.compiler.cores import _branch_core_einsum, branch_core

    for term in perm_diagrams(field, 8 if field == "real" else 6):
        for tied in (False, True):
            f = derive(term, field, tied)
            for b in f.branches:
                for masks in ((), tuple(causal_tree(b).masks())):
                    assert branch_core(b, f, masks) == _branch_core_einsum(b, f, masks), (term.key, b)


def test_group_networks_are_the_groups():
    """group_networks (what the cost column uses) gives the members and networks of groups()."""
    from archsearch.compiler.cores import group_networks

    for field, order in (("real", 8), ("complex", 6)):
        for term in perm_diagrams(field, order):
            for tied in (False, True):
                cores = field_cores(derive(term, field, tied))
                assert group_networks(cores) == tuple((g.members, g.network) for g in groups(cores)), term.key


def test_the_plan_is_the_cheapest_candidate():
    """plan_lowrank keeps the cheapest (by score) of its candidates — batched, per-branch (tied fields), gram
    (where eligible) — and each of them is the only cheapest for some field."""
    won = set()
    for term, field in CASES:
        for tied in (False, True):
            f = derive(term, field, tied)
            if not lowrank_ok(f):
                continue
            for sizes in (SMALL, LARGE):
                candidates = _candidates(f, sizes)
                best = min(c.score() for c in candidates.values())
                assert plan_lowrank(f, sizes).score() == best, (term.key, tied, sizes)
                winners = [k for k, c in candidates.items() if c.score() == best]
                if len(winners) == 1:
                    won.add(winners[0])
    assert won == {"batched", "per-branch", "gram"}
