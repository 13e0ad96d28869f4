"""The public API: ``from archsearch import …`` names, string ids, lazy imports, and docs/api.md's examples."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import archsearch

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "api.md"


def _python(code: str, cwd: Path | None = None) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=cwd,
                          env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_import_archsearch_loads_nothing_else():
    """``import archsearch`` imports no other archsearch module and none of torch, numpy, sympy, optuna,
    click; enumerating and deriving by id imports no torch."""
    out = json.loads(_python(
        "import json, sys\n"
        "import archsearch\n"
        "first = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'archsearch', 'torch', 'numpy', 'sympy', 'optuna', 'click'})\n"
        "from archsearch import enumerate_terms, derive\n"
        "keys = [t.key for t in enumerate_terms('paper')]\n"
        "text = str(derive('0-1.0-1'))\n"
        "print(json.dumps({'first': first, 'keys': keys, 'torch': 'torch' in sys.modules}))\n"))
    assert out["first"] == ["archsearch"]
    assert out["keys"] == ["0-0", "0-1.0-1"]
    assert out["torch"] is False


def test_public_names_resolve_and_are_listed():
    lazy = archsearch._LAZY
    assert set(archsearch.__all__) == set(lazy) | {"__version__"}
    for name in archsearch.__all__:
        obj = getattr(archsearch, name)
        assert obj is not None, name
        if callable(obj) and not isinstance(obj, type):
            assert obj.__doc__, f"{name} has no docstring"
    assert set(archsearch.__all__) <= set(dir(archsearch))
    with pytest.raises(AttributeError, match="no attribute 'compile'"):
        archsearch.compile  # noqa: B018 - the attribute access is the test
    from archsearch import compile_term, export_block  # the documented spelling

    assert compile_term.__module__ == "archsearch.api"
    assert export_block.__module__ == "archsearch.export.block"


def test_string_ids_are_accepted_wherever_a_term_is():
    from archsearch import build_block, compile_term, derive, describe_term, recognise, term_from_key
    from archsearch.compiler import compile_term as compiler_compile

    term = term_from_key("0-1.0-1")
    assert compile_term("0-1.0-1") is compiler_compile(term)  # the same cached block
    assert compile_term("lse", causal=True).source == compile_term(term_from_key("lse"), causal=True).source
    assert str(derive("0-1.0-1", tied=False)) == str(derive(term, tied=False))
    assert recognise("0-1.0-1") == "linear attention" and recognise("0-1.0-1.0-1") == "polynomial-kernel attention"
    assert describe_term("mlp-gelu")["id"] == "mlp-gelu"
    import torch

    layer = build_block("0-1.0-1", 8, rank=4, heads=2, device="cpu")
    assert layer(torch.randn(2, 5, 8)).shape == (2, 5, 8)
    with pytest.raises(ValueError, match="edge '9'"):
        compile_term("0-1.0-2.9")
    with pytest.raises(TypeError, match="not int"):
        derive(7)  # type: ignore[arg-type]


def test_grammars_by_name_path_or_object():
    from archsearch import enumerate_terms, load_grammar

    by_name = [t.key for t in enumerate_terms("softmax")]
    by_path = [t.key for t in enumerate_terms(ROOT / "grammars" / "softmax.toml")]
    by_object = [t.key for t in enumerate_terms(load_grammar("softmax"))]
    assert by_name == by_path == by_object and "lse" in by_name
    from archsearch import GrammarError

    with pytest.raises(GrammarError, match="no grammar file or shipped grammar"):
        enumerate_terms("no-such-grammar")


def _doc_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


def test_api_doc_examples_run(tmp_path):
    """Every ```python block of docs/api.md runs, in order, in one fresh interpreter, in an empty directory
    (the search writes results/api-demo there, the exports write beside it)."""
    blocks = _doc_blocks()
    assert len(blocks) >= 6
    runner = tmp_path / "run_doc.py"
    runner.write_text(
        "import sys\n"
        f"blocks = {blocks!r}\n"
        "namespace = {'__name__': '__api_doc__'}\n"
        "for i, block in enumerate(blocks):\n"
        "    exec(compile(block, f'docs/api.md block {i}', 'exec'), namespace)\n"
        "    print(f'== block {i} ok', flush=True)\n")
    work = tmp_path / "work"
    work.mkdir()
    out = _python(f"exec(open({str(runner)!r}).read())", cwd=work)
    assert f"== block {len(blocks) - 1} ok" in out
    assert "linear attention" in out and "ArchsearchBlock(" in out
    assert sorted(p.name for p in work.iterdir()) == ["block.py", "block.safetensors", "config.json", "model",
                                                      "results"]
    assert sorted(p.name for p in (work / "model").iterdir()) == ["config.json", "winner.py", "winner.safetensors"]
