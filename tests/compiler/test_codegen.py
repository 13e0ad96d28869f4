"""Generated sources: standalone, readable, one step per line; CompiledBlock API."""

from __future__ import annotations

import ast
import sys

import numpy as np
import pytest
import torch

from archsearch.calculus import derive
from archsearch.compiler import CompiledBlock, causal_reference, compile_term
from archsearch.compiler.codegen import class_name_for
from archsearch.terms import Conic, Diagram, Gated, Softmax

LA = Diagram.from_key("0-1.0-1")


def _exec_fresh(source: str, name: str):
    namespace: dict = {"__name__": "exported"}
    exec(compile(source, "<exported>", "exec"), namespace)  # noqa: S102 - the code under test
    return namespace[name], namespace


def _imports(source: str) -> set[str]:
    mods = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            mods |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            mods.add(node.module)
    return mods


def test_class_names():
    assert class_name_for(LA, "real", True) == "Field_0_1_0_1_real_tied"
    name = class_name_for(Diagram.from_key("0~1.1~0"), "complex", False, causal=True)
    assert name == "Field_0o1_1o0_complex_untied_causal"
    name = class_name_for(Diagram.from_key("A0-1.B0-1"), "real", False, naive=True)
    assert name == "Field_A0_1_B0_1_real_untied_naive"
    assert compile_term(LA, "real", tied=True).class_name == "Field_0_1_0_1_real_tied"


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("key,field", [("0-1.0-1", "real"), ("0-2.1-2.2-2", "real"), ("0~2.1~0.2~1", "complex")])
def test_source_runs_standalone(key, field, causal):
    """exec in a fresh namespace: the source imports torch and math itself (causal: also tries the
    archsearch kernel, with an inline chunked scan when that import fails)."""
    block = compile_term(Diagram.from_key(key), field, tied=False, causal=causal)
    mods = _imports(block.source)
    assert mods <= {"torch", "math", "archsearch.compiler.kernels"}
    assert ("archsearch.compiler.kernels" in mods) == causal
    cls, ns = _exec_fresh(block.source, block.class_name)
    cplx = field == "complex"
    dtype = torch.complex128 if cplx else torch.float64
    torch.manual_seed(0)
    mine = cls(4, rank=2, heads=2, dtype=dtype)
    ours = block.build(4, rank=2, heads=2, dtype=dtype)
    ours.load_state_dict(mine.state_dict())
    x = torch.randn(2, 9, 4, dtype=dtype)
    with torch.no_grad():
        assert torch.allclose(mine(x), ours(x), rtol=1e-12, atol=1e-12)
    if causal:
        assert ns["_kernel"] is not None  # archsearch importable here: the library kernel


def test_exported_causal_source_works_without_archsearch(monkeypatch):
    block = compile_term(Diagram.from_key("0-1.0-2.1-2"), "real", tied=True, causal=True)
    monkeypatch.setitem(sys.modules, "archsearch.compiler.kernels", None)  # import now fails
    cls, ns = _exec_fresh(block.source, block.class_name)
    assert ns["_kernel"] is None
    torch.manual_seed(1)
    m = cls(3, rank=None, heads=2, dtype=torch.float64)
    x = torch.randn(1, 140, 3, dtype=torch.float64)  # three chunks of the inline scan
    f = derive(block.term, "real", True)
    w = {k: v.detach().numpy() for k, v in m.effective_weights().items()}
    ref = sum(causal_reference(f, x[0].numpy(), {k: v[h] for k, v in w.items()}) for h in range(2))
    with torch.no_grad():
        y = m(x)[0].numpy()
    assert np.linalg.norm(y - ref) / np.linalg.norm(ref) < 1e-10


def test_source_is_one_line_per_step_with_math_and_cost():
    block = compile_term(LA, "real", tied=True, sizes={"N": 8192, "C": 64, "C_A": 16, "H": 1}, lowrank=False)
    src = block.source
    body = src[src.index("def _forward_full"):src.index("def _forward_lowrank")]
    for step in block.plan.steps:
        line = next(ln for ln in body.splitlines() if ln.strip().startswith(f"{step.output} = "))
        assert step.expr in line and "# " in line and f"cost {step.cost_text()}" in line
    assert "torch.matmul(x.mT, x)" in body and "shared by 4 branches" in body
    assert "cost 2·N·C²" in src  # the plan summary in the docstring
    ast.parse(src)


def test_compiled_block_api():
    block = compile_term(LA, "real", tied=False)
    assert isinstance(block, CompiledBlock)
    assert (block.term, block.field, block.tied, block.causal) == (LA, "real", False, False)
    assert block.plan.lowrank and block.cost == block.plan.big_o()
    assert len(block.plans) == 2 and not block.plans[0].lowrank
    assert compile_term(LA, "real", tied=False) is block  # cached
    assert block.module_class() is block.module_class()
    with pytest.raises(AttributeError):
        block.cost = "O(1)"  # type: ignore[misc]
    full = compile_term(LA, "real", tied=False, lowrank=False)
    assert not full.plan.lowrank and full.source == block.source
    m = block.build(8, rank=4, heads=3)
    assert m.features == 8 and m.rank == 4 and m.heads == 3
    shapes = {n: tuple(p.shape) for n, p in m.named_parameters()}
    assert shapes == {"weight": (16, 3, 4, 8)}  # every factor a row: (factors, H, C_A, C)
    assert sorted(m.factor_names) == sorted(f"{w}_{s}" for w in derive(LA, "real", False).parameters() for s in "qk")
    assert next(m.parameters()).dtype == torch.float32
    eff = m.effective_weights()
    assert set(eff) == set(derive(LA, "real", False).parameters()) and eff["W1_b0"].shape == (3, 8, 8)
    full_m = block.build(8)
    assert {n for n, _ in full_m.named_parameters()} == set(eff)
    assert compile_term(Diagram.from_key("0~1.1~0"), "complex").build(4).W1_b0.dtype == torch.complex64


def test_init_is_order_one():
    torch.manual_seed(0)
    x = torch.randn(2, 64, 32)
    for key in ("0-0", "0-1.0-1", "0-1.0-2.1-2"):
        for rank in (None, 8):
            y = compile_term(Diagram.from_key(key), "real", tied=False).build(32, rank=rank, heads=4)(x)
            rms = y.pow(2).mean().sqrt().item()
            assert 1e-3 < rms < 1e3, (key, rank, rms)


def test_dtype_errors():
    with pytest.raises(ValueError, match="complex dtype"):
        compile_term(Diagram.from_key("0~1.1~0"), "complex").build(4, dtype=torch.float32)
    with pytest.raises(ValueError, match="real dtype"):
        compile_term(LA, "real").build(4, dtype=torch.complex64)
    with pytest.raises(ValueError, match="field must be"):
        compile_term(LA, "imaginary")


def test_non_diagram_terms_dispatch_to_families():
    pytest.importorskip("archsearch.compiler.families")
    for term in (Softmax(), Conic("relu"), Gated(3)):
        block = compile_term(term, "real", tied=False)
        assert block.plan is None and block.cost.startswith("O(")
        assert f"class {block.class_name}(" in block.source
        m = block.build(8, rank=4, heads=2)
        assert m(torch.randn(2, 5, 8)).shape == (2, 5, 8)
