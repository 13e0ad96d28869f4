"""Canonical form of contraction diagrams: individualisation–refinement on each connected component.

Two edge lists are the same family iff their canonical tuples are equal: vertices are relabelled,
edges carrying the same letter permuted, and unoriented edges reversed. No torch, no numpy.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from itertools import chain


@dataclass(frozen=True, order=True)
class Edge:
    """One edge (G)_{src,dst} = x_src W x_dst*; ``letter`` "" means a free weight of its own."""

    letter: str
    src: int
    dst: int
    oriented: bool = True

    def __post_init__(self) -> None:
        if not self.oriented and self.src > self.dst:
            raise ValueError("unoriented edges are stored with src <= dst")

    @property
    def is_loop(self) -> bool:
        return self.src == self.dst

    def code(self) -> str:
        """Compact text: letter, source vertex, '~' (oriented) or '-' (unoriented), target."""
        return f"{self.letter}{VERTEX_CHARS[self.src]}{'~' if self.oriented else '-'}{VERTEX_CHARS[self.dst]}"


VERTEX_CHARS = "0123456789abcdefghijklmnopqrstuvwxyz"


def make_edge(letter: str, a: int, b: int, oriented: bool) -> Edge:
    """An edge, with the endpoints of an unoriented one stored in order."""
    if not oriented and a > b:
        a, b = b, a
    return Edge(letter, a, b, oriented)


def components(edges: tuple[Edge, ...] | list[Edge]) -> list[list[int]]:
    """Edge indices of each connected component, sorted by their first edge."""
    parent: dict[int, int] = {}

    def find(v: int) -> int:
        parent.setdefault(v, v)
        while parent[v] != v:
            parent[v] = parent[parent[v]]
            v = parent[v]
        return v

    for e in edges:
        ra, rb = find(e.src), find(e.dst)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = defaultdict(list)
    for i, e in enumerate(edges):
        groups[find(e.src)].append(i)
    return sorted(groups.values(), key=lambda g: g[0])


def canonical_edges(edges: list[Edge] | tuple[Edge, ...]) -> tuple[Edge, ...]:
    """Canonical edge tuple: components canonicalised separately, sorted, vertices renumbered 0.."""
    edges = [make_edge(e.letter, e.src, e.dst, e.oriented) for e in edges]
    if not edges:
        raise ValueError("a diagram needs at least one edge")
    comps = [_canonical_component([edges[i] for i in comp]) for comp in components(edges)]
    comps.sort(key=lambda c: (len(c[1]), c[1], c[0]))
    out: list[Edge] = []
    offset = 0
    for n, enc in comps:
        out.extend(make_edge(letter, a + offset, b + offset, bool(ori)) for letter, a, b, ori in enc)
        offset += n
    return tuple(out)


_Enc = tuple[tuple[str, int, int, int], ...]


def _canonical_component(edges: list[Edge]) -> tuple[int, _Enc]:
    verts = sorted(set(chain.from_iterable((e.src, e.dst) for e in edges)))
    index = {v: i for i, v in enumerate(verts)}
    n = len(verts)
    local = [(e.letter, index[e.src], index[e.dst], e.oriented) for e in edges]
    incident: list[list[tuple[str, int, int]]] = [[] for _ in range(n)]
    for letter, a, b, ori in local:
        if a == b:
            incident[a].append((letter, 3 if ori else 4, a))
        elif ori:
            incident[a].append((letter, 0, b))  # out
            incident[b].append((letter, 1, a))  # in
        else:
            incident[a].append((letter, 2, b))
            incident[b].append((letter, 2, a))

    def refine(colors: list[int]) -> list[int]:
        while True:
            sigs = [
                (colors[v], tuple(sorted((lt, role, colors[u]) for lt, role, u in incident[v]))) for v in range(n)
            ]
            ranks = {s: r for r, s in enumerate(sorted(set(sigs)))}
            new = [ranks[s] for s in sigs]
            if len(ranks) == len(set(colors)):
                return new
            colors = new

    def encode(colors: list[int]) -> _Enc:
        enc = []
        for letter, a, b, ori in local:
            ca, cb = colors[a], colors[b]
            if not ori and ca > cb:
                ca, cb = cb, ca
            enc.append((letter, ca, cb, int(ori)))
        return tuple(sorted(enc))

    best: list[_Enc] = []

    def search(colors: list[int]) -> None:
        colors = refine(colors)
        counts: dict[int, int] = defaultdict(int)
        for c in colors:
            counts[c] += 1
        multi = [c for c, k in counts.items() if k > 1]
        if not multi:
            enc = encode(colors)
            if not best or enc < best[0]:
                best[:] = [enc]
            return
        target = min(multi)
        for v in range(n):
            if colors[v] == target:
                search([2 * c + (0 if (u == v or c != target) else 1) for u, c in enumerate(colors)])

    search([0] * n)
    return n, best[0]

