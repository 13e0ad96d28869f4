"""archsearch/export/source.py on its own: recording how a task builds its modules, the build_model() it
writes, and how the file is put together (section rules, the sections checked against each other)."""

from __future__ import annotations

import pprint
import sys
from types import SimpleNamespace

import pytest
import torch

from archsearch.export.source import (
    HEADER_IMPORTS,
    MODEL_OBJECTS,
    ExportError,
    ModuleCall,
    _literal,
    assemble,
    build_model_source,
    check_sections,
    check_standalone,
    class_source,
    record_call,
    sections_of,
)


class Plain(torch.nn.Module):
    def __init__(self, d_model: int, vocab: int = 5, name: str = "x") -> None:
        d_model += 1000  # reassigned before anything is called: the value the call passed is what is recorded
        super().__init__()
        self.d_model, self.vocab, self.name = d_model - 1000, vocab, name


class Inherits(Plain):
    pass


Builtin = type("Builtin", (), {"__init__": object.__init__})  # its own __init__, but no Python code to record


class Variadic(torch.nn.Module):
    def __init__(self, d_model: int, *sizes: int) -> None:
        super().__init__()


class NotLiteral(torch.nn.Module):
    def __init__(self, d_model: int, act=torch.tanh) -> None:
        super().__init__()


def test_record_call_records_the_arguments_the_factory_passed():
    before = torch.random.get_rng_state()
    call = record_call(lambda d: Plain(d, vocab=7), 12)
    assert call == ModuleCall(Plain, {"d_model": 12, "vocab": 7, "name": "x"})
    assert call.call() == "Plain(d_model=12, vocab=7, name='x')"
    assert torch.equal(torch.random.get_rng_state(), before)


def test_record_call_restores_an_outer_profiler():
    events: list[str] = []

    def outer(frame, event, arg):
        events.append(event)

    sys.setprofile(outer)
    try:
        record_call(lambda d: Plain(d), 4)
        assert sys.getprofile() is outer
    finally:
        sys.setprofile(None)
    assert events


@pytest.mark.parametrize("factory, message", [
    (lambda d: Inherits(d), "tests.export.test_source.Inherits defines no __init__ of its own to export"),
    (lambda d: Builtin(), "tests.export.test_source.Builtin defines no __init__ of its own to export"),
    (lambda d: Variadic(d, 3), "Variadic.__init__ takes *args/**kwargs; export needs named arguments"),
    (lambda d: NotLiteral(d), "NotLiteral argument act=<built-in method tanh of type object at"),
])
def test_record_call_refusals(factory, message):
    with pytest.raises(ExportError) as err:
        record_call(factory, 4)
    assert str(err.value).startswith(message.replace("tests.export.test_source.", f"{__name__}."))


def test_record_call_needs_the_constructor_to_run_again():
    built: list[Plain] = []

    def once(d: int) -> Plain:  # the second call hands back the first instance: no __init__ to record
        if not built:
            built.append(Plain(d))
        return built[0]

    with pytest.raises(ExportError) as err:
        record_call(once, 4)
    assert str(err.value) == "could not record how the task constructs Plain"


def _cfg(**kw):
    base = dict(field="real", layers=None, scheme="split", terms=("0-0", "lse"))
    return SimpleNamespace(**{**base, **kw})


EMB, OUT = ModuleCall(Plain, {"d_model": 8}), ModuleCall(Plain, {"d_model": 8, "vocab": 3})


@pytest.mark.parametrize("scheme, norms", [("split", 2), ("parallel", 1)])
def test_build_model_bakes_in_the_choices(scheme, norms):
    text = build_model_source(_cfg(scheme=scheme), EMB, OUT, ["BlockA", "BlockB"], 17)
    assert "the search started trial 17 from" in text
    assert "                BlockA(WIDTH, rank=RANK, heads=HEADS, dtype=torch.float32),\n" in text
    assert f"norms = [make_norm(NORM, WIDTH, False) for _ in range({norms})]" in text
    assert "rotate=False" in text and "embedding = Plain(d_model=8)" in text and "Plain(d_model=8, vocab=3)" in text
    cplx = build_model_source(_cfg(scheme=scheme, field="complex"), EMB, OUT, ["BlockA"], 3)
    assert "dtype=torch.complex64" in cplx and "rotate=True" in cplx and "rotate=False" not in cplx


def test_build_model_with_a_term_set_per_step():
    cfg = _cfg(layers=(("0-0",), ("0-0", "lse")), field="complex")
    text = build_model_source(cfg, EMB, OUT, ["BlockA", "BlockB"], 9)
    assert "the search started trial 9 from" in text and "Each Euler step applies its own blocks" in text
    assert "            (BlockA,),\n            (BlockA, BlockB,),\n" in text
    assert "rotate=True" in text and "dtype=torch.complex64" in text and "make_norm(NORM, WIDTH, True)" in text


def test_assemble_puts_each_part_under_its_rule():
    rule = "# " + "-" * 98
    text = assemble('"""Doc."""\n', {"WIDTH": 8}, [("BlockA", "class BlockA:\n    pass\n\n\n")], [Plain], "toy",
                    "def build_model():\n    return None\n")
    assert text.startswith('"""Doc."""\n' + HEADER_IMPORTS + "\n" + rule + "\n# Hyper-parameters of the trial "
                           "(baked in)\n" + rule + "\nWIDTH = 8\n\n\n")
    assert (rule + "\n# Term block BlockA: generated by archsearch.compiler, verbatim (the code the search ran)\n"
            + rule + "\nclass BlockA:\n    pass\n\n\n" + rule + "\n# Embedding and readout of the task 'toy'") in text
    assert ("\n# The model: Euler steps of the term blocks (archsearch.train.model, verbatim)\n" + rule + "\n"
            + class_source(getattr(__import__("archsearch.train.model", fromlist=["x"]), MODEL_OBJECTS[0]))) in text
    assert "\n# Constructors\n" + rule + "\ndef build_model():\n    return None\n\n\n" in text


def test_sections_of_lists_every_part_once():
    titles = [t for t, _ in sections_of([("BlockA", "x = 1\n"), ("BlockB", "y = 2\n")], [Plain])]
    assert titles == ["the file header", "block BlockA", "block BlockB", "task class Plain",
                      *(f"model object {name}" for name in MODEL_OBJECTS)]


@pytest.mark.parametrize("handler, optional", [
    ("except ImportError:", True),
    ("except ModuleNotFoundError:", True),
    ("except (ValueError, ImportError):", True),
    ("except (ValueError, KeyError):", False),
    ("except ValueError:", False),
    ("except Exception:", False),
])
def test_an_optional_import_is_guarded_by_import_error(handler, optional):
    """A top-level try that imports a package is optional only where a handler names ImportError (or
    ModuleNotFoundError), alone or in a tuple; then check_standalone returns it instead of refusing the file."""
    source = f"import torch\n\ntry:\n    import triton.language as tl\n{handler}\n    tl = None\n"
    if optional:
        assert check_standalone(source) == ["triton.language"]
    else:
        with pytest.raises(ExportError, match="imports 'triton.language'"):
            check_standalone(source)
    bare = "import torch\n\ntry:\n    import triton\nexcept:  # noqa: E722\n    triton = None\n"
    with pytest.raises(ExportError, match="imports 'triton'"):  # a bare except guards more than an import
        check_standalone(bare)


def test_class_source_is_the_dedented_class_ending_in_one_newline():
    text = class_source(Plain)
    assert text.startswith("class Plain(torch.nn.Module):\n    def __init__") and text.endswith("name\n")


def _refusal(source: str, filename: str = "<export>") -> str:
    with pytest.raises(ExportError) as err:
        check_standalone(source, filename)
    return str(err.value)


def test_check_standalone_refusals_name_the_import_or_the_names():
    assert _refusal("import math, numpy\n") == ("the exported code imports 'numpy' (only torch may be imported); "
                                                "the code that does so must be made standalone")
    assert _refusal("from . import sibling\n").startswith("the exported code imports ''")
    assert _refusal("import safetensors\n").startswith("the exported code imports 'safetensors'")
    assert _refusal("def load_model():\n    import numpy\n").startswith("the exported code imports 'numpy'")
    assert check_standalone("def load_model():\n    from safetensors.torch import load_file\n    return load_file\n") \
        == []
    assert check_standalone("def load_block():\n    import safetensors\n    return safetensors\n") == []
    assert _refusal("def f():\n    return g(h)\n\nx = k\n") == (
        "the exported code refers to undefined name(s) g, h, k; the code that uses them is not standalone")
    assert check_standalone('if __name__ == "__main__":\n    print(__file__)\n') == []
    source = "try:\n    import triton, numpy.linalg\nexcept ImportError:\n    triton = None\n"
    assert check_standalone(source) == ["numpy.linalg", "triton"]  # every module of the statement
    with pytest.raises(SyntaxError) as err:
        check_standalone("def (:\n", "exported model")
    assert err.value.filename == "exported model"
    with pytest.raises(SyntaxError) as err:
        check_standalone("def (:\n")
    assert err.value.filename == "<export>"


@pytest.mark.parametrize("first, second, name", [
    ("X = 1\n", "X = 2\n", "X"),  # an assignment
    ("import os.path\n", "os = 3\n", "os"),  # an import binds its first name
    ("import math as M\n", "M = 3\n", "M"),  # … or its alias
    ("try:\n    import triton as G\nexcept ImportError:\n    pass\n", "G = 2\n", "G"),  # a try that imports
    ("def f():\n    return 1\n", "def f():\n    return 2\n", "f"),
])
def test_check_sections_finds_one_name_bound_twice(first, second, name):
    with pytest.raises(ExportError) as err:
        check_sections([("block A", first), ("block B", second)])
    assert str(err.value) == (f"block B and block A both define {name!r} differently; the compiler must give "
                              "module-level helpers of different blocks distinct names")
    check_sections([("block A", first), ("block B", first)])  # the same code twice is fine


def test_check_sections_ignores_imports_inside_other_statements():
    check_sections([("block A", "if True:\n    import math as H\n"), ("block B", "H = 1\n")])


def test_literal_constants_one_line_or_one_item_per_line():
    assert _literal("DEPTH", 2) == "DEPTH = 2\n"
    short = {"b": 1, "a": [1, 2]}
    assert _literal("SPACE", short) == "SPACE = {'b': 1, 'a': [1, 2]}\n"
    at_limit = {"k": "x" * (110 - len("SPACE = {'k': ''}"))}
    assert len(f"SPACE = {at_limit!r}") == 110 and _literal("SPACE", at_limit) == f"SPACE = {at_limit!r}\n"
    over = {"k": "x" * (111 - len("SPACE = {'k': ''}"))}
    assert _literal("SPACE", over) == f"SPACE = {{\n    'k': {over['k']!r},\n}}\n"
    long_list = list(range(40))
    assert _literal("ROWS", long_list) == f"ROWS = {long_list!r}\n"  # not a dict: one line however long
    # values wrapped by pprint at width 100: one of 101 characters is wrapped, one of 86 is not (80 would)
    wide, narrow = list(range(27)) + [0], list(range(24))
    assert (len(repr(wide)), len(repr(narrow))) == (101, 86)
    nested = {"b": wide, "a": narrow}
    expected = ("SPACE = {\n    'a': " + pprint.pformat(narrow, width=100) + ",\n    'b': "
                + pprint.pformat(wide, width=100) + ",\n}\n")
    assert _literal("SPACE", nested) == expected
    assert "\n" not in pprint.pformat(narrow, width=100) and "\n" in pprint.pformat(wide, width=100)


def test_refusals_of_unreadable_sources_and_broken_sections():
    with pytest.raises(ExportError) as err:
        class_source(len)
    assert str(err.value).startswith("cannot read the source of len: ")
    with pytest.raises(ExportError) as err:
        class_source(3)
    assert str(err.value).startswith("cannot read the source of 3: ")
    with pytest.raises(ExportError) as err:
        check_sections([("block A", "x = 1\n"), ("block B", "def (:\n")])
    assert str(err.value) == "block B: not valid Python (invalid syntax, line 1)"
