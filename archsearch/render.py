"""Rendering of descriptions (archsearch.describe): terminal tables, TSV, CSV, LaTeX (through
archsearch.tabular), the term panel of ``show`` and JSON."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console

from archsearch.tabular import Column, Tabular, render, render_table


def _title(desc: dict[str, Any]) -> str:
    ax = desc["axioms"]
    return (f"{desc['grammar']}: left = {ax['left']}, right = {ax['right']}, field = {ax['field']}, "
            f"orders {ax['min_order']}–{ax['max_order']}, {'connected' if ax['connected'] else 'all'} families, "
            f"weights = {ax['weights']}")


def terms_tabular(desc: dict[str, Any], latex: bool = False) -> Tabular:
    """The listed terms: id, order, V(X), F(X), cost (when planned) and the recognised name. ``latex``: the
    potential and field cells as LaTeX math. At 80 columns the field and then the cost go first."""
    with_cost = any(t["cost"] is not None for t in desc["terms"])  # enumerate --no-cost: no column
    cols = [Column("id", "id", "id", style="cyan"), Column("order", "order", "number"),
            Column("potential", "term V(X)", drop=2), Column("field", "field F(X)", drop=4)]
    cols += [Column("cost", "cost", drop=3)] if with_cost else []
    cols += [Column("name", "recognised as", drop=1, style="green")]
    rows = []
    for t in desc["terms"]:
        name = t["name"] or "—"
        if not t["has_potential"]:
            name += " [no potential]"
        if latex:
            cells = [t["id"], str(t["order"] or "--"), f"${t['potential_latex']}$", f"${t['field_latex']}$"]
            cost = f"${t['cost'].replace('²', '^2').replace('³', '^3')}$" if with_cost else None
        else:
            cells = [t["id"], str(t["order"] or "—"), t["potential"], t["field"]]
            cost = t["cost"]
        rows.append(tuple(cells + ([cost] if with_cost else []) + [name]))
    return Tabular(tuple(cols), tuple(rows), title=_title(desc))


def counts_tabular(desc: dict[str, Any]) -> tuple[Tabular, list[str]]:
    """The diagram counts per order (with the published references and the independence at N, C) and the
    warnings for orders whose diagrams are not independent at the declared sizes."""
    gated = desc["axioms"]["right"] == "none"
    cols = [Column("order", "order", "number"), Column("connected", "connected", "number"),
            Column("all", "all", "number"), Column("published", "published (connected / all)", drop=2)]
    cols += [Column("gated", "gated (right = none)", "number")] if gated else []
    cols += [Column("independent", f"independent at N = {desc['tokens']}, C = {desc['features']}", drop=1)]
    rows, warnings = [], []
    for row in desc["counts"]:
        ref = []
        if row["reference_connected"] is not None:
            mark = "✓" if row["reference_connected"] == row["connected"] else "✗"
            ref.append(f"{row['reference_connected']} {mark} ({row['source_connected']})")
        if row["reference_total"] is not None:
            mark = "✓" if row["reference_total"] == row["total"] else "✗"
            ref.append(f"{row['reference_total']} {mark} ({row['source_total']})")
        cells = [str(row["order"]), str(row["connected"]), str(row["total"]), " / ".join(ref) or "—"]
        cells += [str(row["gated"])] if gated else []
        cells.append(row["stability"])
        rows.append(tuple(cells))
        if row["stable"] is not True:
            warnings.append(f"order {row['order']}: {row['stability']} (N = tokens, C = features: raise them in "
                            "[sizes], or pass --tokens / --features)")
    return Tabular(tuple(cols), tuple(rows), title="diagram counts"), warnings


def family_notes(desc: dict[str, Any]) -> list[str]:
    """"plus 2 named families: lse, f-exp" lines for the terms that are not diagrams."""
    gated = [t["id"] for t in desc["terms"] if t["family"] == "gated"]
    named = [t["id"] for t in desc["terms"] if t["family"] not in ("diagram", "gated")]
    lines = []
    if gated:
        lines.append(f"plus {len(gated)} product(s) of projections (right = none): " + ", ".join(gated))
    if named:
        lines.append(f"plus {len(named)} named famil{'y' if len(named) == 1 else 'ies'}: " + ", ".join(named))
    return lines


def grammar_table(desc: dict[str, Any], console: Console) -> None:
    """The terms and the counts as terminal tables fitted to the console's width, then warnings and notes."""
    render_table(terms_tabular(desc), console)
    counts, warnings = counts_tabular(desc)
    render_table(counts, console)
    for line in warnings:
        console.print(f"[yellow]warning[/yellow]: {line}", highlight=False)
    for line in family_notes(desc):
        console.print(line, highlight=False)


def grammar_text(desc: dict[str, Any], fmt: str) -> tuple[str, list[str]]:
    """The terms as TSV, CSV or LaTeX (id column first in each), and the warnings (for stderr)."""
    _, warnings = counts_tabular(desc)
    if fmt == "latex":
        return render(terms_tabular(desc, latex=True), "latex", raw=("potential", "field", "cost")), warnings
    return render(terms_tabular(desc), fmt), warnings


def term_panel(desc: dict[str, Any], console: Console) -> None:
    console.print(f"[bold]term[/bold] {desc['id']}  ({desc['family']}, field = {desc['field_kind']})")
    console.print(f"  potential   V(X) = {desc['potential']}")
    if "index_form" in desc:
        console.print(f"              V(X) = {desc['index_form']}")
    deriv = "∂V/∂X̄ (Wirtinger)" if desc["field_kind"] == "complex" else "∇_X V"
    if desc["causal"] and desc["tied"] and desc["has_potential"] and not desc["is_gradient"]:
        kind = "tied, causal: not a gradient (the mask makes the field non-conservative)"
    elif desc["is_gradient"]:
        kind = "tied: the exact gradient"
    elif desc["tied"]:
        kind = "tied (shared weights; no potential, so not a gradient)"
    else:
        kind = "untied: one parameter set per branch"
    console.print(f"  field       F(X) = {deriv} = {desc['field']}")
    console.print(f"              {desc['branches']} branch(es), {kind}; "
                  f"{desc['tied_parameters']} weight(s) tied, {desc['untied_parameters']} untied")
    console.print(f"  recognised  {desc['name'] or '— (no established name)'}")
    sym = desc["symmetry"]
    console.print(f"  symmetry    {sym['left_group']}-invariant; centralizer: {'yes' if sym['centralizer'] else 'no'}; "
                  f"field: {' or '.join(sym['fields'])}; potential: {'yes' if sym['potential'] else 'no'}",
                  highlight=False)
    console.print(f"  compiled    {desc['cost']}{' (causal)' if desc['causal'] else ''} at the declared sizes")
    if desc["causal"]:
        console.print(f"  causal      {desc['causal_rule']}", highlight=False)
    if not desc["has_potential"]:
        console.print("  [yellow]no potential[/yellow]: this field is not the gradient of any V")
    if desc["note"]:
        console.print(f"  note        {desc['note']}")
    console.print(f"  LaTeX       V = {desc['potential_latex']}")
    console.print(f"              F = {desc['field_latex']}")
    # plan and source verbatim (never wrapped or cropped: the source must stay runnable when copied)
    if desc.get("plan"):
        console.print("[bold]contraction plan[/bold]")
        console.file.write(desc["plan"] + "\n")
    if desc.get("code"):
        console.print(f"[bold]generated module[/bold] {desc['class_name']}")
        console.file.write(desc["code"] + ("" if desc["code"].endswith("\n") else "\n"))


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)
