"""The pieces every generated block is written with: the line builder, word wrap, parameter and return
lines, and executing a source as a real module."""

from __future__ import annotations

import hashlib
import inspect
import linecache
import sys
import traceback

import pytest

from archsearch.compiler.emit import Code, exec_generated, full_effective, full_parameters, return_dict, wrap


def test_add_indents_dedents_and_keeps_blank_lines_empty():
    code = Code()
    code.add("x = 1", 8)
    code.add()
    code.add("\n    if a:\n        b()\n\n    c()\n", 4)
    code.add("\n            d()\n        e()\n", 0)  # the first line deeper than the rest: its extra indent kept
    assert code.lines == ["        x = 1", "", "    if a:", "        b()", "", "    c()", "    d()", "e()"]


def test_docstring_module_and_render():
    code = Code()
    code.docstring(["First line.", "", "More."], 4)
    assert code.lines == ['    """First line.', "", "    More.", '    """']
    code = Code()
    code.add()
    code.add("x = 1")
    code.add()
    code.add()
    assert code.render() == "\nx = 1\n"  # trailing blank lines dropped, leading kept
    module = Code.module("Block", ["Doc."]).render()
    assert module.startswith('class Block(torch.nn.Module):\n    """Doc.\n    """\n\n'
                             '    def __init__(self, features: int')
    assert "\n        super().__init__()\n        if features < 1 or heads < 1:\n" in module


def test_wrap_is_greedy_at_the_width():
    assert wrap("aa bb cc", 5) == ["aa bb", "cc"]  # "aa bb" is exactly 5: it fits
    assert wrap("aa bb cc", 4) == ["aa", "bb", "cc"]
    assert wrap("  one   two  ", 100) == ["one two"]
    assert wrap("") == []
    assert wrap("averyveryverylongword x", 3) == ["averyveryverylongword", "x"]  # a long word alone
    line = " ".join(["w" * 9] * 9 + ["w" * 10])  # 100 characters: the default width
    assert wrap(line) == [line]
    assert wrap(line + " z") == [line, "z"]
    assert wrap("w" * 99 + " z") == ["w" * 99, "z"]  # 101 characters


def test_return_dict_one_line_up_to_100_characters():
    items = [f'"W{i}": self.W{i}' for i in range(5)]
    code = Code()
    return_dict(code, items)
    assert code.lines == ["        return {" + ", ".join(items) + "}"]
    pad = 100 - len("return {" + ", ".join(items) + ', "": 1}')
    exact = items + ['"' + "p" * pad + '": 1']  # exactly 100 characters: still one line
    code = Code()
    return_dict(code, exact)
    assert len(code.lines) == 1 and len(code.lines[0].strip()) == 100
    longer = items + ['"' + "p" * (pad + 1) + '": 1']
    code = Code()
    return_dict(code, longer)
    assert code.lines == ["        return {", *[f"            {i}," for i in longer], "        }"]


def test_full_parameters_and_their_init():
    code = Code()
    full_parameters(code, ["W1", "A"])
    full_effective(code, ["W1", "A"])
    assert code.lines == [
        "        self.features, self.heads = features, heads",
        "        self.rank = None  # per-token family: full (H, C, C) weights, rank is not used",
        "        self.W1 = torch.nn.Parameter(torch.empty(heads, features, features, dtype=dtype))",
        "        self.A = torch.nn.Parameter(torch.empty(heads, features, features, dtype=dtype))",
        "        self.reset_parameters()",
        "",
        "    def reset_parameters(self):",
        '        """Gaussian init, variance 1/C."""',
        "        with torch.no_grad():",
        "            self.W1.normal_(0.0, 1.0 / math.sqrt(self.features))",
        "            self.A.normal_(0.0, 1.0 / math.sqrt(self.features))",
        "",
        "    def effective_weights(self):",
        '        """Calculus parameter name → (H, C, C) weight, named as archsearch.calculus.derive names them."""',
        '        return {"W1": self.W1, "A": self.A}',
    ]


def test_exec_generated_is_a_registered_module_with_its_lines():
    source = "import math\n\nclass Thing:\n    def f(self):\n        return math.pi / 0\n"
    cls = exec_generated(source, "Thing", "<thing test>")
    name = f"archsearch_generated_Thing_{hashlib.sha1(source.encode()).hexdigest()[:12]}"
    assert cls.__module__ == name and sys.modules[name].Thing is cls
    assert sys.modules[name].__file__ == "<thing test>"
    assert linecache.cache["<thing test>"] == (len(source), None, source.splitlines(keepends=True), "<thing test>")
    assert inspect.getsource(cls) == source.split("\n", 2)[2]  # the lines inspect and tracebacks read
    with pytest.raises(ZeroDivisionError) as err:
        cls().f()
    assert "return math.pi / 0" in "".join(traceback.format_tb(err.value.__traceback__))
    preset = exec_generated("class Other:\n    value = torch_name\n", "Other", "<other>", {"torch_name": 3})
    assert preset.value == 3
