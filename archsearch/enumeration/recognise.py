"""Recognition of known architectures among enumerated terms (by the structure of the diagram)."""

from __future__ import annotations

from collections import Counter

from archsearch.terms import Conic, Diagram, Entrywise, Gated, Softmax, Term


def recognise(term: Term) -> str | None:
    """The known block a term's field is, or None for a term with no established name."""
    if isinstance(term, Softmax):
        return "softmax attention"
    if isinstance(term, Entrywise):
        return f"kernel attention ({term.fn})"
    if isinstance(term, Gated):
        return "gated MLP (GLU)" if term.k == 3 else f"gated MLP (GLU, {term.k} factors)"
    if isinstance(term, Conic):
        return {"relu": "ReLU MLP", "soc": "cone-projection MLP", "colu": "CoLU MLP (no potential)"}[term.projection]
    return _recognise_diagram(term)


def _recognise_diagram(g: Diagram) -> str | None:
    if not g.is_connected:
        return None
    n = g.n_vertices
    loops = sum(e.is_loop for e in g.edges)
    if n == 1:
        return "linear MLP" if g.degree == 1 else "per-token polynomial"
    if n == 2 and loops == 0:
        if g.degree == 1:
            return "global-pooling (mean) mixer"
        if g.degree == 2:
            return "linear attention" if g.is_trace or not g.edges[0].oriented else "linear attention (transposed)"
        return "polynomial-kernel attention"
    if g.is_trace and g.degree >= 3:
        return "stacked linear attention (trace word)"
    pairs = Counter((min(e.src, e.dst), max(e.src, e.dst)) for e in g.edges if not e.is_loop)
    if all(m == 1 for m in pairs.values()) and len(pairs) == n - 1:
        # the underlying graph is a tree: information flows through pooled sums only
        return "global-pooling mixer" if loops == 0 else "gated global-pooling mixer"
    return None
