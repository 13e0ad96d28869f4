"""The leaderboard of a study: its best COMPLETE trials as JSON-able rows (and the HTML/rich renderings)."""

from __future__ import annotations

import html
import math
import os
from typing import Any

from archsearch.report.studies import StudyRef, complete_trials, open_study
from archsearch.tabular import Column, Tabular, render, render_table


def recognised_names(term_ids: list[str] | tuple[str, ...]) -> list[str | None]:
    """The known architecture each term is (``recognise``), None for a term without an established name."""
    from archsearch.enumeration import recognise
    from archsearch.terms import term_from_key

    out: list[str | None] = []
    for key in term_ids:
        try:
            out.append(recognise(term_from_key(key)))
        except ValueError:
            out.append(None)
    return out


def leaderboard(study: Any, top: int | None = 20, *, storage: str | None = None,
                results_dir: str | os.PathLike[str] = "results", include_duplicates: bool = True
                ) -> list[dict[str, Any]]:
    """The ``top`` best COMPLETE trials (all with None), best first.

    Single objective: by value. Several objectives: the Pareto-optimal trials first, then by the first
    objective (``archsearch.search.study.leaderboard``). Each row: rank, number, state, values, objectives,
    term_ids, names (recognised architecture per term, or None), forms (canonical potentials), term_names
    (name or form), n_params, flops, wall_time, test_metric, device, duplicate_of (the trial whose result
    was reused), pareto, params. ``study``: a name (with ``storage``/``results_dir``), an Optuna study or a
    :class:`StudyRef`. A ResultsError when the study has no COMPLETE trial.
    """
    from archsearch.search.results import leaderboard as ranked

    ref = open_study(study, storage, results_dir)
    complete_trials(ref)  # raises when there is nothing to rank
    rows = [row.to_dict() for row in ranked(ref.study, top, ref.confirmed, include_duplicates)]
    out = []
    for rank, row in enumerate(rows, start=1):
        term_ids = list(row.pop("terms"))
        out.append({"rank": rank, "number": row.pop("number"), "state": "COMPLETE", "values": row.pop("values"),
                    "objectives": row.pop("objectives"), "term_ids": term_ids, "names": recognised_names(term_ids),
                    **row})
    return out


def format_value(value: Any) -> str:
    """A compact human form: 4 significant digits, thousands as k/M/G for large integers; '—' for None."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) >= 1e4):
        v = float(value)
        for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
            if abs(v) >= scale:
                return f"{v / scale:.3g}{unit}"
        return str(int(v))
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        return f"{value:.4g}"
    return str(value)


#: hyper-parameter columns: (key in the row's ``hyper``, header)
HYPER_COLUMNS = (("width", "width"), ("depth", "depth"), ("heads", "heads"), ("rank", "rank"), ("step", "h"),
                 ("lr", "lr"))


def columns(ref: StudyRef) -> list[Column]:
    """The leaderboard's display columns, one per objective value and hyper-parameter. ``drop``: the order in
    which a narrow terminal loses them (highest first); the trial number, values and terms always stay."""
    cols = [Column("rank", "#", "number", drop=11), Column("number", "trial", "number")]
    cols += [Column(f"value:{i}", ref.objectives[i] if ref.objectives[i] != "metric" else f"val {ref.metric}",
                    "number")
             for i in range(len(ref.directions)) if ref.objectives[i] not in ("flops", "params")]  # shown below
    if ref.confirmed:
        cols.append(Column("confirmed", f"confirmed {ref.metric} (mean ± std, seeds)", "number", drop=3))
    cols += [Column("test_metric", f"test {ref.metric}", "number", drop=10), Column("terms", "terms"),
             Column("n_params", "params", "number", drop=3), Column("flops", "FLOPs", "number", drop=2),
             Column("gap", "vs baseline", drop=4)]
    hyper_drop = {"width": 1, "depth": 1, "heads": 7, "rank": 8, "step": 6, "lr": 5}
    cols += [Column(f"hyper:{key}", header, "number", drop=hyper_drop[key]) for key, header in HYPER_COLUMNS]
    cols += [Column("wall_time", "wall s", "number", drop=9), Column("device", "device", "id", drop=12),
             Column("duplicate_of", "dup of", "number", drop=12)]
    return cols


def cell(row: dict[str, Any], key: str) -> str:
    """The display text of one leaderboard cell."""
    if key.startswith("value:"):
        return format_value(row["values"][int(key.split(":")[1])])
    if key.startswith("hyper:"):
        value = (row.get("hyper") or {}).get(key.split(":", 1)[1])
        return "full" if key == "hyper:rank" and value is None and row.get("hyper") else format_value(value)
    if key == "terms" and not row.get("baseline"):
        return cell_terms(row)
    if key == "number" and row.get("pareto"):
        return f"{row['number']}*"
    if key == "terms" and row.get("baseline"):
        return f"baseline {row['baseline']}: {cell_terms(row)}"
    if key == "confirmed":
        c = row.get("confirmed")
        return f"{c['mean']:.4g} ± {c['std']:.2g} ({len(c['seeds'])})" if c else "—"
    if key == "gap":
        gap = row.get("gap")
        return f"{gap:+.3g} ({row['gap_to']})" if gap is not None else "—"
    return format_value(row.get(key))


def cell_terms(row: dict[str, Any]) -> str:
    """The terms of a row, named where they have a name: ``linear MLP [0-0] + …``; per step when they differ."""
    named = {tid: (f"{name} [{tid}]" if name else tid) for tid, name in zip(row["term_ids"], row["names"],
                                                                            strict=True)}
    if row.get("layers"):
        return " | ".join(" + ".join(named[t] for t in layer) for layer in row["layers"])
    return " + ".join(named[t] for t in row["term_ids"])


def html_table(ref: StudyRef, rows: list[dict[str, Any]]) -> str:
    """The leaderboard as an HTML table (escaped): every column of :func:`columns`."""
    cols = columns(ref)
    head = "".join(f"<th>{html.escape(c.header)}</th>" for c in cols)
    body = []
    for row in rows:
        cells = "".join(f"<td>{html.escape(cell(row, c.key))}</td>" for c in cols)
        body.append(f"<tr{' class=pareto' if row.get('pareto') else ''}>{cells}</tr>")
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n" + "\n".join(body) + "\n</tbody>\n</table>"


def leaderboard_tabular(ref: StudyRef, rows: list[dict[str, Any]], *, distinct: bool = True,
                        plain: bool = False) -> Tabular:
    """The leaderboard as a :class:`~archsearch.tabular.Tabular` — what ``leaderboard``, ``search`` and
    ``confirm`` print in every format. ``distinct``: a repeated proposal (which reused a result) is left out
    and so is the "dup of" column. ``plain`` (TSV, CSV, LaTeX): the trial number first and bare, Pareto
    optimality in a column of its own, no rank column (the rows are in rank order)."""
    multi = len(ref.directions) > 1
    directions = ", ".join(f"{o} {d}" for o, d in zip(ref.objectives, ref.directions, strict=True))
    shown = [r for r in rows if r.get("duplicate_of") is None] if distinct else rows
    title = f"study {ref.name}: {directions}" + (" (* Pareto-optimal)" if multi else "")
    if any(r.get("gap") is not None for r in shown):
        title += "; vs baseline: better (+) than the best baseline with no more FLOPs"
    cols = [c for c in columns(ref) if not (distinct and c.key == "duplicate_of")]
    if plain:
        cols = [c for c in cols if c.key != "rank"] + ([Column("pareto", "pareto", "id")] if multi else [])
        shown = [{**r, "pareto": False, "pareto_optimal": "yes" if r.get("pareto") else "no"} for r in shown]
    cells = tuple(tuple(row["pareto_optimal"] if c.key == "pareto" else cell(row, c.key) for c in cols)
                  for row in shown)
    return Tabular(tuple(cols), cells, title=title)


def print_leaderboard(ref: StudyRef, rows: list[dict[str, Any]], fmt: str, console: Any, *,
                      distinct: bool = True) -> None:
    """Print the leaderboard in ``fmt`` (table, tsv, csv, latex) on a rich console."""
    table = leaderboard_tabular(ref, rows, distinct=distinct, plain=fmt != "table")
    if fmt == "table":
        render_table(table, console)
    else:
        console.file.write(render(table, fmt) + "\n")
