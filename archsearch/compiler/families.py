"""PyTorch source for the non-diagram families (softmax, entrywise, activation, conic, GLU, gated).

:func:`family_source` returns the Python source of one standalone ``torch.nn.Module`` subclass that
computes the real field of a non-diagram term, summed over heads:

    F(X) = Σ_h F(X; W^h),   X of shape (B, N, C) → (B, N, C).

Each family writes its own block (its ``emit`` method, archsearch/families/*.py, with the shared
pieces of archsearch.compiler.emit and, for the edge families, archsearch.compiler.edge_blocks).
The source uses only ``math``, ``torch`` and ``torch.nn.functional as F``; it is exec'd to build
blocks and written verbatim by the export feature. The module interface is the one shared with
the diagram blocks::

    __init__(self, features, rank=None, heads=1, dtype=torch.float32)
    forward(self, x)                   # (B, N, C) -> (B, N, C)
    effective_weights(self)            # {calculus parameter name: (H, C, C) tensor}

``effective_weights`` names the weights as :func:`archsearch.calculus.fields.derive` does ("W1", "A",
"W1".."Wk"; untied copies "W1_b0" and output weights "O_b0" / "B_b0"), so that
``Σ_h field_value(field, X, {name: W[h]}, scale=block.scale)`` (float64 numpy) is the block's output.
Causal blocks mask future tokens; a masked field is not the gradient of a potential.
"""

from __future__ import annotations

import keyword
import math

import torch
import torch.nn.functional as F  # noqa: N812 - the conventional name, also used by the generated source

from archsearch.calculus.fields import derive
from archsearch.compiler.edge_blocks import DEFAULT_CHUNK_ELEMENTS
from archsearch.compiler.emit import IMPORTS, exec_generated, module_imports
from archsearch.families import Family
from archsearch.families.base import CAUSAL_TIE, tie_note

__all__ = ["BRANCHES", "DEFAULT_CHUNK_ELEMENTS", "IMPORTS", "family_class", "family_source"]

BRANCHES = ("all", "paper")


def family_source(
    term: Family,
    field: str,
    tied: bool,
    causal: bool,
    class_name: str,
    lowrank: bool = True,
    *,
    branches: str = "all",
    imports: bool = True,
) -> str:
    """Python source of an ``nn.Module`` subclass ``class_name`` computing the field of ``term``.

    term:       a non-diagram family (Softmax, Entrywise, Activation, Conic, Glu, Gated).
    field:      "real" (these families are defined for the real field only; "complex" raises ValueError).
    tied:       share the weights across branches (exactly the gradient of V) or untie them
                (each branch its own weights and output weight, as Transformers have Q, K, V, O).
    causal:     token j only interacts with tokens k ≤ j (edge families and cross-token gated
                products; no effect per token).
    class_name: the generated class's name (a Python identifier).
    lowrank:    edge families: factorise W = Q Kᵀ with Q, K of width C_A = rank (default) — or keep full
                (H, C, C) weights (``lowrank=False``; the block then refuses a rank).
    branches:   "all" (default): every branch of the field. "paper": Softmax only — just the row
                branch P X W₁ᵀ/√C_A (untied: P X O_b0/√C_A, i.e. standard multi-head attention); this is
                the block the paper calls softmax attention and is benchmarked against raw SDPA. It is
                NOT the gradient of V = Σ_j logsumexp_k S_jk: the transposed branch Pᵀ X W₁/√C_A is dropped.
    imports:    start the source with the imports it uses (``math``, ``torch``, and
                ``torch.nn.functional as F`` where needed); with False the caller provides those names
                (e.g. :data:`IMPORTS` once, when several blocks share one file).
    """
    if not isinstance(term, Family) or term.kind == "diagram":
        raise TypeError(
            f"family_source compiles the non-diagram families, not {type(term).__name__} "
            "(contraction diagrams go through the contraction plans)"
        )
    if field not in ("real", "complex"):
        raise ValueError(f"field must be 'real' (or 'complex', unsupported here), not {field!r}")
    if field not in term.symmetry.fields:
        raise ValueError(
            f"{term.family} blocks are defined for the real field only "
            "(the potential is not a function of edges X W X*); use field='real'"
        )
    if not (class_name.isidentifier() and not keyword.iskeyword(class_name)):
        raise ValueError(f"class_name must be a Python identifier, not {class_name!r}")
    if branches not in BRANCHES:
        raise ValueError(f"branches must be one of {', '.join(BRANCHES)}, not {branches!r}")
    if branches == "paper" and not term.has_paper_branch:
        raise ValueError("branches='paper' (the standard-attention branch only) exists for the softmax term only")
    fld = derive(term, "real", tied)
    chosen = fld.branches[:1] if branches == "paper" else fld.branches
    note = fld.note
    if causal and tied and term.mixes_tokens:
        note = note.replace(tie_note(True), CAUSAL_TIE)
    body = term.emit(note, tied, causal, class_name, lowrank, chosen, branches)
    return module_imports(body) + "\n\n" + body if imports else body


def family_class(term: Family, field: str, tied: bool, causal: bool, class_name: str = "FamilyBlock", **kwargs):
    """Exec :func:`family_source` in a fresh namespace (math, torch, F only) and return the class."""
    source = family_source(term, field, tied, causal, class_name, imports=False, **kwargs)
    return exec_generated(source, class_name, f"<{class_name}>", {"math": math, "torch": torch, "F": F})
