"""Shared pieces of the generated family blocks' source (no torch here: the source is text).

Every family block is a standalone ``torch.nn.Module`` subclass with the interface shared with the
diagram blocks::

    __init__(self, features, rank=None, heads=1, dtype=torch.float32)
    forward(self, x)                   # (B, N, C) -> (B, N, C)
    effective_weights(self)            # {calculus parameter name: (H, C, C) tensor}

:class:`Code` builds the source line by line; :func:`full_parameters` / :func:`full_effective` write
the parameters, init and ``effective_weights`` of blocks with full (H, C, C) weights (the per-token
families). The families write their own ``forward`` (archsearch/families/*.py); the edge families
(softmax, entrywise) share archsearch.compiler.edge_blocks.
"""

from __future__ import annotations

import hashlib
import linecache
import re
import sys
import textwrap
import types
from typing import Any

__all__ = [
    "IMPORTS",
    "Code",
    "EFFECTIVE_DOC",
    "FORWARD_DOC",
    "HEAD_PROJECTION",
    "branch_names",
    "full_effective",
    "full_parameters",
    "module_imports",
    "parameters_and_init",
    "return_dict",
    "wrap",
]

#: every name a generated source may use (for callers that put several blocks in one file)
IMPORTS = "import math\n\nimport torch\nimport torch.nn.functional as F\n"


class Code:
    """A tiny line builder for generated source (blank lines carry no whitespace)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, text: str = "", indent: int = 0) -> None:
        """Append ``text`` (dedented when it spans several lines) at ``indent`` spaces."""
        if "\n" in text:
            text = textwrap.dedent(text).strip("\n")
        for line in text.split("\n"):
            self.lines.append(" " * indent + line if line.strip() else "")

    def docstring(self, lines: list[str], indent: int) -> None:
        self.add('"""' + lines[0], indent)
        for line in lines[1:]:
            self.add(line, indent)
        self.add('"""', indent)

    @classmethod
    def module(cls, class_name: str, doc: list[str]) -> Code:
        """A class ``class_name`` with docstring ``doc``, up to the argument checks of ``__init__``."""
        code = cls()
        code.add(f"class {class_name}(torch.nn.Module):")
        code.docstring(doc, 4)
        code.add()
        code.add(INIT_SIGNATURE, 4)
        code.add(CHECKS, 8)
        return code

    def accumulate(self, term: str, first: bool) -> None:
        """``out = term`` for the first summand of the output, ``out = out + term`` after it."""
        self.add(f"out = {term}" if first else f"out = out + {term}", 8)

    def render(self) -> str:
        return "\n".join(self.lines).rstrip() + "\n"


def wrap(text: str, width: int = 100) -> list[str]:
    """Greedy word wrap (keeps generated lines well under 120 characters)."""
    out, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            out.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    if line:
        out.append(line)
    return out


def branch_names(chosen) -> list[str]:
    """The parameter names of the chosen branches, first use first."""
    out: list[str] = []
    for b in chosen:
        for p in b.parameters():
            if p not in out:
                out.append(p)
    return out


INIT_SIGNATURE = "def __init__(self, features: int, rank: int | None = None, heads: int = 1, dtype=torch.float32):"
CHECKS = '''
    super().__init__()
    if features < 1 or heads < 1:
        raise ValueError(f"features and heads must be positive, got {features} and {heads}")
    if rank is not None and rank < 1:
        raise ValueError(f"rank must be a positive integer or None, got {rank}")
'''
FORWARD_DOC = '"""x (B, N, C) → Σ_h F(x; W^h), (B, N, C)."""'
EFFECTIVE_DOC = '"""Calculus parameter name → (H, C, C) weight, named as archsearch.calculus.derive names them."""'
HEAD_PROJECTION = 'torch.einsum("bnc,hcd->bhnd", x, self.{w})'


def parameters_and_init(code: Code, params: list[tuple[str, str, str]], doc: str) -> None:
    """``self.<attr> = Parameter(empty(<shape>))`` for each (attr, shape, fan-in) and ``reset_parameters``:
    Gaussian, variance 1/fan-in."""
    for attr, shape, _ in params:
        code.add(f"self.{attr} = torch.nn.Parameter(torch.empty({shape}, dtype=dtype))", 8)
    code.add("self.reset_parameters()", 8)
    code.add()
    code.add("def reset_parameters(self):", 4)
    code.add(f'"""{doc}"""', 8)
    code.add("with torch.no_grad():", 8)
    for attr, _, fan in params:
        code.add(f"self.{attr}.normal_(0.0, 1.0 / math.sqrt({fan}))", 12)
    code.add()


def full_parameters(code: Code, names: list[str]) -> None:
    """Full (H, C, C) parameters named ``names``, their Gaussian init (variance 1/C)."""
    code.add("self.features, self.heads = features, heads", 8)
    code.add("self.rank = None  # per-token family: full (H, C, C) weights, rank is not used", 8)
    full = [(n, "heads, features, features", "self.features") for n in names]
    parameters_and_init(code, full, "Gaussian init, variance 1/C.")


def full_effective(code: Code, names: list[str]) -> None:
    """``effective_weights`` of a full-weight block: the parameters themselves."""
    code.add("def effective_weights(self):", 4)
    code.add(EFFECTIVE_DOC, 8)
    return_dict(code, [f'"{n}": self.{n}' for n in names])


def return_dict(code: Code, items: list[str]) -> None:
    """``return {…}`` on one line, or one item per line when it would be long."""
    line = "return {" + ", ".join(items) + "}"
    if len(line) <= 100:
        code.add(line, 8)
        return
    code.add("return {", 8)
    for item in items:
        code.add(item + ",", 12)
    code.add("}", 8)



def module_imports(body: str) -> str:
    """The import lines a generated body needs (``math``, ``torch``, ``F`` when it uses ``F.``)."""
    used = "import math\n\nimport torch\n"
    if re.search(r"\bF\.[a-z_]+\(", body):
        used += "import torch.nn.functional as F\n"
    return used


def exec_generated(source: str, class_name: str, filename: str, preset: dict[str, Any] | None = None) -> Any:
    """The class ``class_name`` of generated ``source``, executed as a real module registered in
    sys.modules (named by the class and a digest of the source: one class name can have several sources),
    so tools that import a class's module by name find it: torch.compile's dynamo, pickle, inspect; its
    lines are in linecache under ``filename``, so tracebacks show them.
    ``preset``: names the module starts with (for sources written without their imports)."""
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    digest = hashlib.sha1(source.encode()).hexdigest()[:12]
    module = types.ModuleType(f"archsearch_generated_{class_name}_{digest}")
    module.__file__ = filename
    module.__dict__.update(preset or {})
    exec(compile(source, filename, "exec"), module.__dict__)  # noqa: S102 - our own generated code
    sys.modules[module.__name__] = module
    return module.__dict__[class_name]
