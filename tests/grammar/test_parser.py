"""The grammar-file parser: shipped grammars, TOML read by tomllib, the schema, and positioned errors."""

from __future__ import annotations

import os
import re
from dataclasses import fields
from pathlib import Path

import pytest

from archsearch.enumeration.axioms import Axioms
from archsearch.grammar import (
    ACTIVATION_FUNCTIONS,
    CONIC_PROJECTIONS,
    ENTRYWISE_FUNCTIONS,
    Families,
    Grammar,
    GrammarError,
    Sizes,
    load_grammar,
    parse_grammar,
)
from archsearch.grammar.parser import schema

ROOT = Path(__file__).resolve().parents[2]
GRAMMARS = sorted((ROOT / "grammars").glob("*.toml"))
BAD = sorted((ROOT / "tests" / "data" / "bad_grammars").glob("*.toml"))
EXPECT = re.compile(r"# expect: (\d+):(\d+): (.+)")

MINIMAL = "[axioms]\nmax_order = 4\n"


# ---- shipped grammars ------------------------------------------------------------------------


def test_shipped_grammars_exist() -> None:
    names = {path.stem for path in GRAMMARS}
    assert {"paper", "permutation", "softmax", "gated", "conic", "complex", "alphabet", "transformer"} <= names


@pytest.mark.parametrize("path", GRAMMARS, ids=lambda p: p.stem)
def test_shipped_grammar_loads(path: Path) -> None:
    grammar = load_grammar(path)
    assert isinstance(grammar, Grammar)
    assert grammar.name == path.stem
    assert grammar.path == path
    assert grammar.description
    assert "\n" not in grammar.description


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
    # softmax and entrywise kernels are only S_N-invariant: the grammar says left = perm
    assert load["softmax"].axioms == Axioms(left="perm", right="centralizer", max_order=4)
    assert load["softmax"].families == Families(softmax=True, entrywise=("exp",))
    assert load["gated"].axioms == Axioms(left="perm", right="none", max_order=4)
    # cone projections are per-token functions of X A: S_N only, no centralizer
    assert load["conic"].axioms == Axioms(left="perm", right="none", max_order=2)
    assert load["conic"].families == Families(conic=("relu", "soc", "colu"), cone_size=4)
    assert load["transformer"].axioms == Axioms(left="perm", right="none", max_order=2)
    assert load["transformer"].families == Families(softmax=True, activation=("gelu", "relu2"))
    assert load["complex"].axioms == Axioms(left="unitary", field="complex", max_order=6)
    alphabet = load["alphabet"].axioms
    assert (alphabet.left, alphabet.field, alphabet.weights, alphabet.max_order) == ("unitary", "real", "alphabet", 8)
    assert alphabet.alphabet == ("A", "B")
    assert alphabet.symmetric == frozenset({"A", "B"})


# ---- TOML and the schema ------------------------------------------------------------------------


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
softmax = true
temperature = 0.25
entrywise = ["exp", "cosh", "logcosh", "softplus"]
activation = ["relu2", "gelu", "silu"]
glu = ["silu"]
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
        softmax=True, temperature=0.25, entrywise=ENTRYWISE_FUNCTIONS, activation=ACTIVATION_FUNCTIONS,
        glu=("silu",), conic=CONIC_PROJECTIONS, cone_size=8,
    )
    assert grammar.sizes == Sizes(tokens=4096, features=512, rank=512, heads=8)


def test_escapes_and_literal_strings() -> None:
    text = (
        "[grammar]\n"
        'description = "q\\" b\\\\ t\\t u\\u00e9 U\\U0001F600 b\\b"\n'
        "name = 'lit'\n" + MINIMAL
    )
    grammar = parse_grammar(text)
    assert grammar.description == 'q" b\\ t\t u\u00e9 U\U0001f600 b\b'
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
conic = [ ]
entrywise = ['exp'
  , "cosh"]
"""
    grammar = parse_grammar(text)
    assert grammar.axioms.alphabet == ("A", "B")
    assert grammar.axioms.symmetric == frozenset({"A"})
    assert grammar.families.conic == ()
    assert grammar.families.entrywise == ("exp", "cosh")


def test_integers_and_line_endings() -> None:
    assert parse_grammar("[axioms]\nmax_order = +1_6\nmin_order = 1\n").axioms.max_order == 16
    assert parse_grammar("[axioms]\r\nmax_order = 4\r\n").axioms.max_order == 4
    assert parse_grammar("[axioms]\nmax_order = 4").axioms.max_order == 4  # no final newline
    assert parse_grammar("\t[ axioms ]\t\nmax_order\t=\t4\n").axioms.max_order == 4


def test_valid_toml_is_accepted() -> None:
    """What the old hand-written dialect rejected: floats, dotted keys, inline tables, quoted keys and
    table names, hexadecimal integers, multi-line strings holding one line."""
    assert parse_grammar("axioms.max_order = 6\n").axioms.max_order == 6  # a dotted key makes the table
    assert parse_grammar("axioms = { max_order = 6, left = 'perm' }\n").axioms.max_order == 6
    assert parse_grammar('[axioms]\n"max_order" = 0x6\n').axioms.max_order == 6
    assert parse_grammar('["axioms"]\nmax_order = 4\n').axioms.max_order == 4
    assert parse_grammar('[grammar]\ndescription = """one line"""\n' + MINIMAL).description == "one line"
    grammar = parse_grammar(MINIMAL + "[families]\nsoftmax = true\ntemperature = 0.5\n")
    assert grammar.families.temperature == 0.5
    assert parse_grammar(MINIMAL + "[families]\nsoftmax = true\ntemperature = 2\n").families.temperature == 2.0


def test_schema_is_read_off_the_dataclasses() -> None:
    """Every dataclass field is a key of its table (adding a field adds a key), with its type and bounds."""
    tables = schema()
    assert set(tables["axioms"]) == {f.name for f in fields(Axioms)}
    assert set(tables["families"]) == {f.name for f in fields(Families)}
    assert set(tables["sizes"]) == {f.name for f in fields(Sizes)}
    assert tuple(tables["axioms"]["left"].choices) == ("perm", "orthogonal", "unitary")
    assert tables["axioms"]["max_order"].required and tables["axioms"]["max_order"].high == 16
    assert tuple(tables["families"]["activation"].choices) == ACTIVATION_FUNCTIONS
    assert tables["families"]["temperature"].kind == "number"
    assert tables["families"]["cone_size"].kind == "integer"


def test_grammar_file_size_and_kind(tmp_path: Path) -> None:
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * (1 << 20) + "\n[axioms]\nmax_order = 4\n")
    with pytest.raises(GrammarError, match="larger than") as info:
        load_grammar(big)
    assert (info.value.line, info.value.column) == (1, 1)
    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)
    with pytest.raises(GrammarError, match="not a regular file"):
        load_grammar(fifo)  # returns at once: a FIFO is never opened


# ---- errors -------------------------------------------------------------------------------------


def test_error_format() -> None:
    err = GrammarError("g.toml", 3, 7, "bad thing")
    assert str(err) == "g.toml:3:7: error: bad thing"
    assert (err.path, err.line, err.column, err.message) == ("g.toml", 3, 7, "bad thing")
    assert "\n" not in str(GrammarError("a\nb", 1, 1, "two\nlines\u2028"))


def test_enough_bad_grammars() -> None:
    assert len(BAD) >= 76


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


def test_syntax_errors_before_schema_errors() -> None:
    # tomllib reads the whole file first: the syntax error on line 4 is reported, not the bad value on line 2
    with pytest.raises(GrammarError) as info:
        parse_grammar('[axioms]\nmax_order = 0\nleft = "perm"\nleft = "x\n')
    assert info.value.line == 4
    assert "invalid TOML" in info.value.message


@pytest.mark.parametrize(
    ("text", "position", "needle"),
    [
        ("[axioms]\nmax_order = nan\n", (2, 13), "max_order: expected an integer, got a float"),
        ("[axioms]\nmax_order = 07:32:00\n", (2, 13), "expected an integer, got a time"),
        ("[axioms]\nmax_order = '''4'''\n", (2, 13), "expected an integer, got a string"),
        ('[grammar]\nname = "a\\uD800"\n', (2, 16), "invalid TOML: Escaped character is not a Unicode scalar"),
        ("[grammar]\nname = 'a\n", (3, 1), "invalid TOML"),
        ("[axioms]\nmax_order = 4\nleft = unitary\n", (3, 8), 'strings must be quoted: "unitary"'),
        ('[grammar]\ndescription = "two\\nlines"\n' + "[axioms]\nmax_order = 4\n", (2, 15),
         "description must be one line"),
        ("[axioms]\n[[x]]\n", (2, 3), "unknown table [x]"),
        ("[axioms]\nmax_order = 4\nentrywise = 1\n", (3, 1), "unknown key 'entrywise' in [axioms]"),
        ("[sizes]\nheads = 0\n[axioms]\nmax_order = 4\n", (2, 9), "heads must be at least 1"),
        ("[axioms]\nmax_order = [4]\n", (2, 13), "expected an integer, got an array"),
        ('[axioms]\nmax_order = 4\nalphabet = "A"\n', (3, 12), "expected an array of strings, got a string"),
        ("[axioms]\nmax_order = 1\n", (2, 13), "below the default min_order 2"),
        ("max_order = 4\n", (1, 1), "key 'max_order' must be inside a table"),
        ("[axioms]\nmax_order = 4\n[families]\nsoftmax = true\ntemperature = inf\n", (5, 15),
         "temperature must be a finite number"),
        ("[axioms]\nmax_order = 4\n[families]\nsoftmax = 1\n", (4, 11), "softmax: expected a boolean, got an integer"),
        ('[axioms]\nleft = "unitary"\nright = "none"\nmax_order = 4\n', (3, 1), 'right = "none" needs left = "perm"'),
        ('[axioms]\nmax_order = 4\n[families]\nglu = ["gelu", "gelu"]\n', (4, 16), 'duplicate "gelu" in glu'),
        ('[axioms]\nleft = "unitary"\nmax_order = 4\n[families]\nsoftmax = true\ntemperature = 0.5\n', (5, 11),
         "family 'lse@0.5' is not invariant under left = unitary"),
    ],
)
def test_more_errors(text: str, position: tuple[int, int], needle: str) -> None:
    with pytest.raises(GrammarError) as info:
        parse_grammar(text)
    assert (info.value.line, info.value.column) == position, str(info.value)
    assert needle in info.value.message
    assert "\n" not in str(info.value)


def test_no_eval_of_user_text() -> None:
    with pytest.raises(GrammarError, match="invalid TOML"):
        parse_grammar("[axioms]\nmax_order = __import__('os').getpid()\n")
