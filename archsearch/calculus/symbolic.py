"""Printing fields: sympy expressions, LaTeX, unicode and ASCII one-liners.

Diagram branches whose diagram is a product of traces and chains (``Diagram.matrix_form`` is not
None) print as matrix words. Each component is a word in the letters X, X̄, Xᵀ, X*, W, Wᵀ:
a trace Tr(w) or a chain 1ᵀ w 1 (an oriented edge walked backwards reads X̄ Wᵀ Xᵀ). Opening the
letter L of the opened component, w = A L B, gives (M = B A)

    trace:  L ∈ {X, X̄}:  F = (B A)ᵀ          L ∈ {Xᵀ, X*}:  F = B A
    chain:  L ∈ {X, X̄}:  F = Aᵀ 1 1ᵀ Bᵀ      L ∈ {Xᵀ, X*}:  F = B 1 1ᵀ A

(so ∂/∂X̄ Tr(X A X* X B X*) = X B X* X A + X A X* X B), times the other components as commutative
scalar factors Tr(…) and 1ᵀ … 1. In sympy the letters are non-commutative symbols (``X``, ``X^*``,
``X^T``, ``Xbar``, ``W1``, ``W1^T``, ``1``, ``1^T``) and the scalar factors are the commutative
functions :class:`Tr` and :class:`OnesForm`. Other diagrams print in index form,
F_jc = Σ_{k…} (X W₁)_kc (X W₂ X*)_jk …, and in sympy as an explicit ``Sum`` over vertex and feature
indices of ``X[j, a]``, ``W1[a, b]``, ``conjugate(X[k, b])``. In the real field X̄ = X and X* = Xᵀ.
Weight names follow ``Diagram.weight_name``: W₁ (``W1``), letters as they are, untied copies
W₁⁽⁰⁾ (``W1_b0``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sympy as sp

from archsearch.calculus.fields import Branch, Field
from archsearch.families.base import subscript
from archsearch.families.diagram import Diagram


def _diagram(branch: Branch) -> Diagram:
    """The branch's term, which the index forms below need to be a diagram (TypeError otherwise)."""
    if not isinstance(branch.term, Diagram):
        raise TypeError(f"index forms are printed for diagram branches, not {branch.term.kind} branches")
    return branch.term


_SUP = str.maketrans("0123456789()", "⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾")
_NAME = re.compile(r"([A-Z][a-z]*)(\d*)(?:_b(\d+))?")
_VERTEX_NAMES = "klmnpqrstuvwxyzabdefghi"  # j is the free token index, c the free feature index


STYLES = ("unicode", "text", "latex")
LINE_STYLES = STYLES[:2]  # the one-liners; LaTeX is printed by field_latex


def _check_style(style: str, known: tuple[str, ...]) -> None:
    if style not in known:
        raise ValueError(f"unknown style {style!r} (known: {', '.join(known)})")


def param_display(name: str, style: str = "unicode", transposed: bool = False) -> str:
    """A parameter name as printed: ``W1`` → W₁, ``W1_b0`` → W₁⁽⁰⁾, with ᵀ when transposed."""
    _check_style(style, STYLES)
    m = _NAME.fullmatch(name)
    if style == "text" or m is None:
        return name + ("^T" if transposed else "")
    base, digits, copy = m.groups()
    if style == "latex":
        out = base + (f"_{{{digits}}}" if digits else "")
        sup = (f"({copy})" if copy is not None else "") + (r"\top" if transposed else "")
        return out + (f"^{{{sup}}}" if sup else "")
    out = base + (subscript(int(digits)) if digits else "")
    out += f"({copy})".translate(_SUP) if copy is not None else ""
    return out + ("ᵀ" if transposed else "")


# --------------------------------------------------------------------------------------------------
# sympy building blocks
# --------------------------------------------------------------------------------------------------


def _latex_of_name(name: str) -> str:
    fixed = {  # X, X^T and C_A need no entry: param_display prints them as they are (with ^{\top})
        "Xbar": r"\bar{X}",
        "X^*": "X^{*}",
        "1": r"\mathbf{1}",
        "1^T": r"\mathbf{1}^{\top}",
    }
    if name in fixed:
        return fixed[name]
    if name.endswith("^T"):
        return param_display(name[:-2], "latex", transposed=True)
    return param_display(name, "latex")


def _with_exp(body: str, exp, wrap: bool = False) -> str:
    """``body`` raised to ``exp`` (sympy's LaTeX printer passes exp for powers of a function)."""
    if exp is None:
        return body
    return (rf"\left({body}\right)" if wrap else f"{{{body}}}") + f"^{{{exp}}}"


class Named(sp.Symbol):
    """A sympy symbol that prints its LaTeX from the archsearch naming (W1_b0 → W_{1}^{(0)})."""

    def _latex(self, printer, exp=None, **kwargs) -> str:
        return _with_exp(_latex_of_name(self.name), exp)


def nc(name: str) -> Named:
    """A non-commutative matrix symbol."""
    return Named(name, commutative=False)


class Tr(sp.Function):
    """The trace of a matrix word: a commutative scalar."""

    nargs = 1
    is_commutative = True

    def _latex(self, printer, exp=None, **kwargs) -> str:
        return _with_exp(r"\operatorname{Tr}\left(" + printer._print(self.args[0]) + r"\right)", exp)


class OnesForm(sp.Function):
    """1ᵀ M 1 (the sum of the entries of a matrix word, a chain component): a commutative scalar."""

    nargs = 1
    is_commutative = True

    def _latex(self, printer, exp=None, **kwargs) -> str:
        return _with_exp(r"\mathbf{1}^{\top} " + printer._print(self.args[0]) + r" \mathbf{1}", exp, wrap=True)


class Tp(sp.Function):
    """Transpose of a (non-commutative) matrix expression, e.g. Pᵀ."""

    nargs = 1
    is_commutative = False

    def _latex(self, printer, exp=None, **kwargs) -> str:
        return _with_exp(r"\left(" + printer._print(self.args[0]) + r"\right)^{\top}", exp, wrap=True)


class Hadamard(sp.Function):
    """Entrywise product of matrices (X W₁ ⊙ X W₂)."""

    is_commutative = False

    def _latex(self, printer, exp=None, **kwargs) -> str:
        return _with_exp(r"\left(" + r" \odot ".join(printer._print(a) for a in self.args) + r"\right)", exp)


# --------------------------------------------------------------------------------------------------
# Words of diagram branches
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Letter:
    """One letter of a matrix word: kind "X" (t: transposed, c: conjugated), "W" (name, t) or "1"
    (t=False: the column 1, t=True: the row 1ᵀ); ``tag`` = (rep edge, "src"/"dst") for X letters."""

    kind: str
    t: bool = False
    c: bool = False
    name: str = ""
    tag: tuple[int, str] | None = None

    def transposed(self) -> Letter:
        return Letter(self.kind, not self.t, self.c, self.name, self.tag)


def _transpose(word: list[Letter]) -> list[Letter]:
    return [x.transposed() for x in reversed(word)]


def _component_word(d, comp: tuple[int, ...], weight) -> list[Letter]:
    word = []
    for i in comp:
        if d.rep_transposed[i]:  # (X W X*)ᵀ = X̄ Wᵀ Xᵀ: the first letter is the X* (dst) end
            word += [Letter("X", False, True, tag=(i, "dst")), Letter("W", True, name=weight(i)),
                     Letter("X", True, False, tag=(i, "src"))]
        else:
            word += [Letter("X", False, False, tag=(i, "src")), Letter("W", False, name=weight(i)),
                     Letter("X", True, True, tag=(i, "dst"))]
    return word


def branch_word(branch: Branch) -> tuple[list[tuple[str, list[Letter]]], list[Letter]] | None:
    """A diagram branch as (scalar factors [("Tr"|"1", word)], matrix word), or None when some
    component of the diagram is neither a trace nor a chain."""
    d = branch.term
    if not isinstance(d, Diagram):
        raise TypeError("branch_word needs a diagram branch")
    shapes = [d.component_shape(c) for c in range(len(d.rep_components))]
    if "general" in shapes:
        return None
    factors: list[tuple[str, list[Letter]]] = []
    opened: list[Letter] = []
    for comp, shape in zip(d.rep_components, shapes, strict=True):
        word = _component_word(d, comp, branch.weight)
        if branch.edge not in comp:
            factors.append(("Tr" if shape == "cycle" else "1", word))
            continue
        p = next(k for k, x in enumerate(word) if x.tag == (branch.edge, branch.end))
        a, letter, b = word[:p], word[p], word[p + 1:]
        if shape == "cycle":
            opened = b + a if letter.t else _transpose(b + a)
        elif letter.t:
            opened = b + [Letter("1"), Letter("1", True)] + a
        else:
            opened = _transpose(a) + [Letter("1"), Letter("1", True)] + _transpose(b)
    return factors, opened


def _check_x(x: Letter) -> None:
    if x.kind != "X":
        raise ValueError(f"unknown letter kind {x.kind!r} (known: X, W, 1)")


def _letter_string(x: Letter, style: str, real: bool) -> str:
    if x.kind == "W":
        return param_display(x.name, style, x.t)
    if x.kind == "1":
        return {"unicode": "1ᵀ", "text": "1^T"}[style] if x.t else "1"
    _check_x(x)
    c = x.c and not real
    if style == "text":
        return ("X*" if c else "X^T") if x.t else ("conj(X)" if c else "X")
    return ("X*" if c else "Xᵀ") if x.t else ("X̄" if c else "X")


def _letter_sympy(x: Letter, real: bool) -> sp.Expr:
    if x.kind == "W":
        return nc(x.name + ("^T" if x.t else ""))
    if x.kind == "1":
        return nc("1^T" if x.t else "1")
    _check_x(x)
    c = x.c and not real
    if x.t:
        return nc("X^*" if c else "X^T")
    return nc("Xbar" if c else "X")


def _word_string(word: list[Letter], style: str, real: bool) -> str:
    return " ".join(_letter_string(x, style, real) for x in word)


def _word_sympy(word: list[Letter], real: bool) -> sp.Expr:
    return sp.Mul(*[_letter_sympy(x, real) for x in word])


# --------------------------------------------------------------------------------------------------
# Index form (general diagrams)
# --------------------------------------------------------------------------------------------------


def _vertex_names(branch: Branch) -> dict[int, str]:
    d = _diagram(branch)
    names = {branch.vertex: "j"}
    for e in d.rep:
        for v in (e.src, e.dst):
            if v not in names:
                names[v] = _VERTEX_NAMES[len(names) - 1]
    return names


def _index_string(branch: Branch, style: str, real: bool) -> str:
    d = _diagram(branch)
    names = _vertex_names(branch)
    if real:
        star = {"unicode": "Xᵀ", "text": "X^T", "latex": r"X^{\top}"}[style]
    else:
        star = {"unicode": "X*", "text": "X*", "latex": "X^{*}"}[style]
    factors = []
    for i, e in enumerate(d.rep):
        w = branch.weight(i)
        if i == branch.edge and branch.end == "dst":
            body, idx = f"X {param_display(w, style)}", names[e.src] + "c"
        elif i == branch.edge:
            body, idx = f"X {param_display(w, style, True)}", names[e.dst] + "c"
        else:
            body, idx = f"X {param_display(w, style)} {star}", names[e.src] + names[e.dst]
        factors.append(f"({body})_{{{idx}}}" if style == "latex" else f"({body})_{idx}")
    summed = "".join(n for n in names.values() if n != "j")
    prefix = ""
    if summed:
        prefix = {"unicode": f"Σ_{summed} ", "text": f"sum_{summed} ", "latex": rf"\sum_{{{summed}}} "}[style]
    return prefix + " ".join(factors)


def _index_sympy(branch: Branch, real: bool) -> sp.Expr:
    d = _diagram(branch)
    names = _vertex_names(branch)
    N, C = sp.Symbol("N", integer=True, positive=True), sp.Symbol("C", integer=True, positive=True)
    tok = {v: sp.Symbol(n, integer=True) for v, n in names.items()}
    c = sp.Symbol("c", integer=True)
    X = sp.IndexedBase(Named("X"))
    expr = sp.Integer(1)
    limits = [(tok[v], 1, N) for v in sorted(tok) if names[v] != "j"]
    for i, e in enumerate(d.rep):
        W = sp.IndexedBase(Named(branch.weight(i)))
        a, b = sp.Symbol(f"a{i + 1}", integer=True), sp.Symbol(f"b{i + 1}", integer=True)
        xs = sp.conjugate if not real else (lambda z: z)
        if i == branch.edge and branch.end == "dst":
            expr *= X[tok[e.src], a] * W[a, c]
            limits.append((a, 1, C))
        elif i == branch.edge:
            expr *= W[c, b] * xs(X[tok[e.dst], b])
            limits.append((b, 1, C))
        else:
            expr *= X[tok[e.src], a] * W[a, b] * xs(X[tok[e.dst], b])
            limits += [(a, 1, C), (b, 1, C)]
    return sp.Sum(expr, *limits)


# --------------------------------------------------------------------------------------------------
# Public entry points (used by Field.sympy/latex/unicode/text)
# --------------------------------------------------------------------------------------------------


def diagram_branch_string(branch: Branch, style: str, real: bool) -> str:
    """A diagram branch as a one-liner: a matrix word (times trace / chain factors), or the index form."""
    word = branch_word(branch)
    if word is None:
        return _index_string(branch, style, real)
    factors, opened = word
    parts = []
    for kind, w in factors:
        body = _word_string(w, style, real)
        parts.append(f"Tr({body})" if kind == "Tr" else f"({'1^T' if style == 'text' else '1ᵀ'} {body} 1)")
    parts.append(_word_string(opened, style, real))
    return " ".join(parts)


def diagram_branch_sympy(branch: Branch, real: bool) -> sp.Expr:
    """A diagram branch in sympy: non-commutative words with Tr / OnesForm factors, or an index Sum."""
    word = branch_word(branch)
    if word is None:
        return _index_sympy(branch, real)
    factors, opened = word
    expr = _word_sympy(opened, real)
    for kind, w in factors:
        expr = (Tr if kind == "Tr" else OnesForm)(_word_sympy(w, real)) * expr
    return expr


def branch_string(field: Field, branch: Branch, style: str = "unicode") -> str:
    """One branch as a unicode or ASCII ("text") one-liner (index form: the entry F_jc)."""
    _check_style(style, LINE_STYLES)
    return branch.term.branch_string(branch, style, field.field == "real")


def branch_sympy(field: Field, branch: Branch) -> sp.Expr:
    return branch.term.branch_sympy(branch, field.field == "real")


def field_string(field: Field, style: str = "unicode") -> str:
    """The field as a one-liner: branches joined by " + " (index forms prefixed by F_jc =)."""
    body = " + ".join(branch_string(field, b, style) for b in field.branches)
    return f"F_jc = {body}" if field.term.index_form_field() else body


def field_sympy(field: Field) -> sp.Expr:
    """The field as one sympy expression (the sum of the branches)."""
    return sp.Add(*[branch_sympy(field, b) for b in field.branches])


def field_latex(field: Field) -> str:
    """LaTeX: sympy's rendering for words and the non-polynomial families; a compact index form
    F_{jc} = Σ (X W)_{kc} (X W X^*)_{jk} … for general diagrams."""
    if field.term.index_form_field():
        real = field.field == "real"
        return "F_{jc} = " + " + ".join(_index_string(b, "latex", real) for b in field.branches)
    return sp.latex(field_sympy(field))
