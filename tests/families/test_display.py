"""What every family says about its terms, word for word, against a reviewed copy (tests/families/reviewed/).

The numerical tests check what a term computes; this checks what it prints — the potential in each style,
the name it is recognised by, its notes, each branch of its field in each style and in sympy, its cost lines,
its description, and for diagrams the index and matrix forms and the weight and edge names — for members of
every family, so that no change to the printing goes unseen. After an intended change rewrite the copy and
review its diff:

    ARCHSEARCH_UPDATE_GENERATED=1 pytest tests/families/test_display.py
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import pytest
from reviewed import check_reviewed

from archsearch.calculus import derive
from archsearch.compiler import PlanSizes
from archsearch.families import ACTIVATIONS, EDGE_KERNELS, term_from_key
from archsearch.terms import Diagram

HERE = Path(__file__).parent / "reviewed"
STYLES = ("unicode", "text", "latex")
LINE_STYLES = STYLES[:2]  # a branch prints on one line; LaTeX prints whole fields (field_latex)
SIZES = PlanSizes(N=11, C=32, C_A=16, H=2)

DIAGRAMS = ("0-0", "0-1", "0~1", "0-1.0-1", "0~1.0~1", "0-1.1-0", "0-0.1-1", "0-2.1-2", "0-1.1-2.2-0", "0~0.0~0",
            "0-1.2-3", "A0-1.A0-1", "A0-0.A0-1", "A0-1.B1-2",
            "0~1.2~1", "0~1.0~2", "A0~1.A2~1",  # these three walk an oriented edge backwards: X̄ Wᵀ Xᵀ
            "0-1.0~1", "0-1.2-3.2~3", "0~1.0-2", "0-0.1~2.1-3")  # oriented and unoriented edges in one word
OTHERS = ("lse", "lse@0.5", *(f"f-{name}" for name in EDGE_KERNELS), *(f"mlp-{name}" for name in ACTIVATIONS),
          *(f"glu-{name}" for name in ACTIVATIONS), "relu", "soc4", "colu4",
          "glu3", "glu2.1", "glu4", "glu1", "glu1.1.1", "glu3.1", "glu2.2")


def _attempt(call) -> str:
    try:
        return str(call())
    except (ValueError, TypeError, NotImplementedError) as e:  # pinned too: what the user is told
        return f"{type(e).__name__}: {e}"


def _get(term, name: str):
    """A property's value, or what a method of no arguments returns."""
    value = getattr(term, name)
    return value() if callable(value) else value


def _display(key: str) -> str:
    """Everything the term prints, one labelled line each."""
    term = term_from_key(key)
    out = [f"== {key}", f"family {term.family}; order {term.order}; potential {term.has_potential}; "
           f"default field {term.default_field()}; mixes tokens {_get(term, 'mixes_tokens')}; "
           f"index-form field {_get(term, 'index_form_field')}; short {_get(term, 'short')}",
           f"recognised as: {term.recognise()}",
           "describe: " + json.dumps(term.describe(), sort_keys=True, ensure_ascii=False, default=str)]
    if not isinstance(term, Diagram):  # a diagram prints its potential as its index and matrix forms
        out += [f"formula {style}: {term.formula(style)}" for style in STYLES]
    out += [f"{name}: {_get(term, name)}" for name in STYLES]
    if isinstance(term, Diagram):
        for style in STYLES:
            out.append(f"index form {style}: {term.index_form(style)}")
            for expand in (False, True):
                out.append(f"matrix form {style}{' expanded' if expand else ''}: {term.matrix_form(style, expand)}")
            out.append(f"weights {style}: " + " | ".join(term.weight_name(i, style) for i in range(term.degree)))
            out.append(f"edges {style}: " + " | ".join(term.edge_name(i, style) for i in range(term.degree)))
    for field in ("real", "complex"):
        for tied in (True, False):
            tag = f"{field} {'tied' if tied else 'untied'}"
            try:
                f = derive(term, field, tied)
            except ValueError as e:
                out.append(f"{tag}: {e}")
                continue
            out.append(f"{tag} note: {term.note(field, tied)}")
            out.append(f"{tag} field latex: {f.latex()}")
            for n, b in enumerate(f.branches):
                strings = [term.branch_string(b, style, field == "real") for style in LINE_STYLES]
                out.append(f"{tag} branch {n}: " + " | ".join(strings))
                out.append(f"{tag} branch {n} sympy: {term.branch_sympy(b, field == 'real')}")
            for causal in (False, True):
                for lowrank in (True, False):
                    what = f"{'causal' if causal else 'full'} {'low rank' if lowrank else 'full rank'}"
                    cost = partial(term.cost, field, tied, causal, SIZES, lowrank)
                    out.append(f"{tag} cost {what}: " + _attempt(cost))
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("group, keys", [("diagrams", DIAGRAMS), ("families", OTHERS)])
def test_every_family_prints_the_reviewed_text(group, keys):
    check_reviewed(HERE / f"{group}.txt", "\n".join(_display(k) for k in keys), f"{group}: the printed text")


def test_softmax_at_a_temperature_prints_it_in_the_fields_latex():
    """P = row-softmax(S/τ): the field's LaTeX and sympy forms divide the score by τ (they printed S alone)."""
    for key, tau in (("lse@0.5", True), ("lse", False)):
        field = derive(term_from_key(key), "real", True)
        assert (r"\tau" in field.latex()) is tau
        assert ("tau" in str(field.term.branch_sympy(field.branches[0], True))) is tau
