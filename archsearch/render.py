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
    table.add_column("cost", no_wrap=True)
    table.add_column("recognised as", style="green")
    for t in desc["terms"]:
        name = t["name"] or "—"
        if not t["has_potential"]:
            name += " [no potential]"
        table.add_row(t["id"], str(t["order"] or "—"), t["potential"], t["field"], t["cost"], name)
    console.print(table)
    counts = Table(title="diagram counts", header_style="bold")
    for col in ("order", "connected", "all", "published (connected / all)", "stable at N"):
        counts.add_column(col, justify="right" if col != "published (connected / all)" else "left")
    for row in desc["counts"]:
        ref = []
        if row["reference_connected"] is not None:
            mark = "✓" if row["reference_connected"] == row["connected"] else "✗"
            ref.append(f"{row['reference_connected']} {mark} ({row['source_connected']})")
        if row["reference_total"] is not None:
            mark = "✓" if row["reference_total"] == row["total"] else "✗"
            ref.append(f"{row['reference_total']} {mark} ({row['source_total']})")
        counts.add_row(
            str(row["order"]),
            str(row["connected"]),
            str(row["total"]),
            " / ".join(ref) or "—",
            f"N = {desc['tokens']}: " + ("yes" if row["stable"] else "no — identities between terms"),
        )
    console.print(counts)
    others = [t for t in desc["terms"] if t["family"] != "diagram"]
    if others:
        console.print(f"plus {len(others)} named non-polynomial term(s): " + ", ".join(t["id"] for t in others))


def term_panel(desc: dict[str, Any], console: Console) -> None:
    console.print(f"[bold]term[/bold] {desc['id']}  ({desc['family']}, field = {desc['field_kind']})")
    console.print(f"  potential   V(X) = {desc['potential']}")
    if "index_form" in desc:
        console.print(f"              V(X) = {desc['index_form']}")
    deriv = "∂V/∂X̄ (Wirtinger)" if desc["field_kind"] == "complex" else "∇_X V"
    kind = "tied: the exact gradient" if desc["tied"] else "untied: one parameter set per branch"
    console.print(f"  field       F(X) = {deriv} = {desc['field']}")
    console.print(f"              {desc['branches']} branch(es), {kind}; "
                  f"{desc['tied_parameters']} weight(s) tied, {desc['untied_parameters']} untied")
    console.print(f"  recognised  {desc['name'] or '— (no established name)'}")
    console.print(f"  compiled    {desc['cost']}{' (causal)' if desc['causal'] else ''} at the declared sizes")
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
    lines = [
        r"\begin{tabular}{lllll}",
        r"\hline",
        r"order & $V(X)$ & $F(X)$ & cost & recognised as \\",
        r"\hline",
    ]
    for t in desc["terms"]:
        name = (t["name"] or "--") + ("" if t["has_potential"] else " (no potential)")
        cost = t["cost"].replace("²", "^2").replace("³", "^3")
        lines.append(f"{t['order'] or '--'} & ${t['potential_latex']}$ & ${t['field_latex']}$ & ${cost}$ & {name} \\\\")
    lines += [r"\hline", r"\end{tabular}"]
    return "\n".join(lines)


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)
