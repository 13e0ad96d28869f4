"""Printing: unicode/text/LaTeX one-liners and sympy expressions. The sympy expressions are
evaluated numerically (a small interpreter over matrices) and compared with the numerical field."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from calculus_helpers import NONPOLY, diagram_cases, fields_at_random_inputs, random_x, rel_err

from archsearch.calculus import derive, field_value, random_weights
from archsearch.calculus.symbolic import Hadamard, OnesForm, Tr, param_display
from archsearch.terms import Conic, Diagram, Entrywise, Gated, Softmax

CASES = diagram_cases()
WORD_CASES = [c for c in CASES if c[1].matrix_form() is not None]
INDEX_CASES = [c for c in CASES if c[1].matrix_form() is None]


def test_trace_of_two_edges_unicode():
    f = derive(Diagram.from_key("0~1.1~0"), "complex")
    assert Diagram.from_key("0~1.1~0").unicode() == "Tr(X W₁ X* X W₂ X*)"
    assert f.unicode() == "X W₂ X* X W₁ + X W₁ X* X W₂"
    assert f.text() == "X W2 X* X W1 + X W1 X* X W2"
    assert str(f) == f.unicode()
    real = derive(Diagram.from_key("0-1.0-1"), "real")
    assert real.unicode() == "X W₂ Xᵀ X W₁ + X W₁ Xᵀ X W₂ + X W₂ᵀ Xᵀ X W₁ᵀ + X W₁ᵀ Xᵀ X W₂ᵀ"


def test_sympy_words_are_noncommutative():
    expr = derive(Diagram.from_key("0~1.1~0"), "complex").sympy()
    assert isinstance(expr, sp.Expr)
    names = {s.name: s for s in expr.free_symbols}
    assert {"X", "X^*", "W1", "W2"} <= set(names)
    assert all(not s.is_commutative for s in names.values())
    X, Xs, W1, W2 = (names[k] for k in ("X", "X^*", "W1", "W2"))
    assert sp.simplify(expr - (X * W2 * Xs * X * W1 + X * W1 * Xs * X * W2)) == 0
    assert expr != X * W1 * Xs * X * W2 * 2  # order matters
    latex = derive(Diagram.from_key("0~1.1~0"), "complex").latex()
    assert "X^{*}" in latex and "W_{1}" in latex


def test_nonpolynomial_strings():
    assert derive(Softmax()).unicode() == "P X W₁ᵀ/√C_A + Pᵀ X W₁/√C_A"
    assert derive(Softmax()).text() == "P X W1^T/sqrt(C_A) + P^T X W1/sqrt(C_A)"
    assert derive(Entrywise("cosh")).unicode() == "sinh(S) X W₁ᵀ/√C_A + sinh(S)ᵀ X W₁/√C_A"
    assert derive(Conic("relu")).unicode() == "relu(X A) Aᵀ"
    assert derive(Conic("relu"), tied=False).unicode() == "relu(X A⁽⁰⁾) B⁽⁰⁾"
    assert derive(Gated(3)).unicode() == "(X W₂ ⊙ X W₃) W₁ᵀ + (X W₁ ⊙ X W₃) W₂ᵀ + (X W₁ ⊙ X W₂) W₃ᵀ"
    assert isinstance(derive(Gated(3)).sympy().atoms(Hadamard).pop(), Hadamard)
    assert "softmax" in derive(Softmax()).latex()


def test_param_display():
    assert param_display("W1") == "W₁"
    assert param_display("W12_b3", transposed=True) == "W₁₂⁽³⁾ᵀ"
    assert param_display("A_b0", "latex", True) == r"A^{(0)\top}"
    assert param_display("W1_b0", "text", True) == "W1_b0^T"


ALL_FIELDS = [(c[0], c[1], c[2]) for c in CASES] + [(t.key, t, "real") for t in [*NONPOLY, Conic("colu", 4)]]


@pytest.mark.parametrize("case", ALL_FIELDS, ids=[c[0] for c in ALL_FIELDS])
def test_printing_is_complete(case):
    _, term, field = case
    for tied in (True, False):
        f = derive(term, field, tied)
        for s in (f.latex(), f.unicode(), f.text()):
            assert s and "None" not in s
        assert f.text().isascii()
        assert isinstance(f.sympy(), sp.Expr)
        if isinstance(term, Diagram) and term.free_weights:
            # weight names as Diagram.weight_name prints them
            assert all(term.weight_name(i) in f.unicode() for i in range(term.degree)) or not tied


# ---- numerical evaluation of the sympy expressions ----------------------------------------------


def _evaluate(expr, X: np.ndarray, W: dict):
    """Evaluate a word-form field expression with matrices for its non-commutative symbols."""
    if isinstance(expr, sp.Add):
        return sum(_evaluate(a, X, W) for a in expr.args)
    if isinstance(expr, sp.Mul):
        out = None
        for a in expr.args:
            v = _evaluate(a, X, W)
            out = v if out is None else (out * v if np.ndim(out) == 0 or np.ndim(v) == 0 else out @ v)
        return out
    if isinstance(expr, sp.Pow):
        base = _evaluate(expr.args[0], X, W)
        return np.linalg.matrix_power(base, int(expr.args[1])) if np.ndim(base) else base ** int(expr.args[1])
    if isinstance(expr, Tr):
        return np.trace(_evaluate(expr.args[0], X, W))
    if isinstance(expr, OnesForm):
        return _evaluate(expr.args[0], X, W).sum()
    if expr.is_Number:
        return complex(expr)
    n = X.shape[0]
    fixed = {"X": X, "X^*": X.conj().T, "X^T": X.T, "Xbar": X.conj(), "1": np.ones((n, 1)), "1^T": np.ones((1, n))}
    name = expr.name
    if name in fixed:
        return fixed[name]
    return W[name[:-2]].T if name.endswith("^T") else W[name]


@pytest.mark.parametrize("case", WORD_CASES, ids=[c[0] for c in WORD_CASES])
def test_sympy_words_evaluate_to_the_field(case):
    _, d, field, _ = case
    for f, X, W in fields_at_random_inputs(d, field, 21):
        assert rel_err(_evaluate(f.sympy(), X, W), field_value(f, X, W)) < 1e-12, f.unicode()


def test_chains_and_multitraces_print_as_words():
    f = derive(Diagram.from_key("0-1.1-2"), "real")
    assert "1 1ᵀ" in f.unicode() and not f.unicode().startswith("F_jc")
    f = derive(Diagram.from_key("0~0.1~2.2~1"), "complex")
    assert "Tr(" in f.unicode() and f.sympy().atoms(Tr)
    assert any(c[1].n_vertices == 1 for c in WORD_CASES) and any(len(c[1].components) > 1 for c in WORD_CASES)


@pytest.mark.parametrize(
    "key,field", [("0-0.0-1", "real"), ("0~0.0~1", "complex"), ("0~0.1~0", "complex"), ("0-0.1-1.0-1", "real")]
)
def test_index_form_evaluates_to_the_field(key, field):
    d = Diagram.from_key(key)
    assert d.matrix_form() is None and any(c[1].key == d.key for c in INDEX_CASES)
    f = derive(d, field)
    assert f.unicode().startswith("F_jc = ") and "Σ_" in f.unicode()
    assert f.latex().startswith("F_{jc} = ")
    n, c = 2, 2
    rng = np.random.default_rng(3)
    cplx = field == "complex"
    X = random_x(rng, n=n, c=c, complex=cplx)
    W = random_weights(f, c, rng, complex=cplx)
    expr = f.sympy()
    sums = list(expr.atoms(sp.Sum))
    assert sums
    syms = {s.name: s for s in expr.free_symbols}
    arrays = {"X": X, **W}

    def entry(a: int, b: int) -> complex:
        e = expr.subs({syms["N"]: n, syms["C"]: c, syms["j"]: a + 1, syms["c"]: b + 1}).doit()
        values = {}
        for idx in e.atoms(sp.Indexed):
            i, k = (int(v) for v in idx.indices)
            z = complex(arrays[str(idx.base)][i - 1, k - 1])
            values[idx] = sp.Float(z.real) + sp.I * sp.Float(z.imag)
        return complex(e.xreplace(values).evalf())

    F = np.array([[entry(a, b) for b in range(c)] for a in range(n)])
    assert rel_err(F, field_value(f, X, W)) < 1e-10
