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


def columns(ref: StudyRef) -> list[tuple[str, str]]:
    """(key, header) of the leaderboard's display columns; one column per objective value."""
    cols = [("rank", "#"), ("number", "trial")]
    cols += [(f"value:{i}", ref.objectives[i] if ref.objectives[i] != "metric" else f"val {ref.metric}")
             for i in range(len(ref.directions)) if ref.objectives[i] not in ("flops", "params")]  # shown below
    if ref.confirmed:
        cols.append(("confirmed", f"confirmed {ref.metric} (mean ± std, seeds)"))
    cols += [("test_metric", f"test {ref.metric}"), ("terms", "terms"), ("n_params", "params"),
             ("flops", "FLOPs"), ("gap", "vs baseline"), ("wall_time", "wall s"),
             ("device", "device"), ("duplicate_of", "dup of")]
    return cols


def cell(row: dict[str, Any], key: str) -> str:
    """The display text of one leaderboard cell."""
    if key.startswith("value:"):
        return format_value(row["values"][int(key.split(":")[1])])
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
    """The leaderboard as an HTML table (escaped)."""
    cols = columns(ref)
    head = "".join(f"<th>{html.escape(h)}</th>" for _, h in cols)
    body = []
    for row in rows:
        cells = "".join(f"<td>{html.escape(cell(row, k))}</td>" for k, _ in cols)
        body.append(f"<tr{' class=pareto' if row.get('pareto') else ''}>{cells}</tr>")
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n" + "\n".join(body) + "\n</tbody>\n</table>"


#: display columns, the first dropped first when the terminal is too narrow for all
_DROP_ORDER = ("rank", "device", "duplicate_of", "wall_time", "test_metric", "gap", "n_params", "flops", "confirmed")
_TERMS_MIN = 24  # the terms column folds; it keeps at least this many characters


def fitting_columns(cols: list[tuple[str, str]], rows: list[dict[str, Any]], width: int) -> list[tuple[str, str]]:
    """The columns that fit in ``width`` characters: the low-priority ones (_DROP_ORDER) go first."""
    def need(key: str, header: str) -> int:
        longest = max([len(w) for w in header.split()] + [len(cell(r, key)) for r in rows], default=1)
        return (min(longest, _TERMS_MIN) if key == "terms" else longest) + 3

    kept = list(cols)
    for key in _DROP_ORDER:
        if sum(need(k, h) for k, h in kept) + 1 <= width:
            break
        kept = [(k, h) for k, h in kept if k != key]
    return kept


def rich_table(ref: StudyRef, rows: list[dict[str, Any]], width: int | None = None) -> Any:
    """The leaderboard as a rich Table of distinct configurations (a repeated proposal, which reused a
    result, is left out), with the columns that fit in ``width`` (default: the terminal's)."""
    import shutil

    from rich.table import Table

    multi = len(ref.directions) > 1
    directions = ", ".join(f"{o} {d}" for o, d in zip(ref.objectives, ref.directions, strict=True))
    shown = [r for r in rows if r.get("duplicate_of") is None]
    title = f"study {ref.name}: {directions}" + (" (* Pareto-optimal)" if multi else "")
    if any(r.get("gap") is not None for r in shown):
        title += "; vs baseline: better (+) than the best baseline with no more FLOPs"
    width = width or shutil.get_terminal_size((120, 24)).columns
    cols = fitting_columns([c for c in columns(ref) if c[0] != "duplicate_of"], shown, width)
    table = Table(title=title, title_justify="left")
    for key, header in cols:
        table.add_column(header, justify="left" if key in ("terms", "device") else "right",
                         overflow="fold" if key == "terms" else "ellipsis", no_wrap=key != "terms")
    for row in shown:
        table.add_row(*(cell(row, k) for k, _ in cols))
    return table
