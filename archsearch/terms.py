"""Terms of a potential V(X): contraction diagrams and the named non-polynomial families.

A contraction diagram of order 2d has d edges G_e = X W_e X* (an N×N matrix) whose 2d endpoints are
grouped into token vertices, each summed over 1..N:

    V(X) = Σ_{vertex indices} Π_e (G_e)_{src(e), dst(e)}.

The X endpoint of an edge is its source, the X* endpoint its target. An edge that equals its
reversal as a function of X (real field, free or symmetric weight: G_kj = (X Wᵀ Xᵀ)_jk) is stored
*unoriented*. Diagrams are kept in a canonical form under vertex relabelling, permutation of edges
carrying the same letter, and reversal of unoriented edges, so equal families compare equal.
No torch here: this layer is pure Python.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property
from itertools import chain

_VERTEX_CHARS = "0123456789abcdefghijklmnopqrstuvwxyz"
_INDEX_NAMES = "jklmnpqrstuvwxyzabcdefghi"
_SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def subscript(i: int) -> str:
    """Unicode subscript digits: 12 → ₁₂."""
    return str(i).translate(_SUB)


# --------------------------------------------------------------------------------------------------
# Contraction diagrams
# --------------------------------------------------------------------------------------------------


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
        return f"{self.letter}{_VERTEX_CHARS[self.src]}{'~' if self.oriented else '-'}{_VERTEX_CHARS[self.dst]}"


def _make_edge(letter: str, a: int, b: int, oriented: bool) -> Edge:
    if not oriented and a > b:
        a, b = b, a
    return Edge(letter, a, b, oriented)


@dataclass(frozen=True)
class Diagram:
    """A canonical contraction diagram. Build with :meth:`Diagram.make` (which canonicalises)."""

    edges: tuple[Edge, ...]

    # ---- construction ----------------------------------------------------------------------------
    @staticmethod
    def make(edges: list[Edge] | tuple[Edge, ...]) -> Diagram:
        """The canonical diagram of a list of edges (vertices need not be consecutive)."""
        return Diagram(canonical_edges(edges))

    @staticmethod
    def from_key(key: str) -> Diagram:
        """Parse a key such as ``0-1.0-1`` (two unoriented edges) or ``A0~1.B1~0``; canonicalises."""
        edges = []
        if not key:
            raise ValueError("empty diagram key")
        for part in key.split("."):
            sep = "~" if "~" in part else "-" if "-" in part else None
            if sep is None or part.count(sep) != 1:
                raise ValueError(f"edge {part!r} must read [Letter]a~b (oriented) or [Letter]a-b (unoriented)")
            head, tail = part.split(sep)
            if len(head) < 1 or len(tail) != 1:
                raise ValueError(f"edge {part!r}: vertices are single characters 0-9a-z")
            letter, a, b = head[:-1], head[-1], tail
            if a not in _VERTEX_CHARS or b not in _VERTEX_CHARS:
                raise ValueError(f"edge {part!r}: vertices are single characters 0-9a-z")
            if letter and not (letter[0].isupper() and all(c.islower() for c in letter[1:])):
                raise ValueError(f"edge {part!r}: letter {letter!r} must be an uppercase letter + lowercase letters")
            edges.append(_make_edge(letter, _VERTEX_CHARS.index(a), _VERTEX_CHARS.index(b), sep == "~"))
        letters = {e.letter for e in edges}
        if "" in letters and len(letters) > 1:
            raise ValueError("a key mixes free edges (no letter) with lettered edges")
        return Diagram.make(edges)

    # ---- basic properties ------------------------------------------------------------------------
    @property
    def key(self) -> str:
        return ".".join(e.code() for e in self.edges)

    @property
    def family(self) -> str:
        return "diagram"

    @property
    def degree(self) -> int:
        """Number of edges d; the order in X is 2d."""
        return len(self.edges)

    @property
    def order(self) -> int:
        return 2 * len(self.edges)

    @property
    def n_vertices(self) -> int:
        return 1 + max(max(e.src, e.dst) for e in self.edges)

    @property
    def has_potential(self) -> bool:
        return True

    @property
    def free_weights(self) -> bool:
        return all(e.letter == "" for e in self.edges)

    def weight_name(self, i: int, style: str = "unicode") -> str:
        """Display name of rep edge i's weight: W₁, W₂, … for free weights, else the letter."""
        letter = self.rep[i].letter
        if letter:
            return letter
        if style == "latex":
            return f"W_{{{i + 1}}}"
        if style == "text":
            return f"W{i + 1}"
        return f"W{subscript(i + 1)}"

    def edge_name(self, i: int, style: str = "unicode") -> str:
        """Display name of rep edge i's matrix: G₁ (free) or G_A (letter A)."""
        letter = self.rep[i].letter
        if style == "latex":
            return f"G_{{{letter or i + 1}}}"
        if style == "text":
            return f"G{letter or i + 1}" if not letter else f"G_{letter}"
        return f"G{subscript(i + 1)}" if not letter else f"G_{letter}"

    @cached_property
    def components(self) -> tuple[tuple[int, ...], ...]:
        """Edge indices of each connected component, in edge order."""
        return tuple(tuple(c) for c in _components(self.edges))

    @property
    def is_connected(self) -> bool:
        return len(self.components) == 1

    @cached_property
    def rep(self) -> tuple[Edge, ...]:
        """The oriented representative used for printing, evaluation and derivation.

        Each component is walked (cycles as traces, simple paths as chains) so that unoriented
        edges get the orientation they are printed with; free weights are numbered in walk order;
        vertices are renumbered by first appearance. An oriented edge walked backwards keeps its
        own orientation (and is printed transposed, see :attr:`rep_transposed`).
        """
        names: dict[int, int] = {}
        out = []
        for e, rev in self._walk:
            a, b = (e.dst, e.src) if (rev and not e.oriented) else (e.src, e.dst)
            first, second = (b, a) if rev and e.oriented else (a, b)
            for v in (first, second):
                names.setdefault(v, len(names))
            out.append(Edge(e.letter, names[a], names[b], True))
        return tuple(out)

    @cached_property
    def rep_transposed(self) -> tuple[bool, ...]:
        """Whether rep edge i is an oriented edge walked backwards (printed as Gᵀ)."""
        return tuple(rev and e.oriented for e, rev in self._walk)

    @cached_property
    def _walk(self) -> tuple[tuple[Edge, bool], ...]:
        walked: list[tuple[Edge, bool]] = []
        for comp in self.components:
            edges = [self.edges[i] for i in comp]
            word = _orient_cycle(edges) if _all_degree(edges, 2) else _orient_chain(edges)
            if word is None:
                word = [(i, False) for i in range(len(edges))]
            walked.extend((edges[i], rev) for i, rev in word)
        return tuple(walked)

    @cached_property
    def rep_components(self) -> tuple[tuple[int, ...], ...]:
        """Rep edge indices of each component (consecutive, in walk order)."""
        out, i = [], 0
        for comp in self.components:
            out.append(tuple(range(i, i + len(comp))))
            i += len(comp)
        return tuple(out)

    def component_shape(self, c: int) -> str:
        """'cycle' (a trace), 'chain' (1ᵀ … 1) or 'general' for component c."""
        edges = [self.edges[i] for i in self.components[c]]
        if _all_degree(edges, 2) and _orient_cycle(edges) is not None:
            return "cycle"
        if _orient_chain(edges) is not None:
            return "chain"
        return "general"

    @property
    def is_trace(self) -> bool:
        """Admissible under left = unitary: each vertex has one X and one X* endpoint."""
        return all(self.component_shape(c) == "cycle" for c in range(len(self.components)))

    # ---- printing --------------------------------------------------------------------------------
    def index_form(self, style: str = "unicode") -> str:
        """Σ over the vertex indices of the product of edge entries, e.g. ``Σ_jk (G₁)_jk (G₂)_kj``."""
        rep = self.rep
        n = 1 + max(max(e.src, e.dst) for e in rep)
        names = [_INDEX_NAMES[v] for v in range(n)]
        factors = []
        for i, e in enumerate(rep):
            g = self.edge_name(i, style)
            if style == "latex":
                factors.append(f"({g})_{{{names[e.src]}{names[e.dst]}}}")
            else:
                factors.append(f"({g})_{names[e.src]}{names[e.dst]}")
        idx = "".join(names)
        if style == "latex":
            return rf"\sum_{{{idx}}} " + " ".join(factors)
        if style == "text":
            return f"sum_{idx} " + " ".join(factors)
        return f"Σ_{idx} " + " ".join(factors)

    def matrix_form(self, style: str = "unicode", expand: bool = False) -> str | None:
        """Traces of words (``Tr(G₁ G₂)``, or expanded ``Tr(X W₁ X* X W₂ X*)``) and chains
        (``1ᵀ G₁ G₂ 1``) per component, joined by products; None if some component is neither."""
        parts = []
        for c, comp in enumerate(self.rep_components):
            shape = self.component_shape(c)
            if shape == "general":
                return None
            body = " ".join(_edge_factor(self, i, style, expand) for i in comp)
            if shape == "cycle":
                parts.append(rf"\operatorname{{Tr}}({body})" if style == "latex" else f"Tr({body})")
            elif style == "latex":
                parts.append(rf"\mathbf{{1}}^{{\top}} {body} \mathbf{{1}}")
            else:
                parts.append(f"{'1^T' if style == 'text' else '1ᵀ'} {body} 1")
        return (r" \, " if style == "latex" else " · ").join(parts)

    def unicode(self) -> str:
        return self.matrix_form("unicode", expand=True) or self.index_form("unicode")

    def text(self) -> str:
        return self.matrix_form("text", expand=True) or self.index_form("text")

    def latex(self) -> str:
        return self.matrix_form("latex", expand=True) or self.index_form("latex")

    def short(self) -> str:
        """Compact form in edges: ``Tr(G₁ G₂)``, ``1ᵀ G₁ G₂ 1`` or the index sum."""
        return self.matrix_form("unicode") or self.index_form("unicode")

    def __str__(self) -> str:
        return self.unicode()


def _all_degree(edges: list[Edge], k: int) -> bool:
    deg: dict[int, int] = defaultdict(int)
    for e in edges:
        deg[e.src] += 1
        deg[e.dst] += 1
    return all(v == k for v in deg.values())


def _components(edges: tuple[Edge, ...] | list[Edge]) -> list[list[int]]:
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


def _orient_cycle(edges: list[Edge]) -> list[tuple[int, bool]] | None:
    """Walk a connected 2-regular multigraph as a directed cycle; None if oriented edges disagree."""
    n = len(edges)
    for start_rev in (False, True):
        if edges[0].oriented and start_rev:
            break
        used = [False] * n
        walk = [(0, start_rev)]
        used[0] = True
        head = edges[0].src if start_rev else edges[0].dst
        origin = edges[0].dst if start_rev else edges[0].src
        ok = True
        for _ in range(n - 1):
            nxt = None
            for i, e in enumerate(edges):
                if used[i]:
                    continue
                if e.src == head:
                    nxt = (i, False)
                    break
                if not e.oriented and e.dst == head:
                    nxt = (i, True)
                    break
            if nxt is None:
                ok = False
                break
            i, rev = nxt
            used[i] = True
            walk.append(nxt)
            head = edges[i].src if rev else edges[i].dst
        if ok and head == origin:
            return walk
    return None


def _orient_chain(edges: list[Edge]) -> list[tuple[int, bool]] | None:
    """A simple path (no loops, max degree 2, two ends) as a sequence from one end to the other."""
    if any(e.is_loop for e in edges):
        return None
    deg: dict[int, int] = defaultdict(int)
    for e in edges:
        deg[e.src] += 1
        deg[e.dst] += 1
    if any(v > 2 for v in deg.values()):
        return None
    ends = sorted(v for v, k in deg.items() if k == 1)
    if len(ends) != 2:
        return None
    # start at the end that makes the first edge forward when possible
    best = None
    for start in ends:
        walk, head, used = [], start, set()
        for _ in edges:
            for i, e in enumerate(edges):
                if i in used:
                    continue
                if e.src == head:
                    walk.append((i, False))
                    head = e.dst
                    used.add(i)
                    break
                if e.dst == head:
                    walk.append((i, True))
                    head = e.src
                    used.add(i)
                    break
        backwards = sum(1 for i, rev in walk if rev and edges[i].oriented)
        if best is None or backwards < best[0]:
            best = (backwards, walk)
    return best[1]


def _edge_factor(d: Diagram, i: int, style: str, expand: bool) -> str:
    """Rep edge i as printed: G₁ / X W₁ X*, transposed when an oriented edge is walked backwards."""
    transpose = d.rep_transposed[i]
    if expand:
        w = d.weight_name(i, style)
        if transpose:
            # (X W X*)ᵀ = X̄ Wᵀ Xᵀ (in the real field X̄ = X and Xᵀ = X*)
            w = {"latex": f"{w}^{{\\top}}", "text": f"{w}^T"}.get(style, f"{w}ᵀ")
            return {"latex": rf"\bar X {w} X^{{\top}}", "text": f"conj(X) {w} X^T"}.get(style, f"X̄ {w} Xᵀ")
        return f"X {w} {'X^{*}' if style == 'latex' else 'X*'}"
    g = d.edge_name(i, style)
    if transpose:
        g = {"latex": f"{g}^{{\\top}}", "text": f"{g}^T"}.get(style, f"{g}ᵀ")
    return g


# --------------------------------------------------------------------------------------------------
# Canonical form: individualisation–refinement on each connected component
# --------------------------------------------------------------------------------------------------


def canonical_edges(edges: list[Edge] | tuple[Edge, ...]) -> tuple[Edge, ...]:
    """Canonical edge tuple: components canonicalised separately, sorted, vertices renumbered 0.."""
    edges = [_make_edge(e.letter, e.src, e.dst, e.oriented) for e in edges]
    if not edges:
        raise ValueError("a diagram needs at least one edge")
    comps = [_canonical_component([edges[i] for i in comp]) for comp in _components(edges)]
    comps.sort(key=lambda c: (len(c[1]), c[1], c[0]))
    out: list[Edge] = []
    offset = 0
    for n, enc in comps:
        out.extend(_make_edge(letter, a + offset, b + offset, bool(ori)) for letter, a, b, ori in enc)
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


# --------------------------------------------------------------------------------------------------
# Non-polynomial families named by a grammar
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Softmax:
    """Row-wise log-sum-exp of one edge: V = Σ_j log Σ_k exp(S_jk), S = X W Xᵀ/√C_A."""

    @property
    def key(self) -> str:
        return "lse"

    family = "softmax"
    order = 0  # not a polynomial: sorted after the diagrams
    has_potential = True

    def unicode(self) -> str:
        return "Σ_j log Σ_k exp((X W Xᵀ)_jk / √C_A)"

    def text(self) -> str:
        return "sum_j log sum_k exp((X W X^T)_jk / sqrt(C_A))"

    def latex(self) -> str:
        return r"\sum_j \log \sum_k \exp\!\big((X W X^{\top})_{jk}/\sqrt{C_A}\big)"

    short = unicode

    def __str__(self) -> str:
        return self.unicode()


@dataclass(frozen=True)
class Entrywise:
    """Entrywise analytic function of one edge: V = Σ_jk f(G_jk), G = X W Xᵀ/√C_A."""

    fn: str

    @property
    def key(self) -> str:
        return f"f-{self.fn}"

    family = "entrywise"
    order = 0
    has_potential = True

    def unicode(self) -> str:
        return f"Σ_jk {self.fn}((X W Xᵀ)_jk / √C_A)"

    def text(self) -> str:
        return f"sum_jk {self.fn}((X W X^T)_jk / sqrt(C_A))"

    def latex(self) -> str:
        return rf"\sum_{{jk}} \operatorname{{{self.fn}}}\!\big((X W X^{{\top}})_{{jk}}/\sqrt{{C_A}}\big)"

    short = unicode

    def __str__(self) -> str:
        return self.unicode()


@dataclass(frozen=True)
class Conic:
    """Quadratic term through a cone projection: V = ½ Σ_j ‖π_K(x_j A)‖², field π_K(X A) Aᵀ.

    relu: K = orthant; soc: product of Lorentz cones of size S (orthogonal projection);
    colu: CoLU, a skew projection onto the Lorentz cone — its Jacobian is not symmetric, so it is
    not the gradient of any potential (the field π(X A) Aᵀ is defined directly).
    """

    projection: str
    cone_size: int = 4

    @property
    def key(self) -> str:
        return self.projection if self.projection == "relu" else f"{self.projection}{self.cone_size}"

    family = "conic"
    order = 2

    @property
    def has_potential(self) -> bool:
        return self.projection != "colu"

    def _proj(self, style: str) -> str:
        if self.projection == "relu":
            return {"latex": r"\operatorname{relu}", "text": "relu"}.get(style, "relu")
        if self.projection == "soc":
            return {"latex": rf"\pi_{{\mathcal{{L}}_{{{self.cone_size}}}}}", "text": f"proj_soc{self.cone_size}"}.get(
                style, f"π_L{subscript(self.cone_size)}"
            )
        return {"latex": rf"\operatorname{{CoLU}}_{{{self.cone_size}}}", "text": f"colu{self.cone_size}"}.get(
            style, f"CoLU{subscript(self.cone_size)}"
        )

    def unicode(self) -> str:
        if not self.has_potential:
            return f"(no potential) field {self._proj('unicode')}(X A) Aᵀ"
        return f"½ Σ_j ‖{self._proj('unicode')}(x_j A)‖²"

    def text(self) -> str:
        if not self.has_potential:
            return f"(no potential) field {self._proj('text')}(X A) A^T"
        return f"1/2 sum_j |{self._proj('text')}(x_j A)|^2"

    def latex(self) -> str:
        if not self.has_potential:
            return rf"\text{{(no potential)}}\ {self._proj('latex')}(X A) A^{{\top}}"
        return rf"\tfrac12 \sum_j \lVert {self._proj('latex')}(x_j A) \rVert^2"

    short = unicode

    def __str__(self) -> str:
        return self.unicode()


@dataclass(frozen=True)
class Gated:
    """Per-token product of k projections (no centralizer axiom): V = Σ_{j,c} Π_{m=1}^k (X W_m)_{jc}."""

    k: int

    def __post_init__(self) -> None:
        if self.k < 3:
            raise ValueError("gated products start at order 3 (order 2 is the MLP term Tr(X W₁W₂ᵀ Xᵀ))")

    @property
    def key(self) -> str:
        return f"glu{self.k}"

    family = "gated"

    @property
    def order(self) -> int:
        return self.k

    has_potential = True

    def unicode(self) -> str:
        return "Σ_jc " + " ".join(f"(X W{subscript(m)})_jc" for m in range(1, self.k + 1))

    def text(self) -> str:
        return "sum_jc " + " ".join(f"(X W{m})_jc" for m in range(1, self.k + 1))

    def latex(self) -> str:
        return r"\sum_{jc} " + " ".join(f"(X W_{{{m}}})_{{jc}}" for m in range(1, self.k + 1))

    short = unicode

    def __str__(self) -> str:
        return self.unicode()


Term = Diagram | Softmax | Entrywise | Conic | Gated


def term_from_key(key: str) -> Term:
    """Parse any term key: a diagram key (``0-1.0-1``), ``lse``, ``f-exp``, ``relu``, ``soc4``,
    ``colu4`` or ``glu3``. Raises ValueError with a readable message."""
    from archsearch.grammar.model import CONIC_PROJECTIONS, ENTRYWISE_FUNCTIONS

    if key == "lse":
        return Softmax()
    if key.startswith("f-"):
        fn = key[2:]
        if fn not in ENTRYWISE_FUNCTIONS:
            raise ValueError(f"unknown entrywise function {fn!r} (known: {', '.join(ENTRYWISE_FUNCTIONS)})")
        return Entrywise(fn)
    if key == "relu":
        return Conic("relu")
    for proj in CONIC_PROJECTIONS:
        if proj != "relu" and key.startswith(proj) and key[len(proj):].isdigit():
            size = int(key[len(proj):])
            if size < 2:
                raise ValueError(f"cone size in {key!r} must be at least 2")
            return Conic(proj, size)
    if key.startswith("glu") and key[3:].isdigit():
        return Gated(int(key[3:]))
    return Diagram.from_key(key)
