"""The grammar-file parser: shipped grammars, the TOML subset, and positioned errors."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from archsearch.enumeration.axioms import Axioms
from archsearch.grammar import (
    CONIC_PROJECTIONS,
    ENTRYWISE_FUNCTIONS,
    Families,
    Grammar,
    GrammarError,
    Sizes,
    load_grammar,
    parse_grammar,
)
from archsearch.grammar.parser import parse_document

ROOT = Path(__file__).resolve().parents[2]
GRAMMARS = sorted((ROOT / "grammars").glob("*.toml"))
BAD = sorted((ROOT / "tests" / "data" / "bad_grammars").glob("*.toml"))
EXPECT = re.compile(r"# expect: (\d+):(\d+): (.+)")

MINIMAL = "[axioms]\nmax_order = 4\n"


# ---- shipped grammars ------------------------------------------------------------------------


def test_shipped_grammars_exist() -> None:
    names = {path.stem for path in GRAMMARS}
    assert {"paper", "permutation", "softmax", "gated", "conic", "complex", "alphabet"} <= names


@pytest.mark.parametrize("path", GRAMMARS, ids=lambda p: p.stem)
def test_shipped_grammar_loads(path: Path) -> None:
    grammar = load_grammar(path)
    assert isinstance(grammar, Grammar)
    assert grammar.name == path.stem
    assert grammar.path == path
    assert grammar.description
    assert "\n" not in grammar.description


@pytest.mark.parametrize("path", GRAMMARS, ids=lambda p: p.stem)
def test_shipped_grammar_agrees_with_tomllib(path: Path) -> None:
    tomllib = pytest.importorskip("tomllib") if sys.version_info >= (3, 11) else pytest.importorskip("tomli")
    with path.open("rb") as handle:
        expected = tomllib.load(handle)
    assert parse_document(path.read_text(encoding="utf-8"), str(path)).plain() == expected


def test_paper_grammar_values() -> None:
    grammar = load_grammar(ROOT / "grammars" / "paper.toml")
    assert grammar.axioms == Axioms(left="unitary", right="centralizer", field="real", max_order=4, min_order=2)
    assert grammar.families == Families()
    assert grammar.sizes == Sizes()
    assert "Transformers Are Optimal Effective Fields" in grammar.description
    assert "Fu, 2025" in grammar.description


def test_other_grammar_values() -> None:
    load = {path.stem: load_grammar(path) for path in GRAMMARS}
    assert load["permutation"].axioms == Axioms(left="perm", max_order=6)
    assert load["softmax"].axioms.left in ("perm", "unitary")
    assert load["softmax"].families == Families(softmax=True, entrywise=("exp",))
    assert load["gated"].axioms == Axioms(left="perm", right="none", max_order=4)
    assert load["conic"].axioms == Axioms(left="unitary", max_order=2)
    assert load["conic"].families == Families(conic=("relu", "soc", "colu"), cone_size=4)
    assert load["complex"].axioms == Axioms(left="unitary", field="complex", max_order=6)
    alphabet = load["alphabet"].axioms
    assert (alphabet.left, alphabet.field, alphabet.weights, alphabet.max_order) == ("unitary", "real", "alphabet", 8)
    assert alphabet.alphabet == ("A", "B")
    assert alphabet.symmetric == frozenset({"A", "B"})


# ---- the TOML subset -------------------------------------------------------------------------


def test_defaults_and_name() -> None:
    grammar = parse_grammar(MINIMAL)
    assert grammar.name == "grammar"
    assert grammar.path is None
    assert grammar.axioms == Axioms(max_order=4)
    assert grammar.families == Families()
    assert grammar.sizes == Sizes()
    assert parse_grammar(MINIMAL, "dir/mine.toml").name == "mine"
    assert parse_grammar('[grammar]\nname = "x-1.v2"\n' + MINIMAL, "dir/mine.toml").name == "x-1.v2"
    assert parse_grammar("[axioms]\nmax_order = 1\nmin_order = 1\n").axioms.max_order == 1
    with pytest.raises(GrammarError, match="taken from the file name") as info:
        parse_grammar(MINIMAL, "my grammar.toml")
    assert (info.value.line, info.value.column) == (1, 1)


def test_every_key() -> None:
    text = """
[grammar]
name = "all"
description = "every key"

[axioms]
left = "perm"
right = "none"
field = "real"
max_order = 16
min_order = 1
connected = false
weights = "alphabet"
alphabet = ["A", "Bq", "Wk"]
symmetric = ["Bq"]

[families]
softmax = false
entrywise = ["exp", "cosh", "logcosh", "softplus"]
conic = ["relu", "soc", "colu"]
cone_size = 8

[sizes]
tokens = 4_096
features = 512
rank = 512
heads = 8
"""
    grammar = parse_grammar(text)
    assert grammar.axioms == Axioms(
        left="perm",
        right="none",
        field="real",
        max_order=16,
        min_order=1,
        connected=False,
        weights="alphabet",
        alphabet=("A", "Bq", "Wk"),
        symmetric=frozenset({"Bq"}),
    )
    assert grammar.families == Families(
        softmax=False, entrywise=ENTRYWISE_FUNCTIONS, conic=CONIC_PROJECTIONS, cone_size=8
    )
    assert grammar.sizes == Sizes(tokens=4096, features=512, rank=512, heads=8)


def test_escapes_and_literal_strings() -> None:
    text = (
        "[grammar]\n"
        'description = "q\\" b\\\\ n\\n t\\t u\\u00e9 U\\U0001F600 r\\r f\\f b\\b"\n'
        "name = 'lit'\n" + MINIMAL
    )
    grammar = parse_grammar(text)
    assert grammar.description == 'q" b\\ n\n t\t u\u00e9 U\U0001f600 r\r f\f b\b'
    assert grammar.name == "lit"
    assert parse_grammar("[grammar]\ndescription = 'C:\\path\\no\\escapes'\n" + MINIMAL).description == (
        "C:\\path\\no\\escapes"
    )


def test_arrays_comments_and_layout() -> None:
    text = """# leading comment

[axioms]   # trailing comment
   max_order=8
weights = "alphabet"
alphabet = [
    "A",  # first letter
    # a whole-line comment inside the array

    "B",
]
symmetric = ["A",]
[families]
entrywise = [ ]
conic = ['relu'
  , "soc"]
"""
    grammar = parse_grammar(text)
    assert grammar.axioms.alphabet == ("A", "B")
    assert grammar.axioms.symmetric == frozenset({"A"})
    assert grammar.families.entrywise == ()
    assert grammar.families.conic == ("relu", "soc")


def test_integers_and_line_endings() -> None:
    assert parse_grammar("[axioms]\nmax_order = +1_6\nmin_order = 1\n").axioms.max_order == 16
    assert parse_grammar("[axioms]\r\nmax_order = 4\r\n").axioms.max_order == 4
    assert parse_grammar("[axioms]\nmax_order = 4").axioms.max_order == 4  # no final newline
    assert parse_grammar("\t[ axioms ]\t\nmax_order\t=\t4\n").axioms.max_order == 4


def test_document_positions() -> None:
    document = parse_document('\n[axioms]\n  left = "perm"\nalphabet = [\n  "A", "B"]\n')
    table = document.tables["axioms"]
    assert (table.line, table.column) == (2, 2)
    left = table.entries["left"]
    assert (left.line, left.column, left.value.line, left.value.column) == (3, 3, 3, 10)
    alphabet = table.entries["alphabet"].value
    assert (alphabet.kind, alphabet.line, alphabet.column) == ("array", 4, 12)
    assert [(n.value, n.line, n.column) for n in alphabet.value] == [("A", 5, 3), ("B", 5, 8)]


def test_subset_agrees_with_tomllib_on_values() -> None:
    tomllib = pytest.importorskip("tomllib") if sys.version_info >= (3, 11) else pytest.importorskip("tomli")
    text = (
        "a = -0\nb = +12_345\nc = true\nd = false\n"
        'e = "x\\u0041\\t\\"y\\""\nf = \'lit\\\'\ng = [1, [2, "3"], [], ]\n[t]\nh = [\n  1,\n  2 # c\n]\n'
    )
    assert parse_document(text).plain() == tomllib.loads(text)


# ---- errors -------------------------------------------------------------------------------------


def test_error_format() -> None:
    err = GrammarError("g.toml", 3, 7, "bad thing")
    assert str(err) == "g.toml:3:7: error: bad thing"
    assert (err.path, err.line, err.column, err.message) == ("g.toml", 3, 7, "bad thing")
    assert "\n" not in str(GrammarError("a\nb", 1, 1, "two\nlines\u2028"))


def test_enough_bad_grammars() -> None:
    assert len(BAD) >= 35


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_bad_grammar(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    match = EXPECT.fullmatch(first)
    assert match, f"{path.name}: first line must be '# expect: LINE:COLUMN: message'"
    line, column, needle = int(match[1]), int(match[2]), match[3]
    with pytest.raises(GrammarError) as info:
        load_grammar(path)
    text = str(info.value)
    assert len(text.splitlines()) == 1
    assert text.startswith(f"{path}:{line}:{column}: error: "), text
    assert needle in text, text
    assert (info.value.path, info.value.line, info.value.column) == (str(path), line, column)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.toml"
    path.write_text("")
    with pytest.raises(GrammarError, match="missing required table \\[axioms\\]") as info:
        load_grammar(path)
    assert str(info.value).startswith(f"{path}:1:1: error: ")
    with pytest.raises(GrammarError):
        parse_grammar("   \n\n# nothing\n")


def test_file_errors(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(GrammarError, match="not found") as info:
        load_grammar(missing)
    assert str(info.value) == f"{missing}:1:1: error: grammar file not found"
    with pytest.raises(GrammarError, match="is a directory") as info:
        load_grammar(tmp_path)
    assert (info.value.line, info.value.column) == (1, 1)
    binary = tmp_path / "latin1.toml"
    binary.write_bytes(b"[axioms]\nmax_order = 4\n# caf\xe9\n")
    with pytest.raises(GrammarError, match="not a UTF-8 text file: invalid byte 0xe9 at line 3, column 6") as info:
        load_grammar(str(binary))
    assert str(info.value).startswith(f"{binary}:1:1: error: ")


def test_string_path_in_errors() -> None:
    with pytest.raises(GrammarError) as info:
        parse_grammar("[axioms]\nmax_order = 0\n")
    assert str(info.value) == "<string>:2:13: error: max_order must be between 1 and 16, got 0"
    with pytest.raises(GrammarError) as info:
        parse_grammar("[axioms]\nmax_order = 0\n", path="x.toml")
    assert str(info.value).startswith("x.toml:2:13: ")


def test_errors_come_in_document_order() -> None:
    # the duplicate key (line 3) is reported before the syntax error on line 4
    with pytest.raises(GrammarError) as info:
        parse_grammar('[axioms]\nmax_order = 4\nmax_order = 5\nleft = "x\n')
    assert (info.value.line, info.value.column) == (3, 1)
    assert "duplicate key" in info.value.message


@pytest.mark.parametrize(
    ("text", "position", "needle"),
    [
        ("[axioms]\nmax_order = nan\n", (2, 13), "floats are not supported"),
        ("[axioms]\nmax_order = 07:32:00\n", (2, 13), "dates and times"),
        ("[axioms]\nmax_order = '''4'''\n", (2, 13), "multi-line strings"),
        ('[grammar]\nname = "a\\uD800"\n', (2, 10), "not a Unicode scalar value"),
        ('[grammar]\nname = "a\\\n', (2, 8), "unterminated string"),
        ("[grammar]\nname = 'a\n", (2, 8), "unterminated string"),
        ('["axioms"]\n', (1, 2), "quoted table names"),
        ("[axioms]\nmax_order = truex\n", (2, 13), "strings must be quoted"),
        ("[axioms]\nmax_order = 4x\n", (2, 13), "strings must be quoted"),
        ('[axioms]\nalphabet = ["A",\n[sizes]\n', (2, 12), "unclosed array"),
        ("[axioms]\nx = [1, 2] 3\n", (2, 12), "expected end of line after the value of 'x'"),
        ("[axioms]\nmax_order = 4\r\r\n", (2, 14), "carriage return"),
        ("[axioms]\nmax_order = 4\x01\n", (2, 14), "control character U+0001"),
        ("[axioms]\n[[x]]\n", (2, 2), "arrays of tables"),
        ("[axioms]\nmax_order = 4\nentrywise = 1\n", (3, 1), "unknown key 'entrywise' in [axioms]"),
        ("[sizes]\nheads = 0\n[axioms]\nmax_order = 4\n", (2, 9), "heads must be at least 1"),
        ("[axioms]\nmax_order = [4]\n", (2, 13), "expected an integer, got an array"),
        ('[axioms]\nmax_order = 4\nalphabet = "A"\n', (3, 12), "expected an array, got a string"),
        ("[axioms]\nmax_order = 1\n", (2, 13), "below the default min_order 2"),
    ],
)
def test_more_errors(text: str, position: tuple[int, int], needle: str) -> None:
    with pytest.raises(GrammarError) as info:
        parse_grammar(text)
    assert (info.value.line, info.value.column) == position, str(info.value)
    assert needle in info.value.message
    assert "\n" not in str(info.value)


def test_no_eval_of_user_text() -> None:
    with pytest.raises(GrammarError):
        parse_grammar("[axioms]\nmax_order = __import__('os').getpid()\n")
