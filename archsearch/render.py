"""Rendering of descriptions (archsearch.describe) as rich tables, JSON and LaTeX."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table


def grammar_table(desc: dict[str, Any], console: Console) -> None:
    ax = desc["axioms"]
    title = (
        f"{desc['grammar']}: left = {ax['left']}, right = {ax['right']}, field = {ax['field']}, "
        f"orders {ax['min_order']}–{ax['max_order']}, {'connected' if ax['connected'] else 'all'} families, "
        f"weights = {ax['weights']}"
    )
    table = Table(title=title, show_lines=False, header_style="bold")
    table.add_column("id", style="cyan", no_wrap=True)
    table.add_column("order", justify="right")
    table.add_column("term V(X)")
    table.add_column("field F(X)")
    with_cost = any(t["cost"] is not None for t in desc["terms"])  # enumerate --no-cost: no column
    if with_cost:
        table.add_column("cost", no_wrap=True)
    table.add_column("recognised as", style="green")
    for t in desc["terms"]:
        name = t["name"] or "—"
        if not t["has_potential"]:
            name += " [no potential]"
        cells = [t["id"], str(t["order"] or "—"), t["potential"], t["field"]] + ([t["cost"]] if with_cost else [])
        table.add_row(*cells, name)
    console.print(table)
    counts = Table(title="diagram counts", header_style="bold")
    gated = desc["axioms"]["right"] == "none"
    columns = ["order", "connected", "all", "published (connected / all)"]
    columns += ["gated (right = none)"] if gated else []
    columns += [f"independent at N = {desc['tokens']}, C = {desc['features']}"]
    for col in columns:
        counts.add_column(col, justify="left" if col.startswith(("published", "independent")) else "right")
    warnings = []
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
        counts.add_row(*cells)
        if row["stable"] is not True:
            warnings.append(f"order {row['order']}: {row['stability']}")
    console.print(counts)
    for line in warnings:
        console.print(f"[yellow]warning[/yellow]: {line} (N = tokens, C = features: raise them in [sizes], "
                      "or pass --tokens / --features)", highlight=False)
    gated = [t["id"] for t in desc["terms"] if t["family"] == "gated"]
    named = [t["id"] for t in desc["terms"] if t["family"] not in ("diagram", "gated")]
    if gated:
        console.print(f"plus {len(gated)} product(s) of projections (right = none): " + ", ".join(gated))
    if named:
        console.print(f"plus {len(named)} named famil{'y' if len(named) == 1 else 'ies'}: " + ", ".join(named))


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


def grammar_latex(desc: dict[str, Any]) -> str:
    with_cost = any(t["cost"] is not None for t in desc["terms"])
    lines = [
        r"\begin{tabular}{lllll}" if with_cost else r"\begin{tabular}{llll}",
        r"\hline",
        r"order & $V(X)$ & $F(X)$ & " + (r"cost & " if with_cost else "") + r"recognised as \\",
        r"\hline",
    ]
    for t in desc["terms"]:
        name = (t["name"] or "--") + ("" if t["has_potential"] else " (no potential)")
        cost = f" & ${t['cost'].replace('²', '^2').replace('³', '^3')}$" if with_cost else ""
        lines.append(f"{t['order'] or '--'} & ${t['potential_latex']}$ & ${t['field_latex']}${cost} & {name} \\\\")
    lines += [r"\hline", r"\end{tabular}"]
    return "\n".join(lines)


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)
