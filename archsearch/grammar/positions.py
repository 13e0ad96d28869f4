"""TOML with source positions: ``tomllib`` plus a key-position index.

``tomllib`` turns a document into plain dicts and lists and keeps no source positions, yet grammar-file
errors are reported as ``path:line:column: error: message``. :func:`parse_toml` therefore parses the text
with ``tomllib`` and then walks the same text once more with a small scanner (the text is known to be
valid TOML by then, so the scanner only has to find token boundaries, not to validate) that records where
every key, value, array element and table is written, in a :class:`PositionIndex`.

Paths are tuples of keys, with ints for array indices: ``("a", 0)`` is element 0 of the array ``a`` and
``("fruit", 1, "name")`` the key ``name`` of the second ``[[fruit]]`` table (arrays of tables use the same
int-index convention; an entry of an array of tables is a table, recorded by :meth:`PositionIndex.table`).
Lines and columns are 1-based; columns count characters (a tab is one column) and ``\\r\\n`` ends a line.
Invalid TOML raises :class:`TomlSyntaxError` at tomllib's own position.
"""

from __future__ import annotations

import re
import sys
from bisect import bisect_right
from dataclasses import dataclass
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["KeyPath", "Position", "PositionIndex", "TomlSyntaxError", "parse_toml"]

KeyPath = tuple[str | int, ...]

_SUFFIX = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)\s*$")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_SPACE_TIME = re.compile(r" \d{2}:")  # "1979-05-27 07:32:00": a space may separate date and time
_SCALAR_END = frozenset(" \t\r\n,]}#")
_BARE_KEY_END = frozenset(" \t\r\n.=[]{}\"'#,")


class TomlSyntaxError(Exception):
    """Invalid TOML at 1-based ``line`` and ``column``; ``message`` is tomllib's one-line text."""

    def __init__(self, line: int, column: int, message: str) -> None:
        super().__init__(f"{message} (line {line}, column {column})")
        self.line, self.column, self.message = line, column, message


@dataclass(frozen=True)
class Position:
    """A 1-based line and column (columns in characters)."""

    line: int
    column: int


class PositionIndex:
    """Where the keys, values, array elements and tables of one document are written."""

    def __init__(self) -> None:
        self._keys: dict[KeyPath, Position] = {}
        self._values: dict[KeyPath, Position] = {}
        self._tables: dict[KeyPath, Position] = {}

    def key(self, path: KeyPath) -> Position | None:
        """Where the last component of ``path`` is written (its first mention, for a table's key); for an
        entry ``("fruit", i)`` of an array of tables, the name ``fruit`` in its ``[[...]]`` header."""
        return self._keys.get(tuple(path))

    def value(self, path: KeyPath) -> Position | None:
        """The first character of the value at ``path`` (an opening quote, ``[``, ``{``, a digit, ...);
        array elements have paths ending in their index. ``[header]`` tables and arrays of tables have no
        value position: see :meth:`table`."""
        return self._values.get(tuple(path))

    def element(self, path: KeyPath, i: int) -> Position | None:
        """The first character of element ``i`` of the array at ``path`` (for an array of tables: the
        ``i``-th table's header name)."""
        full = (*path, i)
        return self._values.get(full) or self._tables.get(full)

    def table(self, path: KeyPath) -> Position | None:
        """The start of the header name of the table at ``path`` (the ``a`` of ``[a.b]`` or ``[[a.b]]``).
        A table created implicitly (by a dotted key ``a.b = 1``, or ``a`` by ``[a.b]``) is at its first
        mention unless a ``[header]`` defines it later; an inline table is at its ``{``."""
        return self._tables.get(tuple(path))

    def paths(self) -> list[KeyPath]:
        """Every path that has a :meth:`key` position (keys, tables, array-of-tables entries), in
        document order of first mention. Array elements other than tables are not keys."""
        return list(self._keys)


def parse_toml(text: str) -> tuple[dict[str, Any], PositionIndex]:
    """``tomllib.loads(text)`` plus the positions of its keys, values, array elements and tables.

    Raises :class:`TomlSyntaxError` (line, column, message) for invalid TOML."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _syntax_error(text, exc) from None
    return data, _Scanner(text).run()


def _syntax_error(text: str, exc: Exception) -> TomlSyntaxError:
    message = str(getattr(exc, "msg", None) or exc)
    match = _SUFFIX.search(message)
    if match:
        message = message[: match.start()]
    message = " ".join(part.strip() for part in message.strip().splitlines())
    line, column = getattr(exc, "lineno", None), getattr(exc, "colno", None)
    if not (isinstance(line, int) and isinstance(column, int)):
        if match and match.group(1):
            line, column = int(match.group(1)), int(match.group(2))
        else:  # "(at end of document)": just after the last character
            end = _position(_line_starts(text), len(text))
            line, column = end.line, end.column
    return TomlSyntaxError(line, column, message)


def _line_starts(text: str) -> list[int]:
    return [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]


def _position(starts: list[int], i: int) -> Position:
    line = bisect_right(starts, i)
    return Position(line, i - starts[line - 1] + 1)


class _Scanner:
    """One pass over valid TOML text, recording positions into a :class:`PositionIndex`."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.index = PositionIndex()
        self._starts = _line_starts(text)
        self._tables_in_arrays: dict[KeyPath, int] = {}  # array-of-tables path -> number of entries so far

    def pos(self, i: int) -> Position:
        return _position(self._starts, i)

    def at(self, s: str) -> bool:
        return self.text.startswith(s, self.i)

    def skip(self, blank: bool = False) -> None:
        """Skip spaces and tabs; with ``blank`` also newlines and comments."""
        text = self.text
        while self.i < len(text):
            c = text[self.i]
            if c in " \t" or (blank and c in "\r\n"):
                self.i += 1
            elif blank and c == "#":
                end = text.find("\n", self.i)
                self.i = len(text) if end < 0 else end
            else:
                return

    def run(self) -> PositionIndex:
        table: KeyPath = ()
        while True:
            self.skip(blank=True)
            if self.i >= len(self.text):
                return self.index
            if self.at("["):
                table = self.header()
            else:
                self.pair(table)

    def header(self) -> KeyPath:
        """``[a.b]`` or ``[[a.b]]``: record it and return the path of the table it opens."""
        many = self.at("[[")
        self.i += 2 if many else 1
        parts = self.dotted_key()
        self.i += 2 if many else 1
        keys, tables = self.index._keys, self.index._tables
        path: KeyPath = ()
        for name, at in parts[:-1]:
            path += (name,)
            keys.setdefault(path, at)
            if path in self._tables_in_arrays:  # [[fruit]] then [fruit.x]: x is in the last fruit
                path += (self._tables_in_arrays[path] - 1,)
            tables.setdefault(path, at)
        name, at = parts[-1]
        path += (name,)
        keys.setdefault(path, at)
        if many:
            count = self._tables_in_arrays[path] = self._tables_in_arrays.get(path, 0) + 1
            path += (count - 1,)
            keys[path] = at
        tables[path] = parts[0][1]  # a header defines the table, even one already created implicitly
        return path

    def pair(self, base: KeyPath) -> None:
        """``key = value`` (``key`` possibly dotted) in the table at ``base``."""
        parts = self.dotted_key()
        path = base
        for n, (name, at) in enumerate(parts):
            path += (name,)
            self.index._keys.setdefault(path, at)
            if n < len(parts) - 1:
                self.index._tables.setdefault(path, at)
        self.i += 1  # "="
        self.skip()
        self.value(path)

    def dotted_key(self) -> list[tuple[str, Position]]:
        """Key components (unquoted, unescaped) with their positions; stops after trailing blanks."""
        text, parts = self.text, []
        while True:
            self.skip()
            start = self.i
            if text[start] in "\"'":
                end = self.string_end(start)
                raw = text[start:end]
                name = raw[1:-1] if raw[0] == "'" else tomllib.loads(f"k = {raw}")["k"]
            else:
                end = start
                while end < len(text) and text[end] not in _BARE_KEY_END:
                    end += 1
                name = text[start:end]
            parts.append((name, self.pos(start)))
            self.i = end
            self.skip()
            if not self.at("."):
                return parts
            self.i += 1

    def value(self, path: KeyPath) -> None:
        at = self.index._values[path] = self.pos(self.i)
        c = self.text[self.i]
        if c in "\"'":
            self.i = self.string_end(self.i)
            return
        if c not in "[{":
            self.i = self.scalar_end(self.i)
            return
        self.i += 1
        if c == "{":
            self.index._tables.setdefault(path, at)
        close, n = "]" if c == "[" else "}", 0
        while True:
            self.skip(blank=True)
            if self.at(close):
                self.i += 1
                return
            if c == "[":
                self.value((*path, n))
                n += 1
            else:
                self.pair(path)
            self.skip(blank=True)
            if self.at(","):
                self.i += 1

    def string_end(self, start: int) -> int:
        """The index just after the string (any of the four kinds) that opens at ``start``."""
        text, quote = self.text, self.text[start]
        multi = text.startswith(quote * 3, start)
        j = start + (3 if multi else 1)
        while True:
            if text[j] == "\\" and quote == '"':
                j += 2
            elif not multi and text[j] == quote:
                return j + 1
            elif multi and text.startswith(quote * 3, j):
                while j < len(text) and text[j] == quote:  # up to two quotes may end the content
                    j += 1
                return j
            else:
                j += 1

    def scalar_end(self, start: int) -> int:
        """The index just after a number, boolean, date or time that starts at ``start``."""
        text, j = self.text, start
        while j < len(text) and text[j] not in _SCALAR_END:
            j += 1
        if _DATE.fullmatch(text, start, j) and _SPACE_TIME.match(text, j):
            return self.scalar_end(j + 1)
        return j
