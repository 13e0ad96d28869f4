"""The low-rank block's program: fused projections, batched cores, one output projection.

With W = Q Kᵀ (per head, Q, K of shape C × C_A) a diagram field is (archsearch.compiler.cores)

    F(X) = Σ_b Σ_{h, r} core_b,h[:, r] U_b,h[:, r]ᵀ,     core_b = einsum of projected slots X·F.

The program a person would write by hand:

1. *fused projections*: one ``F.linear`` of X with every slot factor stacked (and one of conj(X) in the
   complex field), laid out once as (slots, B, H, N, C_A) so that every slot is a contiguous view;
2. *batched cores*: branches with the same canonical core (a symmetry of the diagram maps one to the
   other) run it once, their slots stacked along the batch axis (G·B); the core's contraction order
   is chosen for the declared sizes by archsearch.compiler.order (small N: the N×N products; large
   N: the C_A×C_A states) — non-causal; causal cores are chained causal linear attentions at value
   width C_A (archsearch.compiler.causal), the output factor applied after the scans;
3. *one output projection*: the cores side by side (B, N, Σ G·H·C_A) times the stacked output
   factors (Σ G·H·C_A, C).

Cost: slots·H·N·C·C_A (projections) + the cores' steps + outputs·H·N·C_A·C.

A *Gram* program competes for the fields whose every vertex carries at most two endpoints (paths and
cycles, e.g. the trace words): each summed token is contracted first over its X operands (XᵀX, or
ΣX), shared by every branch, then the weights, and the branches are summed before the one product
with X at the output token — O(N C²) however many branches and heads, where the projections cost
O(H N C C_A) per slot. Of the candidates (batched, for tied fields also one core per branch with
shared slots, and Gram) the plan keeps the one cheapest at the declared sizes in multiply-adds plus
:data:`STEP_COST` per step (the fixed cost of a kernel call, which decides at the search's small
sizes).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache

from archsearch.calculus.fields import Field
from archsearch.compiler.cores import Core, Group, field_cores, group_networks, groups, lowrank_ok
from archsearch.compiler.order import contraction_path, path_monomials
from archsearch.compiler.plan import (
    BATCH,
    CostReport,
    Monomial,
    PlanBuilder,
    PlanSizes,
    Polynomial,
    Step,
    _Op,
    _run,
    perm_to,
    permute_expr,
    planned_einsum,
)

__all__ = ["STEP_COST", "LowRankPlan", "lowrank_cost", "plan_lowrank", "storage_order"]

#: the fixed cost of one step in multiply-adds per example when plans are compared (a kernel call
#: costs a few µs on CPU, about what 8192 multiply-adds per example cost at batch 32)
STEP_COST = 8192


@dataclass(frozen=True)
class Projection:
    """``var`` = leaf · (stacked factors ``rows``), laid out (rows, B, H, N, C_A)."""

    var: str
    leaf: str
    rows: tuple[str, ...]


@dataclass(frozen=True)
class Role:
    """A core operand: ``var`` = rows ``start`` … ``start + size`` of projection ``projection`` (the
    slot of each member of a group; ``size`` > 1: stacked along the batch axis)."""

    var: str
    projection: str
    start: int
    size: int


@dataclass(frozen=True)
class GroupOutput:
    """A core's result ``expr`` ((G·B, H, N, C_A)) for ``size`` branches; its output factors are the
    next ``size`` entries of ``LowRankPlan.out_rows``."""

    expr: str
    size: int


@dataclass(frozen=True)
class LowRankPlan(CostReport):
    """The program of a low-rank block (see the module docstring).

    kind "fused": ``projections``, ``roles``, core ``steps``, ``outputs`` and the stacked output factors
    ``out_rows``; kind "gram": ``steps`` over the leaves ``leaves`` (x, xc, ones, weight operands
    ``{name}_q`` / ``{name}_k`` of shape (H, C, C_A)) and the ``result`` expression.
    """

    field: Field
    sizes: PlanSizes
    kind: str
    causal: bool
    projections: tuple[Projection, ...]
    roles: tuple[Role, ...]
    steps: tuple[Step, ...]
    outputs: tuple[GroupOutput, ...]
    out_rows: tuple[str, ...]
    leaves: tuple[str, ...]
    result: str
    linear: bool = True
    batched: bool = True

    lowrank = True
    naive = False

    @property
    def mlp(self) -> bool:
        """Every core is its slot (order-2 terms), the slots stored in output order: X·W_in then ·W_out."""
        if self.kind != "fused" or self.steps or len(self.projections) != 1 or len(self.roles) != len(self.outputs):
            return False
        start = 0
        for o, r in zip(self.outputs, self.roles, strict=True):
            if o.expr != r.var or r.start != start or r.size != o.size:
                return False
            start += r.size
        return start == len(self.projections[0].rows)

    def projection_monomials(self) -> tuple[Monomial, ...]:
        one = Monomial(1, (1, 1, 1, 1))  # H·N·C·C_A per stacked factor
        rows = sum(len(p.rows) for p in self.projections)
        out = [one.scaled(rows)] if rows else []
        if self.out_rows:
            out.append(one.scaled(len(self.out_rows)))
        return tuple(out)

    def polynomial(self) -> Polynomial:
        monos = [m for s in self.steps for m in s.monomials()]
        return Polynomial.of([*monos, *self.projection_monomials()], self.sizes)

    def n_steps(self) -> int:
        """Kernel calls: the steps, and per projection its product and layout, the output product and layout."""
        if self.kind == "gram":
            return len(self.steps)
        if self.mlp:
            return 2
        return len(self.steps) + 2 * len(self.projections) + 2 + (len(self.outputs) > 1)

    def score(self) -> float:
        return self.cost() + STEP_COST * self.n_steps()

    def __str__(self) -> str:
        f = self.field
        tie = "tied" if f.tied else "untied"
        head = (f"LowRankPlan {f.term.key} {f.field} {tie}{' causal' if self.causal else ''}: "
                f"{len(f.branches)} branches, {self.kind} program, sizes {self.sizes}")
        lines = [head]
        for p in self.projections:
            lines.append(f"  {p.var} = {p.leaf} · [{', '.join(p.rows)}]   (rows, B, H, N, C_A)"
                         f"  cost {len(p.rows)}·H·N·C·C_A")
        for r in self.roles:
            lines.append(f"  {r.var} = {r.projection}[{r.start}:{r.start + r.size}]")
        lines += [f"  {s}" for s in self.steps]
        if self.kind == "fused":
            lines.append(f"  out = [{', '.join(o.expr for o in self.outputs)}] · [{', '.join(self.out_rows)}]"
                         f"  cost {len(self.out_rows)}·H·N·C·C_A")
        else:
            lines.append(f"  result = {self.result}")
        lines.append(f"  cost {self.cost_polynomial()}  ~ {self.big_o()}")
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# Sizes of core letters
# --------------------------------------------------------------------------------------------------


def _letter_sizes(kinds: dict[str, str], sizes: PlanSizes) -> dict[str, float]:
    return {c: float(sizes.of_kind(k)) for c, k in kinds.items()}


def _core_path(inputs: tuple[str, ...], output: str, kinds: dict[str, str], sizes: PlanSizes):
    return contraction_path(inputs, output, _letter_sizes(kinds, sizes), kinds)


# --------------------------------------------------------------------------------------------------
# Fused programs
# --------------------------------------------------------------------------------------------------


def _layout(cores: tuple[Core, ...], gs: tuple[Group, ...], dedupe: bool):
    """Projection rows per leaf and each group's role → (leaf, first row, size)."""
    rows: dict[str, list[str]] = {}
    where: list[list[tuple[str, int, int] | None]] = []
    for g in gs:
        net = g.network
        places: list[tuple[str, int, int] | None] = []
        for i, op in enumerate(net.operands):
            if op.kind != "slot":
                places.append(None)
                continue
            table = rows.setdefault(op.leaf, [])
            factors = [f.operands[i].factor for f in g.forms]
            if dedupe and g.size == 1 and factors[0] in table:
                places.append((op.leaf, table.index(factors[0]), 1))
                continue
            places.append((op.leaf, len(table), g.size))
            table += factors
        where.append(places)
    return rows, where


def _fused(field: Field, sizes: PlanSizes, causal: bool, batch: bool) -> LowRankPlan:
    cores = field_cores(field, causal)
    gs = groups(cores, batch)
    rows, where = _layout(cores, gs, dedupe=not batch)
    proj_var = {leaf: f"p{leaf}" for leaf in rows}
    projections = tuple(Projection(proj_var[leaf], leaf, tuple(r)) for leaf, r in rows.items())
    roles: dict[tuple[str, int, int], Role] = {}
    builder = PlanBuilder("t", sizes)
    outputs: list[GroupOutput] = []
    out_rows: list[str] = []
    steps: list[Step] = []
    used: list[list[str]] = []
    linear = True
    for k, (g, places) in enumerate(zip(gs, where, strict=True)):
        net = g.network
        kinds = net.letter_kinds()
        names: list[str] = []
        used.append(names)
        for op, place in zip(net.operands, places, strict=True):
            if place is None:
                names.append(op.kind)
                continue
            if place not in roles:
                leaf, start, size = place
                var = f"s{len(roles)}"
                roles[place] = Role(var, proj_var[leaf], start, size)
            names.append(roles[place].var)
        inputs, output = net.einsum()
        group_builder = builder if g.size == 1 else PlanBuilder(f"g{k}_", sizes)
        group_builder.branch = k
        before = len(group_builder.steps)
        ops = [group_builder.leaf(v, s, kinds) for v, s in zip(names, inputs, strict=True)]
        path = _core_path(inputs, output, kinds, sizes)
        res = _run(group_builder, ops, output, path) if path else ops[0]
        res = permute_expr(res.node.var, perm_to(res.idx, output))
        if group_builder is not builder:
            steps += [dataclasses.replace(s, cost=s.cost.scaled(g.size),
                                          extra=tuple(m.scaled(g.size) for m in s.extra))
                      for s in group_builder.finished_steps()[before:]]
        outputs.append(GroupOutput(res, g.size))
        out_rows += [cores[i].out_factor for i in g.members]
    # each group's steps read only its roles and its own earlier steps: the shared builder's first
    steps = [*builder.finished_steps(), *steps]
    special = tuple(v for v in ("ones", "tril") if any(v in names for names in used)) + ("xc",) * ("xc" in rows)
    return LowRankPlan(field, sizes, "fused", causal, projections, tuple(roles.values()), tuple(steps),
                       tuple(outputs), tuple(out_rows), special, "", linear, batch)


# --------------------------------------------------------------------------------------------------
# Gram programs (paths and cycles)
# --------------------------------------------------------------------------------------------------


def gram_eligible(field: Field) -> bool:
    """Every vertex carries at most two endpoints (the diagram is a union of paths and cycles)."""
    from archsearch.families.diagram import Diagram

    if not isinstance(field.term, Diagram):
        return False
    degree: dict[int, int] = {}
    for e in field.term.rep:
        degree[e.src] = degree.get(e.src, 0) + 1
        degree[e.dst] = degree.get(e.dst, 0) + 1
    return max(degree.values()) <= 2


def _gram(field: Field, sizes: PlanSizes) -> LowRankPlan:
    builder = PlanBuilder("t", sizes)
    sources = field.parameter_sources()
    with_x: list[tuple[_Op, _Op, str]] = []  # (T_b, the X operand at the output vertex, output feature letter)
    without: list[tuple[_Op, str]] = []
    x_at: dict[str, _Op] = {}
    for n, b in enumerate(field.branches):
        builder.branch = n
        e = planned_einsum(b, field.field, True, frozenset(), sources)
        kinds = dict(e.kinds)
        out_token, out_feature = e.output[1], e.output[2]
        ops = [builder.leaf(v, s, kinds) for v, s in zip(e.operands, e.inputs, strict=True)]
        rest: list[_Op] = []
        by_token: dict[str, list[_Op]] = {}
        at_output: list[_Op] = []
        for op, v in zip(ops, e.operands, strict=True):
            if v in ("x", "xc"):
                (at_output if op.idx[1] == out_token else by_token.setdefault(op.idx[1], [])).append(op)
            elif v != "ones":  # ones: an output vertex without X, the result broadcast over tokens (below)
                rest.append(op)
        for token, xs in by_token.items():  # Σ_t over the X operands of a summed token: XᵀX or ΣX
            if len(xs) == 2:
                rest.append(builder.contract(xs[0], xs[1], frozenset(BATCH + xs[0].idx[2] + xs[1].idx[2])))
            else:
                rest.append(builder.reduce(xs[0], token))
        assert len(at_output) <= 1
        batch = BATCH if any(BATCH in o.idx for o in rest) else ""  # weights alone carry no batch axis
        out = batch + (at_output[0].idx[2] if at_output else "") + out_feature
        inputs = tuple(o.idx for o in rest)
        letters = {c: kinds[c] for o in rest for c in o.idx}
        path = contraction_path(inputs, out, _letter_sizes(letters, sizes), letters)
        t = _run(builder, rest, out, path) if path else builder.reduce(rest[0], "".join(
            c for c in rest[0].idx if c not in out)) if set(rest[0].idx) - set(out) else rest[0]
        t = _Op(t.node, t.idx)
        if at_output:
            x_at[at_output[0].node.var] = at_output[0]
            with_x.append((t, at_output[0], out))
        else:
            without.append((t, out))
    builder.branch = -1
    parts: list[str] = []
    by_leaf: dict[str, list[tuple[_Op, str]]] = {}
    for t, x, out in with_x:
        by_leaf.setdefault(x.node.var, []).append((t, out))
    for var, members in by_leaf.items():
        x = x_at[var]
        total, batch = _total(builder, members)
        both = builder.contract(x, _Op(total.node, batch + x.idx[2] + "Ω"), frozenset(BATCH + x.idx[1] + "Ω"))
        parts.append(permute_expr(both.node.var, perm_to(both.idx, BATCH + x.idx[1] + "Ω")))
    if without:
        total, batch = _total(builder, without)
        index = "[:, None, :]" if batch else "[None, None, :]"
        parts.append(f"{total.node.var}{index}.expand(x.shape[0], x.shape[1], -1)")
        builder.leaves.append("x")
    result = " + ".join(parts)
    leaves = tuple(v for v in dict.fromkeys(builder.leaves) if v != "ones")
    return LowRankPlan(field, sizes, "gram", False, (), (), builder.finished_steps(), (), (), leaves, result)


def _total(builder: PlanBuilder, members: list[tuple[_Op, str]]) -> tuple[_Op, str]:
    """Σ_b T_b over branches (each permuted to its output order; those with a batch axis first so the
    sum broadcasts) and whether the sum has a batch axis."""
    members = sorted(members, key=lambda m: BATCH not in m[1])
    terms = [(t, perm_to(t.idx, out)) for t, out in members]
    batch = BATCH if BATCH in members[0][1] else ""
    if len(terms) == 1 and terms[0][1] == tuple(range(len(members[0][1]))):
        return terms[0][0], batch
    return builder.add(terms, members[0][1]), batch


# --------------------------------------------------------------------------------------------------
# Public
# --------------------------------------------------------------------------------------------------


def plan_lowrank(field: Field, sizes=None, causal: bool = False) -> LowRankPlan:
    """The cheapest low-rank program of a diagram field at the declared sizes (module docstring)."""
    if not lowrank_ok(field):
        raise ValueError(f"{field.term.key}: symmetric weights have no slot program; use plan_field")
    if causal:
        raise ValueError(f"{field.term.key}: causal blocks are planned by archsearch.compiler.causal.plan_causal")
    return _plan(field, PlanSizes.of(sizes), bool(causal))


@lru_cache(maxsize=1024)
def _plan(field: Field, sizes: PlanSizes, causal: bool) -> LowRankPlan:
    candidates = [_fused(field, sizes, causal, True)]
    if field.tied:
        candidates.append(_fused(field, sizes, causal, False))
    if not causal and gram_eligible(field):
        candidates.append(_gram(field, sizes))
    return min(candidates, key=lambda p: p.score() * (1 + 1e-9 * candidates.index(p)))


def storage_order(field: Field, causal: bool = False) -> tuple[str, ...]:
    """The order of the factors in a low-rank block's ``weight`` parameter: untied fields, the
    batched layout (projection rows, then output factors), so both products read contiguous views;
    otherwise (shared factors, symmetric weights) each weight's Q then K."""
    names = [f"{p}_{s}" for p in field.parameters() for s in ("q", "k")]
    if field.tied or not lowrank_ok(field):
        return tuple(names)
    cores = field_cores(field, causal)
    gs = groups(cores, True)
    rows, _ = _layout(cores, gs, dedupe=False)
    order = [f for leaf in rows for f in rows[leaf]]
    order += [cores[i].out_factor for g in gs for i in g.members]
    if sorted(order) != sorted(names):  # every factor exactly once (always, for untied fields)
        return tuple(names)
    return tuple(order)


def lowrank_cost(field: Field, sizes: PlanSizes) -> Polynomial:
    """The cost polynomial of the batched program without building it: the path of every group's
    canonical core (cached by shape; the same network the program runs), times the group's size, plus
    the projections and outputs — what :func:`plan_lowrank` reports when the batched program is its
    only candidate (untied, non-causal fields that are not paths or cycles)."""
    monos: list[Monomial] = []
    one = Monomial(1, (1, 1, 1, 1))
    cores = field_cores(field, False)
    for members, network in group_networks(cores):
        inputs, output = network.einsum()
        kinds = network.letter_kinds()
        path = _core_path(inputs, output, kinds, sizes)
        size = len(members)
        monos += [m.scaled(size) for m in path_monomials(inputs, output, path, kinds)]
        monos.append(one.scaled(size * (len(cores[members[0]].slots) + 1)))
    return Polynomial.of(monos, sizes)


def only_batched(field: Field, causal: bool) -> bool:
    """Whether the batched program is the only candidate (so :func:`lowrank_cost` is the plan's cost)."""
    return not field.tied and not causal and not gram_eligible(field) and lowrank_ok(field)

