"""The public Python API: the functions ``from archsearch import …`` gives, documented in docs/api.md.

Every function that takes a term also takes its id (the canonical key ``archsearch enumerate`` prints:
``"0-1.0-1"``, ``"lse"``, ``"mlp-gelu"``, …), and every function that takes a grammar also takes a
shipped grammar's name (``"paper"``) or a grammar file's path. The heavy layers load on first use:
:func:`enumerate_terms` and :func:`derive` never import torch; :func:`compile_term` and
:func:`build_block` do.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn

    from archsearch.calculus.fields import Field
    from archsearch.compiler.block import CompiledBlock
    from archsearch.families import Family
    from archsearch.grammar import Grammar

__all__ = [
    "as_grammar",
    "as_term",
    "build_block",
    "compile_term",
    "derive",
    "describe_term",
    "enumerate_terms",
    "recognise",
]


def as_term(term: Family | str) -> Family:
    """A term object for a term or its id; ValueError (one line) for an unknown id, TypeError for
    anything else."""
    from archsearch.families import Family, term_from_key

    if isinstance(term, Family):
        return term
    if isinstance(term, str):
        return term_from_key(term)
    raise TypeError(f"a term is a term object or its id string (e.g. '0-1.0-1'), not {type(term).__name__}")


def as_grammar(grammar: Grammar | str | os.PathLike[str]) -> Grammar:
    """A Grammar for a Grammar, a shipped grammar's name (``"paper"``) or a grammar file's path;
    archsearch.grammar.GrammarError (with file, line and column) when it cannot be read."""
    from archsearch.grammar import Grammar, load_grammar

    if isinstance(grammar, Grammar):
        return grammar
    if isinstance(grammar, (str, os.PathLike)):
        return load_grammar(os.fspath(grammar))
    raise TypeError(f"a grammar is a Grammar, a shipped grammar's name or a file path, not {type(grammar).__name__}")


def enumerate_terms(grammar: Grammar | str | os.PathLike[str] = "paper", *, max_terms: int | None = None,
                    progress: Any = None) -> list[Family]:
    """Every term a grammar's axioms admit, in the order ``archsearch enumerate`` lists them: diagrams by
    order, then the gated products (right = none), then the named non-polynomial families.

    ``max_terms``: raise archsearch.enumeration.TooManyTerms (before the expensive orders) when more would
    be listed (default: no cap). ``progress``: called as ``progress(stage, done, total)``.
    """
    from archsearch.enumeration import enumerate_terms as _enumerate

    return _enumerate(as_grammar(grammar), max_terms=max_terms, progress=progress)


def derive(term: Family | str, field: str = "real", tied: bool = True) -> Field:
    """The field F(X) of a term: ∇_X V (``field="real"``) or ∂V/∂X̄ (``"complex"``). ``tied=True``: every
    branch shares the weights, so F is exactly the gradient of V; ``tied=False``: one weight set per branch
    (as Transformers' Q, K, V, O). Print it with ``str()``, ``.text()`` or ``.latex()``."""
    from archsearch.calculus import derive as _derive

    return _derive(as_term(term), field=field, tied=tied)


def compile_term(term: Family | str, field: str = "real", tied: bool = False, causal: bool = False,
                 sizes: Any = None, lowrank: bool = True) -> CompiledBlock:
    """The compiled PyTorch block of a term's field: ``.source`` (standalone module code), ``.plan``
    (contraction steps), ``.cost`` (big-O at ``sizes``, a mapping of N, C, C_A, H) and
    ``.build(features, rank=None, heads=1, dtype=None)`` (an ``nn.Module``, X (B, N, C) → F(X) (B, N, C)).
    See :func:`archsearch.compiler.compile_term` for the options."""
    from archsearch.compiler import compile_term as _compile

    return _compile(as_term(term), field=field, tied=tied, causal=causal, sizes=sizes, lowrank=lowrank)


def build_block(term: Family | str, features: int, *, rank: int | None = None, heads: int = 1,
                field: str = "real", tied: bool = False, causal: bool = False, dtype: Any = None,
                device: Any = None) -> nn.Module:
    """A ready ``nn.Module`` computing a term's field F(X), X (B, N, C) → (B, N, C) with C = ``features``:
    ``compile_term(term, …).build(features, rank, heads, dtype)``, moved to ``device`` when given. The
    parameters are fresh (torch's global RNG); dtype defaults to float32 (real) or complex64 (complex)."""
    return compile_term(term, field=field, tied=tied, causal=causal).build(features, rank=rank, heads=heads,
                                                                          dtype=dtype, device=device)


def describe_term(term: Family | str, field: str | None = None, untied: bool = False, causal: bool = False,
                  code: bool = False) -> dict[str, Any]:
    """What ``archsearch show`` prints, as a dict: potential, field, recognised name, symmetry, cost, notes
    (and with ``code`` the plan and the generated module source)."""
    from archsearch.describe import describe_term as _describe

    return _describe(as_term(term), field=field, untied=untied, causal=causal, code=code)


def recognise(term: Family | str) -> str | None:
    """The established name of a term (``"linear attention"``, ``"softmax attention"``, …) or None."""
    from archsearch.enumeration import recognise as _recognise

    return _recognise(as_term(term))
