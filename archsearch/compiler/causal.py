"""Causal variants of diagram fields: semantics, the masked quadratic reference, the linear plan.

Semantics. A branch opens one endpoint of the diagram; its vertex a carries the output token t.
Root the opened diagram (the diagram without the opened edge) at a and take its BFS spanning
tree (neighbours in vertex order). Every tree edge (parent p, child c) gets the mask c ≤ p, so
every summed token index is ≤ t. For an opened trace word this is exactly
(L∘G₁)(L∘G₂)…X W — stacked causal linear attentions ((L∘XAXᵀ)(L∘XBXᵀ)XC is two of them). If
the vertex u that carries the opened half-edge (the free feature vector x_u W) is not reached
from a — the opened edge was a bridge — u hangs below a with the mask u ≤ a and no edge factor
(a prefix sum); so does every other unreached component (disconnected diagrams).

Reference (:func:`causal_reference`): the branch einsum with one extra lower-triangular operand
L[p, c] = [c ≤ p] per tree edge — O(N²) or worse, float64 numpy, for tests.

Linear plan (:func:`plan_causal`): messages from the leaves to the root. The message of a vertex
c is a per-token tensor (B, H, N, Dv), Dv = C if c's subtree holds the half-edge (its free
feature vector), else 1; it is the product of c's loops (per-token scalars x_c W x_c*), the
half-edge vector (at u) and the messages its children send. A tree edge (p, c) with m parallel
edges sends

    att[t] = Σ_{s ≤ t} (q_t · k_s) msg_c[s]    (one causal_linear_attention call)

with lifted features q_p = ⊗ of the m factors (x_p W_e, or conj(x_p) W_eᵀ when p is the X* end
of e; low rank: x_p Q_e / conj(x_p) K_e) and k_c = ⊗ of conj(x_c) / x_c (low rank: conj(x_c) K_e
/ x_c Q_e), of dimension C^m (C_A^m); m = 0 is a prefix sum. Heads ride along in the kernel's head
dimension. Branches with no summed token index at all (the opened diagram is the output vertex
with loops) are planned and merged exactly like the non-causal field. A non-tree edge between
two tree vertices (a cycle of the opened diagram) has no such factorisation: that branch falls
back to the masked einsum (planned like a non-causal branch, quadratic or worse) and the plan is
marked ``linear=False``. Opened diagrams of order ≤ 6 have no
cycles (two edges can only close a cycle as parallel edges, which lift).

Streaming. A linear program is token-local apart from its prefix sums and scans, so the generated
block runs it over token segments (1024 on CPU), each prefix sum and scan reading and writing its
carried state (the running sum; S = Σ k_sᵀ v_s) under its step's name: the one-pass output with
intermediates of one segment's size, so the time per token does not grow with N once the
(B, H, N, ·) tensors leave the caches.
"""

from __future__ import annotations

import dataclasses
import operator
import re
from collections import defaultdict, deque
from dataclasses import dataclass
from functools import reduce

import numpy as np

from archsearch.calculus.evaluate import TOKEN_LETTERS, branch_einsum, resolve_operands
from archsearch.calculus.fields import Branch, Field, symmetric_letters
from archsearch.compiler.plan import (
    CostReport,
    Monomial,
    PlanBuilder,
    PlannedEinsum,
    PlanSizes,
    Polynomial,
    Step,
    leaf_names,
    perm_to,
    permute_expr,
    plan_field,
    plan_one,
    planned_einsum,
)
from archsearch.families.diagram import Diagram

__all__ = ["CausalFieldPlan", "CausalTree", "causal_reference", "causal_tree", "plan_causal", "CHUNK"]

CHUNK = 64  # nominal chunk length of the scan in the cost (intra-chunk work CHUNK·N·(D + Dv)); the CUDA tile


# --------------------------------------------------------------------------------------------------
# The spanning tree of an opened diagram
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CausalTree:
    """BFS spanning tree of a branch's opened diagram, rooted at the output vertex.

    parent[v]:     parent vertex (None for the root)
    tree_edges[v]: the rep edges between v and its parent (parallel edges; () for a hanging
                   vertex attached by a mask alone)
    loops[v]:      loop edges at v
    order:         BFS order (root first); children come after their parents
    non_tree:      edges closing a cycle (the branch is then not linear)
    """

    branch: Branch
    root: int
    half: int
    opened: int
    parent: tuple[int | None, ...]
    tree_edges: tuple[tuple[int, ...], ...]
    loops: tuple[tuple[int, ...], ...]
    order: tuple[int, ...]
    non_tree: tuple[int, ...]

    @property
    def linear(self) -> bool:
        return not self.non_tree

    def masks(self) -> list[tuple[int, int]]:
        """(parent, child) of every tree edge: the reference multiplies by L[p, c] = [c ≤ p]."""
        return [(p, c) for c, p in enumerate(self.parent) if p is not None]

    def children(self, v: int) -> list[int]:
        return [c for c in self.order if self.parent[c] == v]

    def carries_half(self, v: int) -> bool:
        """Whether v's subtree holds the half-edge (so its message is a feature vector)."""
        w: int | None = self.half
        while w is not None:
            if w == v:
                return True
            w = self.parent[w]
        return False


def causal_tree(branch: Branch) -> CausalTree:
    """The BFS spanning tree of a diagram branch (see the module docstring)."""
    d = branch.term
    if not isinstance(d, Diagram):
        raise TypeError("causal trees are defined for diagram branches")
    rep = d.rep
    n = 1 + max(max(e.src, e.dst) for e in rep)
    opened = rep[branch.edge]
    root = branch.vertex
    half = opened.src if branch.end == "dst" else opened.dst
    remaining = [i for i in range(len(rep)) if i != branch.edge]
    loops: list[list[int]] = [[] for _ in range(n)]
    between: dict[frozenset, list[int]] = defaultdict(list)
    neighbours: list[set[int]] = [set() for _ in range(n)]
    for i in remaining:
        e = rep[i]
        if e.src == e.dst:
            loops[e.src].append(i)
        else:
            between[frozenset((e.src, e.dst))].append(i)
            neighbours[e.src].add(e.dst)
            neighbours[e.dst].add(e.src)
    parent: list[int | None] = [None] * n
    tree_edges: list[tuple[int, ...]] = [()] * n
    order = [root]
    seen = {root}

    def bfs(start: int) -> None:
        queue = deque([start])
        while queue:
            p = queue.popleft()
            for c in sorted(neighbours[p]):
                if c not in seen:
                    seen.add(c)
                    parent[c] = p
                    tree_edges[c] = tuple(between[frozenset((p, c))])
                    order.append(c)
                    queue.append(c)

    def hang(v: int) -> None:
        seen.add(v)
        parent[v] = root
        order.append(v)
        bfs(v)

    bfs(root)
    if half not in seen:
        hang(half)
    for v in range(n):
        if v not in seen:
            hang(v)
    in_tree = {i for t in tree_edges for i in t}
    non_tree = tuple(i for i in remaining if rep[i].src != rep[i].dst and i not in in_tree)
    return CausalTree(
        branch, root, half, branch.edge, tuple(parent), tuple(tree_edges), tuple(map(tuple, loops)), tuple(order),
        non_tree,
    )


# --------------------------------------------------------------------------------------------------
# The masked quadratic reference
# --------------------------------------------------------------------------------------------------


def causal_reference(field: Field, X: np.ndarray, weights: dict) -> np.ndarray:
    """The causal field (N × C) as masked einsums: each branch einsum times L[p, c] = [c ≤ p] for
    every tree edge (p, c). numpy, float64 / complex128; weights by parameter name, each C × C."""
    X = np.asarray(X)
    n = X.shape[0]
    tril = np.tril(np.ones((n, n), dtype=X.real.dtype))
    values: list[np.ndarray] = []
    for b in field.branches:
        spec = branch_einsum(b)
        ins, out = spec.subscripts.split("->")
        subs = ins.split(",")
        arrays = resolve_operands(spec, X, weights)
        for p, c in causal_tree(b).masks():
            subs.append(TOKEN_LETTERS[p] + TOKEN_LETTERS[c])
            arrays.append(tril)
        values.append(np.einsum(",".join(subs) + "->" + out, *arrays, optimize="greedy"))
    return reduce(operator.add, values)


# --------------------------------------------------------------------------------------------------
# The linear plan: a straight-line program of per-token features, kernel calls and products
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CausalFieldPlan(CostReport):
    """The causal block's program: steps (same :class:`~archsearch.compiler.plan.Step` records as
    a FieldPlan: output, torch expression, math comment, cost monomial, sharing), the leaves it
    reads, the result expression and whether every branch is linear in N."""

    field: Field
    sizes: PlanSizes
    lowrank: bool
    trees: tuple[CausalTree, ...]
    leaves: tuple[str, ...]
    steps: tuple[Step, ...]
    result: str
    linear: bool

    causal = True
    naive = False

    def polynomial(self) -> Polynomial:
        return Polynomial.of((s.cost for s in self.steps), self.sizes)

    def __str__(self) -> str:
        f = self.field
        lines = [
            f"CausalFieldPlan {f.term.key} {f.field} {'tied' if f.tied else 'untied'}: {len(f.branches)} branches, "
            f"{'low-rank' if self.lowrank else 'full'} weights, {'linear' if self.linear else 'NOT linear'} in N, "
            f"sizes {self.sizes}",
        ]
        for t in self.trees:
            edges = ", ".join(
                f"{p}→{c}" + (f" [{' '.join(f'G{i + 1}' for i in t.tree_edges[c])}]" if t.tree_edges[c] else " [mask]")
                for p, c in t.masks()
            )
            extra = f"; cycle edges {[i + 1 for i in t.non_tree]} (masked einsum)" if t.non_tree else ""
            lines.append(f"  branch edge {t.opened} ({t.branch.end}): root {t.root}, half-edge at {t.half}; "
                         f"tree {edges or '(none)'}{extra}")
        lines += [f"  {s}" for s in self.steps]
        lines.append(f"  result = {self.result}")
        lines.append(f"  cost {self.cost_polynomial()}  ~ {self.big_o()}")
        return "\n".join(lines)


_ZERO = Monomial(0, (0, 0, 0, 0))


class _Program:
    """Straight-line code with common subexpressions merged (same expression → same variable); a step's
    inputs are the leaves (``leaves``, the caller's list, grown as it reads more) and the earlier outputs
    its expression names."""

    def __init__(self, leaves: list[str]) -> None:
        self.leaves = leaves
        self.steps: list[Step] = []
        self.by_expr: dict[str, int] = {}
        self.users: dict[int, set[int]] = defaultdict(set)
        self.branch = 0
        self.names: set[str] = set()

    def emit(self, name: str, expr: str, math: str, cost: Monomial, extra: tuple[Monomial, ...] = ()) -> str:
        i = self.by_expr.get(expr)
        if i is None:
            var, k = name, 1
            while var in self.names:
                k += 1
                var = f"{name}_{k}"
            self.names.add(var)
            i = len(self.steps)
            self.by_expr[expr] = i
            code = expr.replace("{out}", var)  # a scan's state slot is named after its output ("var"): not a read
            read = tuple(dict.fromkeys(w for w in re.findall(r"[A-Za-z_]\w*", code)
                                       if w in self.leaves or (w in self.names and w != var)))
            self.steps.append(Step(var, "causal", read, "", code, math.replace("{out}", var), cost, 1, extra))
        self.users[i].add(self.branch)
        return self.steps[i].output

    def extend(self, steps) -> None:
        for s in steps:
            self.names.add(s.output)
            self.by_expr[s.expr] = len(self.steps)
            self.users[len(self.steps)].add(self.branch)
            self.steps.append(s)

    def finished(self) -> tuple[Step, ...]:
        return tuple(
            Step(s.output, s.kind, s.inputs, s.subscripts, s.expr, s.math, s.cost,
                 max(s.shared, len(self.users[i] - {-1}), 1), s.extra)
            for i, s in enumerate(self.steps)
        )


def _mono(coeff: int = 1, *, H: int, N: int, C: int = 0, C_A: int = 0) -> Monomial:
    """coeff · H^H N^N C^C C_A^C_A: every step of the program is per head and per token (H and N given)."""
    return Monomial(coeff, (H, N, C, C_A))


def plan_causal(field: Field, sizes=None, lowrank: bool = True, masked: bool = False) -> CausalFieldPlan:
    """The causal program of a diagram field (see the module docstring). ``masked=True`` evaluates
    every branch as its masked einsum (the quadratic baseline of the benchmarks)."""
    d = field.term
    if not isinstance(d, Diagram):
        raise TypeError("plan_causal plans diagram fields")
    sizes = PlanSizes.of(sizes)
    rep = d.rep
    xc = leaf_names(field.field)["Xc"]  # "x" in the real field
    rank = "C_A" if lowrank else "C"
    leaves = ["x"]
    prog = _Program(leaves)
    trees = tuple(causal_tree(b) for b in field.branches)
    fallback = PlanBuilder("u", sizes)
    fallback_results: list[str] = []
    unmasked: list[Branch] = []  # branches without any token sum: the same as non-causal
    roots: list[tuple[str, int]] = []  # (message of a branch's root, its branch number)
    sym = symmetric_letters(d)
    sources = field.parameter_sources()

    def use(name: str) -> str:
        if name not in leaves:
            leaves.append(name)
        return name

    def view(which: str) -> str:
        src = use(which)
        return prog.emit(f"{which}h", f"{src}[:, None]", "{out} = " + f"{src} with a head axis (B, 1, N, C)", _ZERO)

    def project(which: str, w: str, transpose: bool = False) -> str:
        """(B, H, N, ·): x W, conj(x) Wᵀ (full) or x Q, conj(x) K (low rank: ``w`` is the factor)."""
        xv = view(which)
        wv = use(w) + (".mT" if transpose else "")
        cost = _mono(H=1, N=1, C=2) if not lowrank else _mono(H=1, N=1, C=1, C_A=1)
        return prog.emit(f"{which}_{w}{'T' if transpose else ''}", f"torch.matmul({xv}, {wv})",
                         "{out} = " + f"{which} {w}{'ᵀ' if transpose else ''}", cost)

    def factors_of(b: Branch, i: int, p_is_src: bool) -> tuple[str, str]:
        """(factor at the parent p, factor at the child c) of rep edge i: G_pc = q_p · k_c."""
        w = b.weight(i)
        if lowrank:
            if p_is_src:
                return project("x", f"{w}_q"), project(xc, f"{w}_k")
            return project(xc, f"{w}_k"), project("x", f"{w}_q")
        if p_is_src:
            return project("x", w), view(xc)
        return project(xc, w, transpose=True), view("x")

    def loop_scalar(b: Branch, i: int) -> str:
        f1, f2 = factors_of(b, i, True)
        cost = _mono(H=1, N=1, **{rank: 1})
        return prog.emit(f"loop_{b.weight(i)}", f"({f1} * {f2}).sum(-1, keepdim=True)",
                         "{out} = " + f"x W x* per token, W = {b.weight(i)}", cost)

    out_factor: dict[int, str] = {}  # low rank: the branch's output factor (H, C_A, C), applied after the scans

    def half_vector(b: Branch) -> str:
        """x_u W (conj(x_u) Wᵀ); low rank: x_u Q (conj(x_u) K) at width C_A, the factor Kᵀ (Qᵀ) kept for
        the one output product after the scans (every message is linear in it)."""
        w = b.weight(b.edge)
        if b.end == "dst":  # x_u W
            if not lowrank:
                return project("x", w)
            out_factor[prog.branch] = use(w + "_k") + ".mT"
            return project("x", f"{w}_q")
        if not lowrank:  # conj(x_u) Wᵀ
            return project(xc, w, transpose=True)
        out_factor[prog.branch] = use(w + "_q") + ".mT"
        return project(xc, f"{w}_k")

    width = {"C_A": 1} if lowrank else {"C": 1}  # the width of a message that carries the half vector

    for n_branch, (b, tree) in enumerate(zip(field.branches, trees, strict=True)):
        prog.branch = fallback.branch = n_branch
        if not masked and not tree.masks():
            unmasked.append(b)
            continue
        if masked or not tree.linear:  # a cycle: the masked einsum, planned like a non-causal branch
            e = planned_einsum(b, field.field, lowrank, sym, sources)
            masks = tuple(TOKEN_LETTERS[p] + TOKEN_LETTERS[c] for p, c in tree.masks())
            e = PlannedEinsum(e.inputs + masks, e.operands + ("tril",) * len(masks), e.output, e.kinds, ())
            res = plan_one(fallback, e, sizes, False, False)
            fallback_results.append(permute_expr(res.node.var, perm_to(res.idx, e.output)))
            continue
        msg: dict[int, str] = {}
        for v in reversed(tree.order):
            factors = [loop_scalar(b, i) for i in tree.loops[v]]
            if v == tree.half:
                factors.append(half_vector(b))
            for c in tree.children(v):
                vec = tree.carries_half(c)
                dv = width if vec else {}
                edges = tree.tree_edges[c]
                if not edges:  # a hanging vertex: mask only, a prefix sum
                    factors.append(prog.emit(f"pre{c}", f'_prefix_sum({msg[c]}, states, "{{out}}")',
                                             "{out}[t] = " + f"Σ_{{s≤t}} {msg[c]}[s]  (vertex {c} ≤ {v})",
                                             _mono(H=1, N=1, **dv)))
                    continue
                qs, ks = zip(*(factors_of(b, i, rep[i].src == v) for i in edges), strict=True)
                m = len(edges)
                # keys at the rank width, m factors; values at the message's width too when it carries the half
                # vector (that width is the rank width: C_A in low rank, the output factor comes last)
                both = {rank: m + vec}
                names = " ".join(f"G{i + 1}" for i in edges)
                chunk_terms: tuple[Monomial, ...] = (_mono(coeff=CHUNK, H=1, N=1, **{rank: m}),
                                                     _mono(coeff=CHUNK, H=1, N=1, **dv))
                if m == 1:
                    expr = f'_causal_linear_attention({qs[0]}, {ks[0]}, {msg[c]}, states, "{{out}}")'
                    score = f"({qs[0]}[t]·{ks[0]}[s])"
                else:  # lifted keys q₁ ⊗ q₂ ⊗ …: the scan, or at short N the masked product of Gram matrices
                    expr = (f"_causal_product_attention(({', '.join(qs)}), ({', '.join(ks)}), {msg[c]}, "
                            'states, "{out}")')
                    score = "".join(f"({q}[t]·{k}[s])" for q, k in zip(qs, ks, strict=True))
                    lift = _mono(coeff=2, H=1, N=1, **{rank: m})  # the lifted q and k
                    chunk_terms = (lift, *chunk_terms)
                factors.append(prog.emit(
                    f"att{c}", expr,
                    "{out}[t] = " + f"Σ_{{s≤t}} {score} {msg[c]}[s]  ({names}; vertex {c} ≤ {v})",
                    _mono(coeff=2, H=1, N=1, **both), chunk_terms,
                ))
            if not factors:
                factors.append(prog.emit("one", "x.new_ones(x.shape[0], 1, x.shape[1], 1)", "{out} = 1", _ZERO))
            if len(factors) == 1:
                msg[v] = factors[0]
            else:
                dv = width if tree.carries_half(v) else {}
                msg[v] = prog.emit(f"m{v}", " * ".join(factors),
                                   "{out} = " + " · ".join(factors) + f"  (message of vertex {v})",
                                   _mono(coeff=len(factors) - 1, H=1, N=1, **dv))
        roots.append((msg[tree.root], n_branch))

    prog.branch = -1
    if unmasked:  # no summed token index: planned (and merged) exactly like the non-causal field
        sub = plan_field(dataclasses.replace(field, branches=tuple(unmasked)), sizes, lowrank)
        for leaf in sub.leaves:
            use(leaf)
        prog.extend(sub.steps)
        fallback_results.append(sub.result)
    if fallback.steps:
        for leaf in fallback.leaves:
            use(leaf)
        prog.extend(fallback.finished_steps())
    parts = []
    if roots and lowrank:  # Σ_h Σ_b msg_b,h U_b,hᵀ: the messages side by side, one product
        messages = [r for r, _ in roots]
        factors = [out_factor[n] for _, n in roots]
        g = len(roots)
        acc = messages[0] if g == 1 else prog.emit(
            "heads", f"torch.cat([{', '.join(messages)}], -1)",
            "{out} = [" + ", ".join(messages) + "]  (B, H, N, G·C_A)", _ZERO)
        w = factors[0] if g == 1 else f"torch.cat([{', '.join(factors)}], 1)"
        parts.append(prog.emit("out", f"torch.matmul({acc}.permute(0, 2, 1, 3).flatten(2), {w}.flatten(0, 1))",
                               "{out} = Σ_h Σ_b " + acc + "_b U_bᵀ  (one product with the stacked output factors)",
                               _mono(coeff=g, H=1, N=1, C=1, C_A=1)))
    elif roots:
        acc = roots[0][0]
        if len(roots) > 1:
            messages = [r for r, _ in roots]
            acc = prog.emit("heads", " + ".join(messages), "{out} = " + " + ".join(messages) + "  (B, H, N, C)",
                            _mono(coeff=len(roots) - 1, H=1, N=1, C=1))
        parts.append(prog.emit("out", f"{acc}.sum(1)", "{out} = Σ_h " + acc, _mono(H=1, N=1, C=1)))
    parts += fallback_results
    linear = not masked and all(t.linear for t in trees)
    return CausalFieldPlan(field, sizes, lowrank, trees, tuple(leaves), prog.finished(), " + ".join(parts), linear)
