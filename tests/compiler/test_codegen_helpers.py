"""The rewriting helpers of the code generator (archsearch.compiler.codegen) on inputs built by hand, today's
callers' and others: each generated expression or line is executed and compared with what it stands for
(stacked ``weight`` rows, the unbatched scans, the full-weight block), and the layout choices that change no
value (a view instead of a copy, one line instead of an unbind) are checked where they are made."""

from __future__ import annotations

import dataclasses
import random
import re
from types import SimpleNamespace

import pytest
import torch

from archsearch.calculus import derive
from archsearch.calculus.fields import Field
from archsearch.compiler import compile_term
from archsearch.compiler.block import _exec_source
from archsearch.compiler.codegen import (
    _batched_scans,
    _fused_projection_lines,
    _lowrank_lines,
    _stacked_factors,
    _weight_parts,
    class_name_for,
    diagram_source,
)
from archsearch.compiler.lowrank import LowRankPlan, _fused, storage_order
from archsearch.compiler.plan import Monomial, PlanSizes, Step, plan_field
from archsearch.terms import Diagram, Softmax, term_from_key

H, CA, C, B, N = 2, 3, 4, 2, 5  # heads, rank, features, batch, tokens: all distinct, so a wrong axis fails
NAMES = ("A_q", "A_k", "B_q", "B_k", "D_q", "D_k")


def _same_storage(t: torch.Tensor, w: torch.Tensor) -> bool:
    return t.untyped_storage().data_ptr() == w.untyped_storage().data_ptr()


def _consecutive(rows: list[int]) -> bool:
    return rows == list(range(rows[0], rows[0] + len(rows)))


def _step(output: str, expr: str) -> Step:
    return Step(output, "causal", (), "", expr, output, Monomial(1, (1, 1, 0, 1)))


def _exec_lines(lines: list[str], env: dict) -> dict:
    """Run generated body lines (8-space indented statements, comments) in ``env``; returns ``env``."""
    exec("\n".join(line.strip() for line in lines), env)  # noqa: S102 - the code under test
    return env


# ---- _weight_parts ------------------------------------------------------------------------------------------


def test_weight_parts_reads_each_list_of_rows_on_random_orders():
    """Each expression (after its definition lines) is the named rows of ``weight`` stacked in list order; it
    is a view of ``weight`` exactly when the rows are consecutive and increasing, one ``split`` when the lists
    are all rows in storage order, and ``self.weight`` itself when one list is."""
    rng = random.Random(0)
    torch.manual_seed(0)
    seen = set()
    for trial in range(300):
        order = tuple(rng.sample(NAMES, rng.randint(1, len(NAMES))))
        w = torch.randn(len(order), H, CA, C, dtype=torch.float64)
        if trial % 3 == 0:  # a partition of the rows in storage order (the batched layout)
            cuts = sorted(rng.sample(range(1, len(order)), rng.randint(0, len(order) - 1)))
            bounds = [0, *cuts, len(order)]
            row_lists = [order[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
        else:  # random lists: consecutive or not, any order, repeats across lists
            row_lists = [tuple(rng.sample(order, rng.randint(1, len(order)))) for _ in range(rng.randint(1, 3))]
            if trial % 3 == 1:
                row_lists = [tuple(sorted(r, key=order.index)) for r in row_lists]
        exprs, defs = _weight_parts(row_lists, order)
        env = _exec_lines(defs, {"torch": torch, "self": SimpleNamespace(weight=w)})
        assert len(exprs) == len(row_lists)
        tiles = [order.index(r) for rows in row_lists for r in rows] == list(range(len(order)))
        assert (len(defs) == 1 and ".split(" in defs[0]) == (tiles and len(row_lists) > 1), (row_lists, order, defs)
        for rows, expr in zip(row_lists, exprs, strict=True):
            got = eval(expr, env)  # noqa: S307 - the code under test
            expected = torch.stack([w[order.index(r)] for r in rows])
            assert got.shape == expected.shape and torch.equal(got, expected), (rows, order, expr)
            idx = [order.index(r) for r in rows]
            assert _same_storage(got, w) == _consecutive(idx), (rows, order, expr)
            seen.add(("view" if _consecutive(idx) else "gather", "split" if defs else "self.weight" if
                      expr == "self.weight" else "index"))
        if tiles and len(row_lists) == 1:
            assert exprs == ["self.weight"] and defs == []
    assert seen == {("view", "split"), ("view", "self.weight"), ("view", "index"), ("gather", "index")}


# ---- _stacked_factors ---------------------------------------------------------------------------------------


def _cat(names: list[str]) -> str:
    return f"torch.cat([{', '.join(n + '.mT' for n in names)}], 1).flatten(0, 1)"


def test_stacked_factors_rewrites_exactly_consecutive_rows_and_keeps_the_value():
    """``torch.cat([A.mT, …], 1).flatten(0, 1)`` (inside a larger expression, twice) becomes a slice of
    ``weight`` exactly when every factor is in ``order`` and they are consecutive increasing rows; otherwise it
    is left as written. Both forms evaluate to the same (H·G·C_A, C) matrix."""
    rng = random.Random(1)
    torch.manual_seed(1)
    seen = set()
    for _ in range(300):
        order = tuple(rng.sample(NAMES, rng.randint(1, 4)))
        pool = list(order) + ["Z_q", "Z_k"] * (rng.random() < 0.3)  # factors the weight does not hold
        parts = [rng.sample(pool, rng.randint(1, min(3, len(pool)))) for _ in range(2)]
        w = torch.randn(len(order), H, CA, C, dtype=torch.float64)
        env: dict = {"torch": torch, "self": SimpleNamespace(weight=w), "c": C}
        env.update({name: w[i].mT for i, name in enumerate(order)})
        env.update({name: torch.randn(H, C, CA, dtype=torch.float64) for name in ("Z_q", "Z_k")})
        ys = [torch.randn(B, N, H * len(p) * CA, dtype=torch.float64) for p in parts]
        env.update({f"y{i}": y for i, y in enumerate(ys)})
        expr = " + ".join(f"torch.matmul(y{i}, {_cat(p)})" for i, p in enumerate(parts))
        got = _stacked_factors(expr, order)
        for p in parts:
            ok = all(a in order for a in p) and _consecutive([order.index(a) for a in p])
            assert (_cat(p) in got) != ok, (p, order, got)
            if ok:
                rows = [order.index(a) for a in p]
                assert f"self.weight[{rows[0]}:{rows[-1] + 1}].transpose(0, 1).reshape(-1, c)" in got, (p, got)
            seen.add(ok)
        torch.testing.assert_close(eval(got, env), eval(expr, env), rtol=0, atol=0)  # noqa: S307
        assert _stacked_factors(got, order) == got  # nothing left to rewrite
    assert seen == {True, False}
    assert _stacked_factors("torch.cat([A_q.mT, Z_k.mT], 1).flatten(0, 1)", ("A_q",)) == \
        "torch.cat([A_q.mT, Z_k.mT], 1).flatten(0, 1)"


# ---- _batched_scans -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def attention():
    """The generated module's ``_causal_linear_attention`` (its namespace is the compiled source's)."""
    block = compile_term(Diagram.from_key("0-1.0-1"), "real", tied=False, causal=True)
    return block.module_class().forward.__globals__["_causal_linear_attention"]


def _scan_program(g: int, slots: list[str] | None = None, first: int = 0) -> list[Step]:
    """Scans att{i} = scan(q{i}, k{i}, v{i}) for i in first … first+g-1 (slot att{i} unless ``slots``)."""
    slots = slots or [f"att{i}" for i in range(first, first + g)]
    return [_step(f"att{i}", f'_causal_linear_attention(q{i}, k{i}, v{i}, states, "{slots[i - first]}")')
            for i in range(first, first + g)]


def _tensors(where: dict[str, tuple[str, int]], seed: int) -> dict[str, torch.Tensor]:
    """A random stacked tensor (rows, B, H, N, C_A) per name in ``where`` and each projection's row view."""
    gen = torch.Generator().manual_seed(seed)
    sizes: dict[str, int] = {}
    for t, i in where.values():
        sizes[t] = max(sizes.get(t, 0), i + 1)
    env = {t: torch.randn(m, B, H, N, CA, generator=gen, dtype=torch.float64) for t, m in sizes.items()}
    env.update({o: env[t][i] for o, (t, i) in where.items()})
    env["U"] = torch.randn(H * 8 * CA, C, generator=gen, dtype=torch.float64)
    return env


def _run(steps: list[Step], batched: dict[str, list[str]], env: dict, attention) -> dict:
    lines = [line for st in steps for line in batched.get(st.output, [f"        {st.output} = {st.expr}"])]
    return _exec_lines(lines, {"torch": torch, "_causal_linear_attention": attention, "states": None, "b": B,
                               "n": N, **env})


def _layout(g: int, kind: str) -> dict[str, tuple[str, int]]:
    """Where q{i}, k{i}, v{i} (i < g) sit: tiling one tensor (in role order or not), one tensor per role, one
    tensor with a further row, or one tensor whose rows start after another projection."""
    q, k, v = ([f"{r}{i}" for i in range(g)] for r in "qkv")
    if kind == "tile":
        return {o: ("px", i) for i, o in enumerate(q + k + v)}
    if kind == "tile-shuffled":  # v, q, k in storage order (as a real untied program lays them out)
        return {o: ("px", i) for i, o in enumerate(v + q + k)}
    if kind == "separate":
        return {o: (f"p{o[0]}", int(o[1:])) for o in q + k + v}
    if kind == "extra-row":
        return {**{o: ("px", i) for i, o in enumerate(q + k + v)}, "e0": ("px", 3 * g)}
    if kind == "offset":
        return {"e0": ("px", 0), **{o: ("px", i + 1) for i, o in enumerate(q + k + v)}}
    raise ValueError(kind)


@pytest.mark.parametrize("slots", ["scan-names", "projection-names"])
@pytest.mark.parametrize("kind", ["tile", "tile-shuffled", "separate", "extra-row", "offset"])
@pytest.mark.parametrize("g", [2, 3])
def test_batched_scans_merges_aligned_scans_into_one(g, kind, slots, attention):
    """G ≥ 2 scans read only by ``heads = torch.cat([…], -1)``, their q, k, v each G consecutive rows of one
    stacked tensor: one scan over the G·B batch replaces them, with the same ``out`` (its reader rewritten to
    read the batched layout); a ``split`` exactly when q, k, v tile one tensor. The slot keys are opaque."""
    where = _layout(g, kind)
    names = [f"att{i}" for i in range(g)]
    steps = [*_scan_program(g, [f"q{i}" for i in range(g)] if slots == "projection-names" else None),
             _step("heads", f"torch.cat([{', '.join(names)}], -1)"),
             _step("out", f"torch.matmul(heads.permute(0, 2, 1, 3).flatten(2), U[:{H * g * CA}])")]
    rest, batched = _batched_scans(steps, where)
    assert [s.output for s in rest] == ["heads", "out"] and set(batched) == {"heads"}
    assert "unflatten" in rest[1].expr  # the reader takes (G·B, H, N, C_A) straight into (B, N, H·G·C_A)
    lines = batched["heads"]
    assert any(".split(" in line for line in lines) == kind.startswith("tile"), lines
    assert sum("_causal_linear_attention(" in line for line in lines) == 1
    env = _tensors(where, g)
    expected = _run(steps, {}, dict(env), attention)
    got = _run(rest, batched, dict(env), attention)
    torch.testing.assert_close(got["out"], expected["out"], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("reader", ["heads.sum(-1)", "heads.permute(0, 2, 1, 3).flatten(2) * heads.mean()",
                                    "two-readers"])
def test_batched_scans_lays_heads_out_as_the_cat_for_other_readers(reader, attention):
    """When ``heads`` is not read once through ``heads.permute(0, 2, 1, 3).flatten(2)``, the batched scan is laid
    out as the cat was, (B, H, N, G·C_A), and every reader is left as written."""
    g = 2
    where = _layout(g, "separate")
    steps = [*_scan_program(g), _step("heads", "torch.cat([att0, att1], -1)")]
    if reader == "two-readers":
        steps += [_step("o1", "heads.permute(0, 2, 1, 3).flatten(2) + 1"),
                  _step("out", "heads.permute(0, 2, 1, 3).flatten(2) * o1")]
    else:
        steps.append(_step("out", reader))
    rest, batched = _batched_scans(steps, where)
    assert set(batched) == {"heads"} and [s.expr for s in rest[1:]] == [s.expr for s in steps[g + 1:]]
    assert all(isinstance(line, str) for line in batched["heads"])
    env = _tensors(where, 7)
    expected = _run(steps, {}, dict(env), attention)
    got = _run(rest, batched, dict(env), attention)
    torch.testing.assert_close(got["heads"], expected["heads"], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(got["out"], expected["out"], rtol=1e-12, atol=1e-12)


def _refusals() -> dict[str, tuple[list[Step], dict[str, tuple[str, int]]]]:
    """Programs whose cat of scans (att2, att3) must not be batched, and why (the ids)."""
    tile = {o: ("pz", i) for i, o in enumerate(["q2", "q3", "k2", "k3", "v2", "v3"])}
    cases = {
        "one-scan": (_scan_program(1, first=2) + [_step("c", "torch.cat([att2], -1)")], tile),
        "not-a-scan": (_scan_program(1, first=2) + [_step("y", "q3 * 2"), _step("c", "torch.cat([att2, y], -1)")],
                       tile),
        "read-elsewhere": (_scan_program(2, first=2) + [_step("c", "torch.cat([att2, att3], -1)"),
                                                              _step("r", "att3 * 2")], tile),
        "read-by-a-scan": ([_step("att2", '_causal_linear_attention(q2, k2, v2, states, "att2")'),
                            _step("att3", '_causal_linear_attention(q3, k3, att2, states, "att3")'),
                            _step("c", "torch.cat([att2, att3], -1)")], tile),
        "rows-reversed": (_scan_program(2, first=2) + [_step("c", "torch.cat([att3, att2], -1)")], tile),
        "two-tensors": (_scan_program(2, first=2) + [_step("c", "torch.cat([att2, att3], -1)")],
                        {**tile, "k3": ("pw", 0)}),
        "gap": (_scan_program(2, first=2) + [_step("c", "torch.cat([att2, att3], -1)")],
                {**tile, "v3": ("pz", 6)}),
        "not-projected": (_scan_program(2, first=2) + [_step("c", "torch.cat([att2, att3], -1)")],
                          {o: p for o, p in tile.items() if o != "v2"}),
    }
    return cases


@pytest.mark.parametrize("why", sorted(_refusals()))
def test_batched_scans_leaves_unaligned_or_shared_scans_alone(why, attention):
    """No batching when the cat has one operand or a non-scan one, a scan result is read elsewhere (after the
    cat, or by another scan), or q, k, v are not consecutive rows of one tensor in the cat's order; and such a
    cat placed before a batchable one does not stop that one from being batched (same values)."""
    steps, where = _refusals()[why]
    assert _batched_scans(steps, where) == (steps, {})
    good = _layout(2, "tile")
    program = steps + _scan_program(2) + [
        _step("heads", "torch.cat([att0, att1], -1)"),
        _step("out", f"torch.matmul(heads.permute(0, 2, 1, 3).flatten(2), U[:{H * 2 * CA}])")]
    rest, batched = _batched_scans(program, {**where, **good})
    assert set(batched) == {"heads"} and [s.output for s in rest] == [s.output for s in program
                                                                      if s.output not in ("att0", "att1")]
    if why == "not-projected":
        return  # v2 has no tensor to run on
    env = _tensors({**where, **good}, 3)
    expected = _run(program, {}, dict(env), attention)
    got = _run(rest, batched, dict(env), attention)
    torch.testing.assert_close(got["out"], expected["out"], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(got["c"], expected["c"], rtol=1e-12, atol=1e-12)


# ---- _fused_projection_lines --------------------------------------------------------------------------------


def test_fused_projections_read_consecutive_rows_as_one_slice():
    """A complex untied causal block: the x and conj x projections read their consecutive factor rows (0:4 and
    4:6, storage order) as slices of ``weight``, not as gathered copies."""
    block = compile_term(Diagram.from_key("0~0.0~1"), "complex", tied=False, causal=True)
    body = block.source[block.source.index("def _forward_lowrank"):]
    reads = re.findall(r"p(x|xc) = torch\.nn\.functional\.linear\(\w+, self\.weight\[([^\]]+)\]", body)
    assert reads == [("x", "0:4"), ("xc", "4:6")], reads
    assert "self.weight[[" not in body


@pytest.mark.parametrize("result", ["2 * xB", "xA"])
def test_fused_projections_define_every_view_that_is_read(result):
    """A hand-built causal plan whose projections are read by the last step's expression ending in a view's name,
    or that returns a projection itself: each read view is defined, and the body returns the planned value."""
    real = compile_term(Diagram.from_key("0-1"), "real", tied=False, causal=True).plans[1]
    steps = (_step("xh", "x[:, None]"), _step("xA", "torch.matmul(xh, A_q)"), _step("xB", "torch.matmul(xh, B_k)"))
    if result != "xA":
        steps += (_step("y", f"xA + {result}"),)
    plan = dataclasses.replace(real, steps=steps, result="y" if result != "xA" else "xA", leaves=("x", "A_q", "B_k"))
    order = ("B_k", "D_q", "A_q")
    lines = _fused_projection_lines(plan, order)
    torch.manual_seed(4)
    w = torch.randn(len(order), H, CA, C, dtype=torch.float64)
    x = torch.randn(B, N, C, dtype=torch.float64)
    src = "def body(self, x, states=None):\n" + "\n".join(lines)
    env: dict = {"torch": torch}
    exec(src, env)  # noqa: S102 - the code under test
    got = env["body"](SimpleNamespace(weight=w, heads=H, rank=CA), x)
    xa, xb = (torch.matmul(x[:, None], w[order.index(f)].mT) for f in ("A_q", "B_k"))
    expected = xa if result == "xA" else xa + 2 * xb
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


# ---- _lowrank_lines -----------------------------------------------------------------------------------------


def _module(f: Field, low: LowRankPlan, label: str):
    """The block built from ``low`` (float64, C=4, rank 3, 2 heads)."""
    full = plan_field(f, low.sizes, lowrank=False)
    name = f"HelperTest_{label}"
    source = diagram_source(f, full, low, name, factor_order=storage_order(f, False))
    torch.manual_seed(5)
    dtype = torch.complex128 if f.field == "complex" else torch.float64
    return _exec_source(source, name, f"<test {name}>")(C, rank=CA, heads=H, dtype=dtype)


def _full_twin(low_module, f: Field):
    """A full-weight block of the same class with the low-rank block's effective weights."""
    full = type(low_module)(C, rank=None, heads=H, dtype=next(low_module.parameters()).dtype)
    with torch.no_grad():
        for name, w in low_module.effective_weights().items():
            getattr(full, name).copy_(w)
    return full


def _plan(key: str, field: str, tied: bool, batch: bool) -> tuple[Field, LowRankPlan]:
    f = derive(Diagram.from_key(key), field, tied)
    return f, _fused(f, PlanSizes.of(None), False, batch)


@pytest.mark.parametrize("key,field,tied,batch,role_lines", [
    ("0-1", "real", False, True, ["s0 = px.flatten(0, 1)"]),  # one role of 2 stacked rows
    ("0~1", "complex", False, True, ["s0 = px[0]"]),  # one role of one row
    ("0-1", "real", True, False, ["s0, s1 = px.unbind(0)"]),  # two roles of one row each
    ("0-1.1-1", "real", False, True, ["s0, s1, s2, s3, s4, s5, s6, s7, s8 = px.split([1, 1, 1, 2, 2, 2, 1, 1, 1])"
                                      "  # one slice per role"]
     + [f"s{i} = s{i}[0]" for i in (0, 1, 2)]
     + [f"s{i} = s{i}.flatten(0, 1)  # 2 branches stacked on the batch axis" for i in (3, 4, 5)]
     + [f"s{i} = s{i}[0]" for i in (6, 7, 8)]),
])
def test_lowrank_roles_are_views_of_their_projection(key, field, tied, batch, role_lines):
    """Each projection's roles, as written after it: one role is the projection itself in one line (stacked rows
    flattened onto the batch axis, a single row indexed), several of one row an ``unbind``, mixed sizes a
    ``split`` with one-row roles indexed and stacked ones flattened; the block equals its full-weight twin."""
    f, low = _plan(key, field, tied, batch)
    lines = [line.strip() for line in _lowrank_lines(low, storage_order(f, False))]
    start = next(i for i, line in enumerate(lines) if line.startswith("px = px.view(")) + 1
    assert lines[start:start + len(role_lines)] == role_lines
    assert not lines[start + len(role_lines)].startswith("s"), lines[start + len(role_lines)]
    m = _module(f, low, f"roles_{abs(hash((key, field, tied, batch)))}")
    dtype = next(m.parameters()).dtype
    x = torch.randn(B, N, C, dtype=dtype, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        torch.testing.assert_close(m(x), _full_twin(m, f)(x), rtol=1e-9, atol=1e-10)


def test_lowrank_outputs_of_several_groups_are_concatenated():
    """Several core outputs: their (B, N, G·H·C_A) layouts are concatenated along the group axis, and the
    comment gives the width with the docstring's symbols."""
    f, low = _plan("0-1", "real", True, False)
    lines = _lowrank_lines(low, storage_order(f, False))
    i = lines.index("        y = torch.cat([")
    assert lines[i + 1:i + 4] == ["            t1.unflatten(0, (1, b)).permute(1, 3, 0, 2, 4),",
                                  "            t3.unflatten(0, (1, b)).permute(1, 3, 0, 2, 4),",
                                  "        ], 2).reshape(b, n, -1)  # (B, N, Σ G·H·C_A)"]


def test_lowrank_body_does_not_depend_on_the_order_of_the_projections():
    """A complex field with x and conj x projections, the second holding one role: with the projections listed
    in reverse (the single-role one first) the block computes the same, every projection's roles defined."""
    f, low = _plan("0~0.0~0", "complex", False, True)
    assert [len([r for r in low.roles if r.projection == p.var]) for p in low.projections] == [2, 1]
    flipped = dataclasses.replace(low, projections=low.projections[::-1])
    m, m_flipped = _module(f, low, "order_a"), _module(f, flipped, "order_b")
    m_flipped.load_state_dict(m.state_dict())
    x = torch.randn(B, N, C, dtype=torch.complex128, generator=torch.Generator().manual_seed(8))
    with torch.no_grad():
        torch.testing.assert_close(m_flipped(x), m(x), rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(m(x), _full_twin(m, f)(x), rtol=1e-9, atol=1e-10)


# ---- diagram_source, class_name_for -------------------------------------------------------------------------


def test_diagram_source_defaults_to_a_non_causal_block_with_q_then_k_storage():
    """Without ``causal`` and ``factor_order``: the non-causal source, factors stored as each weight's Q then K
    (what compile_term writes for a tied field, whose storage order is that)."""
    term = Diagram.from_key("0-1.0-1")
    f = derive(term, "real", True)
    block = compile_term(term, "real", tied=True)
    source = diagram_source(f, *block.plans, block.class_name)
    assert source == block.source
    assert "factor_names = ('W1_q', 'W1_k', 'W2_q', 'W2_k')" in source and "causal = False" in source


def test_diagram_source_refuses_other_terms_by_name():
    """A field of a non-diagram term: TypeError naming the term's kind."""
    f = derive(Softmax(), "real", False)
    with pytest.raises(TypeError, match="^diagram_source writes diagram blocks, not softmax blocks$"):
        diagram_source(f, None, None, "Block")


def test_diagram_source_survives_a_field_that_cannot_print(monkeypatch):
    """When the field's formula cannot be printed the docstring says to see the plan, and the block still runs."""
    term = Diagram.from_key("0-1")
    f = derive(term, "real", False)
    block = compile_term(term, "real", tied=False)

    def broken(self) -> str:
        raise RuntimeError("no formula")

    formula = f"\nF(X) = {f.unicode()}\n"
    assert formula in block.source
    monkeypatch.setattr(Field, "unicode", broken)
    source = diagram_source(f, *block.plans, block.class_name, factor_order=storage_order(f, False))
    assert source == block.source.replace(formula, "\nF(X) = (see the plan)\n", 1)
    m = _exec_source(source, block.class_name, "<test fallback>")(C, rank=CA, heads=H, dtype=torch.float64)
    assert m(torch.randn(B, N, C, dtype=torch.float64)).shape == (B, N, C)


def test_class_names_are_distinct_identifiers():
    """Different terms get different class names, each a Python identifier keeping the key's letters (an
    edge letter X included) with '-' '.' '@' → '_' and '~' → 'o'."""
    keys = ["0-1", "X0-1", "A0-1", "X0-1.X0-1", "X0-1.Y0-1", "0-1.0-1", "0~1", "lse", "lse@0.5", "glu2.1"]
    names = {key: class_name_for(term_from_key(key), "real", False) for key in keys}
    assert len(set(names.values())) == len(keys), names
    for key, name in names.items():
        assert name.isidentifier() and name.endswith("_real_untied"), name
        assert name.startswith("Field_" + re.sub(r"[^0-9A-Za-z]+", "_", key.replace("~", "o")) + "_"), name
