"""Contraction orders for the small tensor networks of the low-rank programs (no opt_einsum).

A network is a list of operands, each a string of index letters, an output string and a size per
letter. A *path* is a list of position pairs in opt_einsum's convention (the two operands are
removed, their product appended), executed by :func:`archsearch.compiler.plan._run`; every pairwise
product first sums the indices that only one operand carries and nothing later needs (a "reduce",
costing that operand's size), then multiplies and sums what no other operand and not the output
carries (costing the product of the sizes of all the indices of both operands) — exactly the costs
:class:`~archsearch.compiler.plan.PlanBuilder` records, so the predicted polynomial is the plan's.

* up to :data:`EXACT_MAX` operands: the cheapest pairwise tree, by dynamic programming over subsets
  (3ⁿ splits; the tensor of a subset S carries the indices of S that its complement or the output
  also carries, whatever the order inside S);
* above: a network whose operands fall into several components once the letters every operand and
  the output carry (batch, head) are set aside (a disconnected diagram: the closed components are
  scalars per batch and head) is contracted component by component (each path cached by its own
  shape), then the component results from the smallest up; otherwise greedy — the pair sharing an
  index whose product shrinks the network most (result size minus input sizes), ties by cost;
  disjoint pairs (outer products, e.g. with ``ones``) last.

Paths are cached by the network's shape signature (letters renamed by first appearance) and sizes:
the branches of a field, the fields of a family and the families of an enumeration share networks.
"""

from __future__ import annotations

from functools import lru_cache

from archsearch.compiler.plan import Monomial

__all__ = ["EXACT_MAX", "contraction_path", "path_monomials", "signature"]

EXACT_MAX = 7  # dynamic programming up to this many operands (3⁷ = 2187 splits, a few ms once per shape)


def signature(inputs: tuple[str, ...], output: str) -> tuple[tuple[str, ...], str, dict[str, str]]:
    """The network with its letters renamed in order of first appearance (inputs, then output), and
    the renaming (old → new)."""
    names: dict[str, str] = {}
    for s in (*inputs, output):
        for c in s:
            if c not in names:
                names[c] = chr(ord("A") + len(names)) if len(names) < 26 else chr(ord("a") + len(names) - 26)
    return tuple("".join(names[c] for c in s) for s in inputs), "".join(names[c] for c in output), names


def contraction_path(
    inputs: tuple[str, ...], output: str, sizes: dict[str, float], kinds: dict[str, str]
) -> tuple[tuple[int, int], ...]:
    """The pairwise path (see the module docstring) for operands ``inputs`` → ``output``; ``sizes``
    gives each letter's planning size, ``kinds`` its kind (part of the cache key)."""
    sig, out, names = signature(inputs, output)
    key_sizes = tuple(sorted((names[c], float(sizes[c]), kinds[c]) for c in names))
    return _cached_path(sig, out, key_sizes)


def path_monomials(inputs: tuple[str, ...], output: str, path, kinds: dict[str, str]) -> list[Monomial]:
    """The cost monomials the plan builder records for ``path`` (reduces, then products); index sets as
    bitmasks."""
    letters = sorted(set(output).union(*inputs))
    bit = {c: 1 << k for k, c in enumerate(letters)}
    ops = [_mask(s, bit) for s in inputs]
    out = _mask(output, bit)
    memo: dict[int, Monomial] = {}

    def monomial(mask: int) -> Monomial:
        m = memo.get(mask)
        if m is None:
            m = memo[mask] = Monomial.of_kinds(kinds[c] for k, c in enumerate(letters) if mask >> k & 1)
        return m

    monos: list[Monomial] = []
    for i, j in path:
        i, j = sorted((i, j))
        a, b = ops[i], ops[j]
        keep = out
        for n, o in enumerate(ops):
            if n != i and n != j:
                keep |= o
        ra, rb = a & ~b & ~keep, b & ~a & ~keep
        if ra:
            monos.append(monomial(a))
        if rb:
            monos.append(monomial(b))
        both = (a & ~ra) | (b & ~rb)
        monos.append(monomial(both))
        ops.pop(j)
        ops.pop(i)
        ops.append(both & keep)
    return monos


@lru_cache(maxsize=65536)
def _cached_path(inputs: tuple[str, ...], output: str, sizes: tuple[tuple[str, float, str], ...]):
    size = {c: s for c, s, _ in sizes}
    if len(inputs) == 1:
        return ()
    if len(inputs) <= EXACT_MAX:
        return _exact(inputs, output, size)
    comps = _components(inputs, output)
    if len(comps) > 1:
        return _by_components(inputs, output, sizes, comps)
    return _greedy(inputs, output, size)


def _components(inputs: tuple[str, ...], output: str) -> list[list[int]]:
    """Operand positions of each component, joined by shared letters other than those every operand
    and the output carry."""
    common = set(output).intersection(*map(set, inputs))
    parent = list(range(len(inputs)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[str, int] = {}
    for i, s in enumerate(inputs):
        for c in s:
            if c in common:
                continue
            if c in first:
                parent[root(i)] = root(first[c])
            else:
                first[c] = i
    comps: dict[int, list[int]] = {}
    for i in range(len(inputs)):
        comps.setdefault(root(i), []).append(i)
    return list(comps.values())


def _by_components(inputs, output, sizes, comps) -> tuple[tuple[int, int], ...]:
    """Each component's own path (its output: its letters the output or no other component needs, and
    the common letters), then the component results, smallest first, one after another."""
    by_letter = {c: (sz, kind) for c, sz, kind in sizes}
    ids = list(range(len(inputs)))  # the operand ids at each position of the running list
    path: list[tuple[int, int]] = []
    results: list[tuple[float, int]] = []
    next_id = len(inputs)
    common = set(output).intersection(*map(set, inputs))
    for comp in comps:
        sub = tuple(inputs[i] for i in comp)
        others = {c for j, s in enumerate(inputs) if j not in comp for c in s}
        mine = {c for s in sub for c in s}
        sub_out = "".join(c for c in dict.fromkeys("".join(sub)) if c in output or c in common or c in others)
        sub_out = "".join(c for c in sub_out if c in mine)
        local = list(comp)
        sub_sizes = {c: by_letter[c][0] for c in mine}
        sub_kinds = {c: by_letter[c][1] for c in mine}
        for i, j in contraction_path(sub, sub_out, sub_sizes, sub_kinds):
            a, b = local[i], local[j]
            pa, pb = ids.index(a), ids.index(b)
            path.append((min(pa, pb), max(pa, pb)))
            for p in sorted((pa, pb), reverse=True):
                ids.pop(p)
            ids.append(next_id)
            for p in sorted((i, j), reverse=True):
                local.pop(p)
            local.append(next_id)
            next_id += 1
        (last,) = local
        size = 1.0
        for c in sub_out:
            size *= by_letter[c][0]
        results.append((size, last))
    results.sort()
    acc = results[0][1]
    for _, other in results[1:]:
        pa, pb = ids.index(acc), ids.index(other)
        path.append((min(pa, pb), max(pa, pb)))
        for p in sorted((pa, pb), reverse=True):
            ids.pop(p)
        ids.append(next_id)
        acc = next_id
        next_id += 1
    return tuple(path)


def _exact(inputs: tuple[str, ...], output: str, size) -> tuple[tuple[int, int], ...]:
    """Index sets as bitmasks (one bit per letter, in sorted letter order); each pair costed by the model of
    the module docstring (its reduces, then its product)."""
    n = len(inputs)
    bit = {c: 1 << k for k, c in enumerate(sorted(size))}
    sizes = [float(size[c]) for c in sorted(size)]
    sz = _mask_sizes(sizes)
    sets = [_mask(s, bit) for s in inputs]
    out = _mask(output, bit)
    full = (1 << n) - 1
    union = [0] * (full + 1)
    for m in range(1, full + 1):
        low = m & -m
        union[m] = union[m ^ low] | sets[low.bit_length() - 1]

    def carried(m: int) -> int:  # the indices the tensor of subset m keeps
        if m & (m - 1) == 0:
            return sets[m.bit_length() - 1]  # a leaf keeps all its indices until its first product
        rest = full & ~m
        return union[m] & (out | (union[rest] if rest else 0))

    keeps = [0] * (full + 1)
    for m in range(1, full + 1):
        keeps[m] = carried(m)
    best: dict[int, tuple[float, tuple]] = {1 << i: (0.0, ()) for i in range(n)}
    for m in sorted(range(1, full + 1), key=lambda v: bin(v).count("1")):
        if m in best:
            continue
        rest = full & ~m
        keep = out | (union[rest] if rest else 0)
        choice: tuple[float, tuple] | None = None
        sub = (m - 1) & m
        while sub:
            other = m & ~sub
            if sub < other:  # each split once
                c1, t1 = best[sub]
                c2, t2 = best[other]
                a, b = keeps[sub], keeps[other]
                step = 0.0
                ra, rb = a & ~b & ~keep, b & ~a & ~keep
                if ra:
                    step += sz(a)
                    a &= ~ra
                if rb:
                    step += sz(b)
                    b &= ~rb
                total = c1 + c2 + (step + sz(a | b))
                if choice is None or total < choice[0] * (1 - 1e-12):
                    choice = (total, (sub, other, t1, t2))
            sub = (sub - 1) & m
        assert choice is not None  # m has at least two bits: some split exists
        best[m] = choice
    return _tree_to_path(best[full][1], n)


def _mask(s: str, bit: dict[str, int]) -> int:
    m = 0
    for c in s:
        m |= bit[c]
    return m


def _mask_sizes(sizes: list[float]):
    """The size of a bitmask of letters (the product of their sizes in bit order), memoised."""
    memo: dict[int, float] = {0: 1.0}

    def sz(mask: int) -> float:
        v = memo.get(mask)
        if v is None:
            v, m, k = 1.0, mask, 0
            while m:
                if m & 1:
                    v *= sizes[k]
                m >>= 1
                k += 1
            memo[mask] = v
        return v

    return sz


def _tree_to_path(tree, n: int) -> tuple[tuple[int, int], ...]:
    """A binary tree over leaf bitmasks → opt_einsum positions (results appended to the list)."""
    ops: list[int] = [1 << i for i in range(n)]  # the subset each list position holds
    path: list[tuple[int, int]] = []

    def emit(node) -> int:
        sub, other, t1, t2 = node
        for t in (t1, t2):
            if t:
                emit(t)
        i, j = ops.index(sub), ops.index(other)
        path.append((min(i, j), max(i, j)))
        for k in sorted((i, j), reverse=True):
            ops.pop(k)
        ops.append(sub | other)
        return sub | other

    emit(tree)
    return tuple(path)


#: pair scores of :func:`_greedy` by the letter sizes (in bit order), then (masks, their letters in two and in
#: three operands, their output letters) → (size change, cost, result): the networks of an enumeration share
#: most pairs (this process only; emptied when a call finds more than _PAIR_SCORES_MAX pairs held: tens of MB)
_PAIR_SCORES: dict[tuple[float, ...], dict[tuple[int, int, int, int, int], tuple[float, float, int]]] = {}
_PAIR_SCORES_HELD = [0]  # pairs in all the tables
_PAIR_SCORES_MAX = 200_000


def _greedy(inputs: tuple[str, ...], output: str, size) -> tuple[tuple[int, int], ...]:
    """Index sets as bitmasks (one bit per letter), each pair costed by the model of the module docstring:
    the pair sharing an index (disjoint pairs only when no pair shares one) with the least (size change,
    cost, position). A pair's score depends only on its two masks and which of their letters sit in two
    or three operands (``multi2``, ``multi3``); letters only ever leave operands, so each pair keeps its
    last score with those masks and rescores only when they change — from :data:`_PAIR_SCORES` where a
    network with the same letter sizes scored the same pair."""
    letters = sorted(size)
    bit = {c: 1 << n for n, c in enumerate(letters)}
    sizes = [float(size[c]) for c in letters]
    sz_memo: dict[int, float] = {0: 1.0}

    def sz(mask: int) -> float:
        v = sz_memo.get(mask)
        if v is None:
            v, m, k = 1.0, mask, 0
            while m:
                if m & 1:
                    v *= sizes[k]
                m >>= 1
                k += 1
            sz_memo[mask] = v
        return v

    ops = [_mask(s, bit) for s in inputs]
    out = _mask(output, bit)
    path: list[tuple[int, int]] = []
    memo: dict[int, dict[int, tuple[int, int, float, float, int]]] = {}  # a → b → (m2, m3, delta, cost, res)
    if _PAIR_SCORES_HELD[0] > _PAIR_SCORES_MAX:
        _PAIR_SCORES.clear()
        _PAIR_SCORES_HELD[0] = 0
    shared = _PAIR_SCORES.setdefault(tuple(sizes), {})  # the scores of every network with these letter sizes
    held = len(shared)

    while len(ops) > 1:
        seen = multi2 = multi3 = 0  # letters in ≥ 1, ≥ 2, ≥ 3 operands
        for o in ops:
            multi3 |= multi2 & o
            multi2 |= seen & o
            seen |= o
        n_ops = len(ops)
        best_delta = best_cost = 0.0
        best_i = best_j = best_res = -1
        # a pair sharing an index always scores before a disjoint one: disjoint pairs only when no other;
        # pairs in order (i, j), a later pair replacing the choice only when strictly better
        for disjoint in (False, True):
            for i in range(n_ops):
                a = ops[i]
                row = memo.get(a)
                if row is None:
                    row = memo[a] = {}
                for j in range(i + 1, n_ops):
                    b = ops[j]
                    if not disjoint and not a & b:
                        continue
                    both = a | b
                    m2, m3 = multi2 & both, multi3 & both
                    hit = row.get(b)
                    if hit is None or hit[0] != m2 or hit[1] != m3:
                        key = (a, b, m2, m3, out & both)
                        known = shared.get(key)
                        if known is None:
                            keep = both & (out | (a & b & m3) | ((a ^ b) & m2))
                            sa = sz_memo.get(a) or sz(a)  # sizes are ≥ 1
                            sb = sz_memo.get(b) or sz(b)
                            cost = 0.0
                            ra, rb = a & ~b & ~keep, b & ~a & ~keep
                            a2, b2 = a, b
                            if ra:
                                cost += sa
                                a2 = a & ~ra
                            if rb:
                                cost += sb
                                b2 = b & ~rb
                            ab = a2 | b2
                            cost += sz_memo.get(ab) or sz(ab)
                            res = ab & keep
                            known = shared[key] = ((sz_memo.get(res) or sz(res)) - sa - sb, cost, res)
                        hit = row[b] = (m2, m3, *known)
                    delta = hit[2]
                    if best_i < 0 or delta < best_delta or (delta == best_delta and hit[3] < best_cost):
                        best_delta, best_cost, best_i, best_j, best_res = delta, hit[3], i, j, hit[4]
            if best_i >= 0:
                break
        assert best_i >= 0  # at least two operands: some pair exists
        path.append((best_i, best_j))
        ops.pop(best_j)
        ops.pop(best_i)
        ops.append(best_res)
    _PAIR_SCORES_HELD[0] += len(shared) - held
    return tuple(path)
