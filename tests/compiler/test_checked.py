"""Built blocks: sizes in the repr, one-line shape errors, unbatched (N, C) input, ``device`` — and the same
parameters and outputs as the generated class they extend."""

from __future__ import annotations

import pytest
import torch

from archsearch.compiler import compile_term
from archsearch.terms import term_from_key

# a diagram (low rank), softmax (causal), a per-token family, a complex-field diagram
CASES = [("0-1.0-1", "real", False, 4), ("lse", "real", True, None), ("mlp-gelu", "real", False, None),
         ("0-1.0-1", "complex", False, 4)]


def _input(shape: tuple[int, ...], field: str) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=gen)
    return torch.complex(x, torch.randn(shape, generator=gen)) if field == "complex" else x


@pytest.mark.parametrize("key, field, causal, rank", CASES)
def test_repr_unbatched_and_same_as_generated(key, field, causal, rank):
    block = compile_term(term_from_key(key), field=field, causal=causal)
    torch.manual_seed(0)
    layer = block.build(8, rank=rank, heads=2)
    torch.manual_seed(0)
    plain = block.module_class()(8, rank=rank, heads=2, dtype=next(layer.parameters()).dtype)
    assert type(layer).__name__ == block.class_name and isinstance(layer, block.module_class())
    text = repr(layer)
    assert text.startswith(f"{block.class_name}(features=8, rank=") and "heads=2" in text
    assert f"field={field!r}" in text and f"causal={causal}" in text
    assert list(layer.state_dict()) == list(plain.state_dict())
    x = _input((3, 6, 8), field)
    with torch.no_grad():
        batched = layer(x)
        assert torch.equal(batched, plain(x))  # the checks change nothing
        single = layer(x[1])
    assert single.shape == (6, 8)
    assert torch.allclose(single, batched[1], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("shape", [(2, 5, 7), (5,), (1, 2, 5, 8)])
def test_wrong_shape_is_one_clear_error(shape):
    layer = compile_term(term_from_key("0-1.0-1")).build(8)
    with pytest.raises(ValueError) as err:
        layer(torch.randn(shape))
    message = str(err.value)
    assert message == (f"Field_0_1_0_1_real_untied takes X of shape (batch, tokens, 8) or (tokens, 8); "
                       f"got {shape}")


def test_real_and_complex_inputs_are_checked():
    real = compile_term(term_from_key("0-1.0-1")).build(8)
    cplx = compile_term(term_from_key("0-1.0-1"), field="complex").build(8)
    with pytest.raises(ValueError, match="real-field block and takes a real tensor; got torch.complex64"):
        real(torch.randn(2, 5, 8, dtype=torch.complex64))
    with pytest.raises(ValueError, match="complex-field block and takes a complex tensor; got torch.float32"):
        cplx(torch.randn(2, 5, 8))


def test_device_and_dtype_arguments():
    block = compile_term(term_from_key("0-1.0-1"))
    meta = block.build(8, rank=4, device="meta")
    assert {p.device.type for p in meta.parameters()} == {"meta"}
    double = block.build(8, dtype=torch.float64, device=torch.device("cpu"))
    assert {p.dtype for p in double.parameters()} == {torch.float64}
    assert "dtype=torch.float64" in repr(double)
    assert double(torch.randn(2, 5, 8, dtype=torch.float64)).dtype == torch.float64
