"""compiler/order.py: every path computes the network (executed pair by pair against one einsum), the
exact search finds the cheapest tree of the documented cost model (against all pairwise orders), and a
disconnected network is contracted component by component, the component results smallest first."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from archsearch.compiler.order import EXACT_MAX, _greedy, contraction_path, path_monomials, signature

KINDS = "token"


def run_path(inputs, output, path, arrays):
    """Execute a path in opt_einsum's convention: each pair keeps the letters the rest or the output needs."""
    ops = list(zip(inputs, arrays, strict=True))
    for i, j in path:
        assert 0 <= i < j < len(ops), (i, j, len(ops))
        (sa, a), (sb, b) = ops[i], ops[j]
        del ops[j], ops[i]
        keep = set(output).union(*(s for s, _ in ops))
        res = "".join(dict.fromkeys(c for c in sa + sb if c in keep))
        ops.append((res, np.einsum(f"{sa},{sb}->{res}", a, b)))
    ((s, t),) = ops
    return np.einsum(f"{s}->{output}", t)


def volume(idx, size) -> float:
    return math.prod(size[c] for c in idx)


def pair(a, b, keep, size):
    """(cost, result) of one pairwise product, as the module docstring states it: reduce what only one
    operand carries and nothing else needs (that operand's size), then the product (the sizes of all the
    indices of both); the result keeps what the rest or the output needs."""
    cost = 0.0
    for x, y in ((a, b), (b, a)):
        if x - y - keep:
            cost += volume(x, size)
    a, b = a - (a - b - keep), b - (b - a - keep)
    return cost + volume(a | b, size), (a | b) & keep


def path_cost(inputs, output, path, size):
    """The documented cost of a whole path."""
    ops = [frozenset(s) for s in inputs]
    total = 0.0
    for i, j in path:
        a, b = ops[i], ops[j]
        del ops[j], ops[i]
        cost, res = pair(a, b, frozenset(output).union(*ops), size)
        total += cost
        ops.append(res)
    return total


def all_paths(n):
    if n == 1:
        yield ()
        return
    for i, j in itertools.combinations(range(n), 2):
        for rest in all_paths(n - 1):
            yield ((i, j), *rest)


def random_network(rng, n, letters="abcdefgh"):
    inputs = tuple("".join(rng.choice(list(letters), size=rng.integers(1, 4), replace=False)) for _ in range(n))
    used = sorted(set("".join(inputs)))
    output = "".join(c for c in used if rng.random() < 0.3)
    return inputs, output


def letters_of(inputs) -> list[str]:
    """The network's letters, sorted: random sizes drawn per letter are then the same in every process
    (a set's order changes with the hash seed)."""
    return sorted(set("".join(inputs)))


def arrays_for(rng, inputs, size):
    return [rng.standard_normal([int(size[c]) for c in s]) for s in inputs]


@pytest.mark.parametrize("n", range(2, 12))
def test_every_path_computes_the_network(n):
    rng = np.random.default_rng(100 + n)
    for _ in range(6):
        inputs, output = random_network(rng, n)
        size = {c: float(rng.integers(2, 5)) for c in letters_of(inputs)}
        path = contraction_path(inputs, output, size, dict.fromkeys(size, KINDS))
        assert len(path) == n - 1
        arrays = arrays_for(rng, inputs, size)
        want = np.einsum(",".join(inputs) + "->" + output, *arrays, optimize="greedy")  # numpy's own order
        np.testing.assert_allclose(run_path(inputs, output, path, arrays), want, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("n", [2, 3, 4, 5, 6, EXACT_MAX])
def test_the_exact_search_is_the_cheapest_pairwise_tree(n):
    rng = np.random.default_rng(7 * n)
    for _ in range(12 if n < 6 else 3 if n == 6 else 2):  # 56,700 orders of 7 operands
        inputs, output = random_network(rng, n, letters="abcdefg")
        size = {c: float(rng.choice([1, 2, 3, 5, 11, 16, 64])) for c in letters_of(inputs)}
        path = contraction_path(inputs, output, size, dict.fromkeys(size, KINDS))
        best = min(path_cost(inputs, output, p, size) for p in all_paths(n))
        assert path_cost(inputs, output, path, size) <= best * (1 + 1e-12), (inputs, output, size)
        assert len(path_monomials(inputs, output, path, dict.fromkeys(size, KINDS))) >= len(path)


def test_the_exact_search_with_scalar_operands():
    """Operands with no letters (scalars) and components summed to scalars: a product of two scalars costs 1
    (the empty product), and the search still finds the cheapest tree — e.g. for cd, (scalar), c, da → ""
    (sizes a 3, c 2, d 2) the best tree costs 13, one that avoids the scalar product 14."""
    cases = [(("cd", "", "c", "da"), "", {"a": 3.0, "c": 2.0, "d": 2.0})]
    rng = np.random.default_rng(11)
    for _ in range(60):
        n = int(rng.integers(3, 6))
        inputs = tuple("".join(rng.choice(list("abcde"), size=rng.integers(0, 3), replace=False)) for _ in range(n))
        used = letters_of(inputs)
        cases.append((inputs, "".join(c for c in used if rng.random() < 0.2),
                      {c: float(rng.choice([1, 2, 3])) for c in used}))
    assert sum("" in inputs for inputs, _, _ in cases) > 20
    for inputs, output, size in cases:
        path = contraction_path(inputs, output, size, dict.fromkeys(size, KINDS))
        best = min(path_cost(inputs, output, p, size) for p in all_paths(len(inputs)))
        assert path_cost(inputs, output, path, size) <= best * (1 + 1e-12), (inputs, output, size)
        arrays = arrays_for(rng, inputs, size)
        want = np.einsum(",".join(inputs) + "->" + output, *arrays)
        np.testing.assert_allclose(run_path(inputs, output, path, arrays), want, rtol=1e-9, atol=1e-9)


OWN = "abcdefghijklmnopqrstuvwxy"


def components_case(rng, groups, private_out):
    """Chains with disjoint letters, every operand and the output also carrying the batch letter z; the
    first ``private_out[k]`` letters of component k go to the output. The operands are shuffled, so a
    component's operands are not adjacent (a lone operand may sit at position 1)."""
    ops, out, pos = [], "z", 0
    for g, n_out in zip(groups, private_out, strict=True):
        own = OWN[pos:pos + g + 1]
        pos += g + 1
        ops += ["z" + own[k] + own[k + 1] for k in range(g)]
        out += own[:n_out]
    return tuple(ops[i] for i in rng.permutation(len(ops))), out


def _component_of(s, groups):
    pos, start = OWN.index(s[1]), 0
    for k, g in enumerate(groups):
        if pos < start + g + 1:
            return k
        start += g + 1
    raise ValueError(s)


CASES = [((3, 3, 3), (0, 0, 0)), ((2, 4, 3), (1, 0, 2)), ((4, 2, 2, 1), (0, 1, 2, 0)), ((1,) * 8, (0,) * 8),
         ((3, 1, 3, 2), (1, 2, 2, 0)), ((1, 3, 1, 3), (1, 0, 1, 1)), ((2, 2, 2, 2), (2, 1, 0, 3)),
         ((4, 4), (0, 1)), ((5, 3), (2, 0))]  # two components
PRIMES = (2, 3, 5, 7, 11, 13, 17)


@pytest.mark.parametrize("groups,private_out", CASES, ids=[str(c[0]) + str(c[1]) for c in CASES])
@pytest.mark.parametrize("seed", range(8))
def test_components_are_contracted_one_by_one_then_smallest_first(groups, private_out, seed):
    rng = np.random.default_rng(seed)
    inputs, output = components_case(rng, groups, private_out)
    assert len(inputs) > EXACT_MAX
    size = {c: float(rng.integers(2, 6)) for c in letters_of(inputs)}
    for c, p in zip(output[1:], PRIMES, strict=False):  # output letters of distinct prime sizes: the
        size[c] = float(p)                              # component results differ in size, or are all z
    path = contraction_path(inputs, output, size, dict.fromkeys(size, KINDS))
    arrays = arrays_for(rng, inputs, size)
    want = np.einsum(",".join(inputs) + "->" + output, *arrays, optimize="greedy")  # numpy's own order
    np.testing.assert_allclose(run_path(inputs, output, path, arrays), want, rtol=1e-9)
    # no pair mixes two components before every component is contracted to one tensor
    owner = [_component_of(s, groups) for s in inputs]
    left = list(groups)
    for step, (i, j) in enumerate(path):
        a, b = owner[i], owner[j]
        del owner[j], owner[i]
        if a == b and a >= 0:
            left[a] -= 1
            owner.append(a)
        else:
            assert all(n == 1 for n in left), f"step {step} mixes components before all are contracted"
            owner.append(-1)
    # the cost: each component's own optimum (its output: z and its letters the output carries), then the
    # component results combined from the smallest up
    subs = [tuple(s for s in inputs if _component_of(s, groups) == k) for k in range(len(groups))]
    outs = ["z" + "".join(c for c in output[1:] if c in "".join(sub)) for sub in subs]
    parts = sum(min(path_cost(sub, o, p, size) for p in all_paths(len(sub)))
                for sub, o in zip(subs, outs, strict=True) if len(sub) > 1)
    ranked = sorted(range(len(groups)), key=lambda k: math.prod(size[c] for c in outs[k]))
    results = tuple(subs[k][0] if len(subs[k]) == 1 else outs[k] for k in ranked)
    combine = ((0, 1), *((0, len(results) - 2 - t) for t in range(len(results) - 2)))
    assert path_cost(inputs, output, path, size) == parts + path_cost(results, output, combine, size)


def test_a_lone_operand_at_a_low_position_survives_three_combinations():
    """Three chains and a lone operand (position 1, the largest result, so combined last): the ids of the
    combined results must never collide with the lone operand's."""
    inputs = ("zab", "zxy", "zbc", "zef", "zcd", "zfg", "zij", "zgh", "zjk")
    output = "zxy"
    size = dict.fromkeys("zabcdefghijk", 2.0) | {"x": 5.0, "y": 7.0}
    path = contraction_path(inputs, output, size, dict.fromkeys(size, KINDS))
    arrays = arrays_for(np.random.default_rng(1), inputs, size)
    want = np.einsum(",".join(inputs) + "->" + output, *arrays, optimize="greedy")
    np.testing.assert_allclose(run_path(inputs, output, path, arrays), want, rtol=1e-9)


def greedy_reference(inputs, output, size):
    """The documented greedy rule on sets: among pairs sharing an index (all pairs when none does), the
    least (size change, cost, position) under the pre-reducing cost model; ties keep the first pair."""
    ops = [frozenset(s) for s in inputs]
    path = []
    while len(ops) > 1:
        best = None
        for disjoint in (False, True):
            for i, j in itertools.combinations(range(len(ops)), 2):
                a, b = ops[i], ops[j]
                if not disjoint and not a & b:
                    continue
                keep = frozenset(output).union(*(o for k, o in enumerate(ops) if k not in (i, j)))
                cost, res = pair(a, b, keep, size)
                score = (volume(res, size) - volume(a, size) - volume(b, size), cost)
                if best is None or score < best[0]:
                    best = (score, i, j, res)
            if best is not None:
                break
        _, i, j, res = best
        path.append((i, j))
        del ops[j], ops[i]
        ops.append(res)
    return tuple(path)


@pytest.mark.parametrize("table", [200_000, 10])
def test_greedy_makes_the_documented_choices(table, monkeypatch):
    """The bitmask greedy (pair scores memoised while their letters' multiplicities stand, and shared across
    networks with the same letter sizes; also with a tiny shared table, emptied all the time) chooses as the
    rule written out on sets, on random networks above the exact size (sizes 1-8: many ties), and its path
    computes the network."""
    from archsearch.compiler import order

    monkeypatch.setattr(order, "_PAIR_SCORES_MAX", table)
    rng = np.random.default_rng(7)
    letters = "ABCDEFGHIJKLMNOP"
    for k in range(150):
        pool = letters[:int(rng.integers(4, 12))]
        size = {c: float(rng.choice([1, 2, 3, 4, 8])) for c in pool}
        inputs = tuple("".join(sorted(set(rng.choice(list(pool), size=int(rng.integers(1, 4))))))
                       for _ in range(int(rng.integers(EXACT_MAX + 1, 14))))
        used = sorted(set("".join(inputs)))
        output = "".join(c for c in used if rng.random() < 0.2)
        path = _greedy(inputs, output, size)
        assert path == greedy_reference(inputs, output, size), (inputs, output, size)
        if k % 10 == 0:
            arrays = arrays_for(rng, inputs, size)
            want = np.einsum(",".join(inputs) + "->" + output, *arrays, optimize="greedy")
            np.testing.assert_allclose(run_path(inputs, output, path, arrays), want, rtol=1e-9, atol=1e-9)


def test_disconnected_networks_with_shared_batch_letters():
    """Networks of 8-16 operands in several components besides the common letters z, y: the path contracts
    everything and evaluates to the einsum."""
    rng = np.random.default_rng(11)
    for _ in range(40):
        parts = []
        letters = iter("abcdefghijklmnopqrstuvwx")
        for _ in range(int(rng.integers(2, 4))):
            own = [next(letters) for _ in range(3)]
            parts += ["zy" + "".join(sorted(rng.choice(own, size=2, replace=False)))
                      for _ in range(int(rng.integers(2, 5)))]
        inputs = tuple(parts)
        used = sorted(set("".join(inputs)))
        output = "zy" + "".join(c for c in used if c not in "zy" and rng.random() < 0.15)
        size = {c: float(rng.choice([1, 2, 3])) for c in used}
        path = contraction_path(inputs, output, size, dict.fromkeys(size, KINDS))
        assert len(path) == len(inputs) - 1
        arrays = arrays_for(rng, inputs, size)
        want = np.einsum(",".join(inputs) + "->" + output, *arrays, optimize="greedy")
        np.testing.assert_allclose(run_path(inputs, output, path, arrays), want, rtol=1e-9, atol=1e-9)


def test_a_cycle_above_the_exact_size_is_contracted():
    inputs = ("ab", "bc", "cd", "de", "ef", "fg", "ga", "a")
    size = dict.fromkeys("abcdefg", 3.0)
    path = contraction_path(inputs, "", size, dict.fromkeys(size, KINDS))
    arrays = arrays_for(np.random.default_rng(2), inputs, size)
    np.testing.assert_allclose(run_path(inputs, "", path, arrays), np.einsum(",".join(inputs) + "->", *arrays),
                               rtol=1e-9)


def test_signature_renames_letters_by_first_appearance():
    assert signature(("ij", "jk"), "ik") == (("AB", "BC"), "AC", {"i": "A", "j": "B", "k": "C"})
    letters = "".join(chr(ord("a") + k) for k in range(26)) + "".join(chr(ord("A") + k) for k in range(4))
    sig, out, names = signature((letters,), "")
    assert sig == ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcd",) and out == "" and len(set(names.values())) == 30
