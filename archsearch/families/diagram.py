"""The contraction-diagram family: V(X) = Σ_{vertex indices} Π_e (G_e)_{src(e), dst(e)}, G_e = X W_e X*.

A diagram of order 2d has d edges whose 2d endpoints are grouped into token vertices, each summed
over 1..N. The X endpoint of an edge is its source, the X* endpoint its target. An edge that equals
its reversal as a function of X (real field, free or symmetric weight: G_kj = (X Wᵀ Xᵀ)_jk) is stored
*unoriented*. Diagrams are kept in a canonical form (archsearch.families.canonical) under vertex
relabelling, permutation of edges carrying the same letter, and reversal of unoriented edges, so
equal families compare equal.

Symmetry (declared from the structure, checked numerically in tests): every diagram is
S_N-invariant and depends on X only through its edges (centralizer); a disjoint union of directed
cycles (traces of words in the edges) is U(N)-invariant; a diagram whose every vertex has two
endpoints (traces of words in the edges and their transposes) is O(N)-invariant.

Numbers, prints and compiled blocks are the diagram machinery of archsearch.calculus (einsums,
matrix words) and archsearch.compiler (contraction plans, causal scans), reached from here.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from archsearch.families.base import CompiledParts, Family, Symmetry, subscript, tie_note
from archsearch.families.canonical import VERTEX_CHARS, Edge, canonical_edges, make_edge
from archsearch.families.canonical import components as edge_components

if TYPE_CHECKING:
    from archsearch.compiler.causal import CausalFieldPlan
    from archsearch.compiler.plan import FieldPlan

_INDEX_NAMES = "jklmnpqrstuvwxyzabcdefghi"
_BOTH_FIELDS = frozenset({"real", "complex"})


@dataclass(frozen=True)
class Diagram(Family):
    """A canonical contraction diagram. Build with :meth:`Diagram.make` (which canonicalises)."""

    edges: tuple[Edge, ...]

    kind = "diagram"
    output_base = None  # untied diagram branches copy every weight; there is no output weight

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
            if a not in VERTEX_CHARS or b not in VERTEX_CHARS:
                raise ValueError(f"edge {part!r}: vertices are single characters 0-9a-z")
            if letter and not (letter[0].isupper() and all(c.islower() for c in letter[1:])):
                raise ValueError(f"edge {part!r}: letter {letter!r} must be an uppercase letter + lowercase letters")
            edges.append(make_edge(letter, VERTEX_CHARS.index(a), VERTEX_CHARS.index(b), sep == "~"))
        letters = {e.letter for e in edges}
        if "" in letters and len(letters) > 1:
            raise ValueError("a key mixes free edges (no letter) with lettered edges")
        return Diagram.make(edges)

    # ---- basic properties ------------------------------------------------------------------------
    @property
    def key(self) -> str:
        return ".".join(e.code() for e in self.edges)

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
        return tuple(tuple(c) for c in edge_components(self.edges))

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

    # ---- the family record -----------------------------------------------------------------------
    @classmethod
    def parse(cls, key: str) -> Diagram:
        return cls.from_key(key)

    @cached_property
    def vertex_degrees(self) -> tuple[int, ...]:
        """Number of endpoints at each vertex."""
        deg = [0] * self.n_vertices
        for e in self.edges:
            deg[e.src] += 1
            deg[e.dst] += 1
        return tuple(deg)

    @property
    def is_orthogonal_trace(self) -> bool:
        """Every vertex has two endpoints: a product of traces of words in the edges and their transposes."""
        return all(k == 2 for k in self.vertex_degrees)

    @cached_property
    def symmetry(self) -> Symmetry:
        left = "unitary" if self.is_trace else "orthogonal" if self.is_orthogonal_trace else "perm"
        return Symmetry(left=left, centralizer=True, fields=_BOTH_FIELDS, potential=True)

    def weight_base(self, i: int) -> str:
        """Rep edge i's tied weight: its letter, or W{i+1} for a free weight (the rep walk may reorder edges)."""
        return self.rep[i].letter or f"W{i + 1}"

    def tied_parameters(self) -> list[str]:
        out: list[str] = []
        for i in range(self.degree):
            name = self.weight_base(i)
            if name not in out:
                out.append(name)
        return out

    def weight_indices(self) -> range:
        return range(self.degree)

    def symmetric_parameters(self) -> frozenset[str]:
        """Letters stored on unoriented edges: symmetric weights (real field alphabet)."""
        return frozenset(e.letter for e in self.edges if e.letter and not e.oriented)

    def branch_ends(self, field: str) -> list[tuple[int, str]]:
        ends = [(i, "dst") for i in range(self.degree)]
        if field == "real":
            ends += [(i, "src") for i in range(self.degree)]
        return ends

    def branch_vertex(self, edge: int, end: str) -> int:
        """The rep vertex of an opened endpoint (the branch's free token index)."""
        e = self.rep[edge]
        return e.dst if end == "dst" else e.src

    def note(self, field: str, tied: bool) -> str:
        if field == "complex":
            head = (
                f"F = ∂V/∂X̄ (Wirtinger: X and X̄ independent): the sum over the {self.degree} X* endpoints "
                "of the diagram with that endpoint opened (edge e opened at its X* end gives x_src W_e)."
            )
        else:
            head = (
                f"F = ∇_X V: the sum over all {self.order} endpoints of the diagram with that endpoint "
                "opened (X* end of edge e: x_src W_e; X end: x_dst W_eᵀ)."
            )
        return head + tie_note(tied)

    def potential(self, X, weights: dict, scale: float | None = None):
        from archsearch.calculus.evaluate import einsum_value, potential_einsum

        return einsum_value(potential_einsum(self), X, weights)[()]

    def branch_value(self, branch, X, weights: dict, scale: float | None = None):
        from archsearch.calculus.evaluate import branch_einsum, einsum_value

        return einsum_value(branch_einsum(branch), X, weights)

    def branch_string(self, branch, style: str, real: bool) -> str:
        from archsearch.calculus.symbolic import diagram_branch_string

        return diagram_branch_string(branch, style, real)

    def branch_sympy(self, branch, real: bool) -> Any:
        from archsearch.calculus.symbolic import diagram_branch_sympy

        return diagram_branch_sympy(branch, real)

    def index_form_field(self) -> bool:
        return self.matrix_form() is None

    @property
    def mixes_tokens(self) -> bool:
        return self.n_vertices > 1

    def default_field(self) -> str:
        """Free oriented edges only exist in the complex field (in the real field a free edge is unoriented)."""
        return "complex" if self.free_weights and all(e.oriented for e in self.edges) else "real"

    def recognise(self) -> str | None:
        if not self.is_connected:
            return None
        n = self.n_vertices
        loops = sum(e.is_loop for e in self.edges)
        if n == 1:
            return "linear MLP" if self.degree == 1 else "per-token polynomial"
        if n == 2 and loops == 0:
            if self.degree == 1:
                return "global-pooling (mean) mixer"
            if self.degree == 2:
                transposed = not self.is_trace and self.edges[0].oriented
                return "linear attention (transposed)" if transposed else "linear attention"
            return "polynomial-kernel attention"
        if self.is_trace and self.degree >= 3:
            return "stacked linear attention (trace word)"
        pairs: defaultdict[tuple[int, int], int] = defaultdict(int)
        for e in self.edges:
            if not e.is_loop:
                pairs[(min(e.src, e.dst), max(e.src, e.dst))] += 1
        if all(m == 1 for m in pairs.values()) and len(pairs) == n - 1:
            # the underlying graph is a tree: information flows through pooled sums only
            return "global-pooling mixer" if loops == 0 else "gated global-pooling mixer"
        return None

    def cost(self, field: str, tied: bool, causal: bool, sizes: Any, lowrank: bool) -> str:
        from archsearch.calculus.fields import derive
        from archsearch.compiler.causal import plan_causal
        from archsearch.compiler.plan import plan_field

        f = derive(self, field=field, tied=tied)
        plan = plan_causal(f, sizes, lowrank=lowrank) if causal else plan_field(f, sizes, lowrank=lowrank)
        return plan.big_o()

    def compile(self, field: str, tied: bool, causal: bool, class_name: str, sizes: Any, lowrank: bool,
                naive: bool) -> CompiledParts:
        from archsearch.calculus.fields import derive
        from archsearch.compiler.causal import plan_causal
        from archsearch.compiler.codegen import diagram_source
        from archsearch.compiler.plan import plan_field

        f = derive(self, field, tied)
        plans: tuple[FieldPlan | CausalFieldPlan, ...]
        if causal:  # naive: every branch as its masked einsum (quadratic or worse)
            plans = tuple(plan_causal(f, sizes, lowrank=w, masked=naive) for w in (False, True))
        else:
            plans = tuple(plan_field(f, sizes, lowrank=w, naive=naive) for w in (False, True))
        full, low = plans
        source = diagram_source(f, full, low, class_name, causal=causal)
        plan = low if lowrank else full
        return CompiledParts(source, plan.big_o(), plan, (full, low))

    def describe(self) -> dict[str, Any]:
        return {
            "index_form": self.index_form(),
            "connected": self.is_connected,
            "trace": self.is_trace,
            "vertices": self.n_vertices,
        }



def _all_degree(edges: list[Edge], k: int) -> bool:
    deg: dict[int, int] = defaultdict(int)
    for e in edges:
        deg[e.src] += 1
        deg[e.dst] += 1
    return all(v == k for v in deg.values())



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
    best: tuple[int, list[tuple[int, bool]]] | None = None
    for start in ends:
        walk: list[tuple[int, bool]] = []
        head, used = start, set()
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
    return best[1] if best is not None else None


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

