"""Enumeration of contraction diagrams by canonical augmentation.

Connected diagrams with d edges arise from connected diagrams with d − 1 edges by adding one edge
(a loop, an edge between present vertices, or a pendant edge to a new vertex): removing a
non-bridge edge, or a pendant edge with its leaf, keeps a diagram connected. Each candidate is
reduced to its canonical form (archsearch.terms) and deduplicated. Disconnected diagrams are
multisets of connected ones. Under left = unitary only unions of directed cycles are admissible:
the connected ones are the cyclic words in the weight letters, generated directly; under
left = orthogonal each edge of such a cycle may also run backwards (a transposed letter).
"""

from __future__ import annotations

from itertools import combinations_with_replacement, product

from archsearch.enumeration.axioms import Axioms
from archsearch.enumeration.partitions import integer_partitions
from archsearch.terms import Diagram, Edge

LABELLED_MAX_DEGREE = 4  # labelled diagrams grow like Bell(2d): 4140 at d = 4


def edge_letters(axioms: Axioms, d: int) -> tuple[str, ...]:
    """The letters an edge may carry: "" for free weights, the alphabet, or d labels for labelled."""
    if axioms.weights == "free":
        return ("",)
    if axioms.weights == "labelled":
        return tuple(chr(ord("A") + i) for i in range(d))
    return axioms.alphabet


def _letter_options(axioms: Axioms, letters: tuple[str, ...]) -> list[tuple[str, bool]]:
    return [(letter, not axioms.reversible(letter)) for letter in letters]


def _sig(axioms: Axioms) -> tuple:
    """The part of the axioms that decides the diagrams of a degree (cache key)."""
    return (axioms.left, axioms.field, axioms.weights, axioms.alphabet, tuple(sorted(axioms.symmetric)))


def connected_diagrams(axioms: Axioms, d: int) -> tuple[Diagram, ...]:
    """All connected admissible diagrams with d edges, sorted by key."""
    if d < 1:
        return ()
    if axioms.weights == "labelled" and d > LABELLED_MAX_DEGREE:
        raise ValueError(f"labelled weights are enumerated up to order {2 * LABELLED_MAX_DEGREE}")
    return _connected(_sig(axioms), d, axioms)


_CACHE: dict[tuple, tuple[Diagram, ...]] = {}


def _connected(sig: tuple, d: int, axioms: Axioms) -> tuple[Diagram, ...]:
    key = (sig, d)
    if key not in _CACHE:
        if axioms.left in ("unitary", "orthogonal"):
            found = _cycles(axioms, d)
        elif axioms.weights == "labelled":
            found = _labelled_connected(axioms, d)
        else:
            found = _augment(axioms, d)
        _CACHE[key] = tuple(sorted(found, key=lambda g: g.key))
    return _CACHE[key]


def _augment(axioms: Axioms, d: int) -> set[Diagram]:
    options = _letter_options(axioms, edge_letters(axioms, d))
    if d == 1:
        return {Diagram.make([Edge(lt, a, b, ori) if ori or a <= b else Edge(lt, b, a, ori)])
                for lt, ori in options for a, b in ((0, 0), (0, 1))}
    found: set[Diagram] = set()
    for g in _connected(_sig(axioms), d - 1, axioms):
        n = g.n_vertices
        for lt, ori in options:
            for a in range(n + 1):
                for b in range(n + 1):
                    if a == n and b == n:
                        continue
                    if not ori and a > b:
                        continue
                    found.add(Diagram.make([*g.edges, Edge(lt, a, b, ori)]))
    return found


def _labelled_connected(axioms: Axioms, d: int) -> set[Diagram]:
    """Connected diagrams with d distinguishable oriented edges A, B, …: every assignment of the
    labels to the edges of a connected one-letter directed diagram."""
    from itertools import permutations

    directed = Axioms(left="perm", field="complex", max_order=2 * d)
    labels = edge_letters(axioms, d)
    found: set[Diagram] = set()
    for g in connected_diagrams(directed, d):
        for perm in permutations(labels):
            found.add(Diagram.make([Edge(lt, e.src, e.dst, True) for lt, e in zip(perm, g.edges, strict=True)]))
    return found


def _cycles(axioms: Axioms, d: int) -> set[Diagram]:
    """Cycles of length d: cyclic words in the letters (unoriented edges either way); under
    left = orthogonal an oriented letter may also appear transposed (its edge walked backwards)."""
    options = []
    for lt, ori in _letter_options(axioms, edge_letters(axioms, d)):
        options.append((lt, ori, False))
        if ori and axioms.left == "orthogonal":
            options.append((lt, ori, True))
    found: set[Diagram] = set()
    for word in product(options, repeat=d):
        if axioms.weights == "labelled" and len({lt for lt, _, _ in word}) != d:
            continue
        edges = []
        for i, (lt, ori, back) in enumerate(word):
            a, b = (i, (i + 1) % d) if not back else ((i + 1) % d, i)
            edges.append(Edge(lt, a, b, True) if ori else Edge(lt, min(a, b), max(a, b), False))
        found.add(Diagram.make(edges))
    return found


def all_diagrams(axioms: Axioms, d: int) -> tuple[Diagram, ...]:
    """All admissible diagrams with d edges (products of connected ones), sorted by key."""
    if axioms.weights == "labelled":
        return _labelled_all(axioms, d)
    found: set[Diagram] = set()
    for parts in integer_partitions(d):
        pools = [connected_diagrams(axioms, k) for k in parts]
        # multisets: for equal part sizes choose non-decreasing indices
        for choice in _multiset_choices(parts, pools):
            edges: list[Edge] = []
            offset = 0
            for g in choice:
                edges.extend(Edge(e.letter, e.src + offset, e.dst + offset, e.oriented) for e in g.edges)
                offset += g.n_vertices
            found.add(Diagram.make(edges))
    return tuple(sorted(found, key=lambda g: g.key))


def _labelled_all(axioms: Axioms, d: int) -> tuple[Diagram, ...]:
    """Labelled: split the labels into blocks (set partitions), a connected diagram on each block."""
    labels = edge_letters(axioms, d)
    found: set[Diagram] = set()
    for blocks in _set_partitions(list(range(d))):
        pools = []
        for block in blocks:
            sub = connected_diagrams(axioms, len(block))
            rename = {chr(ord("A") + i): labels[j] for i, j in enumerate(block)}
            pools.append([[Edge(rename[e.letter], e.src, e.dst, e.oriented) for e in g.edges] for g in sub])
        for choice in product(*pools):
            edges: list[Edge] = []
            offset = 0
            for comp in choice:
                n = 1 + max(max(e.src, e.dst) for e in comp)
                edges.extend(Edge(e.letter, e.src + offset, e.dst + offset, e.oriented) for e in comp)
                offset += n
            found.add(Diagram.make(edges))
    return tuple(sorted(found, key=lambda g: g.key))


def _multiset_choices(parts: tuple[int, ...], pools: list[tuple[Diagram, ...]]):
    """Choose one diagram per part; equal parts choose with non-decreasing indices (multisets)."""
    groups: dict[int, int] = {}
    for k in parts:
        groups[k] = groups.get(k, 0) + 1
    per_size = []
    for k, m in groups.items():
        pool = pools[parts.index(k)]
        per_size.append(list(combinations_with_replacement(pool, m)))
    for combo in product(*per_size):
        yield [g for group in combo for g in group]


def _set_partitions(items: list[int]):
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for part in _set_partitions(rest):
        yield [[first], *part]
        for i in range(len(part)):
            yield [*part[:i], [first, *part[i]], *part[i + 1:]]


def diagrams(axioms: Axioms, d: int) -> tuple[Diagram, ...]:
    """The diagrams with d edges the axioms admit (connected only when axioms.connected)."""
    return connected_diagrams(axioms, d) if axioms.connected else all_diagrams(axioms, d)
