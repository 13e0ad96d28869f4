"""The printed one-liners are checked as mathematics: the ASCII form is parsed (a small reader for the
grammar the printer writes: matrix words with Tr(…) and (1^T … 1) factors, or F_jc = Σ index products)
and evaluated with matrices, against the numerical field, for every diagram case; the unicode form is the
ASCII form in other characters; LaTeX is pinned for representatives of every construct it prints."""

from __future__ import annotations

import re
from functools import reduce

import numpy as np
import pytest
import sympy as sp
from calculus_helpers import diagram_cases, fields_at_random_inputs, random_x, rel_err

from archsearch.calculus import derive, field_value, random_weights
from archsearch.calculus.symbolic import Hadamard, Letter, OnesForm, Tp, Tr, _letter_string, _letter_sympy, nc
from archsearch.terms import Diagram, Gated, Softmax

CASES = diagram_cases()
_NAME = r"[A-Z][a-z]*\d*(?:_b\d+)?"


def _letter(tok: str, X: np.ndarray, W: dict) -> np.ndarray:
    n = X.shape[0]
    fixed = {"X": X, "conj(X)": X.conj(), "X^T": X.T, "X*": X.conj().T,
             "1": np.ones((n, 1)), "1^T": np.ones((1, n))}
    if tok in fixed:
        return fixed[tok]
    m = re.fullmatch(rf"({_NAME})(\^T)?", tok)
    assert m, f"not a letter: {tok!r}"
    return W[m.group(1)].T if m.group(2) else W[m.group(1)]


def _word(text: str, X: np.ndarray, W: dict) -> np.ndarray:
    return reduce(np.matmul, [_letter(t, X, W) for t in text.split()])


def _word_branch(text: str, X: np.ndarray, W: dict) -> np.ndarray:
    """Tr(w) and (1^T w 1) scalar factors, then the matrix word."""
    word = r"((?:[^()]|conj\(X\))*)"  # letters, conj(X) among them
    rest, scale = text, 1.0
    while m := re.match(rf"Tr\({word}\) |\(1\^T {word} 1\) ", rest):
        if m.group(1) is not None:
            scale = scale * np.trace(_word(m.group(1), X, W))
        else:
            scale = scale * _word(m.group(2), X, W).sum()
        rest = rest[m.end():]
    assert "(" not in rest.replace("conj(X)", ""), f"unread factor in {text!r}"
    return scale * _word(rest, X, W)


def _index_branch(text: str, X: np.ndarray, W: dict, real: bool) -> np.ndarray:
    """sum_kl (X W1)_kc (X W2 X*)_jk …: each factor a matrix with two index letters, summed by einsum."""
    m = re.fullmatch(r"(?:sum_([a-z]+) )?(.*)", text)
    assert m is not None
    summed, body = m.group(1) or "", m.group(2)
    star = "X^T" if real else "X*"
    ops, subs = [], []
    for fm in re.finditer(r"\(X (\S+)(?: (\S+))?\)_([a-z])([a-z])", body):
        w, tail, a, b = fm.groups()
        M = X @ _letter(w, X, W)
        if tail is not None:
            assert tail == star, f"{tail!r} in a {'real' if real else 'complex'} field"
            M = M @ _letter(tail, X, W)
        ops.append(M)
        subs.append(a + b)
    assert re.sub(r"\(X \S+(?: \S+)?\)_[a-z]{2}", "", body).strip() == "", f"unread factor in {text!r}"
    used = set("".join(subs)) - {"j", "c"}
    assert used == set(summed) and len(summed) == len(set(summed)), text
    if "j" in "".join(subs):
        return np.einsum(",".join(subs) + "->jc", *ops)
    return np.broadcast_to(np.einsum(",".join(subs) + "->c", *ops), X.shape)  # the same for every token j


def text_value(text: str, X: np.ndarray, W: dict, real: bool) -> np.ndarray:
    """The value of a diagram field's ASCII one-liner."""
    index = text.startswith("F_jc = ")
    body = text[len("F_jc = "):] if index else text
    branches = body.split(" + ")
    return sum(_index_branch(b, X, W, real) if index else _word_branch(b, X, W) for b in branches)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_the_text_form_evaluates_to_the_field(case):
    _, d, field, _ = case
    cplx = field == "complex"
    for f, X, W in fields_at_random_inputs(d, field, 5):
        assert rel_err(text_value(f.text(), X, W, not cplx), field_value(f, X, W)) < 1e-10, f.text()
        if not cplx:  # the reader takes X* for X^T on real X: the real field must print X^T, and no conj
            assert "X*" not in f.text() and "conj" not in f.text() and "X̄" not in f.unicode(), f.text()
            assert not f.sympy().atoms(sp.conjugate) and "Xbar" not in str(f.sympy()), f.text()


_SUB = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")
_SUP = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")


def unicode_to_text(s: str) -> str:
    """The documented correspondence: X̄ = conj(X), ᵀ = ^T, W₁⁽⁰⁾ = W1_b0, Σ_ = sum_."""
    s = s.replace("X̄", "conj(X)").replace("Σ_", "sum_").translate(_SUB)
    s = re.sub(r"⁽([⁰¹²³⁴⁵⁶⁷⁸⁹]+)⁾", lambda m: "_b" + m.group(1).translate(_SUP), s)
    return s.replace("ᵀ", "^T")


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_the_unicode_form_is_the_text_form_in_other_characters(case):
    _, d, field, _ = case
    for tied in (True, False):
        f = derive(d, field, tied)
        assert unicode_to_text(f.unicode()) == f.text()
        assert "^" not in f.unicode() and "sum_" not in f.unicode() and "conj" not in f.unicode()
        if any(ch in f.text() for ch in "^_"):
            assert f.unicode() != f.text(), "the unicode form uses its own characters"


def test_the_reader_rejects_what_the_printer_must_not_write():
    """Negative controls: the reader is strict, so a wrong letter or a wrong index fails."""
    rng = np.random.default_rng(0)
    X = random_x(rng, complex=True)
    f = derive(Diagram.from_key("0~1.0~2"), "complex")
    W = random_weights(f, X.shape[1], rng, complex=True)
    good = f.text()
    assert rel_err(text_value(good, X, W, False), field_value(f, X, W)) < 1e-10
    assert rel_err(text_value(good.replace("conj(X)", "X", 1), X, W, False), field_value(f, X, W)) > 1e-3
    g = derive(Diagram.from_key("0-1.1-1"), "real")
    Wg = random_weights(g, X.shape[1], rng)
    Xr = random_x(rng)
    bad = g.text().replace("_kc", "_jc", 1)
    with pytest.raises(AssertionError):
        text_value(bad, Xr, Wg, True)
    with pytest.raises(AssertionError):
        text_value(g.text().replace("X^T", "X*"), Xr, Wg, True)


LATEX = [
    ("0-0", "real", False, r"X W_{1}^{(0)} + X W_{1}^{(1)\top}"),
    ("0-1", "real", True, r"\mathbf{1} \mathbf{1}^{\top} X W_{1} + \mathbf{1} \mathbf{1}^{\top} X W_{1}^{\top}"),
    ("0-0.1-2", "real", True,
     r"\mathbf{1}^{\top} X W_{2} X^{\top} \mathbf{1} X W_{1}"
     r" + \mathbf{1}^{\top} X W_{2} X^{\top} \mathbf{1} X W_{1}^{\top}"
     r" + \operatorname{Tr}\left(X W_{1} X^{\top}\right) \mathbf{1} \mathbf{1}^{\top} X W_{2}"
     r" + \operatorname{Tr}\left(X W_{1} X^{\top}\right) \mathbf{1} \mathbf{1}^{\top} X W_{2}^{\top}"),
    ("0~1.0~2", "complex", True,
     r"\mathbf{1} \mathbf{1}^{\top} \bar{X} W_{1}^{\top} X^{\top} X W_{2}"
     r" + \mathbf{1} \mathbf{1}^{\top} \bar{X} W_{2}^{\top} X^{\top} X W_{1}"),
    ("0~1.1~0", "complex", False, r"X W_{1}^{(1)} X^{*} X W_{2}^{(1)} + X W_{2}^{(0)} X^{*} X W_{1}^{(0)}"),
    ("A0-0.A1-1.A2-2", "real", True,
     r"3 {\operatorname{Tr}\left(X A X^{\top}\right)}^{2} X A"
     r" + 3 {\operatorname{Tr}\left(X A X^{\top}\right)}^{2} X A^{\top}"),
    ("0-1.1-1", "real", True,
     r"F_{jc} = \sum_{k} (X W_{1})_{kc} (X W_{2} X^{\top})_{jj} + \sum_{k} (X W_{1} X^{\top})_{kj} (X W_{2})_{jc}"
     r" + \sum_{k} (X W_{1}^{\top})_{kc} (X W_{2} X^{\top})_{kk}"
     r" + \sum_{k} (X W_{1} X^{\top})_{kj} (X W_{2}^{\top})_{jc}"),
    ("0~0.0~1", "complex", False,
     r"F_{jc} = \sum_{k} (X W_{1}^{(0)})_{jc} (X W_{2}^{(0)} X^{*})_{jk}"
     r" + \sum_{k} (X W_{1}^{(1)} X^{*})_{kk} (X W_{2}^{(1)})_{kc}"),
]


@pytest.mark.parametrize("key,field,tied,expected", LATEX, ids=[c[0] + "-" + c[1] for c in LATEX])
def test_latex_of_representative_fields(key, field, tied, expected):
    # written out by hand from the field's text form (checked numerically above) in LaTeX notation
    assert derive(Diagram.from_key(key), field, tied).latex() == expected


def test_latex_of_the_sympy_building_blocks():
    X, W = nc("X"), nc("W1_b0^T")
    assert sp.latex(derive(Softmax()).sympy()) == (
        r"\frac{\operatorname{softmax}{\left(\frac{X W_{1} X^{\top}}{\sqrt{C_A}} \right)} X W_{1}^{\top}}{\sqrt{C_A}}"
        r" + \frac{\left(\operatorname{softmax}{\left(\frac{X W_{1} X^{\top}}{\sqrt{C_A}} \right)}\right)^{\top}"
        r" X W_{1}}{\sqrt{C_A}}")
    assert derive(Gated(3)).latex() == (r"\left(X W_{1} \odot X W_{2}\right) W_{3}^{\top}"
                                        r" + \left(X W_{1} \odot X W_{3}\right) W_{2}^{\top}"
                                        r" + \left(X W_{2} \odot X W_{3}\right) W_{1}^{\top}")
    assert sp.latex(Tr(X * W)) == r"\operatorname{Tr}\left(X W_{1}^{(0)\top}\right)"
    assert sp.latex(Tr(X * W) ** 2) == r"{\operatorname{Tr}\left(X W_{1}^{(0)\top}\right)}^{2}"
    assert sp.latex(OnesForm(X * W)) == r"\mathbf{1}^{\top} X W_{1}^{(0)\top} \mathbf{1}"
    assert sp.latex(OnesForm(X * W) ** 3) == r"\left(\mathbf{1}^{\top} X W_{1}^{(0)\top} \mathbf{1}\right)^{3}"
    assert sp.latex(Tp(nc("Xbar"))) == r"\left(\bar{X}\right)^{\top}"
    assert sp.latex(Tp(nc("X^*")) ** 2) == r"\left(\left(X^{*}\right)^{\top}\right)^{2}"
    assert sp.latex(Hadamard(X, W)) == r"\left(X \odot W_{1}^{(0)\top}\right)"
    assert sp.latex(Hadamard(X, W) ** 2) == r"{\left(X \odot W_{1}^{(0)\top}\right)}^{2}"
    assert sp.latex(Tr(nc("X^T") * nc("1") * nc("1^T"))) == (
        r"\operatorname{Tr}\left(X^{\top} \mathbf{1} \mathbf{1}^{\top}\right)")


def test_index_form_symbols_carry_their_assumptions():
    """N, C are positive integers and every summation index an integer, so sympy can reason about the Sum."""
    expr = derive(Diagram.from_key("0~1.1~2.1~3"), "complex").sympy()
    assert expr.atoms(sp.Sum)
    syms = {s.name: s for s in expr.free_symbols}
    assert syms["N"].is_integer and syms["N"].is_positive and syms["C"].is_integer and syms["C"].is_positive
    assert syms["j"].is_integer and syms["c"].is_integer
    for s in expr.atoms(sp.Sum):
        names = [str(index) for index, _, _ in s.limits]
        assert len(names) == len(set(names))
        for index, lo, hi in s.limits:
            assert index.is_integer and lo == 1
            feature = re.fullmatch(r"[ab](\d+)", str(index))
            assert hi == (syms["C"] if feature else syms["N"]), (index, hi)
            assert feature is None or 1 <= int(feature.group(1)) <= 3, "feature indices a_i, b_i of edge i = 1..3"


def test_letters_of_an_unknown_kind_are_refused():
    with pytest.raises(ValueError, match="unknown letter kind"):
        _letter_string(Letter("Y"), "text", True)
    with pytest.raises(ValueError, match="unknown letter kind"):
        _letter_sympy(Letter("x"), True)


def test_unknown_styles_and_non_diagram_branches_are_refused():
    from archsearch.calculus.symbolic import _diagram, branch_string, branch_word, field_string, param_display

    f = derive(Diagram.from_key("0-1.0-1"), "real")
    with pytest.raises(ValueError, match=r"^unknown style 'ascii' \(known: unicode, text, latex\)$"):
        param_display("W1", "ascii")
    for call in (lambda: field_string(f, "latex"), lambda: branch_string(f, f.branches[0], "latex"),
                 lambda: branch_string(f, f.branches[0], "Unicode")):
        with pytest.raises(ValueError, match=r"^unknown style '\w+' \(known: unicode, text\)$"):
            call()
    assert param_display("W1") == "W₁" and field_string(f) == f.unicode()
    assert branch_string(f, f.branches[0]) == f.unicode().split(" + ")[0]
    soft = derive(Softmax())
    with pytest.raises(TypeError, match="^index forms are printed for diagram branches, not softmax branches$"):
        _diagram(soft.branches[0])
    with pytest.raises(TypeError, match="^branch_word needs a diagram branch$"):
        branch_word(soft.branches[0])


def test_named_symbols_print_their_power_when_sympy_passes_one():
    from sympy.printing.latex import LatexPrinter

    assert nc("W1_b0")._latex(LatexPrinter(), exp=2) == "{W_{1}^{(0)}}^{2}"
    assert nc("Xbar")._latex(LatexPrinter()) == r"\bar{X}"
