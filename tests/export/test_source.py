"""archsearch/export/source.py on its own: recording how a task builds its modules, the build_model() it
writes, and how the file is put together (section rules, the sections checked against each other)."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import pytest
import torch

from archsearch.export.source import (
    HEADER_IMPORTS,
    MODEL_OBJECTS,
    ExportError,
    ModuleCall,
    assemble,
    build_model_source,
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
    from archsearch.export.source import check_standalone

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
