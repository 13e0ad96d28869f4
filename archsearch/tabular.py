"""One formatter for every table archsearch prints: a :class:`Tabular` rendered as a terminal table that fits
the width, or as TSV, CSV or LaTeX.

    table = Tabular(columns=(Column("id", "id", kind="id"), Column("order", "order", kind="number"), …),
                    rows=(("0-0", "2", …), …), title="…")
    print(render(table, "tsv"))            # plain: one header line, one line per row, tab-separated
    render_table(table, console)           # rich, fitted to console.width

Fitting a terminal: ``id`` and ``number`` columns are never wrapped nor cut (no ellipsis: an id is copied from
here into ``archsearch show``); ``text`` columns wrap; when even that does not fit, the columns with the highest
``drop`` rank are left out first (a note on stderr says which). ``auto`` is the table on a terminal and TSV in
a pipe, so ``archsearch enumerate | cut -f1`` lists the ids.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FORMATS", "Column", "Tabular", "choose_format", "fit_columns", "render", "render_table"]

FORMATS = ("auto", "table", "tsv", "csv", "json", "latex")
KINDS = ("id", "number", "text")
TEXT_MIN = 12  # a wrapped text column keeps at least this many characters a line
BORDER = 3  # what rich adds per column (a separator and a space each side)


@dataclass(frozen=True)
class Column:
    """One column: ``key`` (its name in CSV/TSV headers is ``header``), ``kind`` (id and number columns are
    never wrapped or cut; text wraps), ``drop``: 0 keeps it always, higher ranks are dropped first when the
    terminal is too narrow."""

    key: str
    header: str
    kind: str = "text"
    drop: int = 0
    style: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"column kind must be one of {KINDS}, not {self.kind!r}")


@dataclass(frozen=True)
class Tabular:
    """Columns, rows of display text (one string per column), a title and notes printed after a table."""

    columns: tuple[Column, ...]
    rows: tuple[tuple[str, ...], ...]
    title: str = ""
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(f"a row has {len(row)} cells for {len(self.columns)} columns")

    def column(self, key: str) -> list[str]:
        """The cells of column ``key``."""
        i = [c.key for c in self.columns].index(key)
        return [row[i] for row in self.rows]

    def select(self, keys: Sequence[str]) -> Tabular:
        """The same table with only the columns ``keys`` (in the table's order)."""
        idx = [i for i, c in enumerate(self.columns) if c.key in keys]
        return Tabular(tuple(self.columns[i] for i in idx), tuple(tuple(r[i] for i in idx) for r in self.rows),
                       self.title, self.notes)


def choose_format(fmt: str, stream: Any = None) -> str:
    """``auto`` → ``table`` on a terminal, ``tsv`` in a pipe or a file; any other format as given."""
    if fmt != "auto":
        return fmt
    stream = stream if stream is not None else sys.stdout
    isatty = getattr(stream, "isatty", None)
    return "table" if isatty is not None and isatty() else "tsv"


def _plain(text: str) -> str:
    return " ".join(str(text).split())


def to_tsv(table: Tabular) -> str:
    """A header line and one line per row; tabs and newlines inside a cell become spaces."""
    lines = ["\t".join(_plain(c.header) for c in table.columns)]
    lines += ["\t".join(_plain(cell) for cell in row) for row in table.rows]
    return "\n".join(lines)


def to_csv(table: Tabular) -> str:
    """RFC 4180 CSV (quoted where needed), header first."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([c.header for c in table.columns])
    writer.writerows(table.rows)
    return buf.getvalue().rstrip("\n")


_LATEX_SPECIAL = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
                  "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}"}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def to_latex(table: Tabular, raw: Sequence[str] = ()) -> str:
    """A ``tabular`` environment; cells of the columns in ``raw`` are LaTeX already (math), others escaped."""
    spec = "".join("r" if c.kind == "number" else "l" for c in table.columns)
    lines = [rf"\begin{{tabular}}{{{spec}}}", r"\hline",
             " & ".join(latex_escape(c.header) for c in table.columns) + r" \\", r"\hline"]
    for row in table.rows:
        cells = [cell if c.key in raw else latex_escape(cell) for c, cell in zip(table.columns, row, strict=True)]
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\hline", r"\end{tabular}"]
    return "\n".join(lines)


def render(table: Tabular, fmt: str, raw: Sequence[str] = ()) -> str:
    """The text of ``table`` in ``fmt``: tsv, csv or latex (the table format needs a console: render_table)."""
    if fmt == "tsv":
        return to_tsv(table)
    if fmt == "csv":
        return to_csv(table)
    if fmt == "latex":
        return to_latex(table, raw)
    raise ValueError(f"render: no text rendering for format {fmt!r}")


def _need(col: Column, cells: list[str]) -> int:
    """Characters a column needs: its longest cell and whole header (id, number), or TEXT_MIN and its longest
    header word (text)."""
    header = max((len(w) for w in col.header.split()), default=1)
    if col.kind != "text":  # rich does not wrap a no_wrap column's header either
        header = len(col.header)
    if col.kind == "text":
        longest_word = max((len(w) for cell in cells for w in str(cell).split()), default=1)
        return max(header, min(TEXT_MIN, max((len(c) for c in cells), default=1)), min(longest_word, TEXT_MIN))
    return max(header, max((len(c) for c in cells), default=1))


def fit_columns(table: Tabular, width: int) -> Tabular:
    """The table with as many columns as fit ``width`` characters: those with the highest ``drop`` rank go first
    (rank 0 stays always)."""
    kept = list(table.columns)
    ranks = sorted({c.drop for c in kept if c.drop > 0}, reverse=True)

    def total(cols: list[Column]) -> int:
        return sum(_need(c, table.column(c.key)) + BORDER for c in cols) + 1

    for rank in ranks:
        if total(kept) <= width:
            break
        kept = [c for c in kept if c.drop != rank]
    return table.select([c.key for c in kept])


def _text_widths(table: Tabular, width: int) -> dict[str, int]:
    """A fixed width for each text column: what it needs, plus a share of the room left (up to its longest cell)
    — so the whole table fits ``width`` and rich never crops its right edge (id and number columns keep their
    full width)."""
    cols = list(table.columns)
    need = {c.key: _need(c, table.column(c.key)) for c in cols}
    room = width - (sum(need.values()) + BORDER * len(cols) + 1)
    widths = {c.key: need[c.key] for c in cols if c.kind == "text"}
    natural = {c.key: max([len(c.header)] + [len(cell) for cell in table.column(c.key)]) for c in cols
               if c.kind == "text"}
    while room > 0:
        growing = [k for k in widths if widths[k] < natural[k]]
        if not growing:
            break
        share = max(1, room // len(growing))
        for k in growing:
            add = min(share, natural[k] - widths[k], room)
            widths[k] += add
            room -= add
    return widths


def render_table(table: Tabular, console: Any, width: int | None = None) -> list[str]:
    """Print ``table`` on a rich ``console`` fitted to ``width`` (default the console's); return the headers of
    the columns left out."""
    from rich.table import Table

    width = width or console.width
    fitted = fit_columns(table, width)
    dropped = [c.header for c in table.columns if c not in fitted.columns]
    out = Table(title=table.title or None, title_justify="left", header_style="bold")
    text_widths = _text_widths(fitted, width)
    for col in fitted.columns:
        cells = fitted.column(col.key)
        if col.kind == "text":
            out.add_column(col.header, overflow="fold", style=col.style, width=text_widths[col.key])
        else:
            out.add_column(col.header, no_wrap=True, justify="right" if col.kind == "number" else "left",
                           min_width=_need(col, cells), style=col.style)
    for row in fitted.rows:
        out.add_row(*row)
    console.print(out, width=width)
    for note in table.notes:
        console.print(note, highlight=False, soft_wrap=False)
    return dropped
