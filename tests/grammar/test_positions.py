"""archsearch.grammar.positions: tomllib results plus the source positions of keys, values and tables.

Every document is checked exhaustively by :func:`position_problems`: the data equals ``tomllib.loads``;
every key, value, array element and table has a position, and the text there really is that key (it
decodes to the key's name), that literal (``tomllib`` reads it back as the same value), or that header.
"""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from archsearch.grammar.positions import Position, PositionIndex, TomlSyntaxError, _syntax_error, parse_toml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
GRAMMARS = sorted((ROOT / "grammars").glob("*.toml"))
BAD = sorted((ROOT / "tests" / "data" / "bad_grammars").glob("*.toml"))

_KEY_PART = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\\n]|\\.)*"|'[^'\n]*')"""
KEY_EQUALS = re.compile(rf"{_KEY_PART}(?:[ \t]*\.[ \t]*{_KEY_PART})*[ \t]*=[ \t]*")
BARE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
DELIMITERS = set(" \t\r\n,]}#")
SUFFIX = re.compile(r"\(at line (\d+), column (\d+)\)$")


# ---- the checker ---------------------------------------------------------------------------------


def same(a: Any, b: Any) -> bool:
    """Equal with equal types all the way down (1, 1.0 and True differ; nan equals nan)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


def at(pos: Position) -> tuple[int, int]:
    return pos.line, pos.column


def offset(text: str, pos: Position) -> int:
    """The index of (line, column) in ``text``, computed independently of the module."""
    lines = text.split("\n")
    assert 1 <= pos.line <= len(lines) and 1 <= pos.column <= len(lines[pos.line - 1]) + 1, pos
    return sum(len(line) + 1 for line in lines[: pos.line - 1]) + pos.column - 1


def literal_at(text: str, at: int, value: Any) -> bool:
    """Whether a TOML literal for ``value`` starts exactly at ``text[at]``."""
    rest = text[at:]
    if not rest or rest[0] in " \t\r\n":
        return False
    first = {str: "\"'", list: "[", dict: "{", bool: "tf"}.get(type(value))
    if first is not None and rest[0] not in first:
        return False
    for end in range(1, len(rest) + 1):
        if end < len(rest) and rest[end] not in DELIMITERS:
            continue
        try:
            if same(tomllib.loads("x = " + rest[:end])["x"], value):
                return True
        except tomllib.TOMLDecodeError:
            pass
    return False


def key_at(text: str, at: int, name: str) -> bool:
    """Whether a key (one component, bare or quoted) that decodes to ``name`` starts at ``text[at]``."""
    rest = text[at : text.find("\n", at) if "\n" in text[at:] else len(text)]
    for end in range(1, len(rest) + 1):
        if end < len(rest) and rest[0] not in "\"'" and rest[end] in BARE:
            continue
        try:
            if tomllib.loads(rest[:end] + " = 0") == {name: 0}:
                return True
        except tomllib.TOMLDecodeError:
            pass
    return False


def after_bracket(text: str, at: int, brackets: str) -> bool:
    """Whether ``text[at]`` follows ``brackets`` (``[`` or ``[[``) at the start of a line, blanks allowed."""
    before = text[:at].rstrip(" \t")
    line_start = before.rfind("\n") + 1
    return before.endswith(brackets) and before[line_start:].strip(" \t") == brackets


def position_problems(text: str, data: dict[str, Any], index: PositionIndex) -> list[str]:
    """Everything wrong with ``index`` as the position index of ``text``; empty when all is right."""
    problems: list[str] = []
    if not same(data, tomllib.loads(text)):
        problems.append("data differs from tomllib.loads")
    keys: list[tuple[str | int, ...]] = []
    value_offsets: dict[int, tuple[str | int, ...]] = {}

    def check_key(path: tuple[str | int, ...]) -> int | None:
        pos = index.key(path)
        if pos is None:
            problems.append(f"{path}: no key position")
            return None
        at = offset(text, pos)
        if not key_at(text, at, str(path[-1])):
            problems.append(f"{path}: key {path[-1]!r} is not at {pos}")
        return at

    def check_value(path: tuple[str | int, ...], value: Any) -> int | None:
        pos = index.value(path)
        if pos is None:
            problems.append(f"{path}: no value position")
            return None
        at = offset(text, pos)
        if not literal_at(text, at, value):
            problems.append(f"{path}: {value!r} is not at {pos}: {text[at : at + 20]!r}")
        if at in value_offsets:
            problems.append(f"{path}: same value position as {value_offsets[at]}")
        value_offsets.setdefault(at, path)
        return at

    def walk(path: tuple[str | int, ...], value: Any) -> None:
        key_offset = None
        if path and isinstance(path[-1], str):
            keys.append(path)
            key_offset = check_key(path)
        if isinstance(value, dict) and index.value(path) is None and path:  # a [header] or dotted-key table
            pos = index.table(path)
            if pos is None:
                problems.append(f"{path}: no table position")
            elif not (pos == index.key(path) or after_bracket(text, offset(text, pos), "[")):
                problems.append(f"{path}: table is neither at its key nor at a [header]: {pos}")
        elif isinstance(value, list) and value and index.value(path) is None:  # an array of tables
            for i, table in enumerate(value):
                pos = index.table((*path, i))
                keys.append((*path, i))
                if pos is None or not isinstance(table, dict):
                    problems.append(f"{path + (i,)}: not an array of tables, or no table position")
                    continue
                at = offset(text, pos)
                if not (after_bracket(text, at, "[[") and key_at(text, at, str(path[0]))):
                    problems.append(f"{path + (i,)}: no [[header]] at {pos}")
                if index.element(path, i) != pos or not key_at(text, offset(text, index.key((*path, i))), path[-1]):
                    problems.append(f"{path + (i,)}: element or key position is wrong")
                walk_children((*path, i), table)
            return
        elif path:
            at = check_value(path, value)
            if at is not None and key_offset is not None and not KEY_EQUALS.fullmatch(text, key_offset, at):
                problems.append(f"{path}: the text between key and value is not `key = `")
            if isinstance(value, dict) and index.table(path) != index.value(path):
                problems.append(f"{path}: inline table's table position is not its brace")
        walk_children(path, value)

    def walk_children(path: tuple[str | int, ...], value: Any) -> None:
        if isinstance(value, dict):
            for key, child in value.items():
                walk((*path, key), child)
        elif isinstance(value, list):
            previous = index.value(path)
            for i, child in enumerate(value):
                walk((*path, i), child)
                pos = index.element(path, i)
                if pos is None or previous is None or pos != index.value((*path, i)) or at(pos) <= at(previous):
                    problems.append(f"{path + (i,)}: element position {pos} is missing or out of order")
                previous = pos

    walk((), data)
    recorded = index.paths()
    if sorted(recorded, key=repr) != sorted(keys, key=repr):
        problems.append(f"paths() is {recorded}, expected the keys {keys}")
    order = [index.key(path) for path in recorded]
    if None in order or any(at(a) > at(b) for a, b in zip(order, order[1:], strict=False)):
        problems.append("paths() is not in document order")
    return problems


def assert_positions(text: str) -> PositionIndex:
    data, index = parse_toml(text)
    assert same(data, tomllib.loads(text))
    assert position_problems(text, data, index) == []
    return index


# ---- documents -----------------------------------------------------------------------------------

DOTTED = """\
name.first = "Tom"
name . last = 'Preston'   # blanks around the dot
site."google.com" = true
"quoted key" = 2
'lit.key' = 3
"esc\\u0041\\"q" = 4
"" = 5
3.14159 = "pi"
[a.b . "c.d"]
x = 1
[a]
y = 2
c.d.e = [1, 2]
"""

INLINE = """\
point = { x = 1, y = {z = [1, {w = "}", v = ']'}], q.r = 's' } }
empty = {}
arr = [{a=1}, {b=[]}, {}]
deep = {a = {b = {c = {d = "#"}}}}
"""

ARRAYS_OF_TABLES = """\
[[fruit]]
name = "apple"

[fruit.physical]  # subtable of the first fruit
color = "red"

[[fruit.variety]]
name = "red delicious"

[[ fruit . variety ]]
name = "granny smith"

[[fruit]]
name = "banana"

[[fruit.variety]]
name = "plantain"
"""

MULTILINE = '''\
s1 = """
has # hash, = equals, [brackets] and "quotes" and ""two""
\\"""escaped\\""" and \\\\"""
s2 = \'\'\'# not a comment [x] = 'y' '' \'\'\'
s3 = """"x"""""
s4 = \'\'\'\'y\'\'\'\'\'
s5 = """a \\
     b"""
after = 1 # comment with "quote and [bracket
t = ["""[""", \'\'\'#\'\'\', "]", '}', "#", "\\\\", ""]
q = ['say "hi"', "it's", 'C:\\path\\', "tab\\there\tand a real tab"]
e = ""
e2 = """"""
'''

ARRAYS = """\
a = [ # start
  1, # one
  [2, [3,
       4]], # nested
  # a comment line
  "five",
]
empty = []
mixed = [ [ ], [[]], "x" ]
"""

SCALARS = """\
i = -17
h = 0xDEAD_BEEF
o = 0o755
bits = 0b1101
big = 1_000_000
f = 6.02e+23
g = -0.5
inf = -inf
nan = nan
d = 1979-05-27 07:32:00-08:00
d2 = 1979-05-27T07:32:00Z
ld = 1979-05-27
lt = 07:32:00.999
dates = [1979-05-27 07:32:00, 1979-05-27,1]
b = false
t=true
"""

UNICODE = """\
"é€😀" = "😀"
u = { "é€😀" = "😀", n = 7 }
emoji = ["😀", "ü", 2]
"""

TABS_CRLF = "a\t=\t1\r\n[t]\r\n\tb = [\r\n\t1, # c\r\n\t2,\r\n]\r\n\t\"k\" = 'v'\t# c\r\n"

HEADERS = """\
[ a . "b c" . 'd' ]
x = 1
[x.y.z]
w = 2
[x]        # defines the table created implicitly above
v = 3
[empty]
"""

DOCUMENTS = {
    "dotted": DOTTED,
    "inline": INLINE,
    "arrays_of_tables": ARRAYS_OF_TABLES,
    "multiline": MULTILINE,
    "arrays": ARRAYS,
    "scalars": SCALARS,
    "unicode": UNICODE,
    "tabs_crlf": TABS_CRLF,
    "headers": HEADERS,
    "empty": "",
    "comment_only": "# just a comment\n\n",
    "no_final_newline": "a = [1, 2]",
}


@pytest.mark.parametrize("path", GRAMMARS, ids=lambda p: p.stem)
def test_shipped_grammars(path: Path) -> None:
    assert_positions(path.read_text(encoding="utf-8"))


def test_there_are_shipped_grammars() -> None:
    assert len(GRAMMARS) >= 5


@pytest.mark.parametrize("name", DOCUMENTS)
def test_documents(name: str) -> None:
    assert_positions(DOCUMENTS[name])


def _valid(path: Path) -> bool:
    try:
        tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError:
        return False
    return True


@pytest.mark.parametrize("path", [p for p in BAD if _valid(p)], ids=lambda p: p.stem)
def test_bad_grammars_that_are_valid_toml(path: Path) -> None:
    assert_positions(path.read_text(encoding="utf-8"))


# ---- spot checks against hand-counted positions --------------------------------------------------


def test_hand_counted_positions() -> None:
    index = assert_positions(UNICODE)
    assert index.key(("u", "n")) == Position(2, 20)  # characters, not UTF-8 bytes
    assert index.value(("u", "n")) == Position(2, 24)
    assert index.value(("u",)) == index.table(("u",)) == Position(2, 5)
    assert index.element(("emoji",), 2) == index.value(("emoji", 2)) == Position(3, 20)

    index = assert_positions(TABS_CRLF)
    assert index.value(("a",)) == Position(1, 5)  # a tab is one column
    assert index.table(("t",)) == Position(2, 2)
    assert index.value(("t", "b")) == Position(3, 6)
    assert index.element(("t", "b"), 1) == Position(5, 2)
    assert index.key(("t", "k")) == Position(7, 2)

    index = assert_positions(ARRAYS_OF_TABLES)
    assert index.table(("fruit", 1)) == Position(13, 3)
    assert index.key(("fruit", 1, "name")) == Position(14, 1)
    assert index.table(("fruit", 0, "physical")) == Position(4, 2)
    assert index.table(("fruit", 0, "variety", 1)) == Position(10, 4)
    assert index.key(("fruit", 0, "variety", 1)) == Position(10, 12)
    assert index.element(("fruit", 0, "variety"), 1) == Position(10, 4)
    assert index.value(("fruit",)) is None

    index = assert_positions(DOTTED)
    assert index.key(("site", "google.com")) == Position(3, 6)
    assert index.table(("site",)) == index.key(("site",)) == Position(3, 1)
    assert index.key(("3", "14159")) == Position(8, 3)
    assert index.key(("a", "b", "c.d")) == Position(9, 8)
    assert index.table(("a", "b", "c.d")) == Position(9, 2)
    assert index.table(("a",)) == Position(11, 2)  # [a] defines it after [a.b."c.d"] created it
    assert index.key(("a",)) == Position(9, 2)  # ... but its first mention stays the key position
    assert index.key(("esc" + "A" + '"q',)) == Position(6, 1)

    index = assert_positions(HEADERS)
    assert index.table(("a", "b c", "d")) == Position(1, 3)
    assert index.key(("a", "b c", "d")) == Position(1, 15)
    assert index.table(("x", "y")) == Position(3, 4)
    assert index.table(("x",)) == Position(5, 2)
    assert index.table(("empty",)) == Position(7, 2)

    index = assert_positions(MULTILINE)
    assert index.value(("after",)) == Position(9, 9)
    assert index.key(("t",)) == Position(10, 1)

    index = assert_positions(SCALARS)
    assert index.element(("dates",), 1) == Position(14, 31)
    assert index.element(("dates",), 2) == Position(14, 42)

    _, index = parse_toml("")
    assert index.paths() == [] and index.key(("a",)) is None and index.element(("a",), 0) is None


def test_paths_in_document_order() -> None:
    _, index = parse_toml(DOTTED)
    assert index.paths()[:5] == [("name",), ("name", "first"), ("name", "last"), ("site",), ("site", "google.com")]
    _, index = parse_toml(ARRAYS_OF_TABLES)
    assert index.paths()[:3] == [("fruit",), ("fruit", 0), ("fruit", 0, "name")]


# ---- the checker can fail ------------------------------------------------------------------------


class _Shifted(PositionIndex):
    """An index with one position moved: the checker must notice."""

    def __init__(self, inner: PositionIndex, kind: str, path: tuple[str | int, ...], to: Position) -> None:
        super().__init__()
        self._inner, self._kind, self._path, self._to = inner, kind, path, to

    def _get(self, kind: str, path: tuple[str | int, ...]) -> Position | None:
        if kind == self._kind and tuple(path) == self._path:
            return self._to
        return getattr(self._inner, kind)(path)

    def key(self, path: tuple[str | int, ...]) -> Position | None:
        return self._get("key", path)

    def value(self, path: tuple[str | int, ...]) -> Position | None:
        return self._get("value", path)

    def element(self, path: tuple[str | int, ...], i: int) -> Position | None:
        return self.value((*path, i)) or self.table((*path, i))

    def table(self, path: tuple[str | int, ...]) -> Position | None:
        return self._get("table", path)

    def paths(self) -> list[tuple[str | int, ...]]:
        return self._inner.paths()


@pytest.mark.parametrize(
    ("kind", "path", "to"),
    [
        ("value", ("axioms", "max_order"), "+1"),  # one column to the right
        ("value", ("axioms", "max_order"), "-1"),  # the blank before the value
        ("key", ("axioms", "field"), "+1"),
        ("table", ("axioms",), "-1"),  # the "[" instead of the name
        ("value", ("axioms", "min_order"), "other"),  # another literal of the same value
        ("value", ("axioms", "left"), None),
    ],
)
def test_checker_detects_a_wrong_position(kind: str, path: tuple[str, ...], to: str | None) -> None:
    text = "[axioms]\nleft = 'x'\nfield = 'y'\nmin_order = 2\nmax_order = 24\nother = 2\n"
    data, index = parse_toml(text)
    assert position_problems(text, data, index) == []
    pos = getattr(index, kind)(path)
    moved = {"+1": Position(pos.line, pos.column + 1), "-1": Position(pos.line, pos.column - 1)}.get(to)
    if to == "other":
        moved = index.value(("axioms", "other"))
    problems = position_problems(text, data, _Shifted(index, kind, path, moved))
    assert any(str(path) in problem for problem in problems), problems


# ---- syntax errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ("a = \n", 1, 5),
        ("[a]\n[a]\n", 2, 3),  # duplicate table
        ("x = 1 2", 1, 7),
        ('a = "abc\n', 1, 9),  # unterminated string
        ('a = "é" x', 1, 9),  # columns in characters
        ("a = 1\r\nb = \r\n", 2, 5),  # CRLF
        ("a = [1,\n2", 2, 2),  # end of document, inside an array
        ("a = [1,\n", 2, 1),  # end of document just after a newline
        ("[", 1, 2),
        ("\tb = 1\n\tb = 2\n", 2, 7),
    ],
)
def test_syntax_errors(text: str, line: int, column: int) -> None:
    with pytest.raises(TomlSyntaxError) as caught:
        parse_toml(text)
    err = caught.value
    assert (err.line, err.column) == (line, column)
    assert err.message and "\n" not in err.message and "(at " not in err.message
    with pytest.raises(tomllib.TOMLDecodeError) as original:
        tomllib.loads(text)
    assert str(original.value).startswith(err.message)


@pytest.mark.parametrize("path", [p for p in BAD if not _valid(p)], ids=lambda p: p.stem)
def test_bad_grammars_that_are_invalid_toml(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    with pytest.raises(tomllib.TOMLDecodeError) as original:
        tomllib.loads(text)
    with pytest.raises(TomlSyntaxError) as caught:
        parse_toml(text)
    err = caught.value
    match = SUFFIX.search(str(original.value))
    if match:
        assert (err.line, err.column) == (int(match.group(1)), int(match.group(2)))
    assert "\n" not in err.message and "(at " not in err.message


def test_error_mapping_without_a_real_decode_error() -> None:
    """The message suffix of Python 3.11/3.12, and the ``lineno``/``colno`` attributes of newer versions."""
    err = _syntax_error("", ValueError("Unclosed array (at end of document)"))
    assert (err.line, err.column, err.message) == (1, 1, "Unclosed array")  # an empty document
    err = _syntax_error("a = [\r\n  1", ValueError("Unclosed array (at end of document)"))
    assert (err.line, err.column) == (2, 4)
    err = _syntax_error("x", ValueError("Invalid value (at line 3, column 14)"))
    assert (err.line, err.column, err.message) == (3, 14, "Invalid value")

    class Newer(ValueError):
        msg, lineno, colno = "Invalid value", 7, 2

    err = _syntax_error("x", Newer("Invalid value (at line 1, column 1)"))
    assert (err.line, err.column, err.message) == (7, 2, "Invalid value")
    err = _syntax_error("x", ValueError("two\nlines (at line 1, column 1)"))
    assert err.message == "two lines"
