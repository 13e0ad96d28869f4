"""The padding mask of built blocks, ``block(x, mask)``: for one representative of every family (diagrams of orders
2–6, a complex-field one, causal variants, softmax, entrywise, activation, conic, GLU, gated), in float64 on random
inputs and random padding patterns (padded rows filled with NaN): the output at each sequence's real tokens equals
the block on that sequence with the padding removed, and the output at padded tokens is 0. Negative controls: zeroing
the padded rows without the mask is wrong for softmax (exp(0) = 1 gives padded keys a share of every row) and leaves
non-zero output at padded tokens. ``mask=None`` is the old forward, bit for bit. ``torch.export`` with a dynamic N
(slow: about 1 s a block) for the same representatives, and ``torch.jit.script`` still raises
(archsearch/compiler/checked.py and docs/api.md say why)."""

from __future__ import annotations

import warnings
import zlib

import pytest
import torch
from torch.export import Dim, export

from archsearch.compiler import compile_term
from archsearch.compiler.checked import __doc__ as CHECKED_DOC
from archsearch.families.registry import FAMILIES
from archsearch.terms import term_from_key

# (key, field, causal, tied, rank): one representative of every family and of the causal and complex variants
REPS = [
    ("0-0", "real", False, False, None),
    ("0-1", "real", False, False, 4),
    ("0-1.0-1", "real", False, False, 4),
    ("0-1.0-1", "real", False, True, None),
    ("0-1.1-1", "real", False, False, 4),
    ("0-2.1-2", "real", False, False, 4),
    ("0-0.0-1.1-1", "real", False, False, 4),
    ("0-1.0-2.1-2", "real", False, False, 4),
    ("0-1.0-1", "complex", False, False, 4),
    ("0-1.0-1", "complex", True, False, 4),
    ("0-1", "real", True, False, 4),
    ("0-1.0-1", "real", True, False, 4),
    ("0-1.0-1", "real", True, True, None),
    ("0-1.0-2.1-2", "real", True, True, 4),
    ("0-0.1-1", "real", True, False, 4),
    ("lse", "real", False, False, 4),
    ("lse", "real", False, True, None),
    ("lse@0.5", "real", False, True, 4),
    ("lse", "real", True, False, 4),
    ("lse", "real", True, True, None),
    ("f-exp", "real", False, False, 4),
    ("f-exp", "real", True, True, None),
    ("mlp-gelu", "real", False, False, None),
    ("relu", "real", False, True, None),
    ("soc4", "real", False, False, None),
    ("colu4", "real", False, False, None),
    ("glu-silu", "real", False, False, None),
    ("glu3", "real", False, True, None),
    ("glu2.1", "real", True, False, None),
    ("glu1", "real", False, False, None),
]
IDS = [f"{k}-{f}{'-causal' if c else ''}{'-tied' if t else ''}-r{r}" for k, f, c, t, r in REPS]
C = 8


def test_every_family_is_represented():
    assert {type(term_from_key(key)) for key, *_ in REPS} == set(FAMILIES)


def _layer(key, field, causal, tied, rank, dtype=None):
    block = compile_term(term_from_key(key), field=field, causal=causal, tied=tied)
    if dtype is None:
        dtype = torch.complex128 if field == "complex" else torch.float64
    return block.build(C, rank=rank, heads=2, dtype=dtype)


def _input(gen, shape, field):
    x = torch.randn(shape, generator=gen, dtype=torch.float64)
    return torch.complex(x, torch.randn(shape, generator=gen, dtype=torch.float64)) if field == "complex" else x


def _padding(gen, b, n):
    """Random padding anywhere (not only on the right); row 0 all real, row 1 with a padded first token."""
    mask = torch.rand(b, n, generator=gen) > 0.4
    mask[0] = True
    mask[1, 0], mask[1, -1] = False, True
    return mask


@pytest.mark.parametrize("key, field, causal, tied, rank", REPS, ids=IDS)
def test_mask_equals_the_compacted_sequence(key, field, causal, tied, rank):
    torch.manual_seed(1)
    layer = _layer(key, field, causal, tied, rank)
    gen = torch.Generator().manual_seed(zlib.crc32(repr((key, field, causal, tied)).encode()))
    for b, n in ((4, 9), (3, 5)):
        x = _input(gen, (b, n, C), field)
        mask = _padding(gen, b, n)
        x[~mask] = float("nan")  # whatever the padded rows hold
        with torch.no_grad():
            y = layer(x, mask)
            assert not torch.isnan(y).any()
            assert torch.all(y[~mask] == 0)
            for i in range(b):
                compact = layer(x[i][mask[i]])
                torch.testing.assert_close(y[i][mask[i]], compact, rtol=1e-10, atol=1e-12)
            # unbatched (N, C) with an (N,) mask: the batched row up to rounding (BLAS may take another path for
            # a batch of one: bitwise equal on Intel, not on AMD EPYC), its pads exactly zero
            single = layer(x[2], mask[2])
            torch.testing.assert_close(single, y[2], rtol=1e-10, atol=1e-12)
            assert torch.all(single[~mask[2]] == 0)


@pytest.mark.parametrize("key, field, causal, tied, rank", REPS, ids=IDS)
def test_no_mask_is_the_old_forward(key, field, causal, tied, rank):
    torch.manual_seed(2)
    layer = _layer(key, field, causal, tied, rank)
    plain = type(layer).__mro__[1]  # the generated class the wrapper extends
    x = _input(torch.Generator().manual_seed(3), (2, 6, C), field)
    with torch.no_grad():
        y = layer(x)
        assert torch.equal(layer(x, None), y)
        assert torch.equal(plain.forward(layer, x), y)  # bit for bit the generated forward
        full = torch.ones(2, 6, dtype=torch.bool)
        torch.testing.assert_close(layer(x, full), y, rtol=1e-10, atol=1e-12)  # every token real: the same


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("tied, rank", [(False, 4), (True, None)])
def test_naive_zeroing_is_wrong_for_softmax(causal, tied, rank):
    """The control: zeroing the padded rows of X (and of the output) without passing the mask gives the padded keys
    exp(0) = 1 in every row-softmax, so the real tokens' outputs move; the masked block does not."""
    torch.manual_seed(4)
    layer = _layer("lse", "real", causal, tied, rank)
    gen = torch.Generator().manual_seed(5)
    x = _input(gen, (3, 9, C), "real")
    mask = _padding(gen, 3, 9)
    with torch.no_grad():
        naive = layer(x.masked_fill(~mask[..., None], 0)).masked_fill(~mask[..., None], 0)
        masked = layer(x, mask)
        for i in (1, 2):
            compact = layer(x[i][mask[i]])
            torch.testing.assert_close(masked[i][mask[i]], compact, rtol=1e-10, atol=1e-12)
            assert (naive[i][mask[i]] - compact).abs().max() > 1e-3


@pytest.mark.parametrize("key, causal", [("0-1", False), ("0-1", True), ("glu1", False), ("f-exp", False)])
def test_zeroing_x_alone_leaves_output_at_padding(key, causal):
    """The control for ``pads == 0``: with zero padded rows of X these blocks still write to the padded tokens (0-1
    pools Σ_k x_k into every token; glu1 is a constant field; exp(0) = 1), so the mask zeroes the output too."""
    torch.manual_seed(6)
    layer = _layer(key, "real", causal, False, 4)
    gen = torch.Generator().manual_seed(7)
    x = _input(gen, (3, 9, C), "real")
    mask = _padding(gen, 3, 9)
    with torch.no_grad():
        zeroed = layer(x.masked_fill(~mask[..., None], 0))
        assert zeroed[~mask].abs().max() > 1e-6
        assert torch.all(layer(x, mask)[~mask] == 0)


@pytest.mark.parametrize("key, causal", [("lse", True), ("lse", False), ("0-1.0-1", True), ("mlp-gelu", False)])
def test_all_padding_row_is_zero(key, causal):
    layer = _layer(key, "real", causal, False, 4)
    x = torch.randn(2, 5, C, dtype=torch.float64)
    mask = torch.ones(2, 5, dtype=torch.bool)
    mask[1] = False
    mask[0, 0] = False  # causal softmax: a padded first query sees no real key at all
    x.requires_grad_(True)
    y = layer(x, mask)
    assert torch.all(y[1] == 0) and torch.all(y[0, 0] == 0)
    y.square().sum().backward()
    assert torch.isfinite(x.grad).all() and torch.all(x.grad[~mask] == 0)


@pytest.mark.parametrize("mask, got", [
    (torch.ones(2, 4, dtype=torch.bool), "(2, 4) torch.bool"),
    (torch.ones(2, 5), "(2, 5) torch.float32"),
    (torch.ones(2, 5, 1, dtype=torch.bool), "(2, 5, 1) torch.bool"),
    (torch.ones(5, dtype=torch.bool), "(5,) torch.bool"),
])
def test_bad_mask_is_one_clear_error(mask, got):
    layer = compile_term(term_from_key("lse")).build(C)
    with pytest.raises(ValueError) as err:
        layer(torch.randn(2, 5, C), mask)
    message = str(err.value)
    assert "\n" not in message
    assert message == (f"Field_lse_real_untied takes a mask of shape (batch, tokens) = (2, 5), a torch.bool tensor "
                       f"(True = a real token) on cpu; got {got} on cpu")
    with pytest.raises(ValueError, match=r"mask of shape \(tokens,\) = \(5,\).*got list"):
        layer(torch.randn(5, C), [True] * 5)


@pytest.mark.parametrize("key, causal", [("0-1.0-1", False), ("lse", False), ("0-1.0-1", True)])
def test_jit_script_is_not_supported(key, causal):
    """torch.jit.script raises on built blocks and on the generated classes of a diagram, a softmax and a causal
    block, for the reasons archsearch/compiler/checked.py and docs/api.md give. If it ever works, update them."""
    assert "torch.jit.script`` is not supported" in CHECKED_DOC
    block = compile_term(term_from_key(key), causal=causal)
    reasons = ("'Any' object has no attribute", "because it was not annotated", "Expected at most",
               "first-class", "not supported")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchScript's deprecation warning
        for module in (block.build(C, rank=4), block.module_class()(C, rank=4)):
            with pytest.raises(Exception) as err:  # noqa: PT011 - TorchScript raises RuntimeError or FrontendError
                torch.jit.script(module)
            assert any(r in str(err.value) for r in reasons), str(err.value)[:500]


@pytest.mark.slow
@pytest.mark.parametrize("key, field, causal, tied, rank", REPS, ids=IDS)
def test_export_with_dynamic_tokens(key, field, causal, tied, rank):
    """Exported once at N = 9 with Dim("N", min=2, max=4096), the program run at two other N equals the eager block.
    What used to fix N: softmax's exact transposed branch and every entrywise branch walked the rows of S in a
    Python loop whose step came from N; a causal diagram ran in segments (a branch on N ≤ 1024) and its scan in
    chunks (min(chunk, N); ⌈N/chunk⌉ chunks, which may be one). Traced, these now take one pass."""
    torch.manual_seed(8)
    layer = _layer(key, field, causal, tied, rank).eval()
    gen = torch.Generator().manual_seed(9)
    n = Dim("N", min=2, max=4096)
    program = export(layer, (_input(gen, (2, 9, C), field),), dynamic_shapes={"x": {1: n}})
    run = program.module()
    for tokens in (3, 40):
        x = _input(gen, (2, tokens, C), field)
        with torch.no_grad():
            torch.testing.assert_close(run(x), layer(x), rtol=1e-10, atol=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("causal", [False, True])
def test_export_with_a_mask(causal):
    """The padding mask exports too (batch and tokens dynamic): softmax, whose generated forward takes the mask."""
    torch.manual_seed(10)
    layer = _layer("lse", "real", causal, False, 4).eval()
    gen = torch.Generator().manual_seed(11)
    x = _input(gen, (2, 9, C), "real")
    mask = torch.rand(2, 9, generator=gen) > 0.3
    b, n = Dim("B", min=1, max=64), Dim("N", min=2, max=4096)
    program = export(layer, (x, mask), dynamic_shapes={"x": {0: b, 1: n}, "mask": {0: b, 1: n}})
    x = _input(gen, (3, 17, C), "real")
    mask = torch.rand(3, 17, generator=gen) > 0.3
    with torch.no_grad():
        torch.testing.assert_close(program.module()(x, mask), layer(x, mask), rtol=1e-10, atol=1e-12)
