"""Contraction plans: a diagram field → pairwise contraction steps, with costs as polynomials.

Every opened branch of a diagram field is one einsum (:func:`archsearch.calculus.branch_einsum`) in
which X appears several times. The planner rewrites it for the block's tensors,

* a batch index ``z`` on every X / conj(X) operand (the block acts on x of shape (B, N, C)),
* a head index ``y`` on every weight operand: the block computes Σ_h F(X; W^h), so all weights of
  a branch share the head index and it is summed,
* low rank: W_ab = Σ_r Q_ar K_br, each weight operand becomes two operands with a fresh rank
  index (``R``, ``S``, …),
* the real field: conj(X) = X,

chooses a contraction order with opt_einsum for the declared sizes N, C, C_A, H ('optimal' for
≤ 6 operands, 'dp' for ≤ 16, else 'greedy') and records it as a frozen, printable :class:`Plan`:
one :class:`Step` per pairwise contraction with its subscripts and its cost monomial (the product
of the sizes of all indices it touches: token → N, feature → C, rank → C_A, head → H; the batch
index is ignored). Each step is lowered to one torch expression (``torch.matmul`` with
``.mT`` / broadcasting views where the step is a plain batched matrix product, else
``torch.einsum``), which is what the generated module runs.

:func:`plan_field` plans all branches of a field together (:class:`FieldPlan`):

a. common subexpressions are computed once (every intermediate has a canonical key: its inputs'
   keys and the index wiring, so e.g. XᵀX is shared by all branches that form it);
b. branches whose last step multiplies the same tensor (typically X on the output token) with a
   matrix are summed before that product: the tied real linear-attention field
   X W₂ᵀ XᵀX W₁ + … (4 branches) costs one XᵀX and one X·M, not 8 big products.

``naive=True`` plans the textbook order instead: every edge matrix G_e = X W_e X* (N × N) is
materialised first, then the remaining factors are contracted in their cheapest order —
quadratic in N (the benchmark's baseline).

Pure Python: no torch here (the torch expressions are strings).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import opt_einsum

from archsearch.calculus.evaluate import FEATURE_LETTERS, TOKEN_LETTERS, branch_einsum
from archsearch.calculus.fields import Branch, Field, symmetric_letters
from archsearch.families.diagram import Diagram

__all__ = [
    "BATCH",
    "HEAD",
    "FieldPlan",
    "Monomial",
    "Plan",
    "PlanSizes",
    "Polynomial",
    "Step",
    "plan_branch",
    "plan_field",
]

BATCH = "z"  # batch index of X (never a vertex letter for diagrams with ≤ 16 vertices)
HEAD = "y"  # head index of the weights
RANK_LETTERS = "RSTUVWXP"  # rank index of each low-rank weight operand
MAX_DEGREE = 8

#: the symbols of the cost polynomials, in print order
SYMBOLS = ("H", "N", "C", "C_A")
_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


# --------------------------------------------------------------------------------------------------
# Sizes and cost polynomials
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanSizes:
    """Declared sizes the contraction order is chosen for: tokens N, features C, rank C_A, heads H."""

    N: int = 1024
    C: int = 256
    C_A: int = 64
    H: int = 4

    @staticmethod
    def of(sizes=None) -> PlanSizes:
        """Normalise None (defaults), a PlanSizes, a grammar ``Sizes`` (tokens, features, rank,
        heads) or a mapping with keys N/C/C_A/H (or tokens/features/rank/heads)."""
        if sizes is None:
            return PlanSizes()
        if isinstance(sizes, PlanSizes):
            return sizes
        names = {"tokens": "N", "features": "C", "rank": "C_A", "heads": "H"}
        kw: dict[str, int]
        if isinstance(sizes, Mapping):
            kw = {names.get(str(k), str(k)): int(v) for k, v in sizes.items()}
        else:
            kw = {v: int(getattr(sizes, k)) for k, v in names.items() if hasattr(sizes, k)}
        unknown = set(kw) - set(SYMBOLS)
        if unknown:
            raise ValueError(f"unknown sizes {sorted(unknown)}; use N, C, C_A, H")
        out = PlanSizes(**kw)
        if min(out.N, out.C, out.C_A, out.H) < 1:
            raise ValueError(f"sizes must be positive, got {out}")
        return out

    def of_kind(self, kind: str) -> int:
        """The size of an index of ``kind``: batch 1, head H, token N, feature C, rank C_A, rank2 2·C_A (the
        rank of a symmetric low-rank weight Q Kᵀ + K Qᵀ)."""
        return {"batch": 1, "head": self.H, "token": self.N, "feature": self.C, "rank": self.C_A,
                "rank2": 2 * self.C_A}[kind]

    def values(self) -> tuple[int, int, int, int]:
        """Values of SYMBOLS (H, N, C, C_A)."""
        return (self.H, self.N, self.C, self.C_A)


Exps = tuple[int, int, int, int]  # powers of H, N, C, C_A

#: index kind → (coefficient, exponents)
_KIND_COST: dict[str, tuple[int, Exps]] = {
    "batch": (1, (0, 0, 0, 0)),
    "head": (1, (1, 0, 0, 0)),
    "token": (1, (0, 1, 0, 0)),
    "feature": (1, (0, 0, 1, 0)),
    "rank": (1, (0, 0, 0, 1)),
    "rank2": (2, (0, 0, 0, 1)),  # symmetric low-rank weight Q Kᵀ + K Qᵀ: rank 2·C_A
}


@dataclass(frozen=True)
class Monomial:
    """coeff · H^h N^n C^c C_A^a."""

    coeff: int
    exps: Exps

    @staticmethod
    def of_kinds(kinds) -> Monomial:
        return _monomial_of_kinds(tuple(kinds))

    @staticmethod
    def _of_kinds(kinds: tuple[str, ...]) -> Monomial:
        coeff, exps = 1, [0, 0, 0, 0]
        for k in kinds:
            c, e = _KIND_COST[k]
            coeff *= c
            exps = [a + b for a, b in zip(exps, e, strict=True)]
        return Monomial(coeff, (exps[0], exps[1], exps[2], exps[3]))

    def scaled(self, k: int) -> Monomial:
        return Monomial(self.coeff * k, self.exps)

    def value(self, sizes: PlanSizes) -> float:
        return self.coeff * math.prod(float(s) ** e for s, e in zip(sizes.values(), self.exps, strict=True))

    def symbols(self, sep: str = "·") -> str:
        pairs = zip(SYMBOLS, self.exps, strict=True)
        parts = [s + (str(e).translate(_SUPERSCRIPT) if e > 1 else "") for s, e in pairs if e]
        return sep.join(parts) or "1"

    def __str__(self) -> str:
        body = self.symbols()
        if self.coeff == 1:
            return body
        return f"{self.coeff}" if body == "1" else f"{self.coeff}·{body}"

    def power(self, symbol: str) -> int:
        return self.exps[SYMBOLS.index(symbol)]


@lru_cache(maxsize=4096)
def _monomial_of_kinds(kinds: tuple[str, ...]) -> Monomial:
    return Monomial._of_kinds(kinds)


@dataclass(frozen=True)
class Polynomial:
    """A sum of monomials (like terms combined), printed largest first at the declared sizes."""

    terms: tuple[Monomial, ...]
    sizes: PlanSizes

    @staticmethod
    def of(monomials, sizes: PlanSizes) -> Polynomial:
        acc: dict[Exps, int] = defaultdict(int)
        for m in monomials:
            acc[m.exps] += m.coeff
        terms = [Monomial(c, e) for e, c in acc.items() if c]
        terms.sort(key=lambda m: (-m.value(sizes), m.exps))
        return Polynomial(tuple(terms), sizes)

    def value(self, sizes: PlanSizes | None = None) -> float:
        s = self.sizes if sizes is None else sizes
        return sum(m.value(s) for m in self.terms)

    def __str__(self) -> str:
        return " + ".join(str(m) for m in self.terms) or "0"

    def dominant(self, ratio: float = 8.0) -> tuple[Monomial, ...]:
        """Monomials within a factor ``ratio`` of the largest at the declared sizes."""
        if not self.terms:
            return ()
        top = self.terms[0].value(self.sizes)
        return tuple(m for m in self.terms if m.value(self.sizes) * ratio >= top)

    def big_o(self) -> str:
        dom = self.dominant()
        return "O(" + " + ".join(m.symbols(" ") for m in dom) + ")" if dom else "O(1)"

    def degree(self, symbol: str) -> int:
        """Highest power of ``symbol`` in the polynomial (e.g. 1 for a plan linear in N)."""
        return max((m.power(symbol) for m in self.terms), default=0)


# --------------------------------------------------------------------------------------------------
# Steps and plans
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One step of a plan: ``output = expr``.

    kind:       "contract" (pairwise product), "reduce" (sum over axes of one operand), "add"
                (sum of same-shaped tensors, from cross-branch merging) or "causal" (a step of a causal
                program: a projection, a scan or prefix sum, a per-token product; no subscripts).
    inputs:     the variables read (leaves: x, xc, ones, weight operands; or earlier outputs).
    subscripts: einsum form of the step, e.g. ``zia,zid->zad``.
    expr:       the torch expression computing it (what the generated code runs).
    math:       the step in index notation, for the generated comment.
    cost:       its cost monomial (product of the sizes of all indices it touches).
    shared:     how many branches use this step (common subexpressions).
    """

    output: str
    kind: str
    inputs: tuple[str, ...]
    subscripts: str
    expr: str
    math: str
    cost: Monomial
    shared: int = 1
    extra: tuple[Monomial, ...] = ()  # further cost terms (e.g. the chunk terms of a scan)

    def monomials(self) -> tuple[Monomial, ...]:
        return (self.cost, *self.extra)

    def cost_text(self) -> str:
        acc: dict[Exps, int] = {}
        for m in self.monomials():
            acc[m.exps] = acc.get(m.exps, 0) + m.coeff
        return " + ".join(str(Monomial(c, e)) for e, c in acc.items() if c) or "0"

    def __str__(self) -> str:
        share = f"  [shared by {self.shared} branches]" if self.shared > 1 else ""
        return f"{self.math:<48} {self.subscripts:<24} cost {self.cost_text()}{share}"


def _format_steps(steps) -> list[str]:
    return [f"  {s}" for s in steps]


class CostReport:
    """Cost reporting shared by the plans: each defines ``polynomial()``."""

    def polynomial(self) -> Polynomial:  # pragma: no cover - defined by every plan
        raise NotImplementedError

    def cost_polynomial(self) -> str:
        """The cost as a polynomial in N, C, C_A, H, e.g. ``2·N·C² + 2·H·C³``."""
        return str(self.polynomial())

    def big_o(self) -> str:
        """The dominant monomial(s) at the declared sizes, e.g. ``O(N C²)``."""
        return self.polynomial().big_o()

    def cost(self) -> float:
        """The cost's value at the declared sizes."""
        return self.polynomial().value()


@dataclass(frozen=True)
class Plan(CostReport):
    """The plan of one branch: its einsum and the pairwise steps that evaluate it."""

    branch: Branch
    subscripts: str  # the branch einsum with batch/head/rank indices
    operands: tuple[str, ...]  # leaf variable of each operand
    steps: tuple[Step, ...]
    result: str  # expression of the (B, N, C) output
    sizes: PlanSizes
    lowrank: bool
    naive: bool

    def polynomial(self) -> Polynomial:
        return Polynomial.of((m for s in self.steps for m in s.monomials()), self.sizes)

    def __str__(self) -> str:
        b = self.branch
        head = (
            f"branch edge {b.edge} ({b.end}){'' if b.index is None else f' copy {b.index}'}: "
            f"{self.subscripts}  [{', '.join(self.operands)}]"
        )
        order = "naive (edges materialised)" if self.naive else "optimised"
        lines = [head, f"  order: {order}; {'low-rank' if self.lowrank else 'full'} weights; sizes {self.sizes}"]
        lines += _format_steps(self.steps)
        lines.append(f"  cost {self.cost_polynomial()}  ~ {self.big_o()}")
        return "\n".join(lines)


@dataclass(frozen=True)
class FieldPlan(CostReport):
    """All branches of a field planned together (common subexpressions, merged final products)."""

    field: Field
    sizes: PlanSizes
    lowrank: bool
    naive: bool
    leaves: tuple[str, ...]  # leaf variables the steps read (x, xc, ones, weight operands)
    steps: tuple[Step, ...]
    result: str  # expression of the (B, N, C) output
    branches: tuple[Plan, ...]  # each branch planned alone (for reporting)

    causal = False
    linear = True

    def polynomial(self) -> Polynomial:
        return Polynomial.of((m for s in self.steps for m in s.monomials()), self.sizes)

    def separate_cost_polynomial(self) -> str:
        """The cost of the branches planned one by one (before cross-branch optimisation)."""
        return str(Polynomial.of((m for p in self.branches for s in p.steps for m in s.monomials()), self.sizes))

    def __str__(self) -> str:
        f = self.field
        order = "naive (edges materialised)" if self.naive else "optimised"
        lines = [
            f"FieldPlan {f.term.key} {f.field} {'tied' if f.tied else 'untied'}: {len(f.branches)} branches, "
            f"{'low-rank' if self.lowrank else 'full'} weights, {order}, sizes {self.sizes}",
        ]
        lines += _format_steps(self.steps)
        lines.append(f"  result = {self.result}")
        lines.append(f"  cost {self.cost_polynomial()}  ~ {self.big_o()}")
        lines.append(f"  (branches separately: {self.separate_cost_polynomial()})")
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# Branch einsums for the block's tensors
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedEinsum:
    inputs: tuple[str, ...]
    operands: tuple[str, ...]  # leaf variables
    output: str
    kinds: tuple[tuple[str, str], ...]  # letter → kind
    edges: tuple[tuple[int, ...], ...]  # operand positions of each rep edge (naive order)

    @property
    def subscripts(self) -> str:
        return ",".join(self.inputs) + "->" + self.output


def leaf_names(field_kind: str) -> dict[str, str]:
    return {"X": "x", "Xc": "x" if field_kind == "real" else "xc", "ones": "ones"}


def planned_einsum(branch: Branch, field_kind: str, lowrank: bool, symmetric: frozenset[str], sources) -> PlannedEinsum:
    d = branch.term
    if not isinstance(d, Diagram):
        raise TypeError(f"only diagram branches are planned, not {d.kind} branches")
    if d.degree > MAX_DEGREE:
        raise ValueError(f"diagram {d.key} has {d.degree} edges; the compiler supports at most {MAX_DEGREE}")
    spec = branch_einsum(branch)
    ins, out = spec.subscripts.split("->")
    subs = ins.split(",")
    leaves = leaf_names(field_kind)
    kinds: dict[str, str] = {BATCH: "batch", HEAD: "head"}
    inputs: list[str] = []
    operands: list[str] = []
    ranks = iter(RANK_LETTERS)
    # operand positions per rep edge: branch_einsum lists each edge's operands consecutively
    edge_of_weight: list[int] = []
    for s, (name,) in zip(subs, spec.operands, strict=True):
        for ch in s:
            kinds[ch] = "token" if ch in TOKEN_LETTERS else "feature"
            assert ch in TOKEN_LETTERS or ch in FEATURE_LETTERS
        if name in leaves:
            inputs.append(s if name == "ones" else BATCH + s)
            operands.append(leaves[name])
        elif lowrank:
            r = next(ranks)
            kinds[r] = "rank2" if sources[name][0] in symmetric else "rank"
            inputs += [HEAD + s[0] + r, HEAD + s[1] + r]
            operands += [f"{name}_q", f"{name}_k"]
            edge_of_weight.append(len(operands) - 2)
        else:
            inputs.append(HEAD + s)
            operands.append(name)
            edge_of_weight.append(len(operands) - 1)
    # group operands by edge: each weight operand with the X / Xc operands sharing its feature letters
    edges = []
    for w in edge_of_weight:
        wl = set(inputs[w][1:3]) if not lowrank else {inputs[w][1], inputs[w + 1][1]}
        members = [w] + ([w + 1] if lowrank else [])
        for i, s in enumerate(inputs):
            if operands[i] in ("x", "xc") and set(s[2:]) & wl:
                members.append(i)
        edges.append(tuple(sorted(members)))
    return PlannedEinsum(tuple(inputs), tuple(operands), BATCH + out, tuple(sorted(kinds.items())), tuple(edges))


# --------------------------------------------------------------------------------------------------
# Lowering one pairwise contraction to torch
# --------------------------------------------------------------------------------------------------


def _index_expr(var: str, idx: list[str | None]) -> str:
    """var[:, None, …] inserting broadcast axes; trailing ':' dropped."""
    parts = [":" if i is not None else "None" for i in idx]
    while parts and parts[-1] == ":":
        parts.pop()
    return var if not parts else f"{var}[{', '.join(parts)}]"


def _align(var: str, s: str, order: list[str]) -> str:
    """``var`` (axes ``s``) permuted and unsqueezed to broadcast along ``order``."""
    mine = [c for c in order if c in s]
    perm = tuple(s.index(c) for c in mine)
    expr = permute_expr(var, perm)
    parts = [":" if c in s else "None" for c in order]
    while parts and parts[-1] == ":":
        parts.pop()
    return f"{expr}[{', '.join(parts)}]" if parts else expr


def _lower(a: str, b: str, keep: frozenset[str], size: Mapping[str, int] | None = None) -> tuple[str, str, bool]:
    """Output indices and a torch expression (``{0}``, ``{1}`` for the inputs) contracting a and b,
    keeping the indices in ``keep`` (``size``: planning size of each index).

    * plain (batched, broadcast) matrix products: ``torch.matmul`` with ``.mT`` / ``[:, None]`` views;
    * products batched over a token (or feature) index — per-token dot products, scalings, small
      per-token matrix-vector products — as a broadcast product ``(a * b).sum(…)``: einsum would
      run them as a batch of tiny matrix products, which is slow; taken when the broadcast product
      is at most twice as large as the largest of the inputs and the output;
    * anything else: ``torch.einsum``."""
    sa, sb = set(a), set(b)
    contracted = [i for i in a if i in sb and i not in keep]
    if len(contracted) == 1 and len(a) >= 2 and len(b) >= 2:
        k = contracted[0]
        for ta in (False, True):
            la = list(a)
            if ta:
                la[-1], la[-2] = la[-2], la[-1]
            if la[-1] != k or la[-2] in sb:
                continue
            for tb in (False, True):
                lb = list(b)
                if tb:
                    lb[-1], lb[-2] = lb[-2], lb[-1]
                if lb[-2] != k or lb[-1] in sa:
                    continue
                pa, pb = la[:-2], lb[:-2]
                if any(i not in keep for i in pa + pb):
                    continue
                prefix = pa + [i for i in pb if i not in pa]
                pos = [prefix.index(i) for i in pb]
                if pos != sorted(pos):
                    continue
                ea = _index_expr("{0}" + (".mT" if ta else ""), pa + [None] * (len(prefix) - len(pa)))
                eb = "{1}" + (".mT" if tb else "")
                if pb:
                    eb = _index_expr(eb, [i if i in pb else None for i in prefix[pos[0]:]])
                out = "".join(prefix) + la[-2] + lb[-1]
                return out, f"torch.matmul({ea}, {eb})", True
    out = "".join(i for i in a if i in keep) + "".join(i for i in b if i in keep and i not in sa)
    out = "".join(sorted(out, key=lambda c: (c != BATCH, c != HEAD)))  # stable: batch, head, the rest
    batched = [i for i in a if i in sb and i in keep and i not in (BATCH, HEAD)]
    if batched:
        sz = size or {}

        def prod(idx) -> int:
            return math.prod(sz.get(c, 1) for c in idx)

        rows = prod(c for c in a if c not in sb)
        cols = prod(c for c in b if c not in sa)
        inner = prod(contracted)
        if rows * inner * cols <= 2 * max(rows * inner, inner * cols, rows * cols):
            order = list(out) + contracted
            expr = f"{_align('{0}', a, order)} * {_align('{1}', b, order)}"
            if contracted:
                dims = tuple(range(-len(contracted), 0))
                expr = f"({expr}).sum({dims[0] if len(dims) == 1 else dims})"
            return out, expr, False
    return out, f'torch.einsum("{a},{b}->{out}", {{0}}, {{1}})', False


def _wiring(a: str, b: str, out: str) -> str:
    names: dict[str, str] = {}
    for ch in a + b:
        names.setdefault(ch, chr(ord("a") + len(names)))
    return f"{''.join(names[c] for c in a)},{''.join(names[c] for c in b)}->{''.join(names[c] for c in out)}"


def _sum_math(out: str, out_idx: str, terms: list[tuple[str, str]], summed: str) -> str:
    sigma = f"Σ_{summed} " if summed else ""
    return f"{out}[{out_idx}] = {sigma}" + " ".join(f"{v}[{i}]" for v, i in terms)


# --------------------------------------------------------------------------------------------------
# Plan builder: nodes with canonical keys (common subexpressions), steps
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Node:
    var: str
    key: str
    dims: tuple[str, ...]  # kind of each axis


@dataclass(frozen=True)
class _Op:
    """A node as seen from one branch: its axes named by that branch's letters."""

    node: _Node
    idx: str

    def kinds(self) -> dict[str, str]:
        return dict(zip(self.idx, self.node.dims, strict=True))


class PlanBuilder:
    def __init__(self, prefix: str = "t", sizes: PlanSizes | None = None) -> None:
        self.prefix = prefix
        self.sizes = sizes or PlanSizes()
        self.nodes: dict[str, _Node] = {}
        self.steps: list[Step] = []
        self.step_of: dict[str, int] = {}
        self.users: dict[str, set[int]] = defaultdict(set)
        self.branch = 0
        self.leaves: list[str] = []

    def _new(self, key: str, dims, make_step) -> tuple[_Node, bool]:
        node = self.nodes.get(key)
        if node is not None:
            self.users[key].add(self.branch)
            return node, False
        var = f"{self.prefix}{len(self.steps)}"
        node = _Node(var, key, tuple(dims))
        self.nodes[key] = node
        self.step_of[key] = len(self.steps)
        self.steps.append(make_step(var))
        self.users[key].add(self.branch)
        return node, True

    def leaf(self, var: str, idx: str, kinds: Mapping[str, str]) -> _Op:
        if var not in self.leaves:
            self.leaves.append(var)
        return _Op(_Node(var, var, tuple(kinds[c] for c in idx)), idx)

    def reduce(self, a: _Op, summed: str) -> _Op:
        axes = tuple(a.idx.index(c) for c in summed)
        out = "".join(c for c in a.idx if c not in summed)
        kinds = a.kinds()
        key = f"sum[{a.node.key}]{axes}"
        dims = [kinds[c] for c in out]
        ax = str(axes[0]) if len(axes) == 1 else str(axes)
        node, _ = self._new(
            key,
            dims,
            lambda var: Step(
                var,
                "reduce",
                (a.node.var,),
                f"{a.idx}->{out}",
                f"{a.node.var}.sum({ax})",
                _sum_math(var, out, [(a.node.var, a.idx)], summed),
                Monomial.of_kinds(kinds[c] for c in a.idx),
            ),
        )
        return _Op(node, out)

    def prereduce(self, a: _Op, b: _Op, keep: frozenset[str]) -> tuple[_Op, _Op]:
        """Sum out indices that only one operand carries and nothing later needs."""
        ra = "".join(c for c in a.idx if c not in b.idx and c not in keep)
        rb = "".join(c for c in b.idx if c not in a.idx and c not in keep)
        if ra:
            a = self.reduce(a, ra)
        if rb:
            b = self.reduce(b, rb)
        return a, b

    def contract(self, a: _Op, b: _Op, keep: frozenset[str]) -> _Op:
        a, b = self.prereduce(a, b, keep)
        options = []
        lowered = _lowered(a.idx, a.node.dims, b.idx, b.node.dims, keep, self.sizes)
        for (p, q), (out, expr, rank, wiring) in zip(((a, b), (b, a)), lowered, strict=True):
            key = f"[{p.node.key}]*[{q.node.key}]:{wiring}"
            options.append(((rank, key), key, p, q, out, expr))
        _, key, p, q, out, expr = min(options, key=lambda o: o[0])
        kinds = {**p.kinds(), **q.kinds()}
        summed = "".join(c for c in p.idx + q.idx if c not in out and c in p.idx and c in q.idx)
        summed = "".join(dict.fromkeys(summed))
        subscripts = f"{p.idx},{q.idx}->{out}"
        cost = Monomial.of_kinds(kinds[c] for c in dict.fromkeys(p.idx + q.idx))
        node, _ = self._new(
            key,
            [kinds[c] for c in out],
            lambda var: Step(
                var,
                "contract",
                (p.node.var, q.node.var),
                subscripts,
                expr.format(p.node.var, q.node.var),
                _sum_math(var, out, [(p.node.var, p.idx), (q.node.var, q.idx)], summed),
                cost,
            ),
        )
        return _Op(node, out)

    def add(self, terms: list[tuple[_Op, tuple[int, ...]]], out_idx: str) -> _Op:
        """Σ of operands, each permuted (perm[i] = source axis of output axis i); its subscripts name each
        operand's axes by the output letters they land on (``ab+ba->ab`` for ``t + t.mT``)."""
        exprs, keys, letters = [], [], []
        for op, perm in terms:
            exprs.append(permute_expr(op.node.var, perm))
            keys.append(f"{op.node.key}{perm}")
            letters.append("".join(out_idx[perm.index(j)] for j in range(len(perm))))
        key = "add(" + "+".join(sorted(keys)) + ")"
        first = terms[0][0]
        dims = [first.node.dims[i] for i in terms[0][1]]
        cost = Monomial.of_kinds(dims).scaled(len(terms) - 1)
        node, _ = self._new(
            key,
            dims,
            lambda var: Step(
                var,
                "add",
                tuple(op.node.var for op, _ in terms),
                "+".join(letters) + f"->{out_idx}",
                " + ".join(exprs),
                f"{var}[{out_idx}] = " + " + ".join(exprs),
                cost,
            ),
        )
        return _Op(node, out_idx)

    def finished_steps(self) -> tuple[Step, ...]:
        out = []
        for key, i in sorted(self.step_of.items(), key=lambda kv: kv[1]):
            s = self.steps[i]
            n = len(self.users[key])
            out.append(Step(s.output, s.kind, s.inputs, s.subscripts, s.expr, s.math, s.cost, n, s.extra))
        return tuple(out)


@lru_cache(maxsize=65536)
def _lowered(a: str, a_dims: tuple[str, ...], b: str, b_dims: tuple[str, ...], keep: frozenset[str],
             sizes: PlanSizes) -> tuple[tuple[str, str, tuple[bool, int], str], ...]:
    """For both orders (a, b) and (b, a): :func:`_lower`'s output indices and expression, the order's
    rank (not a matrix product, views) and its wiring — what :meth:`PlanBuilder.contract` compares,
    memoised (the branches of a field and the variants of :func:`plan_field` repeat contractions)."""
    size = {c: sizes.of_kind(k) for idx, dims in ((a, a_dims), (b, b_dims)) for c, k in zip(idx, dims, strict=True)}
    out = []
    for p, q in ((a, b), (b, a)):
        o, expr, is_mm = _lower(p, q, keep, size)
        out.append((o, expr, (not is_mm, expr.count(".mT") + expr.count("None")), _wiring(p, q, o)))
    return tuple(out)


def permute_expr(var: str, perm: tuple[int, ...]) -> str:
    n = len(perm)
    if perm == tuple(range(n)):
        return var
    if n >= 2 and perm == tuple(range(n - 2)) + (n - 1, n - 2):
        return f"{var}.mT"
    return f"{var}.permute{perm}"


def perm_to(idx: str, target: str) -> tuple[int, ...]:
    return tuple(idx.index(c) for c in target)


# --------------------------------------------------------------------------------------------------
# Paths
# --------------------------------------------------------------------------------------------------


DP_MAX_OPERANDS = 12


@lru_cache(maxsize=4096)
def _path(
    inputs: tuple[str, ...], output: str, sizes: tuple[tuple[str, int], ...], combo: bool = False
) -> tuple[tuple[int, ...], ...]:
    """opt_einsum's order: 'optimal' (≤ 6 operands) / 'dp' (≤ 12: every branch up to order 6) /
    'greedy' (order-8 branches and up, where dynamic programming takes about a second a field);
    minimising flops; with ``combo``, dynamic programming on flops + 64 × the intermediates' size."""
    n = len(inputs)
    if n == 1:
        return ((0,),)
    size = dict(sizes)
    method = "optimal" if n <= 6 else "dp" if n <= DP_MAX_OPERANDS else "greedy"
    if combo and n <= DP_MAX_OPERANDS:
        method = opt_einsum.DynamicProgramming(minimize="combo")
    shapes = [tuple(size[c] for c in s) for s in inputs]
    path, _ = opt_einsum.contract_path(",".join(inputs) + "->" + output, *shapes, shapes=True, optimize=method)
    return tuple(tuple(p) for p in path)


def _size_table(e: PlannedEinsum, sizes: PlanSizes) -> tuple[tuple[str, int], ...]:
    return tuple((c, sizes.of_kind(k)) for c, k in e.kinds)


def _keep(ops: list[_Op], skip: set[int], output: str) -> frozenset[str]:
    return frozenset(output).union(*(set(o.idx) for i, o in enumerate(ops) if i not in skip))


def _run(builder: PlanBuilder, ops: list[_Op], output: str, path, stop_before_last: bool = False):
    """Execute an opt_einsum-style path (positions; results appended). With ``stop_before_last``,
    return the last pair (pre-reduced) instead of contracting it."""
    ops = list(ops)
    for n, pos in enumerate(path):
        pos = sorted(pos)
        if len(pos) == 1:
            (i,) = pos
            a = ops.pop(i)
            keep = _keep(ops, set(), output)
            summed = "".join(c for c in a.idx if c not in keep)
            ops.append(builder.reduce(a, summed) if summed else a)
            continue
        while len(pos) > 2:  # a multi-operand step: pairwise, left to right
            i, j = pos[0], pos[1]
            keep = _keep(ops, {i, j}, output)
            ops[i] = builder.contract(ops[i], ops[j], keep)
            ops.pop(j)
            pos = [i] + [p - 1 for p in pos[2:]]  # (sorted: every later position is past j)
        i, j = pos
        keep = _keep(ops, {i, j}, output)
        last = n == len(path) - 1
        if last and stop_before_last:
            return builder.prereduce(ops[i], ops[j], keep)
        new = builder.contract(ops[i], ops[j], keep)
        ops.pop(j)
        ops.pop(i)
        ops.append(new)
    assert len(ops) == 1
    if stop_before_last:
        return ops[0], None
    return ops[0]


def _naive_path(e: PlannedEinsum, ops: list[_Op], builder: PlanBuilder) -> list[_Op]:
    """Materialise every edge — full: (X W) then × X*; low rank: (X Q) and (K X*), then their
    product — and return the remaining operands (contracted afterwards in their cheapest order)."""
    pool: dict[int, _Op] = dict(enumerate(ops))
    made: list[_Op] = []

    def keep(exclude: list[_Op]) -> frozenset[str]:
        others = [o for o in list(pool.values()) + made if all(o is not x for x in exclude)]
        return _keep(others, set(), e.output)

    def chain(parts: list[_Op], pending: list[_Op]) -> _Op:
        acc = parts[0]
        for k, nxt in enumerate(parts[1:]):
            later = parts[k + 2:] + pending
            acc = builder.contract(acc, nxt, keep(parts + pending).union(tokens, *(set(p.idx) for p in later)))
        return acc

    for members in e.edges:
        taken = [pool.pop(i) for i in members]
        by_var = list(zip(members, taken, strict=True))
        xs = [op for i, op in by_var if e.operands[i] in ("x", "xc")]
        ws = [op for i, op in by_var if e.operands[i] not in ("x", "xc")]
        # the edge's token indices stay: G (N × N) is materialised even where a vertex could be summed first
        tokens = {x.idx[1] for x in xs}

        def x_on(letter: str, xs: list[_Op] = xs) -> list[_Op]:
            return [x for x in xs if letter in x.idx]

        if len(ws) == 1:  # full weight W[y a b]: X on a, X* on b
            w = ws[0]
            parts = x_on(w.idx[1]) + [w] + x_on(w.idx[2])
            made.append(chain(parts, []))
        else:  # low rank Q[y a r], K[y b r]
            q, k = ws
            left_parts = x_on(q.idx[1]) + [q]
            right_parts = [k] + x_on(k.idx[1])
            left = chain(left_parts, right_parts)
            right = chain(right_parts, [left])
            made.append(chain([left, right], []))
    return list(pool.values()) + made


# --------------------------------------------------------------------------------------------------
# Public planners
# --------------------------------------------------------------------------------------------------


def _einsums(field: Field, lowrank: bool) -> list[PlannedEinsum]:
    sym = symmetric_letters(field.term)
    sources = field.parameter_sources()
    return [planned_einsum(b, field.field, lowrank, sym, sources) for b in field.branches]


def _branch_ops(builder: PlanBuilder, e: PlannedEinsum) -> list[_Op]:
    kinds = dict(e.kinds)
    return [builder.leaf(v, s, kinds) for v, s in zip(e.operands, e.inputs, strict=True)]


def _remaining_path(ops: list[_Op], output: str, e: PlannedEinsum, sizes: PlanSizes, combo: bool = False):
    return _path(tuple(o.idx for o in ops), output, _size_table(e, sizes), combo)


def plan_one(
    builder: PlanBuilder, e: PlannedEinsum, sizes: PlanSizes, naive: bool, stop_before_last: bool, combo: bool = False
):
    """Run one branch through the builder (``sizes``: the sizes its order is chosen for)."""
    ops = _branch_ops(builder, e)
    if naive:
        ops = _naive_path(e, ops, builder)
    if len(ops) == 1:
        return (ops[0], None) if stop_before_last else ops[0]
    path = _remaining_path(ops, e.output, e, sizes, combo)
    return _run(builder, ops, e.output, path, stop_before_last)


def plan_branch(
    branch: Branch, sizes=None, lowrank: bool = True, naive: bool = False, field: Field | None = None
) -> Plan:
    """The plan of one diagram branch (``field`` supplies the field kind, the symmetric letters and the
    parameter sources; by default the term's own field — complex for free oriented edges — and the
    branch's tie)."""
    sizes = PlanSizes.of(sizes)
    if field is None:
        from archsearch.calculus.fields import derive

        field = derive(branch.term, branch.term.default_field(), branch.index is None)
    sym = symmetric_letters(branch.term)
    sources = {n: (n if branch.index is None else n.rsplit("_b", 1)[0], False) for n in branch.parameters()}
    e = planned_einsum(branch, field.field, lowrank, sym, sources)
    builder = PlanBuilder(sizes=sizes)
    res = plan_one(builder, e, sizes, naive, False)
    result = permute_expr(res.node.var, perm_to(res.idx, e.output))
    return Plan(branch, e.subscripts, e.operands, builder.finished_steps(), result, sizes, lowrank, naive)


def plan_field(field: Field, sizes=None, lowrank: bool = True, naive: bool = False) -> FieldPlan:
    """Plan all branches of a diagram field together.

    sizes:   declared sizes (PlanSizes, a grammar Sizes, a mapping N/C/C_A/H, or None = defaults)
    lowrank: W = Q Kᵀ with Q, K of shape (H, C, C_A) (else full (H, C, C) weights)
    naive:   the quadratic baseline (edge matrices materialised; no cross-branch merging)

    Branch orders are chosen by opt_einsum branch by branch, which cannot see what the branches
    could share, and opt_einsum's flop count does not know the pre-summed indices of this
    planner; so the field is planned for a few variants (as declared; dynamic programming on flops
    plus intermediate sizes; N much larger; C_A larger than C, which favours Gram matrices XᵀX
    that all branches share) and the plan cheapest at the declared sizes after sharing and
    merging is kept.
    """
    if not isinstance(field.term, Diagram):
        raise TypeError(f"plan_field plans diagram fields; {field.term.kind} terms have hand-written blocks")
    sizes = PlanSizes.of(sizes)
    einsums = _einsums(field, lowrank)
    variants = _variants(sizes, lowrank, naive)
    first, first_combo = variants[0]
    best = _plan_field(field, einsums, sizes, first, lowrank, naive, first_combo)
    for v, combo in variants[1:]:
        plan = _plan_field(field, einsums, sizes, v, lowrank, naive, combo)
        if plan.cost() < best.cost() * (1 - 1e-9):
            best = plan
    return best


def _variants(sizes: PlanSizes, lowrank: bool, naive: bool) -> list[tuple[PlanSizes, bool]]:
    """The (planning sizes, combo) variants :func:`plan_field` plans a field for (its docstring)."""
    variants = [(sizes, False)]
    if not naive:
        variants += [(sizes, True), (PlanSizes(sizes.N * 64, sizes.C, sizes.C_A, sizes.H), False)]
        if lowrank:
            variants.append((PlanSizes(sizes.N, sizes.C, sizes.C * 4, sizes.H), False))
    return variants


def field_cost_reaches(field: Field, sizes, bound: float, lowrank: bool = True) -> bool:
    """Whether ``plan_field(field, sizes, lowrank).cost()`` is certainly at least ``bound`` (False: it may
    be below), without building the plans: each variant of :func:`plan_field` is run branch by branch
    through the shared builder only (no per-branch report plans) and abandoned as soon as its steps so
    far cost ``bound`` — a plan's cost is the sum over its distinct steps and the cross-branch merging
    after the branches only adds steps, so the steps so far bound the variant's cost from below. The
    combo variant is skipped where no branch einsum has at most DP_MAX_OPERANDS operands (it then runs
    the same paths, so it is the same plan)."""
    sizes = PlanSizes.of(sizes)
    einsums = _einsums(field, lowrank)
    small = any(len(e.inputs) <= DP_MAX_OPERANDS for e in einsums)
    for plan_sizes, combo in _variants(sizes, lowrank, False):
        if combo and not small:
            continue
        builder = PlanBuilder(sizes=plan_sizes)
        total, counted = 0.0, 0
        for n, e in enumerate(einsums):
            builder.branch = n
            plan_one(builder, e, plan_sizes, False, True, combo)
            for step in builder.steps[counted:]:
                total += sum(m.value(sizes) for m in step.monomials())
            counted = len(builder.steps)
            if total >= bound:
                break
        else:
            return False
    return True


def _plan_field(field, einsums, sizes, plan_sizes, lowrank, naive, combo=False) -> FieldPlan:
    branch_plans = []
    for b, e in zip(field.branches, einsums, strict=True):
        solo = PlanBuilder(sizes=plan_sizes)
        res = plan_one(solo, e, plan_sizes, naive, False, combo)
        result = permute_expr(res.node.var, perm_to(res.idx, e.output))
        branch_plans.append(Plan(b, e.subscripts, e.operands, solo.finished_steps(), result, sizes, lowrank, naive))

    builder = PlanBuilder(sizes=plan_sizes)
    finals = []
    for n, e in enumerate(einsums):
        builder.branch = n
        finals.append((n, e, plan_one(builder, e, plan_sizes, naive, True, combo)))

    outputs: list[tuple[_Op, str]] = []  # (result, the branch's output letters)
    pending = []
    for n, e, (a, b) in finals:
        if b is None:
            outputs.append((a, e.output))
        elif naive:
            builder.branch = n
            outputs.append((builder.contract(a, b, frozenset(e.output)), e.output))
        else:
            pending.append((n, e, [_merge_key(a, b, e.output), _merge_key(b, a, e.output)]))

    # (b) merge final products that share one factor and the wiring: Σ_b L·R_b = L·(Σ_b R_b)
    count: dict[tuple, int] = defaultdict(int)
    for _, _, options in pending:
        for key in {o[0] for o in options}:
            count[key] += 1
    groups: dict[tuple, list] = defaultdict(list)
    for n, e, options in pending:
        choice = max(options, key=lambda o: (count[o[0]], o is options[0]))
        groups[choice[0]].append((n, e, choice))
    for members in groups.values():
        n0, e0, (_, left, right, rperm) = members[0]
        builder.branch = n0
        if len(members) == 1:
            outputs.append((builder.contract(left, right, frozenset(e0.output)), e0.output))
            continue
        canon = "".join(right.idx[i] for i in rperm)
        total = builder.add([(m[2][2], m[2][3]) for m in members], canon)
        res = builder.contract(left, total, frozenset(e0.output))
        for n, _, _ in members:
            builder.users[total.node.key].add(n)
            builder.users[res.node.key].add(n)
        outputs.append((res, e0.output))

    builder.branch = -1
    if len(outputs) == 1:
        op, out = outputs[0]
        result = permute_expr(op.node.var, perm_to(op.idx, out))
    else:
        total = builder.add([(op, perm_to(op.idx, out)) for op, out in outputs], "zjb")
        result = total.node.var
    return FieldPlan(
        field, sizes, lowrank, naive, tuple(builder.leaves), builder.finished_steps(), result, tuple(branch_plans)
    )


def _merge_key(left: _Op, right: _Op, output: str):
    """Group key of a final step ``left × right`` and the canonical axis order of ``right``."""
    lroles = []
    for c in left.idx:
        if c in right.idx:
            lroles.append(("b", output.index(c)) if c in output else ("c", -1))
        else:
            lroles.append(("o", output.index(c)))
    rroles = []
    for c in right.idx:
        if c in left.idx:
            rroles.append(("b", output.index(c)) if c in output else ("c", left.idx.index(c)))
        else:
            rroles.append(("o", output.index(c)))
    perm = tuple(sorted(range(len(rroles)), key=lambda i: rroles[i]))
    key = (left.node.key, tuple(lroles), tuple(rroles[i] for i in perm))
    return key, left, right, perm
