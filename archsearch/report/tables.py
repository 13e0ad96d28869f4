"""The leaderboard of a study: its best COMPLETE trials as JSON-able rows (and the HTML/rich renderings)."""

from __future__ import annotations

import html
import math
import os
from typing import Any

from archsearch.report.studies import StudyRef, complete_trials, open_study


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
                results_dir: str | os.PathLike[str] = "results") -> list[dict[str, Any]]:
    """The ``top`` best COMPLETE trials (all with None), best first.

    Single objective: by value. Several objectives: the Pareto-optimal trials first, then by the first
    objective (``archsearch.search.study.leaderboard``). Each row: rank, number, state, values, objectives,
    term_ids, names (recognised architecture per term, or None), forms (canonical potentials), term_names
    (name or form), n_params, flops, wall_time, test_metric, device, duplicate_of (the trial whose result
    was reused), pareto, params. ``study``: a name (with ``storage``/``results_dir``), an Optuna study or a
    :class:`StudyRef`. A ResultsError when the study has no COMPLETE trial.
    """
    from archsearch.search.study import leaderboard as ranked

    ref = open_study(study, storage, results_dir)
    complete_trials(ref)  # raises when there is nothing to rank
    rows = ranked(ref.study, top)
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


def columns(ref: StudyRef) -> list[tuple[str, str]]:
    """(key, header) of the leaderboard's display columns; one column per objective value."""
    cols = [("rank", "#"), ("number", "trial")]
    cols += [(f"value:{i}", ref.objectives[i] if ref.objectives[i] != "metric" else f"val {ref.metric}")
             for i in range(len(ref.directions)) if ref.objectives[i] not in ("flops", "params")]  # shown below
    cols += [("test_metric", f"test {ref.metric}"), ("terms", "terms"), ("n_params", "params"),
             ("flops", "FLOPs"), ("wall_time", "wall s"), ("device", "device"), ("duplicate_of", "dup of")]
    return cols


def cell(row: dict[str, Any], key: str) -> str:
    """The display text of one leaderboard cell."""
    if key.startswith("value:"):
        return format_value(row["values"][int(key.split(":")[1])])
    if key == "terms":
        parts = []
        for tid, name in zip(row["term_ids"], row["names"], strict=True):
            parts.append(f"{name} [{tid}]" if name else tid)
        return " + ".join(parts)
    if key == "number" and row.get("pareto"):
        return f"{row['number']}*"
    return format_value(row.get(key))


def html_table(ref: StudyRef, rows: list[dict[str, Any]]) -> str:
    """The leaderboard as an HTML table (escaped)."""
    cols = columns(ref)
    head = "".join(f"<th>{html.escape(h)}</th>" for _, h in cols)
    body = []
    for row in rows:
        cells = "".join(f"<td>{html.escape(cell(row, k))}</td>" for k, _ in cols)
        body.append(f"<tr{' class=pareto' if row.get('pareto') else ''}>{cells}</tr>")
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n" + "\n".join(body) + "\n</tbody>\n</table>"


def rich_table(ref: StudyRef, rows: list[dict[str, Any]]) -> Any:
    """The leaderboard as a rich Table."""
    from rich.table import Table

    multi = len(ref.directions) > 1
    directions = ", ".join(f"{o} {d}" for o, d in zip(ref.objectives, ref.directions, strict=True))
    title = f"study {ref.name}: {directions}" + (" (* Pareto-optimal)" if multi else "")
    table = Table(title=title, title_justify="left")
    for key, header in columns(ref):
        table.add_column(header, justify="left" if key in ("terms", "device") else "right",
                         overflow="fold" if key == "terms" else "ellipsis")
    for row in rows:
        table.add_row(*(cell(row, k) for k, _ in columns(ref)))
    return table
