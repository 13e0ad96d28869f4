"""Contraction diagrams as graphs: a networkx multigraph of a diagram, and a picture of it.

    graph = diagram_graph(Diagram.from_key("0-1.0-1"))    # nx.MultiDiGraph: token vertices, edges with labels
    draw_diagram(term, "linear_attention.svg")            # vertices j, k, …; edges labelled by their weight

The graph is also the tests' oracle for the canonical keys: two diagrams are the same family iff their graphs
are isomorphic with edge labels (the weight's letter, "" for a free weight) and orientation — an oriented edge
(X end → X* end) is one arc, an edge that equals its reversal (real field, free or symmetric weight) is a pair
of opposite arcs marked unoriented.
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archsearch.families.base import Family
from archsearch.families.diagram import Diagram

if TYPE_CHECKING:
    import networkx as nx
    from matplotlib.figure import Figure

__all__ = ["DrawError", "diagram_graph", "draw_diagram", "figure", "picture_bytes", "same_family"]

FORMATS = (".png", ".svg", ".pdf")
_INDEX_NAMES = "jklmnpqrstuvwxyzabcdefghi"  # as in Diagram.index_form


class DrawError(ValueError):
    """A term that is not a contraction diagram, or an unsupported picture format (one line)."""


def _diagram(term: Family) -> Diagram:
    """The term as a Diagram, or DrawError naming its family."""
    if not isinstance(term, Diagram):
        raise DrawError(f"term {term.key!r} is a {term.kind} family, not a contraction diagram: only diagrams "
                        "(ids such as 0-1.0-1) are drawn")
    return term


def diagram_graph(term: Family) -> nx.MultiDiGraph:
    """The diagram as an ``nx.MultiDiGraph``: one node per token vertex; an oriented edge is an arc from its X
    end to its X* end with ``label = (letter, "oriented")``; an unoriented edge two opposite arcs with
    ``label = (letter, "unoriented")``."""
    import networkx as nx

    graph = nx.MultiDiGraph()
    for edge in _diagram(term).edges:
        graph.add_nodes_from((edge.src, edge.dst))
        if edge.oriented:
            graph.add_edge(edge.src, edge.dst, label=(edge.letter, "oriented"))
        else:
            graph.add_edge(edge.src, edge.dst, label=(edge.letter, "unoriented"))
            graph.add_edge(edge.dst, edge.src, label=(edge.letter, "unoriented"))
    return graph


def _labels_match(a: dict[int, dict[str, Any]], b: dict[int, dict[str, Any]]) -> bool:
    """Parallel arcs between two vertices match as multisets of labels."""
    return sorted(d["label"] for d in a.values()) == sorted(d["label"] for d in b.values())


def same_family(first: Family, second: Family) -> bool:
    """Whether two diagrams are isomorphic as labelled, oriented multigraphs (networkx's VF2)."""
    import networkx as nx

    return bool(nx.is_isomorphic(diagram_graph(first), diagram_graph(second), edge_match=_labels_match))


def _layout(n: int) -> dict[int, tuple[float, float]]:
    """Vertices on a circle, the first at the top."""
    if n == 1:
        return {0: (0.0, -0.5)}  # below the centre: its loops fan out above
    return {v: (math.cos(math.pi / 2 + 2 * math.pi * v / n), math.sin(math.pi / 2 + 2 * math.pi * v / n))
            for v in range(n)}


_EDGE = "#1f4e79"
_LABEL = "#7a1f1f"


def figure(term: Family, title: str | None = None) -> Figure:
    """A matplotlib figure of the diagram: vertices named by their summation index (j, k, …) as in the index
    form of ``archsearch show``; each edge labelled by its weight (W₁, W₂, … or the letter), with an arrow
    from its X end to its X* end when it is oriented (a plain line when it equals its reversal). Parallel
    edges bend symmetrically apart; loops sit outside the circle of vertices, one further out per loop."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Circle, FancyArrowPatch

    diagram = _diagram(term)
    rep = diagram.rep
    oriented = [orig.oriented for orig, _ in diagram._walk]  # rep edge i is walk edge i
    n = 1 + max(max(e.src, e.dst) for e in rep)
    pos = _layout(n)
    fig = Figure(figsize=(2.8 + 0.4 * n, 2.8 + 0.4 * n))
    ax = fig.add_subplot()
    ax.set_aspect("equal")
    ax.axis("off")
    multiplicity: dict[tuple[int, int], int] = {}
    for e in rep:
        pair = (min(e.src, e.dst), max(e.src, e.dst))
        multiplicity[pair] = multiplicity.get(pair, 0) + 1
    seen: dict[tuple[int, int], int] = {}
    radius = 0.16
    for i, e in enumerate(rep):
        name = diagram.weight_name(i)
        pair = (min(e.src, e.dst), max(e.src, e.dst))
        k = seen.get(pair, 0)
        seen[pair] = k + 1
        if e.src == e.dst:  # a loop: a circle outside the vertex; the loops of one vertex fan out
            x, y = pos[e.src]
            angle = (math.atan2(y, x) if n > 1 else math.pi / 2) + 1.4 * (k - (multiplicity[pair] - 1) / 2)
            r = 0.26
            cx, cy = x + (radius + r) * math.cos(angle), y + (radius + r) * math.sin(angle)
            ax.add_patch(Circle((cx, cy), r, fill=False, lw=1.6, color=_EDGE))
            if oriented[i]:  # an arrow head on the far side of the loop, running anticlockwise
                tx, ty = cx + r * math.cos(angle), cy + r * math.sin(angle)
                tangent = angle + math.pi / 2
                ax.annotate("", xy=(tx + 0.02 * math.cos(tangent), ty + 0.02 * math.sin(tangent)), xytext=(tx, ty),
                            arrowprops={"arrowstyle": "-|>", "color": _EDGE, "lw": 1.6, "mutation_scale": 16})
            lx, ly = cx + (r + 0.16) * math.cos(angle), cy + (r + 0.16) * math.sin(angle)
            ax.text(lx, ly, name, ha="center", va="center", fontsize=12, color=_LABEL)
            continue
        # arc3 bends by rad × chord length to the right of src → dst; measure it on the pair's fixed direction
        rad = 0.45 * (k - (multiplicity[pair] - 1) / 2)
        signed = rad if e.src == pair[0] else -rad
        ax.add_patch(FancyArrowPatch(pos[e.src], pos[e.dst], connectionstyle=f"arc3,rad={signed}",
                                     arrowstyle="-|>" if oriented[i] else "-", mutation_scale=18, lw=1.6,
                                     color=_EDGE, shrinkA=16, shrinkB=16))
        (x1, y1), (x2, y2) = pos[pair[0]], pos[pair[1]]
        dx, dy = x2 - x1, y2 - y1
        length = math.hypot(dx, dy)
        side = rad * length / 2 + (0.13 if rad >= 0 else -0.13)  # the curve's midpoint, then a margin
        ax.text((x1 + x2) / 2 + dy / length * side, (y1 + y2) / 2 - dx / length * side, name,
                ha="center", va="center", fontsize=12, color=_LABEL)
    for v, (x, y) in pos.items():
        ax.add_patch(Circle((x, y), radius, color="#dde8f3", ec=_EDGE, lw=1.6, zorder=3))
        ax.text(x, y, _INDEX_NAMES[v], ha="center", va="center", fontsize=13, zorder=4, style="italic")
    span = 2.2 if n > 1 else 1.3
    ax.set_xlim(-span, span)
    ax.set_ylim(-span, span)
    ax.set_title(title if title is not None else diagram.key, fontsize=11)
    fig.tight_layout()
    return fig


def draw_diagram(term: Family, path: str | os.PathLike[str], title: str | None = None) -> Path:
    """Write the picture of a diagram to ``path`` (.png, .svg or .pdf), all or nothing; return the path.
    DrawError for a term that is not a diagram or another suffix; OSError when it cannot be written."""
    out = Path(path)
    if out.suffix.lower() not in FORMATS:
        raise DrawError(f"--draw {out}: the picture must end in {', '.join(FORMATS)}")
    from archsearch.report.output import write_files

    write_files({out: picture_bytes(term, out.suffix.lower().lstrip("."), title)})
    return out


def picture_bytes(term: Family, fmt: str, title: str | None = None) -> bytes:
    """The picture of a diagram as ``fmt`` ("png", "svg" or "pdf") bytes; DrawError for a term that is not a
    diagram. No date and fixed ids: the same diagram draws to the same bytes (pictures committed under docs/)."""
    import matplotlib

    if f".{fmt}" not in FORMATS:
        raise DrawError(f"pictures are {', '.join(FORMATS)}, not .{fmt}")
    fig = figure(term, title)
    buf = io.BytesIO()
    metadata: dict[str, Any] = {"Date": None} if fmt in ("svg", "pdf") else {}
    with matplotlib.rc_context({"svg.hashsalt": "archsearch"}):
        fig.savefig(buf, format=fmt, dpi=150, metadata=metadata)
    return buf.getvalue()
