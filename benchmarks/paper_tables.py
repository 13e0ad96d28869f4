"""The deterministic tables of results/paper/: admissible fields per order, and the worked derivations.

Everything here is a pure function of the library (no training, no timings, no dates), so the files are
bit-for-bit identical on every run; tests/benchmarks/test_reproduce_paper.py regenerates them and compares.

    fields_document(left, max_order)   fields_unitary.md / fields_perm.md: per order the connected families
                                       (potential, tied field, recognised name, compiled cost) and the count
                                       table (connected / all, published values, independent brute force)
    derivations_document()             derivations.md: potential → field → known block for the paper's terms
"""

from __future__ import annotations

from dataclasses import dataclass

from archsearch.calculus import derive
from archsearch.calculus.symbolic import branch_string
from archsearch.describe import describe_term, grammar_from_options
from archsearch.enumeration import all_diagrams, connected_diagrams, recognise
from archsearch.enumeration.bruteforce import brute_force_count
from archsearch.enumeration.references import reference_for
from archsearch.terms import term_from_key

COMMAND = "python benchmarks/reproduce_paper.py"
TABLES_COMMAND = f"{COMMAND} --only tables"
MAX_ORDER = 8

LEFT_TITLES = {
    "unitary": "left unitary (U(N): traces only), right centralizer",
    "perm": "left perm (S_N: every contraction diagram), right centralizer",
}

# The derivations of derivations.md: term key, heading, what the paper (or the literature) calls it.
DERIVATIONS = (
    ("0-0", "MLP (quadratic term)", "the linear MLP: the quadratic potential's field is a linear map per token"),
    ("0-1.0-1", "Linear attention (quartic trace)",
     "linear attention: the lowest-order interacting term under the paper's axioms"),
    ("lse", "Softmax attention (row-wise log-sum-exp)",
     "the paper's softmax attention is the first branch alone; the tied block keeps both"),
    ("glu3", "Gated MLP (no centralizer axiom)", "the gated MLP / GLU: a per-token product of three projections"),
    ("relu", "ReLU MLP (orthant projection)", "the ReLU MLP as the gradient of ½‖relu(x A)‖²"),
    ("soc4", "Second-order-cone projection (cones of size 4)", "an MLP with the orthogonal Lorentz-cone projection"),
    ("colu4", "CoLU (cones of size 4)", "CoLU (Fu & Cohen): a skew projection onto the Lorentz cone"),
)


def _cell(text: str) -> str:
    """Markdown table cell: escape pipes, no line breaks."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def enumerate_command(left: str, max_order: int = MAX_ORDER, all_families: bool = False) -> str:
    """The ``archsearch enumerate`` command that prints the same families."""
    return (f"archsearch enumerate --left {left} --right centralizer --field real --weights free "
            f"--max-order {max_order}" + (" --all" if all_families else ""))


@dataclass(frozen=True)
class CountLine:
    order: int
    connected: int
    total: int
    ref_connected: int | None
    ref_total: int | None
    source_connected: str | None
    source_total: str | None
    brute_connected: int
    brute_total: int

    @property
    def agrees(self) -> bool:
        refs = [(self.ref_connected, self.connected), (self.ref_total, self.total)]
        return (self.brute_connected == self.connected and self.brute_total == self.total
                and all(r is None or r == v for r, v in refs))


def grammar_for(left: str, max_order: int = MAX_ORDER):
    """The grammar of ``archsearch enumerate --left LEFT --right centralizer --field real --weights free``."""
    return grammar_from_options(left=left, right="centralizer", field="real", weights="free", min_order=2,
                                max_order=max_order, connected=True)


def count_lines(left: str, max_order: int = MAX_ORDER) -> list[CountLine]:
    """Per even order: the enumerator's connected and total family counts, the published values and the
    independent brute-force counts (orbit-minimal set partitions of the 2d endpoints)."""
    ax = grammar_for(left, max_order).axioms
    ref_c, ref_t = reference_for(ax, True), reference_for(ax, False)
    out = []
    for order in ax.polynomial_orders:
        d = order // 2
        out.append(CountLine(
            order=order,
            connected=len(connected_diagrams(ax, d)),
            total=len(all_diagrams(ax, d)),
            ref_connected=ref_c.at(d) if ref_c else None,
            ref_total=ref_t.at(d) if ref_t else None,
            source_connected=ref_c.source if ref_c else None,
            source_total=ref_t.source if ref_t else None,
            brute_connected=brute_force_count(ax, d, connected=True),
            brute_total=brute_force_count(ax, d, connected=False),
        ))
    return out


def count_table(lines: list[CountLine]) -> str:
    rows = [
        "| order 2d | connected | all | published connected | published all | brute force (connected / all) "
        "| agree |",
        "| ---: | ---: | ---: | --- | --- | ---: | :---: |",
    ]
    for c in lines:
        pub_c = f"{c.ref_connected} ({c.source_connected})" if c.ref_connected is not None else "—"
        pub_t = f"{c.ref_total} ({c.source_total})" if c.ref_total is not None else "—"
        rows.append(f"| {c.order} | {c.connected} | {c.total} | {_cell(pub_c)} | {_cell(pub_t)} "
                    f"| {c.brute_connected} / {c.brute_total} | {'✓' if c.agrees else '✗'} |")
    return "\n".join(rows) + "\n"


def fields_header(left: str, max_order: int = MAX_ORDER) -> str:
    g = grammar_for(left, max_order)
    s = g.sizes
    return "\n".join([
        f"# Admissible fields, orders 2–{max_order}: {LEFT_TITLES[left]}, real field, free weights",
        "",
        f"Generated by `{TABLES_COMMAND}` (the tables part of `{COMMAND}`); deterministic: the same bytes on "
        "every run. The same families, with the same columns, are printed by",
        f"`{enumerate_command(left, max_order)}`",
        f"(and the counts of all families by `{enumerate_command(left, max_order, all_families=True)}`).",
        "",
        "- A family is a contraction diagram of d edges G = X W Xᵀ (order 2d) with a free weight per edge, up to "
        "relabelling and reversal of edges; *connected* families are not products of lower-order invariants.",
        "- Field: F(X) = ∇_X V with tied weights (every branch shares its edge's weight), i.e. exactly the "
        "gradient of the potential.",
        f"- Compiled cost: the dominant monomials of the low-rank contraction plan at the declared sizes N = "
        f"{s.tokens}, C = {s.features}, C_A = {s.rank}, H = {s.heads} (`archsearch.compiler.compile_term`).",
        "- Brute force: an independent count by orbit-minimal set partitions of the 2d endpoints "
        "(`archsearch.enumeration.bruteforce`), sharing no code with the enumerator.",
        "",
    ]) + "\n"


def counts_section(left: str, max_order: int = MAX_ORDER) -> str:
    return "## Counts per order\n\n" + count_table(count_lines(left, max_order)) + "\n"


def order_section(left: str, order: int, max_order: int = MAX_ORDER) -> str:
    """The connected families of one order as a markdown table."""
    g = grammar_for(left, max_order)
    ax = g.axioms
    terms = connected_diagrams(ax, order // 2)
    rows = [
        f"## Order {order}: {len(terms)} connected famil{'y' if len(terms) == 1 else 'ies'}",
        "",
        "| id | potential V(X) | index form | field F(X) = ∇_X V (tied) | recognised as | compiled cost |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for term in terms:
        desc = describe_term(term, field=ax.field, sizes=g.sizes)
        name = desc["name"] or "— (no established name)"
        rows.append(
            f"| `{desc['id']}` | {_cell(desc['potential'])} | {_cell(desc['index_form'])} | {_cell(desc['field'])} "
            f"| {_cell(name)} | {_cell(desc['cost'])} |"
        )
    return "\n".join(rows) + "\n\n"


def fields_sections(left: str, max_order: int = MAX_ORDER, detail_orders: tuple[int, ...] | None = None) -> list[str]:
    """The document's sections in order: header, counts, then one section per order (ascending; the last
    order last, so a document built with fewer orders is a prefix of the full one)."""
    orders = tuple(range(2, max_order + 1, 2)) if detail_orders is None else detail_orders
    return [fields_header(left, max_order), counts_section(left, max_order),
            *(order_section(left, o, max_order) for o in orders)]


def fields_document(left: str, max_order: int = MAX_ORDER, detail_orders: tuple[int, ...] | None = None) -> str:
    """The whole document; with ``detail_orders`` (--quick) only those orders' families, and a line saying so."""
    text = "".join(fields_sections(left, max_order, detail_orders))
    if detail_orders is not None and tuple(detail_orders) != tuple(range(2, max_order + 1, 2)):
        text += f"(Quick run: the families of orders {', '.join(map(str, detail_orders))} only.)\n"
    return text.rstrip("\n") + "\n"


# ------------------------------------------------------------------------------------------ derivations


def derivation_section(key: str, heading: str, known: str) -> str:
    term = term_from_key(key)
    desc = describe_term(term, field="real")
    tied = derive(term, field="real", tied=True)
    lines = [f"## {heading}: `{key}`", ""]
    lines.append(f"CLI: `archsearch show {key}`")
    lines.append("")
    lines.append(f"- **Potential** V(X) = {desc['potential']}" if desc["has_potential"]
                 else "- **Potential**: none. **Flagged: this field is not the gradient of any potential V.**")
    if "index_form" in desc:
        lines.append(f"  - index form: V(X) = {desc['index_form']}")
    lines.append(f"- **Field** F(X) = ∇_X V = {desc['field']}" if desc["has_potential"]
                 else f"- **Field** (defined directly) F(X) = {desc['field']}")
    lines.append(f"  - {len(tied.branches)} branch(es) (tied weights: {desc['tied_parameters']}; untied: "
                 f"{desc['untied_parameters']} weight matrices):")
    for i, branch in enumerate(tied.branches, start=1):
        lines.append(f"    {i}. {branch_string(tied, branch)}")
    name = recognise(term)
    lines.append(f"- **Recognised as**: {name or '— (no established name)'} ({known})")
    lines.append(f"- **Compiled cost** (dominant terms at the declared sizes): {desc['cost']}")
    lines.append(f"- **Note**: {desc['note']}")
    if key == "lse":
        lines.append("- **The paper versus the full gradient**: the paper's derivation keeps only the first branch, "
                     "P X Wᵀ (standard softmax attention); the table above shows the full gradient of V, "
                     "P X Wᵀ + Pᵀ X W (scaled by 1/√C_A), which is what a tied (potential-exact) block computes.")
    if not desc["has_potential"]:
        lines.append("- **No potential**: CoLU's Jacobian is not symmetric, so no V has this field; the orthogonal "
                     "cone projection (`soc4`, above) is the potential-exact alternative.")
    lines.append("- LaTeX:")
    lines.append(f"  - V = `{desc['potential_latex']}`")
    lines.append(f"  - F = `{desc['field_latex']}`")
    return "\n".join(lines) + "\n\n"


def derivations_document() -> str:
    head = "\n".join([
        "# Derivations: potential → field → known block",
        "",
        f"Generated by `{TABLES_COMMAND}` (the tables part of `{COMMAND}`); deterministic: the same bytes on "
        "every run. Each section is also printed by `archsearch show KEY`.",
        "",
        "Real field, X ∈ ℝ^{N×C}; an edge is G = X W Xᵀ; F(X) = ∇_X V with tied weights (the exact gradient). "
        "Costs are the dominant terms of the compiled block at the CLI's declared sizes.",
        "",
        "| key | potential V(X) | field F(X) | recognised as | has a potential |",
        "| --- | --- | --- | --- | :---: |",
    ])
    rows = []
    sections = []
    for key, heading, known in DERIVATIONS:
        term = term_from_key(key)
        desc = describe_term(term, field="real")
        potential = desc["potential"] if desc["has_potential"] else "none (flagged: not a gradient)"
        rows.append(f"| `{key}` | {_cell(potential)} | {_cell(desc['field'])} | "
                    f"{_cell(recognise(term) or '—')} | {'yes' if desc['has_potential'] else '**no**'} |")
        sections.append(derivation_section(key, heading, known))
    return (head + "\n" + "\n".join(rows) + "\n\n" + "".join(sections)).rstrip("\n") + "\n"


__all__ = [
    "COMMAND",
    "DERIVATIONS",
    "MAX_ORDER",
    "TABLES_COMMAND",
    "CountLine",
    "count_lines",
    "count_table",
    "derivations_document",
    "enumerate_command",
    "fields_document",
    "fields_sections",
]
