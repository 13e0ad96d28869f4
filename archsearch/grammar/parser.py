"""Grammar files → validated :class:`Grammar` objects.

A grammar file is TOML, read with ``tomllib`` (``tomli`` on Python 3.10); no user text is ever
evaluated. Errors are one line, ``path:line:column: error: message`` (1-based), raised as
:class:`GrammarError`: TOML syntax errors at tomllib's position, schema errors at the key, value or
list element they are about (found with the key-position index, archsearch.grammar.positions).

The schema is read off the dataclasses (archsearch.grammar.model, archsearch.enumeration.axioms):
tables ``[grammar]`` (name, description), ``[axioms]`` (:class:`Axioms`), ``[families]``
(:class:`Families`) and ``[sizes]`` (:class:`Sizes`); each field is a key, its annotation the TOML
type, its metadata the allowed names, bounds and whether it is required. Cross-field rules (orders,
alphabets, sizes) follow, and last the admissibility rule: a named family must be invariant under
the grammar's axioms (archsearch.families.registry).
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import re
import stat
from collections.abc import Collection, Iterable
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any

from archsearch.enumeration.axioms import Axioms, is_letter
from archsearch.families import admission_errors
from archsearch.grammar.model import Families, Grammar, Sizes
from archsearch.grammar.positions import Position, PositionIndex, TomlSyntaxError, parse_toml

__all__ = ["GrammarError", "KeySpec", "build_grammar", "load_grammar", "parse_grammar", "schema"]

MAX_GRAMMAR_BYTES = 1 << 20  # a grammar is a few hundred bytes; refuse to read more than a MiB

# Characters that would split an error message over several lines.
_LINE_BREAKS = {"\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"}
_CONTROL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


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
# The schema, read off the dataclasses
# --------------------------------------------------------------------------------------------

_KINDS = {"str": "string", "int": "integer", "float": "number", "bool": "boolean",
          "tuple[str, ...]": "strings", "frozenset[str]": "strings"}


@dataclass(frozen=True)
class KeySpec:
    """One key of a table: its TOML kind, default, allowed names, bounds, and whether it is required."""

    name: str
    kind: str  # string | integer | number | boolean | strings
    default: Any
    choices: Collection[str] | None = None
    low: float | None = None
    high: float | None = None
    required: bool = False
    what: str = "name"


def _specs(cls, only: tuple[str, ...] | None = None) -> dict[str, KeySpec]:
    out = {}
    for f in fields(cls):
        if only is not None and f.name not in only:
            continue
        if f.default is not MISSING:
            default = f.default
        else:
            default = None if f.default_factory is MISSING else f.default_factory()
        meta = f.metadata
        out[f.name] = KeySpec(f.name, _KINDS[str(f.type)], default, meta.get("choices"), meta.get("low"),
                              meta.get("high"), meta.get("required", False), meta.get("what", "name"))
    return out


def schema() -> dict[str, dict[str, KeySpec]]:
    """Every table of a grammar file and its keys."""
    return {
        "grammar": _specs(Grammar, ("name", "description")),
        "axioms": _specs(Axioms),
        "families": _specs(Families),
        "sizes": _specs(Sizes),
    }


_SCHEMA = schema()


#: tomllib's value types (it returns exactly these) → their kind in messages
_TOML_KINDS = {str: "string", int: "integer", float: "float", bool: "boolean", list: "array", dict: "table",
               dt.datetime: "date-time", dt.date: "date", dt.time: "time"}
_ARTICLE = {"integer": "an", "array": "an"}
#: which TOML kinds a schema kind accepts
_ACCEPTS = {"string": ("string",), "integer": ("integer",), "number": ("integer", "float"), "boolean": ("boolean",),
            "strings": ("array",)}


def _kind(value: Any) -> str:
    return _TOML_KINDS.get(type(value), type(value).__name__)


def _a(kind: str) -> str:
    """``kind`` with its article: "an integer", "a string"."""
    return f"{_ARTICLE.get(kind, 'a')} {kind}"


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


def _number(x: float) -> str:
    return str(x) if isinstance(x, int) else f"{x:g}"


def _bounds(spec: KeySpec) -> str:
    if spec.low is not None and spec.high is not None:
        return f"between {_number(spec.low)} and {_number(spec.high)}"
    if spec.low is None and spec.high is not None:
        return f"at most {_number(spec.high)}"
    return f"at least {_number(spec.low)}" if spec.low is not None else "any number"


# --------------------------------------------------------------------------------------------
# The checker
# --------------------------------------------------------------------------------------------


class _Checker:
    """Reads the tomllib data table by table, failing at the first error with its position."""

    def __init__(self, data: dict[str, Any], index: PositionIndex, path: str) -> None:
        self.data, self.index, self.path = data, index, path

    def fail(self, where: Position | None, message: str) -> GrammarError:
        where = where or Position(1, 1)
        return GrammarError(self.path, where.line, where.column, message)

    # -- positions -------------------------------------------------------------------------------
    def key_at(self, *path) -> Position | None:
        return self.index.key(path) or self.index.table(path)

    def value_at(self, *path) -> Position | None:
        return self.index.value(path) or self.key_at(*path)

    def table_at(self, name: str) -> Position | None:
        return self.index.table((name,)) or self.index.key((name,))

    def has(self, table: str, key: str) -> bool:
        return key in self.data.get(table, {})

    # -- structure -------------------------------------------------------------------------------
    def check_structure(self) -> None:
        known = ", ".join(f"[{t}]" for t in _SCHEMA)
        for name, value in self.data.items():
            tables = [value] if _kind(value) == "table" else value if _kind(value) == "array" else []
            if not tables or any(_kind(t) != "table" for t in tables):
                raise self.fail(self.key_at(name), f"key '{name}' must be inside a table ({known})")
            if name not in _SCHEMA:
                match = _closest(name, _SCHEMA)
                suggestion = f"; did you mean [{match}]?" if match else ""
                raise self.fail(self.table_at(name), f"unknown table [{name}] (known tables: {known}){suggestion}")
            if _kind(value) == "array":
                raise self.fail(self.index.table((name, 0)) or self.table_at(name),
                                f"[[{name}]] is an array of tables; a grammar has one [{name}] table")
            for key in value:
                if key not in _SCHEMA[name]:
                    raise self.fail(self.key_at(name, key), f"unknown key '{key}' in [{name}]"
                                                             f"{_suggest(key, _SCHEMA[name])}")
        if "axioms" not in self.data:
            raise GrammarError(self.path, 1, 1, "missing required table [axioms]")

    # -- typed values ----------------------------------------------------------------------------
    def value(self, table: str, key: str) -> Any:
        """The checked value of ``key`` in ``table`` (or its default), per the schema."""
        spec = _SCHEMA[table][key]
        if not self.has(table, key):
            if spec.required:
                raise self.fail(self.table_at(table), f"missing required key '{key}' in [{table}]")
            return spec.default
        raw = self.data[table][key]
        where = self.value_at(table, key)
        if spec.kind == "strings":
            return self.strings(table, key, spec, raw)
        if _kind(raw) not in _ACCEPTS[spec.kind]:
            raise self.fail(where, f"{key}: expected {_a(spec.kind)}, got {_a(_kind(raw))}")
        if spec.kind == "number" and not math.isfinite(raw):
            raise self.fail(where, f"{key} must be a finite number, got {raw}")
        if spec.low is not None and (raw < spec.low or (spec.high is not None and raw > spec.high)):
            raise self.fail(where, f"{key} must be {_bounds(spec)}, got {raw}")
        if spec.choices is not None and raw not in spec.choices:
            options = " or ".join(_quote(c) for c in spec.choices)
            raise self.fail(where, f"{key} must be {options}, got {_quote(raw)}{_suggest(raw, spec.choices, True)}")
        return float(raw) if spec.kind == "number" else raw

    def strings(self, table: str, key: str, spec: KeySpec, raw: Any) -> tuple[str, ...]:
        if _kind(raw) != "array":
            raise self.fail(self.value_at(table, key), f"{key}: expected an array of strings, got {_a(_kind(raw))}")
        seen: set[str] = set()
        for i, item in enumerate(raw):
            where = self.value_at(table, key, i)
            if _kind(item) != "string":
                got = _a(_kind(item))
                raise self.fail(where, f"{key}: expected an array of strings, got {got} at position {i + 1}")
            if spec.choices is not None and item not in spec.choices:
                raise self.fail(where, f"unknown {spec.what} {_quote(item)} in {key}; known: {', '.join(spec.choices)}"
                                       f"{_suggest(item, spec.choices, True)}")
            if item in seen:
                noun = "letter " if spec.what == "letter" else ""
                raise self.fail(where, f"duplicate {noun}{_quote(item)} in {key}")
            seen.add(item)
        return tuple(raw)

    # -- the tables ------------------------------------------------------------------------------
    def axioms(self) -> Axioms:
        v = {key: self.value("axioms", key) for key in _SCHEMA["axioms"]}
        at_key = lambda key: self.key_at("axioms", key)  # noqa: E731
        if v["min_order"] > v["max_order"]:
            if not self.has("axioms", "min_order"):
                raise self.fail(self.value_at("axioms", "max_order"), f"max_order {v['max_order']} is below the "
                                f"default min_order {v['min_order']}; set min_order = 1")
            raise self.fail(at_key("min_order"), f"min_order {v['min_order']} is above max_order {v['max_order']}")
        if v["left"] == "orthogonal" and v["field"] != "real":
            raise self.fail(at_key("left"), 'left = "orthogonal" is the real group O(N); for the complex field use '
                                            'left = "unitary"')
        if v["right"] == "none":
            if v["left"] != "perm":
                raise self.fail(at_key("right"), 'right = "none" needs left = "perm": the products of projections '
                                                 f"Σ_c Π_v Σ_j Π_m (X W_m)_jc it adds are only S_N-invariant "
                                                 f"(left is {_quote(v['left'])})")
            if v["field"] != "real":
                raise self.fail(at_key("right"), 'right = "none" needs field = "real": its products of projections '
                                                 "are only supported in the real field")
        if v["weights"] != "alphabet":
            for key in ("alphabet", "symmetric"):
                if self.has("axioms", key):
                    weights = _quote(v["weights"])
                    raise self.fail(at_key(key), f'{key} needs weights = "alphabet" (weights is {weights})')
        else:
            if not v["alphabet"]:
                where = self.value_at("axioms", "alphabet") if self.has("axioms", "alphabet") else at_key("weights")
                raise self.fail(where, 'weights = "alphabet" needs a non-empty alphabet = ["A", ...]')
            for i, letter in enumerate(v["alphabet"]):
                if not is_letter(letter):
                    raise self.fail(self.value_at("axioms", "alphabet", i), f"alphabet letter {_quote(letter)} must be "
                                    "an uppercase letter followed by lowercase letters (A, B, Wq, ...)")
            for i, letter in enumerate(v["symmetric"]):
                if letter not in v["alphabet"]:
                    raise self.fail(self.value_at("axioms", "symmetric", i), f"symmetric letter {_quote(letter)} is "
                                    f"not in the alphabet ({', '.join(v['alphabet'])})")
        v["symmetric"] = frozenset(v["symmetric"])
        return Axioms(**v)

    def families(self, axioms: Axioms) -> Families:
        families = Families(**{key: self.value("families", key) for key in _SCHEMA["families"]})
        if self.has("families", "temperature") and not families.softmax:
            raise self.fail(self.key_at("families", "temperature"), "temperature needs softmax = true")
        for err in admission_errors(axioms, families):
            named = err.named
            if err.axiom == "field":
                where = self.key_at("families", named.key)
            elif named.index is None:
                where = self.value_at("families", named.key)
            else:
                where = self.value_at("families", named.key, named.index)
            raise self.fail(where, err.message)
        return families

    def sizes(self) -> Sizes:
        sizes = Sizes(**{key: self.value("sizes", key) for key in _SCHEMA["sizes"]})
        if sizes.rank > sizes.features:
            where = self.key_at("sizes", "rank") if self.has("sizes", "rank") else self.key_at("sizes", "features")
            raise self.fail(where, f"rank {sizes.rank} is above features {sizes.features}")
        return sizes

    def grammar(self, default_name: str, file: Path | None) -> Grammar:
        self.check_structure()
        name = self.value("grammar", "name") if self.has("grammar", "name") else default_name
        if not _NAME_RE.fullmatch(name):
            explicit = self.has("grammar", "name")
            where = self.value_at("grammar", "name") if explicit else None
            origin = "" if explicit else " (taken from the file name)"
            raise self.fail(where, f"grammar name {_quote(name)}{origin} must start with a letter, digit or '_' and "
                                   "contain only letters, digits, '_', '-' and '.'")
        description = self.value("grammar", "description")
        if any(ch in _LINE_BREAKS for ch in description):
            raise self.fail(self.value_at("grammar", "description"),
                            "description must be one line (it is printed in tables)")
        axioms = self.axioms()
        families = self.families(axioms)
        sizes = self.sizes()
        return Grammar(name=name, axioms=axioms, families=families, sizes=sizes, description=description, path=file)


def _hint(text: str, err: TomlSyntaxError) -> str:
    """A word of explanation for tomllib's terser messages, from the text at the error."""
    lines = text.splitlines()
    line = lines[err.line - 1] if 0 < err.line <= len(lines) else ""
    rest = line[err.column - 1:]
    if err.message == "Invalid value" and rest[:1].isalpha():
        word = re.match(r"[A-Za-z0-9_-]+", rest)
        return f"; strings must be quoted: {_quote(word.group() if word else rest)}"
    if err.message.startswith("Illegal character") and line.count('"') % 2 == 1:
        return " (an unterminated string: a basic string ends on its own line)"
    if err.message == "Cannot overwrite a value":
        return " (a key set twice)"
    if err.message == "Unclosed array" or (err.message == "Invalid value" and not rest.strip()):
        return " (a '[' without its ']'?)" if "[" in text and text.count("[") > text.count("]") else ""
    return ""


def _default_name(path: str) -> str:
    if path.startswith("<"):
        return "grammar"
    return Path(path).stem or "grammar"


def build_grammar(data: dict[str, Any], index: PositionIndex, path: str = "<string>",
                  file: Path | None = None) -> Grammar:
    """Validate tomllib data (with its positions) against the grammar-file schema."""
    return _Checker(data, index, path).grammar(_default_name(path), file)


def parse_grammar(text: str, path: str = "<string>", file: Path | None = None) -> Grammar:
    """Parse and validate grammar-file text; ``path`` only names the source in errors."""
    try:
        data, index = parse_toml(text)
    except TomlSyntaxError as err:
        raise GrammarError(path, err.line, err.column, f"invalid TOML: {err.message}{_hint(text, err)}") from None
    return build_grammar(data, index, path, file)


def load_grammar(path: str | Path) -> Grammar:
    """Read, parse and validate a grammar file (a regular file of at most a MiB), or a shipped grammar by
    name (``"paper"``: archsearch/grammars/paper.toml, see :mod:`archsearch.grammar.shipped`). File-level
    errors are reported at 1:1."""
    from archsearch.grammar.shipped import grammar_path, is_name, shipped_grammars

    file = grammar_path(path)
    name = str(file)
    try:
        mode = file.stat().st_mode
        if stat.S_ISDIR(mode):
            raise GrammarError(name, 1, 1, "is a directory, not a grammar file")
        if not stat.S_ISREG(mode):
            raise GrammarError(name, 1, 1, "not a regular file (a grammar is read from a file on disk)")
        with file.open("rb") as handle:
            data = handle.read(MAX_GRAMMAR_BYTES + 1)
    except FileNotFoundError:
        if is_name(path):
            known = ", ".join(shipped_grammars()) or "none"
            raise GrammarError(name, 1, 1, f"no grammar file or shipped grammar of this name (shipped: {known})"
                               ) from None
        raise GrammarError(name, 1, 1, "grammar file not found") from None
    except PermissionError:
        raise GrammarError(name, 1, 1, "permission denied") from None
    except OSError as err:
        raise GrammarError(name, 1, 1, f"cannot read grammar file: {err.strerror or err}") from None
    if len(data) > MAX_GRAMMAR_BYTES:
        raise GrammarError(name, 1, 1, f"file is larger than {MAX_GRAMMAR_BYTES} bytes; a grammar is a short text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        line_start = data.rfind(b"\n", 0, err.start) + 1
        column = len(data[line_start : err.start].decode("utf-8", errors="replace")) + 1
        raise GrammarError(
            name, 1, 1, f"not a UTF-8 text file: invalid byte 0x{data[err.start]:02x} at line {line}, column {column}"
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return parse_grammar(text, name, file)
