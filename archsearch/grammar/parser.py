"""Grammar files: a TOML subset parsed with Lark, validated into :class:`Grammar` objects.

Two stages, both reporting ``path:line:column: error: message`` (1-based) through
:class:`GrammarError`:

1. Syntax (:func:`parse_document`). A Lark LALR grammar for the TOML subset grammar files use:
   comments, blank lines, ``[table]`` headers, ``key = value`` with bare keys, and values that
   are basic strings ``"..."`` (escapes ``\\" \\\\ \\b \\t \\n \\f \\r \\uXXXX \\UXXXXXXXX``),
   literal strings ``'...'``, decimal integers (sign and ``_`` separators as in TOML), booleans
   and arrays (trailing comma, several lines, comments inside). Floats, dates and times,
   multi-line strings, inline tables, dotted or quoted keys and arrays of tables are recognised
   and rejected as unsupported. Errors come in document order: values, duplicate keys and
   duplicate tables are checked while parsing, as each statement is reduced. The result is a
   small position-carrying :class:`Document`.
2. Schema (:func:`build_grammar`). Tables ``[grammar] [axioms] [families] [sizes]``; wrong
   types, out-of-range values and bad list elements are reported at the value (or element);
   unknown tables and keys, missing keys and cross-field conflicts at the key (or table header).

No user text is ever evaluated.
"""

from __future__ import annotations

import contextvars
import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from lark.parsers.lalr_parser_state import ParserState

from archsearch.enumeration.axioms import FIELDS, LEFT, RIGHT, WEIGHTS, Axioms, is_letter
from archsearch.grammar.model import CONIC_PROJECTIONS, ENTRYWISE_FUNCTIONS, Families, Grammar, Sizes

__all__ = [
    "Document",
    "Entry",
    "GrammarError",
    "Node",
    "Table",
    "build_grammar",
    "load_grammar",
    "parse_document",
    "parse_grammar",
]

MAX_ORDER_LIMIT = 16

# Characters that would split an error message over several lines.
_LINE_BREAKS = {"\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"}


class GrammarError(Exception):
    """An error in a grammar file, at a 1-based line and column.

    ``str(err)`` is one line: ``f"{path}:{line}:{column}: error: {message}"``.
    """

    def __init__(self, path: str, line: int, column: int, message: str) -> None:
        super().__init__(path, line, column, message)
        self.path = str(path)
        self.line = line
        self.column = column
        self.message = message

    def __str__(self) -> str:
        text = f"{self.path}:{self.line}:{self.column}: error: {self.message}"
        return "".join(repr(ch)[1:-1] if ch in _LINE_BREAKS else ch for ch in text)


# --------------------------------------------------------------------------------------------
# The document tree
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    """A value with the position of its first character.

    kind: "string" | "integer" | "boolean" | "array"; value: str | int | bool | tuple[Node, ...].
    """

    kind: str
    value: object
    line: int
    column: int

    def plain(self) -> object:
        """The Python value, arrays as lists (what ``tomllib`` returns)."""
        if self.kind == "array":
            return [item.plain() for item in self.value]  # type: ignore[union-attr]
        return self.value


@dataclass(frozen=True)
class Entry:
    """``key = value``, with the key's position (the value carries its own)."""

    key: str
    line: int
    column: int
    value: Node


@dataclass
class Table:
    """A ``[name]`` table (name "" for the keys before any header) and its entries, in order."""

    name: str
    line: int
    column: int
    entries: dict[str, Entry] = field(default_factory=dict)


@dataclass
class Document:
    """A parsed grammar file: the top-level table and the named tables, in file order."""

    root: Table
    tables: dict[str, Table] = field(default_factory=dict)

    def plain(self) -> dict[str, object]:
        """The document as plain Python data, as ``tomllib.loads`` would return it."""
        out: dict[str, object] = {k: e.value.plain() for k, e in self.root.entries.items()}
        for name, table in self.tables.items():
            out[name] = {k: e.value.plain() for k, e in table.entries.items()}
        return out


# --------------------------------------------------------------------------------------------
# Syntax
# --------------------------------------------------------------------------------------------

_TOML_SUBSET = r"""
start: (_statement? _NL)*
_statement: table_header | keyval

table_header: LBRACKET BARE_KEY RBRACKET
keyval: BARE_KEY EQUAL value

value: BASIC_STRING | LITERAL_STRING | INTEGER | TRUE | FALSE | array
     | FLOAT | DATETIME | ML_STRING
array: LBRACKET _NL* (_items)? RBRACKET
_items: value _NL* (COMMA _NL* value _NL*)* (COMMA _NL*)?

BARE_KEY: /[A-Za-z0-9_-]+/
BASIC_STRING: /"(?:[^"\\\r\n]|\\.)*"/
LITERAL_STRING: /'[^'\r\n]*'/
INTEGER: /[+-]?[0-9][0-9A-Za-z_]*/
TRUE: /true(?![A-Za-z0-9_-])/
FALSE: /false(?![A-Za-z0-9_-])/
// recognised only to be rejected with a clear message (see _UNSUPPORTED)
ML_STRING.4: /\"\"\"|'''/
DATETIME.3: /@DATETIME@/
FLOAT.2: /@FLOAT@/

LBRACKET: "["
RBRACKET: "]"
EQUAL: "="
COMMA: ","
_NL: /\r?\n/
COMMENT: /#[^\r\n]*/
WS: /[ \t]+/
%ignore WS
%ignore COMMENT
"""

_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_TIME = r"[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
_DATETIME = rf"{_DATE}(?:[Tt ]{_TIME})?(?:[Zz]|[+-][0-9]{{2}}:[0-9]{{2}})?|{_TIME}"
_WORD_END = r"(?![A-Za-z0-9_-])"
_FLOAT = (
    r"[+-]?(?:[0-9][0-9_]*(?:\.[0-9_]*(?:[eE][+-]?[0-9_]+)?|[eE][+-]?[0-9_]+)"
    rf"|inf{_WORD_END}|nan{_WORD_END})"
)
_TOML_SUBSET = _TOML_SUBSET.replace("@DATETIME@", _DATETIME).replace("@FLOAT@", _FLOAT)

_UNSUPPORTED = {
    "FLOAT": "floats are not supported by grammar files; use an integer",
    "DATETIME": "dates and times are not supported by grammar files",
    "ML_STRING": 'multi-line strings are not supported by grammar files; use "..." with \\n escapes',
}

_VALUE_START = {"BASIC_STRING", "LITERAL_STRING", "INTEGER", "TRUE", "FALSE", "LBRACKET"}
_ESCAPES = {'"': '"', "\\": "\\", "b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r"}
_INTEGER_RE = re.compile(r"[+-]?(?:0|[1-9](?:_?[0-9])*)")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


class _SourceError(Exception):
    """A positioned error raised inside the parser; turned into a GrammarError with the path."""

    def __init__(self, line: int, column: int, message: str) -> None:
        super().__init__(line, column, message)
        self.line = line
        self.column = column
        self.message = message


def _at(token: Token, message: str) -> _SourceError:
    return _SourceError(token.line or 1, token.column or 1, message)


def _reject(token: Token) -> Token:
    raise _at(token, _UNSUPPORTED[token.type])


def _quote(text: str) -> str:
    """``text`` as a one-line double-quoted string for messages."""
    out = []
    for ch in text:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch in _LINE_BREAKS or ch == "\t" or _CONTROL_RE.match(ch):
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _basic_string(token: Token) -> str:
    raw = str(token)[1:-1]
    out: list[str] = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        column = token.column + 1 + i
        if ch == "\\":
            esc = raw[i + 1]
            if esc in _ESCAPES:
                out.append(_ESCAPES[esc])
                i += 2
                continue
            if esc in "uU":
                width = 4 if esc == "u" else 8
                digits = raw[i + 2 : i + 2 + width]
                if len(digits) != width or not all(c in "0123456789abcdefABCDEF" for c in digits):
                    raise _SourceError(token.line, column, f"\\{esc} escape needs exactly {width} hexadecimal digits")
                code = int(digits, 16)
                if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                    raise _SourceError(token.line, column, f"\\{esc}{digits} is not a Unicode scalar value")
                out.append(chr(code))
                i += 2 + width
                continue
            raise _SourceError(token.line, column, f"invalid escape sequence \\{esc} in string")
        if _CONTROL_RE.match(ch):
            raise _SourceError(token.line, column, f"control character U+{ord(ch):04X} in string")
        out.append(ch)
        i += 1
    return "".join(out)


def _integer(token: Token) -> int:
    text = str(token)
    if _INTEGER_RE.fullmatch(text):
        return int(text.replace("_", ""))
    body = text.lstrip("+-")
    if body[:2].lower() in ("0x", "0o", "0b"):
        raise _at(token, f"hexadecimal, octal and binary integers are not supported by grammar files: {text}")
    if re.fullmatch(r"0[0-9_]+", body):
        raise _at(token, f"invalid integer {text}: leading zeros are not allowed")
    if re.fullmatch(r"[0-9_]+", body):
        raise _at(token, f"invalid integer {text}: '_' must be between two digits")
    raise _at(token, f"invalid value {text}; strings must be quoted: {_quote(text)}")


class _Builder:
    """Per-parse state: the document being built, statement by statement."""

    def __init__(self) -> None:
        self.document = Document(root=Table("", 1, 1))
        self.current = self.document.root

    def header(self, token: Token) -> Table:
        name = str(token)
        first = self.document.tables.get(name)
        if first is not None:
            raise _at(token, f"duplicate table [{name}] (first defined at line {first.line})")
        self.current = Table(name, token.line, token.column)
        self.document.tables[name] = self.current
        return self.current

    def entry(self, entry: Entry) -> None:
        table = self.current
        first = table.entries.get(entry.key)
        if first is not None:
            where = f" in [{table.name}]" if table.name else ""
            raise _SourceError(
                entry.line,
                entry.column,
                f"duplicate key '{entry.key}'{where} (first defined at line {first.line})",
            )
        table.entries[entry.key] = entry


_BUILDER: contextvars.ContextVar[_Builder] = contextvars.ContextVar("archsearch_grammar_builder")


class _ToDocument(Transformer):
    """Inline (parse-time) callbacks: reductions happen in document order."""

    def value(self, children: list) -> Node:
        (child,) = children
        if isinstance(child, Node):
            return child
        token: Token = child
        kind = token.type
        if kind == "BASIC_STRING":
            return Node("string", _basic_string(token), token.line, token.column)
        if kind == "LITERAL_STRING":
            text = str(token)[1:-1]
            bad = _CONTROL_RE.search(text)
            if bad:
                raise _SourceError(
                    token.line, token.column + 1 + bad.start(), f"control character U+{ord(bad.group()):04X} in string"
                )
            return Node("string", text, token.line, token.column)
        if kind == "INTEGER":
            return Node("integer", _integer(token), token.line, token.column)
        if kind in ("TRUE", "FALSE"):
            return Node("boolean", kind == "TRUE", token.line, token.column)
        raise _at(token, _UNSUPPORTED.get(kind, f"unsupported value {token}"))  # pragma: no cover

    def array(self, children: list) -> Node:
        bracket = children[0]
        items = tuple(c for c in children if isinstance(c, Node))
        return Node("array", items, bracket.line, bracket.column)

    def keyval(self, children: list) -> Entry:
        key, _equal, value = children
        entry = Entry(str(key), key.line, key.column, value)
        _BUILDER.get().entry(entry)
        return entry

    def table_header(self, children: list) -> Table:
        _open, name, _close = children
        return _BUILDER.get().header(name)

    def start(self, children: list) -> Document:
        return _BUILDER.get().document


_LARK: Lark | None = None


def _lark() -> Lark:
    global _LARK
    if _LARK is None:
        _LARK = Lark(
            _TOML_SUBSET,
            parser="lalr",
            lexer="contextual",
            transformer=_ToDocument(),
            lexer_callbacks={name: _reject for name in _UNSUPPORTED},
        )
    return _LARK


def parse_document(text: str, path: str = "<string>") -> Document:
    """Parse the TOML subset of grammar files into a :class:`Document` (no schema checks)."""
    if not text.endswith("\n"):
        text += "\n"
    token = _BUILDER.set(_Builder())
    try:
        return _lark().parse(text)
    except _SourceError as err:
        raise GrammarError(path, err.line, err.column, err.message) from None
    except UnexpectedInput as err:
        line, column, message = _syntax_message(err, text)
        raise GrammarError(path, line, column, message) from None
    finally:
        _BUILDER.reset(token)


# ---- turning Lark's errors into readable messages ------------------------------------------


def _describe(token: Token) -> str:
    kind = token.type
    if kind == "$END":
        return "end of file"
    if kind == "_NL":
        return "end of line"
    if kind in ("BASIC_STRING", "LITERAL_STRING"):
        return f"string {token}"
    if kind == "INTEGER":
        return f"integer {token}"
    return f"'{token}'"


def _stack(err: UnexpectedInput) -> list:
    state = getattr(err, "state", None)
    if isinstance(state, ParserState):
        return list(state.value_stack)
    return []


def _tokens(stack: Iterable) -> list[Token]:
    return [item for item in stack if isinstance(item, Token)]


def _first_on_line(token: Token, text: str) -> bool:
    if token.type == "$END" or token.start_pos is None:
        return True
    start = text.rfind("\n", 0, token.start_pos) + 1
    return text[start : token.start_pos].strip() == ""


def _syntax_message(err: UnexpectedInput, text: str) -> tuple[int, int, str]:
    line, column = err.line or 1, err.column or 1
    if isinstance(err, UnexpectedCharacters):
        return line, column, _character_message(err, text)
    if not isinstance(err, UnexpectedToken):  # pragma: no cover - LALR raises only these two
        return line, column, "syntax error"
    token = err.token
    line, column = token.line or 1, token.column or 1  # $END borrows the final newline's position
    parser = getattr(err, "interactive_parser", None)
    # LALR merges look-aheads of shared rules; accepts() replays the parser for the exact set
    expected = set(parser.accepts()) if parser is not None else set(err.expected)
    tokens = _tokens(_stack(err))  # tokens of the current statement (earlier ones are reduced)
    previous = tokens[-1] if tokens else None
    got = _describe(token)
    key = str(tokens[0]) if tokens and tokens[0].type == "BARE_KEY" else ""
    open_array = _open_array(tokens)

    if open_array is not None:
        at_line_start = token.type == "$END" or (token.type in ("BARE_KEY", "LBRACKET") and _first_on_line(token, text))
        outer = _open_array(tokens, outer=True)
        if (
            token.type == "BARE_KEY"
            and previous is open_array
            and outer is not None
            and _first_on_line(open_array, text)
        ):  # '[name]' after an unclosed array was read as a nested array
            at_line_start, open_array, got, line = True, outer, f"'[{token}'", open_array.line
        if at_line_start and ("COMMA" in expected or token.type in ("BARE_KEY", "$END")):
            before = got if token.type == "$END" else f"{got} at line {line}"
            return (
                open_array.line,
                open_array.column,
                f"unclosed array: the '[' of '{key}' has no matching ']' before {before}",
            )
        if "INTEGER" in expected:
            if token.type == "COMMA":
                return line, column, f"expected a value or ']' in the array of '{key}', got ','"
            return line, column, f"expected a value in the array of '{key}', got {got}{_quote_hint(token)}"
        return line, column, f"expected ',' or ']' after an element of the array of '{key}', got {got}"
    if "INTEGER" in expected:  # after '='
        if token.type in ("_NL", "$END"):
            return line, column, f"missing value after '=' for key '{key}'"
        return line, column, f"expected a value for key '{key}', got {got}{_quote_hint(token)}"
    if "EQUAL" in expected:
        return line, column, f"expected '=' after key '{previous}', got {got}"
    if previous is not None and previous.type == "LBRACKET":  # '[' of a table header
        if token.type == "LBRACKET":
            return line, column, "arrays of tables ([[...]]) are not supported by grammar files"
        if token.type == "RBRACKET":
            return line, column, "empty table name '[]'"
        if token.type in ("BASIC_STRING", "LITERAL_STRING"):
            return line, column, "quoted table names are not supported by grammar files; use a bare name"
        return line, column, f"expected a table name after '[', got {got}"
    if "RBRACKET" in expected:
        return line, column, f"expected ']' to close the table header '[{previous}', got {got}"
    if "BARE_KEY" in expected:  # start of a statement
        if token.type in ("BASIC_STRING", "LITERAL_STRING"):
            return line, column, "quoted keys are not supported by grammar files; use a bare key"
        if token.type == "EQUAL":
            return line, column, "missing key before '='"
        return line, column, f"expected a key or a [table] header, got {got}"
    what = f"the value of '{key}'" if key else "the table header"
    return line, column, f"expected end of line after {what}, got {got}; put each statement on its own line"


def _quote_hint(token: Token) -> str:
    if token.type == "BARE_KEY":
        return f"; strings must be quoted: {_quote(str(token))}"
    return ""


def _open_array(tokens: list[Token], outer: bool = False) -> Token | None:
    """The innermost (or outermost) '[' of an array still open (closed inner arrays are reduced)."""
    if not any(t.type == "EQUAL" for t in tokens):
        return None
    opened: list[Token] = []
    for token in tokens[[t.type for t in tokens].index("EQUAL") + 1 :]:
        if token.type == "LBRACKET":
            opened.append(token)
        elif token.type == "RBRACKET" and opened:
            opened.pop()
    if not opened or (outer and len(opened) < 2):
        return None
    return opened[0] if outer else opened[-1]


def _character_message(err: UnexpectedCharacters, text: str) -> str:
    ch = err.char
    if ch in ('"', "'"):
        line_text = text[err.pos_in_stream :].split("\n", 1)[0]
        if ch == '"' and line_text.rstrip("\r").endswith("\\"):
            return "unterminated string: a string cannot continue on the next line"
        return f"unterminated string: missing closing {ch} before the end of the line"
    if ch == "{":
        return "inline tables ({...}) are not supported by grammar files; use a [table]"
    if ch == ".":
        return "dotted keys are not supported by grammar files; use a [table] and a bare key"
    if ch == "\r":
        return "carriage return not followed by a newline"
    if ch == "\t" or ch == " ":  # pragma: no cover - whitespace is ignored everywhere
        return "unexpected whitespace"
    if _CONTROL_RE.match(ch) or ch in _LINE_BREAKS:
        return f"unexpected control character U+{ord(ch):04X}"
    return f"unexpected character {_quote(ch)[1:-1]!r}"


# --------------------------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------------------------

_SCHEMA: dict[str, tuple[str, ...]] = {
    "grammar": ("name", "description"),
    "axioms": (
        "left",
        "right",
        "field",
        "max_order",
        "min_order",
        "connected",
        "weights",
        "alphabet",
        "symmetric",
    ),
    "families": ("softmax", "entrywise", "conic", "cone_size"),
    "sizes": ("tokens", "features", "rank", "heads"),
}
_KIND_NAMES = {"string": "a string", "integer": "an integer", "boolean": "a boolean", "array": "an array"}
_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def _closest(word: str, choices: Iterable[str]) -> str | None:
    choices = list(choices)
    match = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if match:
        return match[0]
    return {c.lower(): c for c in choices}.get(word.lower())


def _suggest(word: str, choices: Iterable[str], quote: bool = False) -> str:
    match = _closest(word, choices)
    if match is None:
        return ""
    return f"; did you mean {_quote(match) if quote else repr(match)}?"


class _Checker:
    def __init__(self, document: Document, path: str) -> None:
        self.document = document
        self.path = path

    def fail(self, where: Node | Entry | Table, message: str) -> GrammarError:
        return GrammarError(self.path, where.line, where.column, message)

    def table(self, name: str) -> Table | None:
        return self.document.tables.get(name)

    def entry(self, table: str, key: str) -> Entry | None:
        found = self.document.tables.get(table)
        return found.entries.get(key) if found else None

    def present(self, table: str, key: str) -> Entry:
        """An entry known to be in the file (for errors about it)."""
        entry = self.entry(table, key)
        assert entry is not None
        return entry

    # -- typed getters ----------------------------------------------------------------------

    def typed(self, entry: Entry, kind: str) -> object:
        node = entry.value
        if node.kind != kind:
            raise self.fail(node, f"{entry.key}: expected {_KIND_NAMES[kind]}, got {_KIND_NAMES[node.kind]}")
        return node.value

    def string(self, table: str, key: str, default: str) -> str:
        entry = self.entry(table, key)
        return default if entry is None else str(self.typed(entry, "string"))

    def boolean(self, table: str, key: str, default: bool) -> bool:
        entry = self.entry(table, key)
        return default if entry is None else bool(self.typed(entry, "boolean"))

    def integer(self, table: str, key: str, default: int | None, low: int, high: int | None = None) -> int:
        entry = self.entry(table, key)
        if entry is None:
            if default is None:
                found = self.table(table)
                assert found is not None
                raise self.fail(found, f"missing required key '{key}' in [{table}]")
            return default
        value = self.typed(entry, "integer")
        assert isinstance(value, int)
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise self.fail(entry.value, f"{key} must be {bound}, got {value}")
        return value

    def choice(self, table: str, key: str, default: str, choices: tuple[str, ...]) -> str:
        entry = self.entry(table, key)
        if entry is None:
            return default
        value = str(self.typed(entry, "string"))
        if value not in choices:
            options = " or ".join(_quote(c) for c in choices)
            raise self.fail(
                entry.value, f"{key} must be {options}, got {_quote(value)}{_suggest(value, choices, True)}"
            )
        return value

    def strings(self, table: str, key: str) -> list[tuple[str, Node]] | None:
        entry = self.entry(table, key)
        if entry is None:
            return None
        items = self.typed(entry, "array")
        out = []
        for i, node in enumerate(items):  # type: ignore[arg-type]
            if node.kind != "string":
                raise self.fail(
                    node, f"{key}: expected an array of strings, got {_KIND_NAMES[node.kind]} at position {i + 1}"
                )
            out.append((node.value, node))
        return out

    def names(self, table: str, key: str, choices: tuple[str, ...], what: str) -> tuple[str, ...]:
        items = self.strings(table, key)
        if items is None:
            return ()
        seen: set[str] = set()
        for value, node in items:
            if value not in choices:
                raise self.fail(
                    node,
                    f"unknown {what} {_quote(value)} in {key}; known: {', '.join(choices)}"
                    f"{_suggest(value, choices, True)}",
                )
            if value in seen:
                raise self.fail(node, f"duplicate {_quote(value)} in {key}")
            seen.add(value)
        return tuple(value for value, _ in items)

    # -- the schema ---------------------------------------------------------------------------

    def check_structure(self) -> None:
        root = self.document.root
        for entry in root.entries.values():
            tables = ", ".join(f"[{t}]" for t in _SCHEMA)
            raise self.fail(entry, f"key '{entry.key}' must be inside a table ({tables})")
        for name, table in self.document.tables.items():
            if name not in _SCHEMA:
                known = ", ".join(f"[{t}]" for t in _SCHEMA)
                match = _closest(name, _SCHEMA)
                suggestion = f"; did you mean [{match}]?" if match else ""
                raise self.fail(table, f"unknown table [{name}] (known tables: {known}){suggestion}")
            for key, entry in table.entries.items():
                if key not in _SCHEMA[name]:
                    raise self.fail(entry, f"unknown key '{key}' in [{name}]{_suggest(key, _SCHEMA[name])}")
        if "axioms" not in self.document.tables:
            raise GrammarError(self.path, 1, 1, "missing required table [axioms]")

    def axioms(self) -> Axioms:
        left = self.choice("axioms", "left", "perm", LEFT)
        right = self.choice("axioms", "right", "centralizer", RIGHT)
        field_ = self.choice("axioms", "field", "real", FIELDS)
        max_order = self.integer("axioms", "max_order", None, 1, MAX_ORDER_LIMIT)
        min_order = self.integer("axioms", "min_order", 2, 1)
        connected = self.boolean("axioms", "connected", True)
        weights = self.choice("axioms", "weights", "free", WEIGHTS)
        alphabet_items = self.strings("axioms", "alphabet")
        symmetric_items = self.strings("axioms", "symmetric")

        if min_order > max_order:
            explicit = self.entry("axioms", "min_order")
            if explicit is None:
                raise self.fail(
                    self.present("axioms", "max_order").value,
                    f"max_order {max_order} is below the default min_order {min_order}; set min_order = 1",
                )
            raise self.fail(explicit, f"min_order {min_order} is above max_order {max_order}")
        if right == "none":
            entry = self.present("axioms", "right")
            if left != "perm":
                raise self.fail(
                    entry,
                    'right = "none" needs left = "perm": gated products Σ_{j,c} Π_m (X W_m)_{jc} '
                    "are per-token and not unitary invariant",
                )
            if field_ != "real":
                raise self.fail(
                    entry, 'right = "none" needs field = "real": gated products are only supported in the real field'
                )

        alphabet: tuple[str, ...] = ()
        symmetric: frozenset[str] = frozenset()
        if weights != "alphabet":
            for key, items in (("alphabet", alphabet_items), ("symmetric", symmetric_items)):
                if items is not None:
                    raise self.fail(
                        self.present("axioms", key),
                        f'{key} needs weights = "alphabet" (weights is {_quote(weights)})',
                    )
        else:
            if not alphabet_items:
                present = self.entry("axioms", "alphabet")
                where = present.value if present is not None else self.entry("axioms", "weights")
                assert where is not None
                raise self.fail(where, 'weights = "alphabet" needs a non-empty alphabet = ["A", ...]')
            seen: set[str] = set()
            for letter, node in alphabet_items:
                if not is_letter(letter):
                    raise self.fail(
                        node,
                        f"alphabet letter {_quote(letter)} must be an uppercase letter followed by "
                        "lowercase letters (A, B, Wq, ...)",
                    )
                if letter in seen:
                    raise self.fail(node, f"duplicate letter {_quote(letter)} in alphabet")
                seen.add(letter)
            alphabet = tuple(letter for letter, _ in alphabet_items)
            seen_symmetric: set[str] = set()
            for letter, node in symmetric_items or ():
                if letter not in seen:
                    raise self.fail(
                        node,
                        f"symmetric letter {_quote(letter)} is not in the alphabet ({', '.join(alphabet)})",
                    )
                if letter in seen_symmetric:
                    raise self.fail(node, f"duplicate letter {_quote(letter)} in symmetric")
                seen_symmetric.add(letter)
            symmetric = frozenset(seen_symmetric)

        try:
            return Axioms(
                left=left,
                right=right,
                field=field_,
                max_order=max_order,
                min_order=min_order,
                connected=connected,
                weights=weights,
                alphabet=alphabet,
                symmetric=symmetric,
            )
        except ValueError as err:  # pragma: no cover - the checks above are meant to be complete
            table = self.table("axioms")
            assert table is not None
            raise self.fail(table, str(err)) from None

    def families(self, axioms: Axioms) -> Families:
        softmax = self.boolean("families", "softmax", False)
        entrywise = self.names("families", "entrywise", ENTRYWISE_FUNCTIONS, "entrywise function")
        conic = self.names("families", "conic", CONIC_PROJECTIONS, "conic projection")
        cone_size = self.integer("families", "cone_size", Families().cone_size, 2)
        if axioms.field != "real":
            for key, used in (("softmax", softmax), ("entrywise", entrywise), ("conic", conic)):
                if used:
                    raise self.fail(
                        self.present("families", key),
                        f'{key} families need field = "real" (field is {_quote(axioms.field)})',
                    )
        return Families(softmax=softmax, entrywise=entrywise, conic=conic, cone_size=cone_size)

    def sizes(self) -> Sizes:
        d = Sizes()
        tokens = self.integer("sizes", "tokens", d.tokens, 1)
        features = self.integer("sizes", "features", d.features, 1)
        rank = self.integer("sizes", "rank", d.rank, 1)
        heads = self.integer("sizes", "heads", d.heads, 1)
        if rank > features:
            entry = self.entry("sizes", "rank") or self.present("sizes", "features")
            raise self.fail(entry, f"rank {rank} is above features {features}")
        return Sizes(tokens=tokens, features=features, rank=rank, heads=heads)

    def grammar(self, default_name: str, file: Path | None) -> Grammar:
        self.check_structure()
        name = self.string("grammar", "name", default_name)
        entry = self.entry("grammar", "name")
        if not _NAME_RE.fullmatch(name):
            where = entry.value if entry is not None else self.document.root
            origin = "" if entry is not None else " (taken from the file name)"
            raise self.fail(
                where,
                f"grammar name {_quote(name)}{origin} must start with a letter, digit or '_' and contain only "
                "letters, digits, '_', '-' and '.'",
            )
        description = self.string("grammar", "description", "")
        axioms = self.axioms()
        families = self.families(axioms)
        sizes = self.sizes()
        return Grammar(name=name, axioms=axioms, families=families, sizes=sizes, description=description, path=file)


def _default_name(path: str) -> str:
    if path.startswith("<"):
        return "grammar"
    return Path(path).stem or "grammar"


def build_grammar(document: Document, path: str = "<string>", file: Path | None = None) -> Grammar:
    """Validate a parsed document against the grammar-file schema."""
    return _Checker(document, path).grammar(_default_name(path), file)


def parse_grammar(text: str, path: str = "<string>") -> Grammar:
    """Parse and validate grammar-file text; ``path`` only names the source in errors."""
    return build_grammar(parse_document(text, path), path)


def load_grammar(path: str | Path) -> Grammar:
    """Read, parse and validate a grammar file. File-level errors are reported at 1:1."""
    file = Path(path)
    name = str(path)
    if file.is_dir():
        raise GrammarError(name, 1, 1, "is a directory, not a grammar file")
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        raise GrammarError(name, 1, 1, "grammar file not found") from None
    except PermissionError:
        raise GrammarError(name, 1, 1, "permission denied") from None
    except OSError as err:
        raise GrammarError(name, 1, 1, f"cannot read grammar file: {err.strerror or err}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        line_start = data.rfind(b"\n", 0, err.start) + 1
        column = len(data[line_start : err.start].decode("utf-8", errors="replace")) + 1
        raise GrammarError(
            name,
            1,
            1,
            f"not a UTF-8 text file: invalid byte 0x{data[err.start]:02x} at line {line}, column {column}",
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return build_grammar(parse_document(text, name), name, file)
