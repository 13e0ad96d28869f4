"""The generated block sources and printed plans, word for word, against reviewed copies in
tests/compiler/generated/.

The numerical tests check what a block computes; this checks what it says — the docstrings, comments and
layout users read in ``archsearch show`` and paste from ``archsearch export`` — so that no change to the code
generators goes unseen. After an intended change, rewrite the copies and review their diff:

    ARCHSEARCH_UPDATE_GENERATED=1 pytest tests/compiler/test_generated_sources.py
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest
from reviewed import check_reviewed

from archsearch.calculus import derive
from archsearch.compiler import compile_term, plan_causal
from archsearch.compiler.families import family_source
from archsearch.terms import Activation, Conic, Diagram, Entrywise, Gated, Glu, Softmax

HERE = Path(__file__).parent / "generated"


def _cases() -> dict[str, Callable[[], str]]:
    """File name → the call that generates its source (run inside the test, where a tool that maps tests to
    the functions they run sees it): every edge family variant, the per-token families, some diagrams."""
    out: dict[str, Callable[[], str]] = {}
    edge = {"lse": Softmax(), "lse-tau": Softmax(0.5), "f-exp": Entrywise("exp")}
    for (name, term), tied, causal, lowrank in itertools.product(edge.items(), [True, False], [True, False],
                                                                 [True, False]):
        tag = f"{name}-{'tied' if tied else 'untied'}{'-causal' if causal else ''}{'' if lowrank else '-full'}"
        out[tag] = partial(family_source, term, "real", tied, causal, "Block", lowrank)
    for causal in (False, True):
        out[f"lse-paper{'-causal' if causal else ''}"] = partial(family_source, Softmax(), "real", False, causal,
                                                                 "Block", branches="paper")
    per_token = {"conic-relu": Conic("relu"), "conic-soc4": Conic("soc", 4), "conic-colu4": Conic("colu", 4),
                 "gated3": Gated(3), "mlp-gelu": Activation("gelu"), "glu-silu": Glu("silu")}
    for (name, term), tied in itertools.product(per_token.items(), [True, False]):
        out[f"{name}-{'tied' if tied else 'untied'}"] = partial(family_source, term, "real", tied, False, "Block")
    out["gated3-untied-causal"] = partial(family_source, Gated(3), "real", False, True, "Block")
    for causal in (False, True):  # a pooled vertex: sums over the tokens (prefix sums when causal)
        out[f"gated2.1-tied{'-causal' if causal else ''}"] = partial(family_source, Gated((2, 1)), "real", True,
                                                                     causal, "Block")
    for key, field, tied, causal in [("0-1.0-1", "real", False, False), ("0-1.0-1", "real", True, True),
                                     ("0-2.1-2", "real", False, False), ("0-2.1-2", "real", False, True),
                                     ("0-1.1-2.2-0", "real", True, False), ("0~1.0~1", "complex", False, False),
                                     ("0-0.1-1", "real", False, False), ("0-1.2-3.2-3", "real", True, False),
                                     ("0-1.1-1", "real", False, True),  # causal: a self-loop on a tree vertex
                                     ("0~1", "complex", False, True),  # causal: one branch, one message
                                     ("0-1.0-1", "real", False, True),  # causal untied: one batched scan
                                     ("0-0.0-0", "real", False, False),  # slots laid out (slots, B, H, N, C_A)
                                     # a causal term with a cycle left out of its trees: masked einsums
                                     ("0-1.0-1.1-2.2-0", "real", False, True)]:
        name = f"{key.replace('~', 'o')}-{field}-{'tied' if tied else 'untied'}{'-causal' if causal else ''}"
        out[f"diagram-{name}"] = partial(_diagram_source, key, field, tied, causal)
        out[f"plans-{name}"] = partial(_plans_text, key, field, tied, causal)
    out["plans-0-1.1-2.2-0-real-untied-causal"] = partial(_plans_text, "0-1.1-2.2-0", "real", False, True)
    out["plans-0-0-real-tied-causal"] = partial(_plans_text, "0-0", "real", True, True)  # a tree with no edge
    # messages of three factors (a loop, the half vector, a child), and of two at a vertex off the half's path
    out["plans-0-1.1-1.1-1-real-untied-causal"] = partial(_plans_text, "0-1.1-1.1-1", "real", False, True)
    out["plans-0-0.1-1.1-1-real-untied-causal"] = partial(_plans_text, "0-0.1-1.1-1", "real", False, True)
    # the MLP term at short N: every core is its slot, one fused projection in and one out
    out["diagram-0-0-real-untied-short"] = partial(_diagram_source, "0-0", "real", False, False, SHORT)
    # the masked quadratic baseline of the benchmarks, at sizes where its pairwise products are lowered otherwise
    out["masked-0-1.0-2.1-2-real-tied"] = partial(_masked_program, "0-1.0-2.1-2", {"N": 4096, "C": 8, "C_A": 2, "H": 1})
    return out


SHORT = {"N": 16, "C": 64, "C_A": 16, "H": 4}


def _diagram_source(key: str, field: str, tied: bool, causal: bool, sizes: dict[str, int] | None = None) -> str:
    return compile_term(Diagram.from_key(key), field=field, tied=tied, causal=causal, sizes=sizes).source


def _plans_text(key: str, field: str, tied: bool, causal: bool) -> str:
    """The printed plans (what ``archsearch show`` prints) of both weight kinds, full then low rank."""
    block = compile_term(Diagram.from_key(key), field=field, tied=tied, causal=causal)
    return "\n\n".join(str(plan) for plan in block.plans) + "\n"


def _masked_program(key: str, sizes: dict[str, int]) -> str:
    """The masked causal program (``plan_causal(masked=True)``, low rank) of a tied real term: its printed
    plan, then each step's torch expression and the result."""
    plan = plan_causal(derive(Diagram.from_key(key), "real", True), sizes, masked=True)
    return "\n".join([str(plan), "", *(f"{s.output} = {s.expr}" for s in plan.steps), f"result = {plan.result}", ""])


CASES = _cases()


@pytest.mark.parametrize("name", sorted(CASES))
def test_generated_source_is_the_reviewed_one(name):
    check_reviewed(HERE / f"{name}.py.txt", CASES[name](), f"{name}: the generated source")


def test_no_reviewed_copy_is_left_over():
    assert sorted(p.name for p in HERE.glob("*.py.txt")) == sorted(f"{n}.py.txt" for n in CASES)
