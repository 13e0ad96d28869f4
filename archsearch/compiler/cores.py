"""Branch cores of low-rank diagram fields, their canonical forms and the batching groups.

With low-rank weights W_e = Q_e K_eᵀ every X operand of a branch einsum meets exactly one weight
factor on its feature index, so the branch is

    F(X)[a, :] = Σ_{h, r} core_h[a, r] · U_h[:, r],     core = einsum over projected factors P = X·Q (or X·K)

where U is the factor of the opened edge on the output side (the *output factor*) and every other
factor is a *slot*: a per-token projection P_f = X F_f of shape (N, C_A) per head. A core is a small
network of slots ``(token, rank)``, ``ones`` vectors ``(token,)`` (an output vertex with no other
endpoint) and, for causal cores, masks ``tril (parent, child)``; its output is ``(a, r_out)``.

Branches whose cores are the same network up to renaming (the branches of a field related by a
symmetry of the diagram) compute the same program on different slots: :func:`canonical` puts a core
in a canonical form (letters and operand order), :func:`groups` collects branches with equal forms.
A group of G branches runs its core once on slots stacked along the batch axis (G·B).

No torch here.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import lru_cache

from archsearch.calculus.evaluate import TOKEN_LETTERS
from archsearch.calculus.fields import Branch, Field, symmetric_letters
from archsearch.compiler.plan import BATCH, HEAD, MAX_DEGREE, RANK_LETTERS, leaf_names, planned_einsum
from archsearch.families.diagram import Diagram

__all__ = ["Core", "CoreOperand", "Group", "branch_core", "canonical", "field_cores", "group_networks", "groups",
           "lowrank_ok"]

MAX_CANONICAL_TRIALS = 5040  # relabelings tried per core; above, the core stays in a group of its own


@dataclass(frozen=True)
class CoreOperand:
    """kind "slot": the projection ``leaf`` · ``factor`` (leaf "x" or "xc", factor an operand name such
    as ``W2_b0_k``), indices token + rank; "ones": a token; "tril": parent token + child token."""

    kind: str
    idx: str
    leaf: str = ""
    factor: str = ""

    @property
    def type(self) -> str:
        return f"{self.kind}:{self.leaf}" if self.kind == "slot" else self.kind

    def subscripts(self) -> str:
        """The operand's einsum indices in the block (slots carry batch and head)."""
        return BATCH + HEAD + self.idx if self.kind == "slot" else self.idx


@dataclass(frozen=True)
class Core:
    """The core of one branch: operands, output indices (token a, rank of the output factor), the output
    factor and each letter's kind (token or rank)."""

    branch: Branch
    operands: tuple[CoreOperand, ...]
    output: str
    out_factor: str
    kinds: tuple[tuple[str, str], ...]

    @property
    def slots(self) -> tuple[CoreOperand, ...]:
        return tuple(o for o in self.operands if o.kind == "slot")


def lowrank_ok(field: Field) -> bool:
    """Whether the field's low-rank block runs as projected slots and cores (no symmetric weights:
    their factors Q' = [Q, K] have rank 2·C_A and go through the general plans)."""
    return field.term.kind == "diagram" and not symmetric_letters(field.term)


def branch_core(branch: Branch, field: Field, masks: tuple[tuple[int, int], ...] = (), sources=None) -> Core:
    """The core of a branch (``masks``: (parent, child) vertex pairs of the causal tree; ``sources``:
    ``field.parameter_sources()``, computed once per field by the caller).

    Read off the diagram's edges: the operands of :func:`~archsearch.compiler.plan.planned_einsum`'s
    branch einsum in its order — per edge X, its weight's factors Q (rank letter of the edge, feature on
    the source side) and K (feature on the target side), X̄; the opened end's X or X̄ missing — where
    each factor but the output one becomes the slot of the X operand it meets, then ``ones`` where the
    opened vertex has no other endpoint."""
    d = branch.term
    if not isinstance(d, Diagram) or d.degree > MAX_DEGREE:
        return _branch_core_einsum(branch, field, masks, sources)
    xc = leaf_names(field.field)["Xc"]
    operands: list[CoreOperand] = []
    out_factor = out_rank = out_token = ""
    touched = False  # whether the opened vertex carries another endpoint
    rep = d.rep
    opened = rep[branch.edge]
    opened_vertex = opened.dst if branch.end == "dst" else opened.src
    for i, e in enumerate(rep):
        w, r = branch.weight(i), RANK_LETTERS[i]
        src, dst = TOKEN_LETTERS[e.src], TOKEN_LETTERS[e.dst]
        if i == branch.edge:
            if branch.end == "dst":  # X at the source, the output at the target: K is the output factor
                operands.append(CoreOperand("slot", src + r, "x", f"{w}_q"))
                out_factor, out_token = f"{w}_k", dst
                touched = touched or e.src == opened_vertex
            else:
                operands.append(CoreOperand("slot", dst + r, xc, f"{w}_k"))
                out_factor, out_token = f"{w}_q", src
                touched = touched or e.dst == opened_vertex
            out_rank = r
        else:
            operands.append(CoreOperand("slot", src + r, "x", f"{w}_q"))
            operands.append(CoreOperand("slot", dst + r, xc, f"{w}_k"))
            touched = touched or opened_vertex in (e.src, e.dst)
    if not touched:
        operands.append(CoreOperand("ones", out_token))
    for p, c in masks:
        operands.append(CoreOperand("tril", TOKEN_LETTERS[p] + TOKEN_LETTERS[c]))
    letters = {c for o in operands for c in o.idx} | {out_token, out_rank}
    core_kinds = tuple(sorted((c, "rank" if c in RANK_LETTERS else "token") for c in letters))
    return Core(branch, tuple(operands), out_token + out_rank, out_factor, core_kinds)


def _branch_core_einsum(branch: Branch, field: Field, masks: tuple[tuple[int, int], ...] = (), sources=None) -> Core:
    """:func:`branch_core` from the planned branch einsum (the reference; any branch planned_einsum takes)."""
    sources = field.parameter_sources() if sources is None else sources
    e = planned_einsum(branch, field.field, True, frozenset(), sources)
    kinds = dict(e.kinds)
    feature_of: dict[str, int] = {}  # feature letter → position of the X operand carrying it
    for i, (s, v) in enumerate(zip(e.inputs, e.operands, strict=True)):
        if v in ("x", "xc"):
            feature_of[s[2]] = i
    out_token, out_feature = e.output[1], e.output[2]
    operands: list[CoreOperand] = []
    out_factor, out_rank = "", ""
    for s, v in zip(e.inputs, e.operands, strict=True):
        if v == "ones":
            operands.append(CoreOperand("ones", s))
        elif v not in ("x", "xc"):  # a weight factor y f R
            f, r = s[1], s[2]
            if f == out_feature:
                out_factor, out_rank = v, r
            else:
                xs = e.inputs[feature_of[f]]
                operands.append(CoreOperand("slot", xs[1] + r, e.operands[feature_of[f]], v))
    for p, c in masks:
        operands.append(CoreOperand("tril", TOKEN_LETTERS[p] + TOKEN_LETTERS[c]))
    letters = {c for o in operands for c in o.idx} | {out_token, out_rank}
    core_kinds = tuple(sorted((c, kinds.get(c, "token")) for c in letters))
    return Core(branch, tuple(operands), out_token + out_rank, out_factor, core_kinds)


def field_cores(field: Field, causal: bool = False) -> tuple[Core, ...]:
    """The cores of every branch of a field (causal: with the masks of each branch's causal tree)."""
    return _field_cores(field, causal)


@lru_cache(maxsize=2048)
def _field_cores(field: Field, causal: bool) -> tuple[Core, ...]:
    out = []
    for b in field.branches:
        masks: tuple[tuple[int, int], ...] = ()
        if causal:
            from archsearch.compiler.causal import causal_tree

            masks = tuple(causal_tree(b).masks())
        out.append(branch_core(b, field, masks))
    return tuple(out)


# --------------------------------------------------------------------------------------------------
# Canonical forms
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CanonicalCore:
    """A core with canonical letters and operand order: ``operands[i]`` is the core's operand
    ``order[i]`` renamed; ``text`` identifies the form (equal texts: the same network)."""

    operands: tuple[CoreOperand, ...]
    output: str
    order: tuple[int, ...]
    kinds: tuple[tuple[str, str], ...]
    text: str

    def einsum(self) -> tuple[tuple[str, ...], str]:
        return tuple(o.subscripts() for o in self.operands), BATCH + HEAD + self.output

    def letter_kinds(self) -> dict[str, str]:
        return {BATCH: "batch", HEAD: "head", **dict(self.kinds)}


_TOKENS = "ijklmnopqrstuvwx"
_RANKS = "RSTUVWXPQABCDEFG"


def canonical(core: Core) -> CanonicalCore:
    """The canonical form of a core: each connected component of the network (operands joined by
    shared letters; a disconnected diagram's closed components are scalars) in canonical form
    (:func:`_canonical_network`, cached by the component's shape), components in order of their texts,
    letters renamed in that order (tokens i, j, …; ranks R, S, …)."""
    return _form(core, _parts(core))


def _parts(core: Core) -> list[tuple[str, tuple[int, ...], dict[str, str]]]:
    """Each component's (canonical text, operand positions in canonical order, letter → local canonical
    letter), in order of their texts; the core's text is theirs joined by ``|``."""
    kinds = dict(core.kinds)
    parts = []
    for comp in _components(core):
        letters = {c for i in comp for c in core.operands[i].idx}
        out = core.output if set(core.output) & letters else ""
        ops = tuple((core.operands[i].type, core.operands[i].idx) for i in comp)
        sig, sig_out, names = _signature(ops, out)
        back = {v: k for k, v in names.items()}
        sig_kinds = tuple(kinds[back[c]] for c in sorted(back))
        text, order, rename = _canonical_network(sig, sig_out, sig_kinds)
        local = {back[c]: new for c, new in rename}
        parts.append((text, tuple(comp[i] for i in order), local))
    if not any(set(core.output) & set(p[2]) for p in parts):  # output letters in no operand
        raise ValueError(f"core of {core.branch}: output {core.output} in no operand")
    parts.sort(key=lambda p: p[0])
    return parts


def _form(core: Core, parts: list[tuple[str, tuple[int, ...], dict[str, str]]]) -> CanonicalCore:
    """The canonical form of a core from its :func:`_parts`."""
    kinds = dict(core.kinds)
    relabel: dict[str, str] = {}
    t = r = 0
    for _, _, local in parts:
        for c in sorted(local, key=lambda c: (_TOKENS + _RANKS).index(local[c])):
            if kinds[c] == "token":
                relabel[c], t = _TOKENS[t], t + 1
            else:
                relabel[c], r = _RANKS[r], r + 1
    table = str.maketrans(relabel)
    order = tuple(i for _, comp_order, _ in parts for i in comp_order)
    operands = tuple(
        CoreOperand(core.operands[i].kind, core.operands[i].idx.translate(table), core.operands[i].leaf,
                    core.operands[i].factor)
        for i in order
    )
    new_kinds = tuple(sorted((relabel[c], k) for c, k in kinds.items()))
    text = "|".join(p[0] for p in parts)
    return CanonicalCore(operands, core.output.translate(table), order, new_kinds, text)


def _components(core: Core) -> list[list[int]]:
    """Operand positions of each connected component (operands sharing a letter, or carrying letters
    of the output), by first position."""
    parent = list(range(len(core.operands)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[str, int] = {}
    out_at = [i for i, o in enumerate(core.operands) if set(o.idx) & set(core.output)]
    for i in out_at[1:]:
        parent[root(i)] = root(out_at[0])
    for i, o in enumerate(core.operands):
        for c in o.idx:
            if c in first:
                parent[root(i)] = root(first[c])
            else:
                first[c] = i
    comps: dict[int, list[int]] = {}
    for i in range(len(core.operands)):
        comps.setdefault(root(i), []).append(i)
    return list(comps.values())


def _signature(ops: tuple[tuple[str, str], ...], out: str):
    """Letters renamed by first appearance (operands, then output): the cache key of a network."""
    names: dict[str, str] = {}
    for s in (*(idx for _, idx in ops), out):
        for c in s:
            if c not in names:
                names[c] = chr(ord("a") + len(names))
    table = str.maketrans(names)
    return tuple((ty, idx.translate(table)) for ty, idx in ops), out.translate(table), names


_fallbacks = itertools.count()


@lru_cache(maxsize=65536)
def _canonical_network(ops: tuple[tuple[str, str], ...], output: str, kind_of: tuple[str, ...]):
    """(text, operand order, ((letter, new letter), …)) of a network whose letters are a, b, … with
    kinds ``kind_of``: colour refinement of its letters (kind, role in the output, the operands they
    sit in), then every relabeling of letters left tied, keeping the smallest text. Above
    :data:`MAX_CANONICAL_TRIALS` relabelings, a text of its own (the network is not batched)."""
    letters = [chr(ord("a") + n) for n in range(len(kind_of))]
    kinds = dict(zip(letters, kind_of, strict=True))
    colour = _ranked({c: (kinds[c], output.find(c)) for c in letters})
    typed = [(ty, idx, i) for i, (ty, idx) in enumerate(ops)]
    while True:
        seen: dict[str, list] = {c: [] for c in letters}
        for ty, idx, _ in typed:
            cols = tuple(colour[e] for e in idx)
            for pos, d in enumerate(idx):
                seen[d].append((ty, pos, cols))
        new = _ranked({c: (colour[c], tuple(sorted(seen[c]))) for c in letters})
        if len(set(new.values())) == len(set(colour.values())):
            break
        colour = new
    cells: dict[int, list[str]] = {}
    for c in letters:
        cells.setdefault(colour[c], []).append(c)
    ordered = [cells[k] for k in sorted(cells)]
    trials = math.prod(math.factorial(len(cell)) for cell in ordered)
    if trials > MAX_CANONICAL_TRIALS:
        ordered = [[c] for cell in ordered for c in cell]
        unique = f"#{next(_fallbacks)}"
    else:
        unique = ""
    best = None
    for perms in itertools.product(*(itertools.permutations(cell) for cell in ordered)):
        rename: dict[str, str] = {}
        t = r = 0
        for cell in perms:
            for c in cell:
                if kinds[c] == "token":
                    rename[c], t = _TOKENS[t], t + 1
                else:
                    rename[c], r = _RANKS[r], r + 1
        table = str.maketrans(rename)
        ops_ = sorted((ty, idx.translate(table), i) for ty, idx, i in typed)
        out = output.translate(table)
        text = ",".join(f"{ty}:{idx}" for ty, idx, _ in ops_) + "->" + out + unique
        if best is None or text < best[0]:
            best = (text, tuple(i for _, _, i in ops_), tuple(rename.items()))
    return best


def _ranked(colour: dict) -> dict[str, int]:
    values = sorted(set(colour.values()))
    index = {v: i for i, v in enumerate(values)}
    return {c: index[v] for c, v in colour.items()}


@dataclass(frozen=True)
class Group:
    """Branches with the same canonical core: ``members`` (core positions in the field), their canonical
    forms (the first is the group's network; ``forms[g].operands[i]`` is branch g's operand for role i)."""

    members: tuple[int, ...]
    forms: tuple[CanonicalCore, ...]

    @property
    def size(self) -> int:
        return len(self.members)

    @property
    def network(self) -> CanonicalCore:
        return self.forms[0]


def groups(cores: tuple[Core, ...], batch: bool = True) -> tuple[Group, ...]:
    """Groups of branches with equal canonical cores, in order of first member (``batch=False``: one
    branch per group). Canonical forms are computed only for cores that share a cheap invariant with
    another core (:func:`_invariant`); a core alone in its class is a group of its own, as it is."""
    inv = [_invariant(c) for c in cores] if batch else []
    count: dict[tuple, int] = {}
    for v in inv:
        count[v] = count.get(v, 0) + 1
    forms: list[CanonicalCore] = []
    for i, c in enumerate(cores):
        forms.append(canonical(c) if batch and count[inv[i]] > 1 else _as_is(c, i))
    out: dict[str, list[int]] = {}
    for i, f in enumerate(forms):
        out.setdefault(f.text, []).append(i)
    return tuple(Group(tuple(m), tuple(forms[i] for i in m)) for m in out.values())


def group_networks(cores: tuple[Core, ...]) -> tuple[tuple[tuple[int, ...], CanonicalCore], ...]:
    """The groups of :func:`groups` (``batch=True``) as (members, network): the same members and the same
    network (the first member's form), the other members' forms not built. A branch whose opened end an
    automorphism of the diagram maps to an earlier branch's has an isomorphic core, so that core's text
    (unless a fallback text, which is not an isomorphism invariant) without a canonical form of its own."""
    inv = [_invariant(c) for c in cores]
    count: dict[tuple, int] = {}
    for v in inv:
        count[v] = count.get(v, 0) + 1
    first = _first_in_orbit(cores)
    texts: list[str] = []
    members: dict[str, list[int]] = {}
    networks: dict[str, CanonicalCore] = {}
    for i, c in enumerate(cores):
        j = first[i]
        if count[inv[i]] == 1:
            text = f"as-is#{i}"
            networks[text] = _as_is(c, i)
        elif j < i and inv[j] == inv[i] and "#" not in texts[j]:
            text = texts[j]
        else:
            parts = _parts(c)
            text = "|".join(p[0] for p in parts)
            if text not in networks:
                networks[text] = _form(c, parts)
        texts.append(text)
        members.setdefault(text, []).append(i)
    return tuple((tuple(m), networks[text]) for text, m in members.items())


MAX_AUTOMORPHISMS = 4096  # _first_in_orbit gives up (every core its own) on diagrams with more


def _first_in_orbit(cores: tuple[Core, ...]) -> list[int]:
    """For each core, the first core whose branch's opened end (edge, end) lies in the same orbit under the
    automorphisms of the diagram's rep as a directed multigraph (vertex permutations that keep every
    (source, target) multiplicity; parallel edges are interchangeable) — the cores of one orbit are the
    same network up to renaming. Each core itself where the cores are not one diagram's."""
    own = list(range(len(cores)))
    if not cores:
        return own
    d = cores[0].branch.term
    if not isinstance(d, Diagram) or any(c.branch.term is not d or any(o.kind == "tril" for o in c.operands)
                                         for c in cores):
        return own  # not one diagram's, or causal (the masks follow a spanning tree, not the symmetry)
    rep = d.rep
    n = 1 + max(max(e.src, e.dst) for e in rep)
    mult: dict[tuple[int, int], int] = {}
    for e in rep:
        mult[(e.src, e.dst)] = mult.get((e.src, e.dst), 0) + 1
    deg = [(sum(m for (s, _), m in mult.items() if s == v), sum(m for (_, t), m in mult.items() if t == v),
            mult.get((v, v), 0)) for v in range(n)]
    classes: dict[tuple[int, int], list[int]] = {}  # (source, target) → its edges
    for i, e in enumerate(rep):
        classes.setdefault((e.src, e.dst), []).append(i)
    parent: dict[tuple[int, str], tuple[int, str]] = {}

    def root(x: tuple[int, str]) -> tuple[int, str]:
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    def union(x: tuple[int, str], y: tuple[int, str]) -> None:
        rx, ry = root(x), root(y)
        if rx != ry:
            parent[max(rx, ry)] = min(rx, ry)

    for edges in classes.values():
        for i in edges[1:]:
            for end in ("src", "dst"):
                union((i, end), (edges[0], end))
    image = [-1] * n
    used = [False] * n
    found = 0

    def extend(v: int) -> bool:  # False: too many automorphisms
        nonlocal found
        if v == n:
            found += 1
            if found > MAX_AUTOMORPHISMS:
                return False
            for (s, t), edges in classes.items():
                target = classes[(image[s], image[t])][0]
                for end in ("src", "dst"):
                    union((edges[0], end), (target, end))
            return True
        for w in range(n):
            if used[w] or deg[w] != deg[v]:
                continue
            if any(mult.get((u, v), 0) != mult.get((image[u], w), 0)
                   or mult.get((v, u), 0) != mult.get((w, image[u]), 0) for u in range(v)):
                continue
            image[v], used[w] = w, True
            ok = extend(v + 1)
            image[v], used[w] = -1, False
            if not ok:
                return False
        return True

    if not extend(0):
        return own
    first: dict[tuple[int, str], int] = {}
    out = []
    for k, c in enumerate(cores):
        out.append(first.setdefault(root((c.branch.edge, c.branch.end)), k))
    return out


def _invariant(core: Core) -> tuple:
    """Equal for isomorphic cores: each operand's type and, per index, the letter's kind, how many
    operands carry it and its place in the output."""
    kinds = dict(core.kinds)
    count: dict[str, int] = {}
    for o in core.operands:
        for c in o.idx:
            count[c] = count.get(c, 0) + 1
    info = {c: (kinds[c], n, core.output.find(c)) for c, n in count.items()}
    return tuple(sorted((o.type, tuple(info[c] for c in o.idx)) for o in core.operands))


def _as_is(core: Core, i: int) -> CanonicalCore:
    """A core as its own form (letters and operand order unchanged) with a text no other core has."""
    return CanonicalCore(core.operands, core.output, tuple(range(len(core.operands))), core.kinds, f"as-is#{i}")
