"""The text of an exported model file, and the checks that it stands alone.

The file is assembled from code that already runs in archsearch, copied verbatim:

1. the compiled term blocks (``CompiledBlock.source``: the very code the search executed);
2. the task's embedding and readout classes (``inspect.getsource``; archsearch.tasks.modules keeps them plain
   torch), constructed with the arguments the task passed (recorded while the task builds them);
3. the model classes of :mod:`archsearch.train.model` (norms, Euler step, model);

followed by generated ``build_model()`` (the hyper-parameters baked in, the same initialisation order and
seed as :func:`archsearch.train.build_model`) and ``load_model(weights_path)``. :func:`check_standalone`
proves statically that the result imports nothing but torch (safetensors inside ``load_model`` only) and
refers to no name it does not define.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import pprint
import symtable
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from archsearch.report.studies import ResultsError

MODEL_OBJECTS = ("ComplexNorm", "make_norm", "EulerStep", "EulerModel")  # from archsearch.train.model
ALLOWED_IMPORTS = {"__future__", "math", "os", "torch"}
HEADER_IMPORTS = """from __future__ import annotations

import math
import os

import torch
import torch.nn.functional as F
from torch import nn
"""


class ExportError(ResultsError):
    """The model cannot be exported as a standalone file (one line; nothing is written)."""


@dataclass(frozen=True)
class ModuleCall:
    """A module class and the keyword arguments a task constructed it with."""

    cls: type
    kwargs: dict[str, Any]

    def call(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
        return f"{self.cls.__name__}({args})"


def record_call(factory: Callable[[int], Any], d_model: int) -> ModuleCall:
    """Call ``factory(d_model)`` (a task's ``embedding`` or ``readout``) and record the arguments its module's
    ``__init__`` received, by a profile hook (the class is not touched). The global RNG is left as it was."""
    import torch

    with torch.random.fork_rng(devices=[]):
        cls = type(factory(d_model))
        init = cls.__dict__.get("__init__")
        code = getattr(init, "__code__", None)
        if init is None or code is None:
            raise ExportError(f"{cls.__module__}.{cls.__qualname__} defines no __init__ of its own to export")
        seen: list[dict[str, Any]] = []

        def hook(frame: Any, event: str, arg: Any) -> None:
            if event == "call" and frame.f_code is code and not seen:
                seen.append(dict(frame.f_locals))

        previous = sys.getprofile()
        sys.setprofile(hook)
        try:
            factory(d_model)
        finally:
            sys.setprofile(previous)
    if not seen:
        raise ExportError(f"could not record how the task constructs {cls.__qualname__}")
    kwargs: dict[str, Any] = {}
    for name, param in list(inspect.signature(init).parameters.items())[1:]:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise ExportError(f"{cls.__qualname__}.__init__ takes *args/**kwargs; export needs named arguments")
        value = seen[0][name]
        try:
            literal = ast.literal_eval(repr(value)) == value
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            literal = False
        if not literal:
            raise ExportError(f"{cls.__qualname__} argument {name}={value!r} is not a Python literal")
        kwargs[name] = value
    return ModuleCall(cls, kwargs)


def class_source(obj: Any) -> str:
    """The verbatim source of a class or function (dedented)."""
    try:
        return textwrap.dedent(inspect.getsource(obj)).rstrip() + "\n"
    except (OSError, TypeError) as err:
        raise ExportError(f"cannot read the source of {getattr(obj, '__qualname__', obj)}: {err}") from None


# --------------------------------------------------------------------------------------------- checks


def _statement_names(stmt: ast.stmt) -> list[str]:
    """The top-level names a statement binds: a def's or class's name; else the names it stores, and the
    names it imports (for an import, or a try that imports)."""
    match stmt:
        case ast.FunctionDef(name=name) | ast.AsyncFunctionDef(name=name) | ast.ClassDef(name=name):
            return [name]
        case ast.Import() | ast.ImportFrom() | ast.Try():
            imports = True
        case _:
            imports = False
    names: list[str] = []
    for node in ast.walk(stmt):
        match node:
            case ast.alias(name=name, asname=asname) if imports:
                names.append(asname or name.split(".")[0])
            case ast.Name(id=name, ctx=ast.Store()):
                names.append(name)
    return names


def _top_level_bindings(tree: ast.Module) -> dict[str, str]:
    """name → ast dump of the top-level statement that binds it."""
    out: dict[str, str] = {}
    for stmt in tree.body:
        for name in _statement_names(stmt):
            out.setdefault(name, ast.dump(stmt))
    return out


def check_sections(sections: list[tuple[str, str]]) -> None:
    """Each section parses, and no two sections bind one top-level name to different code (a later helper
    would silently replace an earlier one that the earlier block's forward calls)."""
    owner: dict[str, tuple[str, str]] = {}
    for title, text in sections:
        try:
            tree = ast.parse(text)
        except SyntaxError as err:
            raise ExportError(f"{title}: not valid Python ({err.msg}, line {err.lineno})") from None
        for name, dump in _top_level_bindings(tree).items():
            if name in owner and owner[name][1] != dump:
                raise ExportError(f"{title} and {owner[name][0]} both define {name!r} differently; the compiler "
                                  "must give module-level helpers of different blocks distinct names")
            owner.setdefault(name, (title, dump))


def _guarded_by_import_error(node: ast.Try) -> bool:
    for handler in node.handlers:
        types: list[ast.expr]
        match handler.type:
            case None:  # a bare ``except:`` guards more than an import
                continue
            case ast.Tuple(elts=types):
                pass
            case single:
                types = [single]
        for t in types:
            match t:
                case ast.Name(id="ImportError" | "ModuleNotFoundError"):
                    return True
    return False


def check_standalone(source: str, filename: str = "<export>") -> list[str]:
    """Check the exported file: every import is torch, math or os, except safetensors inside ``load_model``
    and optional imports in a top-level ``try: … except ImportError:`` (whose fallback is used when the
    package is missing); every name referenced is defined in the file or a builtin. Returns the optional
    imports found (e.g. ``archsearch.compiler.kernels``); raises ExportError otherwise."""
    tree = ast.parse(source, filename)
    optional: list[str] = []

    def visit(node: ast.AST, where: str) -> None:
        match node:
            case ast.Import(names=aliases):
                mods = [a.name for a in aliases]
            case ast.ImportFrom(module=module):
                mods = [module or ""]
            case _:
                mods = []
        for mod in mods:
            root = mod.split(".")[0]
            if root in ALLOWED_IMPORTS or (root == "safetensors" and where == "load_model"):
                continue
            if where == "optional":
                optional.append(mod)
                continue
            raise ExportError(f"the exported code imports {mod!r} (only torch may be imported); the code "
                              "that does so must be made standalone")
        for child in ast.iter_child_nodes(node):
            inner = where
            if node is tree:  # module level: optional imports and the loader
                match child:
                    case ast.Try() if _guarded_by_import_error(child):
                        inner = "optional"
                    case ast.FunctionDef(name="load_model"):
                        inner = "load_model"
            visit(child, inner)

    visit(tree, "module")
    top = symtable.symtable(source, filename, "exec")
    defined = {s.get_name() for s in top.get_symbols() if s.is_assigned() or s.is_imported()
               or s.is_namespace()} | set(dir(builtins)) | {"__file__", "__name__"}
    missing: set[str] = set()

    def walk(table: symtable.SymbolTable) -> None:
        for sym in table.get_symbols():
            if sym.is_referenced() and (table is top or sym.is_global()) and sym.get_name() not in defined:
                missing.add(sym.get_name())
        for child in table.get_children():
            walk(child)

    walk(top)
    if missing:
        raise ExportError(f"the exported code refers to undefined name(s) {', '.join(sorted(missing))}; "
                          "the code that uses them is not standalone")
    return sorted(set(optional))


# --------------------------------------------------------------------------------------------- assembly


def _rule(title: str) -> str:
    return f"# {'-' * 98}\n# {title}\n# {'-' * 98}\n"


def _literal(name: str, value: Any) -> str:
    """``NAME = value`` on one line, or a dict with one item per line when that is too long."""
    line = f"{name} = {value!r}"
    if len(line) <= 110 or not isinstance(value, dict):
        return line + "\n"
    items = "".join(f"    {k!r}: {pprint.pformat(v, width=100)},\n" for k, v in sorted(value.items()))
    return f"{name} = {{\n{items}}}\n"


def build_model_source(model_cfg: Any, embedding: ModuleCall, readout: ModuleCall, block_classes: list[str],
                       trial: int) -> str:
    """``build_model()``: the statements of :func:`archsearch.train.build_model` with every choice baked in."""
    complex_state = model_cfg.field == "complex"
    dtype = "torch.complex64" if complex_state else "torch.float32"
    if model_cfg.layers is not None:
        return _build_model_layers(model_cfg, embedding, readout, block_classes, trial, complex_state, dtype)
    n_norms = 1 if model_cfg.scheme == "parallel" else len(block_classes)
    blocks = "\n".join(f"                {name}(WIDTH, rank=RANK, heads=HEADS, dtype={dtype}),"
                       for name in block_classes)
    return f'''def build_model() -> EulerModel:
    """The model with fresh parameters: the initial values the search started trial {trial} from (seed SEED);
    the global random state is left untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        embedding = {embedding.call()}
        steps = []
        for _ in range(DEPTH):
            blocks = [
{blocks}
            ]
            norms = [make_norm(NORM, WIDTH, {complex_state}) for _ in range({n_norms})]
            steps.append(EulerStep(blocks, norms, STEP, SCHEME, rotate={complex_state}))
        norm = make_norm(NORM, WIDTH, {complex_state})
        readout = {readout.call()}
    return EulerModel(embedding, steps, norm, readout, {complex_state})
'''


def _build_model_layers(model_cfg: Any, embedding: ModuleCall, readout: ModuleCall, block_classes: list[str],
                        trial: int, complex_state: bool, dtype: str) -> str:
    """``build_model()`` when each Euler step applies its own terms (``ModelConfig.layers``)."""
    by_key = dict(zip(model_cfg.terms, block_classes, strict=True))
    rows = "\n".join("            (" + ", ".join(by_key[k] for k in layer) + ",)," for layer in model_cfg.layers)
    return f'''def build_model() -> EulerModel:
    """The model with fresh parameters: the initial values the search started trial {trial} from (seed SEED);
    the global random state is left untouched. Each Euler step applies its own blocks."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        embedding = {embedding.call()}
        steps = []
        for classes in (  # one tuple of block classes per Euler step
{rows}
        ):
            blocks = [cls(WIDTH, rank=RANK, heads=HEADS, dtype={dtype}) for cls in classes]
            n_norms = 1 if SCHEME == "parallel" else len(classes)
            norms = [make_norm(NORM, WIDTH, {complex_state}) for _ in range(n_norms)]
            steps.append(EulerStep(blocks, norms, STEP, SCHEME, rotate={complex_state}))
        norm = make_norm(NORM, WIDTH, {complex_state})
        readout = {readout.call()}
    return EulerModel(embedding, steps, norm, readout, {complex_state})
'''


LOAD_MODEL = '''def load_model(weights_path: str | os.PathLike | None = None) -> EulerModel:
    """The trained model (on the CPU, in eval mode): :func:`build_model` with the weights loaded, strict=True.

    weights_path: a ``.safetensors`` file (read with ``safetensors.torch.load_file``) or a ``.pt``/``.pth``
    state_dict (read with ``torch.load(..., weights_only=True)``, which never runs pickled code); default:
    WEIGHTS, beside this file. Move the model with ``model.to("cuda")``.
    """
    if weights_path is None:
        if WEIGHTS is None:
            raise ValueError("this file was exported without weights: pass load_model(weights_path)")
        weights_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), WEIGHTS)
    path = os.fspath(weights_path)
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        state = load_file(path)
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
    model = build_model()
    model.load_state_dict(state, strict=True)
    return model.eval()
'''

MAIN = '''if __name__ == "__main__":
    model = build_model()
    n = sum(p.numel() * (2 if p.is_complex() else 1) for p in model.parameters())
    print(f"study {STUDY!r}, trial {TRIAL}: {n} parameters; load the weights with load_model(path)")
'''


def assemble(header: str, constants: dict[str, Any], blocks: list[tuple[str, str]], task_classes: list[type],
             task_name: str, build_src: str) -> str:
    """The whole file; the block sections are (class name, source) pairs written verbatim."""
    from archsearch.train import model as model_module

    parts = [header, HEADER_IMPORTS, "\n"]
    parts.append(_rule("Hyper-parameters of the trial (baked in)"))
    parts += [_literal(name, value) for name, value in constants.items()]
    parts.append("\n\n")
    for name, src in blocks:
        parts.append(_rule(f"Term block {name}: generated by archsearch.compiler, verbatim (the code the search ran)"))
        parts += [src.rstrip() + "\n", "\n\n"]
    parts.append(_rule(f"Embedding and readout of the task {task_name!r} (archsearch.tasks.modules, verbatim)"))
    for cls in task_classes:
        parts += [class_source(cls), "\n\n"]
    parts.append(_rule("The model: Euler steps of the term blocks (archsearch.train.model, verbatim)"))
    for name in MODEL_OBJECTS:
        parts += [class_source(getattr(model_module, name)), "\n\n"]
    parts.append(_rule("Constructors"))
    parts += [build_src, "\n\n", LOAD_MODEL, "\n\n", MAIN]
    return "".join(parts)


def sections_of(blocks: list[tuple[str, str]], task_classes: list[type]) -> list[tuple[str, str]]:
    """The parts checked against each other by :func:`check_sections`."""
    from archsearch.train import model as model_module

    out = [("the file header", HEADER_IMPORTS)]
    out += [(f"block {name}", src) for name, src in blocks]
    out += [(f"task class {cls.__name__}", class_source(cls)) for cls in task_classes]
    out += [(f"model object {name}", class_source(getattr(model_module, name))) for name in MODEL_OBJECTS]
    return out
