"""PyTorch source for the named non-polynomial families: softmax, entrywise, conic and gated blocks.

:func:`family_source` returns the Python source of one standalone ``torch.nn.Module`` subclass that
computes the real field of a :class:`~archsearch.terms.Softmax`, :class:`~archsearch.terms.Entrywise`,
:class:`~archsearch.terms.Conic` or :class:`~archsearch.terms.Gated` term, summed over heads:

    F(X) = Σ_h F(X; W^h),   X of shape (B, N, C) → (B, N, C).

The source uses only ``math``, ``torch`` and ``torch.nn.functional as F``; it is exec'd to build
blocks and written verbatim by the export feature. The module interface is the one shared with the
diagram blocks::

    __init__(self, features, rank=None, heads=1, dtype=torch.float32)
    forward(self, x)                   # (B, N, C) -> (B, N, C)
    effective_weights(self)            # {calculus parameter name: (H, C, C) tensor}

``effective_weights`` names the weights as :func:`archsearch.calculus.fields.derive` does ("W1", "A",
"W1".."Wk"; untied copies "W1_b0" and output weights "O_b0" / "B_b0"), so that
``Σ_h field_value(field, X, {name: W[h]}, scale=block.scale)`` (float64 numpy) is the block's output.

Conventions (the numerical reference is :mod:`archsearch.calculus.evaluate`):

* Softmax / Entrywise (edge families). S = X W Xᵀ·scale with scale = 1/√C_A, C_A = ``rank`` (the head
  dimension) or C when ``rank`` is None — the reference's default 1/√C is the full-rank case. With
  ``lowrank=True`` every weight is factorised per head, W_h = Q_h K_hᵀ (Q, K of shape C × C_A), and
  stored in ``F.linear`` layout so the projections are single matmuls, exactly as a hand-written
  Transformer layer. An untied output weight is O_h = V_h U_hᵀ/scale: the block computes
  P (X V) Uᵀ — standard attention — while the field reads P X O·scale; absorbing the constant into
  O keeps the hot path free of extra multiplies. With ``lowrank=False`` the weights are full (H, C, C)
  tensors (and ``rank`` must be None). The row branch P X (…) uses ``F.scaled_dot_product_attention``;
  the transposed branch Pᵀ X (…) — column sums of a row-normalised matrix, not SDPA-native — and the
  entrywise branches are computed exactly, one block of query rows of S at a time (memory O(N·chunk)).
  Causal: keys k > j are masked everywhere (row-softmax over k ≤ j; entrywise f'(S_jk) := 0), so both
  branches use the same masked matrix.
* Conic / Gated (per-token families). The reference applies the nonlinearity to the C columns of
  X W with W square (C × C): these blocks keep full (H, C, C) weights and ignore ``rank`` and
  ``lowrank`` (a factorised W would only put the cones / products on a rank-C_A image, not make a
  narrower hidden layer). ``causal`` changes nothing (the field is per token).
"""

from __future__ import annotations

import keyword
import math
import textwrap

import torch
import torch.nn.functional as F  # noqa: N812 - the conventional name, also used by the generated source

from archsearch.calculus.evaluate import COLU_EPS
from archsearch.calculus.fields import ENTRYWISE_DERIVATIVE, Branch, derive
from archsearch.terms import Conic, Entrywise, Gated, Softmax, Term

BRANCHES = ("all", "paper")
#: Every name a generated source may use (for callers that pass ``imports=False``).
IMPORTS = "import math\n\nimport torch\nimport torch.nn.functional as F\n"

#: torch function computing f' for each entrywise f (V = Σ f(S) ⇒ the field uses f'(S)).
_TORCH_DERIVATIVE = {"exp": "torch.exp", "cosh": "torch.sinh", "logcosh": "torch.tanh", "softplus": "torch.sigmoid"}

#: Entries of S (batch × heads × rows × keys) materialised at once by the exact quadratic branches.
DEFAULT_CHUNK_ELEMENTS = 1 << 25


def family_source(
    term: Term,
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

    term:       Softmax, Entrywise(fn), Conic(projection, cone_size) or Gated(k).
    field:      "real" (the families are defined for the real field only; "complex" raises ValueError).
    tied:       share the weights across branches (exactly the gradient of V) or untie them
                (each branch its own weights and output weight, as Transformers have Q, K, V, O).
    causal:     token j only interacts with tokens k ≤ j (edge families; no effect per token).
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
    if field == "complex":
        raise ValueError(
            f"{getattr(term, 'family', type(term).__name__)} blocks are defined for the real field only "
            "(the potential is not a function of edges X W X*); use field='real'"
        )
    if field != "real":
        raise ValueError(f"field must be 'real' (or 'complex', unsupported here), not {field!r}")
    if not isinstance(term, (Softmax, Entrywise, Conic, Gated)):
        raise TypeError(
            f"family_source compiles Softmax, Entrywise, Conic and Gated terms, not {type(term).__name__} "
            "(contraction diagrams go through the contraction plans)"
        )
    if not (isinstance(class_name, str) and class_name.isidentifier() and not keyword.iskeyword(class_name)):
        raise ValueError(f"class_name must be a Python identifier, not {class_name!r}")
    if branches not in BRANCHES:
        raise ValueError(f"branches must be one of {', '.join(BRANCHES)}, not {branches!r}")
    if branches == "paper" and not isinstance(term, Softmax):
        raise ValueError("branches='paper' (the standard-attention branch only) exists for the softmax term only")
    if isinstance(term, Entrywise) and term.fn not in _TORCH_DERIVATIVE:
        raise ValueError(f"unknown entrywise function {term.fn!r} (known: {', '.join(_TORCH_DERIVATIVE)})")
    if isinstance(term, Conic):
        if term.projection not in ("relu", "soc", "colu"):
            raise ValueError(f"unknown conic projection {term.projection!r} (known: relu, soc, colu)")
        if term.projection != "relu" and term.cone_size < 2:
            raise ValueError(f"cone size must be at least 2, not {term.cone_size}")

    fld = derive(term, "real", tied)
    chosen = fld.branches[:1] if branches == "paper" else fld.branches
    if isinstance(term, (Softmax, Entrywise)):
        body = _edge_source(term, fld.note, tied, causal, class_name, lowrank, chosen, branches)
    elif isinstance(term, Conic):
        body = _conic_source(term, fld.note, tied, class_name, chosen)
    else:
        body = _gated_source(term, fld.note, tied, class_name, chosen)
    if not imports:
        return body
    used = "import math\n\nimport torch\n"
    if "F.linear(" in body or "F.scaled_dot_product_attention(" in body:
        used += "import torch.nn.functional as F\n"
    return used + "\n\n" + body


def family_class(term: Term, field: str, tied: bool, causal: bool, class_name: str = "FamilyBlock", **kwargs):
    """Exec :func:`family_source` in a fresh namespace (math, torch, F only) and return the class."""
    source = family_source(term, field, tied, causal, class_name, imports=False, **kwargs)
    namespace = {"math": math, "torch": torch, "F": F, "__name__": f"archsearch_generated_{class_name}"}
    exec(compile(source, f"<{class_name}>", "exec"), namespace)  # noqa: S102 - our own generated source
    return namespace[class_name]


# --------------------------------------------------------------------------------------------------
# A tiny line builder for the generated source (blank lines carry no whitespace)
# --------------------------------------------------------------------------------------------------


class _Code:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, text: str = "", indent: int = 0) -> None:
        """Append ``text`` (dedented when it spans several lines) at ``indent`` spaces."""
        if "\n" in text:
            text = textwrap.dedent(text).strip("\n")
        for line in text.split("\n"):
            self.lines.append(" " * indent + line if line.strip() else "")

    def docstring(self, lines: list[str], indent: int) -> None:
        self.add('"""' + lines[0], indent)
        for line in lines[1:]:
            self.add(line, indent)
        self.add('"""', indent)

    @classmethod
    def module(cls, class_name: str, doc: list[str]) -> _Code:
        """A class ``class_name`` with docstring ``doc``, up to the argument checks of ``__init__``."""
        code = cls()
        code.add(f"class {class_name}(torch.nn.Module):")
        code.docstring(doc, 4)
        code.add()
        code.add(_INIT_SIGNATURE, 4)
        code.add(_CHECKS, 8)
        return code

    def accumulate(self, term: str, first: bool) -> None:
        """``out = term`` for the first summand of the output, ``out = out + term`` after it."""
        self.add(f"out = {term}" if first else f"out = out + {term}", 8)

    def render(self) -> str:
        return "\n".join(self.lines).rstrip() + "\n"


def _wrap(text: str, width: int = 100) -> list[str]:
    """Greedy word wrap (keeps generated lines well under 120 characters)."""
    out, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            out.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    if line:
        out.append(line)
    return out


def _names(chosen: tuple[Branch, ...]) -> list[str]:
    out: list[str] = []
    for b in chosen:
        for p in b.parameters():
            if p not in out:
                out.append(p)
    return out


_INIT_SIGNATURE = "def __init__(self, features: int, rank: int | None = None, heads: int = 1, dtype=torch.float32):"
_CHECKS = '''
    super().__init__()
    if features < 1 or heads < 1:
        raise ValueError(f"features and heads must be positive, got {features} and {heads}")
    if rank is not None and rank < 1:
        raise ValueError(f"rank must be a positive integer or None, got {rank}")
'''
_FORWARD_DOC = '"""x (B, N, C) → Σ_h F(x; W^h), (B, N, C)."""'
_EFFECTIVE_DOC = '"""Calculus parameter name → (H, C, C) weight, named as archsearch.calculus.derive names them."""'
_HEAD_PROJECTION = 'torch.einsum("bnc,hcd->bhnd", x, self.{w})'

_SPLIT_MERGE = '''
@staticmethod
def _split(t, parts, heads):
    """Projections (B, N, parts·H·D) → ``parts`` tensors (B, H, N, D): views, no copy."""
    b, n, width = t.shape
    return [p.transpose(1, 2) for p in t.view(b, n, parts, heads, width // (parts * heads)).unbind(2)]

@staticmethod
def _merge(y):
    """Per-head values (B, H, N, D) → (B, N, H·D), ready for the output matmul."""
    b, h, n, d = y.shape
    return y.transpose(1, 2).reshape(b, n, h * d)
'''


def _weighted_sums(code: _Code, term: Term, causal: bool) -> None:
    """The exact quadratic helper: (M @ row_values, Mᵀ @ col_values), S row-chunked."""
    if isinstance(term, Softmax):
        what = "M = P = row-softmax(S)" + (" over keys k ≤ j" if causal else "")
    else:
        fp = ENTRYWISE_DERIVATIVE[term.fn]
        what = f"M = {fp}(S) = f'(S), f = {term.fn}" + (", with M_jk = 0 for k > j" if causal else "")
    code.add(
        f'''
        def _weighted_sums(self, q, k, row_values=None, col_values=None):
            """(M @ row_values, Mᵀ @ col_values) per batch and head, S = q kᵀ·scale,
            {what}.

            Exact, without holding S (B, H, N, N) whole: rows j0..j1 of S at a time (at most
            ``max_chunk_elements`` entries), so memory is O(N·chunk). Row k of Mᵀ V is Σ_j M_jk v_j,
            accumulated chunk by chunk. Computed in float32 (float64 for float64 inputs).
            """
            b, h, n, _ = q.shape
            dtype = q.dtype
            acc = torch.promote_types(dtype, torch.float32)
            q, k = q.to(acc), k.to(acc)
            step = max(1, min(n, self.max_chunk_elements // max(1, b * h * n)))
            rows_out, cols_out = [], None
            if row_values is not None:
                row_values = row_values.to(acc)
            if col_values is not None:
                col_values = col_values.to(acc)
                cols_out = torch.zeros(b, h, n, col_values.shape[-1], dtype=acc, device=q.device)
            for j0 in range(0, n, step):
                j1 = min(n, j0 + step)
        ''',
        4,
    )
    if causal:
        code.add(
            """
            # causal: query j only sees keys k ≤ j, so keys at or beyond j1 are never needed
            s = torch.matmul(q[:, :, j0:j1], k[:, :, :j1].transpose(-1, -2)) * self.scale
            future = torch.arange(j1, device=q.device) > torch.arange(j0, j1, device=q.device)[:, None]
            """,
            12,
        )
    else:
        code.add("s = torch.matmul(q[:, :, j0:j1], k.transpose(-1, -2)) * self.scale  # rows j0..j1 of S", 12)
    if isinstance(term, Softmax):
        if causal:
            code.add('s = s.masked_fill(future, float("-inf"))  # the row-softmax runs over k ≤ j only', 12)
        code.add("# P_jk = exp(S_jk − logsumexp_k S_jk): the exact row-softmax", 12)
        code.add("m = torch.exp(s - torch.logsumexp(s, dim=-1, keepdim=True))", 12)
    else:
        code.add(f"m = {_TORCH_DERIVATIVE[term.fn]}(s)  # f'(S) = {ENTRYWISE_DERIVATIVE[term.fn]}(S)", 12)
        if causal:
            code.add("m = m.masked_fill(future, 0.0)  # masked after f': masked entries contribute nothing", 12)
    if causal:
        code.add(
            """
            if row_values is not None:
                rows_out.append(torch.matmul(m, row_values[:, :, :j1]))  # (M V)_j = Σ_{k≤j} M_jk v_k
            if cols_out is not None:
                # (Mᵀ V)_k = Σ_j M_jk v_j with the causal rule j ≤ k, while M_jk = 0 for k > j:
                # only j = k survives (the full sum would let token k see the later queries j > k)
                diag = torch.diagonal(m[..., j0:j1], dim1=-2, dim2=-1)  # M_jj for j in j0..j1
                cols_out[:, :, j0:j1] += diag.unsqueeze(-1) * col_values[:, :, j0:j1]
            """,
            12,
        )
    else:
        code.add(
            """
            if row_values is not None:
                rows_out.append(torch.matmul(m, row_values))  # (M V)_j = Σ_k M_jk v_k
            if cols_out is not None:
                # (Mᵀ V)_k = Σ_j M_jk v_j: the rows j of this chunk add to every column k
                cols_out += torch.matmul(m.transpose(-1, -2), col_values[:, :, j0:j1])
            """,
            12,
        )
    code.add(
        """
        rows_res = torch.cat(rows_out, dim=2).to(dtype) if row_values is not None else None
        cols_res = cols_out.to(dtype) if cols_out is not None else None
        return rows_res, cols_res
        """,
        8,
    )


# --------------------------------------------------------------------------------------------------
# Softmax and entrywise (edge families)
# --------------------------------------------------------------------------------------------------


def _edge_source(term, note, tied, causal, class_name, lowrank, chosen: tuple[Branch, ...], branches) -> str:
    softmax = isinstance(term, Softmax)
    sym = "P" if softmax else "M"
    if softmax:
        mat = "P = row-softmax(S)" + (" over keys k ≤ j (causal)" if causal else "")
    else:
        fp = ENTRYWISE_DERIVATIVE[term.fn]
        mat = f"M = {fp}(S) = f'(S)" + (", M_jk = 0 for k > j (causal)" if causal else "")
    names = _names(chosen)
    has_dst = any(b.end == "dst" for b in chosen)
    needs_sums = has_dst or not softmax
    title = "Softmax" if softmax else f"Entrywise {term.fn}"
    flags = ["tied" if tied else "untied"] + (["causal"] if causal else [])
    flags += ["paper branch only"] if branches == "paper" else []
    doc = [f"{title} field block ({', '.join(flags)}), summed over heads.", ""]
    doc += _wrap(note)
    doc += ["", f"S = X W Xᵀ·scale per head, scale = 1/√C_A; {mat}.", "Branches computed here:"]
    for b in chosen:
        w = b.weight(0)
        if b.end == "src":
            how = "F.scaled_dot_product_attention" if softmax else "exact, row-chunked"
            doc.append(f"  {sym}[{w}] X {b.output or w + 'ᵀ'}·scale   (row branch; {how})")
        else:
            doc.append(f"  {sym}[{w}]ᵀ X {b.output or w}·scale   (transposed branch; exact, row-chunked)")
    if branches == "paper":
        doc += ["", "Paper variant: the standard-attention branch only. This is NOT the gradient of",
                "V = Σ_j logsumexp_k S_jk: the transposed branch Pᵀ X W₁·scale is dropped."]
    doc.append("")
    if lowrank:
        doc.append("Parameters, low rank C_A = rank (C when rank is None), in F.linear layout:")
        if tied:
            doc.append("  W1_qk (2, H, C_A, C): W1_h = Q_h K_hᵀ with Q_h = W1_qk[0, h]ᵀ, K_h = W1_qk[1, h]ᵀ.")
        else:
            for b in chosen:
                i = b.index
                doc += [f"  b{i}_qkv (3, H, C_A, C): Q_h, K_h, V_h = b{i}_qkv[0, h]ᵀ, [1, h]ᵀ, [2, h]ᵀ;",
                        f"  b{i}_out (C, H, C_A): U_h = b{i}_out[:, h];  {b.weight(0)}_h = Q_h K_hᵀ, "
                        f"{b.output}_h = V_h U_hᵀ/scale."]
            doc += ["  The block computes P (X V) Uᵀ (standard attention); the field's scale is absorbed in O."]
    else:
        doc += _wrap("Parameters, full rank (C_A = C): " + ", ".join(names) + ", each (H, C, C).")
        if not tied:
            doc.append("  Output weights are stored as O·scale (the block computes P X O_stored).")
    doc += _wrap("effective_weights(): {" + ", ".join(names) + "} → (H, C, C) tensors.")

    code = _Code.module(class_name, doc)
    if not lowrank:
        code.add("if rank is not None:", 8)
        code.add('raise ValueError("full-rank block (generated with lowrank=False): rank must be None")', 12)
    code.add("self.features, self.heads = features, heads", 8)
    code.add("self.rank = features if rank is None else rank  # C_A: the width of q and k per head", 8)
    code.add("self.scale = 1.0 / math.sqrt(self.rank)  # S = X W Xᵀ/√C_A", 8)
    if needs_sums:
        code.add(f"self.max_chunk_elements = {DEFAULT_CHUNK_ELEMENTS}  # entries of S held at once (exact branches)", 8)
    params: list[tuple[str, str, str]] = []  # attribute, shape, fan-in
    if lowrank:
        if tied:
            params.append(("W1_qk", "2, heads, self.rank, features", "self.features"))
        else:
            for b in chosen:
                params.append((f"b{b.index}_qkv", "3, heads, self.rank, features", "self.features"))
                params.append((f"b{b.index}_out", "features, heads, self.rank", "self.heads * self.rank"))
    else:
        params += [(n, "heads, features, features", "self.features") for n in names]
    for attr, shape, _ in params:
        code.add(f"self.{attr} = torch.nn.Parameter(torch.empty({shape}, dtype=dtype))", 8)
    code.add("self.reset_parameters()", 8)
    code.add()
    code.add("def reset_parameters(self):", 4)
    code.add('"""Gaussian init, variance 1/fan-in for every factor."""', 8)
    code.add("with torch.no_grad():", 8)
    for attr, _, fan in params:
        code.add(f"self.{attr}.normal_(0.0, 1.0 / math.sqrt({fan}))", 12)
    code.add()
    code.add("def forward(self, x):", 4)
    code.add(_FORWARD_DOC, 8)
    if lowrank:
        _edge_forward_lowrank(code, softmax, tied, chosen, causal, sym)
    else:
        _edge_forward_full(code, softmax, tied, chosen, causal, sym)
    code.add()
    code.add("def effective_weights(self):", 4)
    code.add(_EFFECTIVE_DOC, 8)
    if lowrank and tied:
        code.add("qk = self.W1_qk.transpose(-1, -2)  # (2, H, C, C_A): Q_h and K_h", 8)
        code.add('return {"W1": qk[0] @ qk[1].transpose(-1, -2)}  # W1 = Q Kᵀ', 8)
    elif lowrank:
        code.add("out = {}", 8)
        for b in chosen:
            i = b.index
            code.add(f"qkv = self.b{i}_qkv.transpose(-1, -2)  # (3, H, C, C_A): Q_h, K_h, V_h", 8)
            code.add(f"u = self.b{i}_out.permute(1, 0, 2)  # (H, C, C_A): U_h", 8)
            code.add(f'out["{b.weight(0)}"] = qkv[0] @ qkv[1].transpose(-1, -2)  # Q Kᵀ', 8)
            code.add(f'out["{b.output}"] = qkv[2] @ u.transpose(-1, -2) / self.scale  # V Uᵀ/scale', 8)
        code.add("return out", 8)
    else:
        items = [f'"{n}": self.{n} / self.scale' if n.startswith("O_") else f'"{n}": self.{n}' for n in names]
        _return_dict(code, items)
    if lowrank:
        code.add()
        code.add(_SPLIT_MERGE, 4)
    if needs_sums:
        code.add()
        _weighted_sums(code, term, causal)
    return code.render()


def _sdpa(q: str, k: str, v: str, causal: bool) -> str:
    return f"F.scaled_dot_product_attention({q}, {k}, {v}, is_causal={causal}, scale=self.scale)"


def _edge_forward_lowrank(code: _Code, softmax: bool, tied: bool, chosen, causal: bool, sym: str) -> None:
    code.add("c, h, d = x.shape[-1], self.heads, self.rank", 8)
    has_dst = any(b.end == "dst" for b in chosen)
    if tied:
        code.add("# q = X Q_h, k = X K_h per head (B, H, N, C_A): S = q kᵀ·scale = X W1 Xᵀ·scale", 8)
        code.add("q, k = self._split(F.linear(x, self.W1_qk.view(2 * h * d, c)), 2, h)", 8)
        if softmax:
            code.add("# row branch: P X W1ᵀ·scale = (P (X K)) Qᵀ·scale: attention with values k", 8)
            code.add("y_src = " + _sdpa("q", "k", "k", causal), 8)
            if has_dst:
                code.add("# transposed branch: Pᵀ X W1·scale = (Pᵀ (X Q)) Kᵀ·scale: exact column sums", 8)
                code.add("_, y_dst = self._weighted_sums(q, k, col_values=q)", 8)
        else:
            code.add(f"# row branch {sym} X W1ᵀ·scale = ({sym} (X K)) Qᵀ·scale;", 8)
            code.add(f"# transposed branch {sym}ᵀ X W1·scale = ({sym}ᵀ (X Q)) Kᵀ·scale", 8)
            code.add("y_src, y_dst = self._weighted_sums(q, k, row_values=k, col_values=q)", 8)
        code.add("# Σ_h y_h Q_hᵀ is one matmul with W1_qk[0] read as an (H·C_A, C) matrix", 8)
        code.add("out = self._merge(y_src) @ self.W1_qk[0].reshape(h * d, c)", 8)
        if has_dst:
            code.add("out = out + self._merge(y_dst) @ self.W1_qk[1].reshape(h * d, c)", 8)
        code.add("return out * self.scale", 8)
        return
    for j, b in enumerate(chosen):
        i = b.index
        code.add(f"# branch {i}: q, k, v = X Q, X K, X V per head ({b.weight(0)} = Q Kᵀ, {b.output} = V Uᵀ/scale)", 8)
        code.add(f"q, k, v = self._split(F.linear(x, self.b{i}_qkv.view(3 * h * d, c)), 3, h)", 8)
        if b.end == "src" and softmax:
            code.add(f"# P X {b.output}·scale = P (X V) Uᵀ: standard attention", 8)
            code.add("y = " + _sdpa("q", "k", "v", causal), 8)
        elif b.end == "src":
            code.add(f"# {sym} X {b.output}·scale = ({sym} (X V)) Uᵀ", 8)
            code.add("y, _ = self._weighted_sums(q, k, row_values=v)", 8)
        else:
            code.add(f"# {sym}ᵀ X {b.output}·scale = ({sym}ᵀ (X V)) Uᵀ: the transposed branch, exact column sums", 8)
            code.add("_, y = self._weighted_sums(q, k, col_values=v)", 8)
        line = f"F.linear(self._merge(y), self.b{i}_out.view(c, h * d))"
        code.accumulate(line, j == 0)
    code.add("return out", 8)


def _edge_forward_full(code: _Code, softmax: bool, tied: bool, chosen, causal: bool, sym: str) -> None:
    code.add("b, n, c = x.shape", 8)
    code.add("xh = x.unsqueeze(1).expand(b, self.heads, n, c)  # X for every head (a view)", 8)
    has_dst = any(b.end == "dst" for b in chosen)
    if tied:
        code.add(_HEAD_PROJECTION.format(w="W1").join(["q = ", "  # X W1 per head: S = q Xᵀ·scale"]), 8)
        if softmax:
            code.add("# row branch: P X W1ᵀ·scale", 8)
            code.add("px = " + _sdpa("q", "xh", "xh", causal) + "  # P X", 8)
            code.add('out = torch.einsum("bhnd,hcd->bnc", px, self.W1)  # Σ_h (P X) W1ᵀ', 8)
            if has_dst:
                code.add("# transposed branch: Pᵀ X W1·scale = Pᵀ q: exact column sums", 8)
                code.add("_, y = self._weighted_sums(q, xh, col_values=q)", 8)
                code.add("out = out + y.sum(1)", 8)
        else:
            code.add(f"# row branch {sym} X W1ᵀ·scale, transposed branch {sym}ᵀ X W1·scale = {sym}ᵀ q", 8)
            code.add("mx, y = self._weighted_sums(q, xh, row_values=xh, col_values=q)", 8)
            code.add('out = torch.einsum("bhnd,hcd->bnc", mx, self.W1) + y.sum(1)', 8)
        code.add("return out * self.scale", 8)
        return
    for j, b in enumerate(chosen):
        w, o = b.weight(0), b.output
        code.add(_HEAD_PROJECTION.format(w=w).join(["q = ", f"  # X {w} per head"]), 8)
        if b.end == "src" and softmax:
            code.add(f"# P X {o}·scale (the stored {o} holds the scale)", 8)
            code.add("y = " + _sdpa("q", "xh", "xh", causal) + "  # P X", 8)
        elif b.end == "src":
            code.add(f"# {sym} X {o}·scale (the stored {o} holds the scale)", 8)
            code.add("y, _ = self._weighted_sums(q, xh, row_values=xh)", 8)
        else:
            code.add(f"# {sym}ᵀ X {o}·scale: the transposed branch, exact column sums", 8)
            code.add("_, y = self._weighted_sums(q, xh, col_values=xh)", 8)
        line = f'torch.einsum("bhnd,hdc->bnc", y, self.{o})'
        code.accumulate(line, j == 0)
    code.add("return out", 8)


# --------------------------------------------------------------------------------------------------
# Conic and gated (per-token families)
# --------------------------------------------------------------------------------------------------


def _full_parameters(code: _Code, names: list[str]) -> None:
    code.add("self.features, self.heads = features, heads", 8)
    code.add("self.rank = None  # per-token family: full (H, C, C) weights, rank is not used", 8)
    for n in names:
        code.add(f"self.{n} = torch.nn.Parameter(torch.empty(heads, features, features, dtype=dtype))", 8)
    code.add("self.reset_parameters()", 8)
    code.add()
    code.add("def reset_parameters(self):", 4)
    code.add('"""Gaussian init, variance 1/C."""', 8)
    code.add("with torch.no_grad():", 8)
    for n in names:
        code.add(f"self.{n}.normal_(0.0, 1.0 / math.sqrt(self.features))", 12)
    code.add()


def _full_effective(code: _Code, names: list[str]) -> None:
    code.add("def effective_weights(self):", 4)
    code.add(_EFFECTIVE_DOC, 8)
    _return_dict(code, [f'"{n}": self.{n}' for n in names])


def _return_dict(code: _Code, items: list[str]) -> None:
    line = "return {" + ", ".join(items) + "}"
    if len(line) <= 100:
        code.add(line, 8)
        return
    code.add("return {", 8)
    for item in items:
        code.add(item + ",", 12)
    code.add("}", 8)


def _conic_source(term: Conic, note: str, tied: bool, class_name: str, chosen) -> str:
    branch = chosen[0]
    a, out = branch.weight(0), branch.output
    names = branch.parameters()
    proj = term.projection
    cones = "" if proj == "relu" else f", cones of size {term.cone_size}"
    doc = [f"Conic field block ({proj}{cones}, {'tied' if tied else 'untied'}), summed over heads.", ""]
    doc += _wrap(note)
    doc += ["", f"F(X) = Σ_h π(X {a}_h) {out + '_h' if out else a + '_hᵀ'}, per token (causal changes nothing).",
            "Weights are full (H, C, C): the cones act on the C columns of X A; rank is ignored.",
            *_wrap("effective_weights(): {" + ", ".join(names) + "} → (H, C, C) tensors.")]
    code = _Code.module(class_name, doc)
    if proj != "relu":
        code.add(f"self.cone_size = {term.cone_size}", 8)
        code.add("if features % self.cone_size:", 8)
        code.add('raise ValueError(f"the feature size C = {features} is not divisible by the cone size '
                 '{self.cone_size}")', 12)
    if proj == "colu":
        code.add(f"self.eps = {COLU_EPS!r}  # CoLU(x) = (x₁, clip(x₁/(‖x_⊥‖+ε), 0, 1)·x_⊥)", 8)
    _full_parameters(code, names)
    code.add("def forward(self, x):", 4)
    code.add(_FORWARD_DOC, 8)
    code.add(f"y = {_HEAD_PROJECTION.format(w=a)}  # X {a} per head, (B, H, N, C)", 8)
    if out:
        code.add(f'return torch.einsum("bhnd,hdc->bnc", self._project(y), self.{out})  # Σ_h π(X {a}_h) {out}_h', 8)
    else:
        code.add(f'return torch.einsum("bhnd,hcd->bnc", self._project(y), self.{a})  # Σ_h π(X {a}_h) {a}_hᵀ', 8)
    code.add()
    _full_effective(code, names)
    code.add()
    if proj == "relu":
        code.add(
            '''
            @staticmethod
            def _project(y):
                """Orthogonal projection onto the orthant: relu."""
                return torch.relu(y)
            ''',
            4,
        )
    elif proj == "soc":
        code.add(
            '''
            def _project(self, y):
                """Orthogonal projection onto the product of Lorentz cones {(t, u): ‖u‖ ≤ t} of size S along
                the features: inside → unchanged; in the polar cone (‖u‖ ≤ −t) → 0; else ((t + ‖u‖)/2)·(1, u/‖u‖).
                """
                g = y.unflatten(-1, (-1, self.cone_size))
                t, u = g[..., :1], g[..., 1:]
                nu = torch.linalg.vector_norm(u, dim=-1, keepdim=True)
                safe = torch.where(nu > 0, nu, torch.ones_like(nu))
                coef = (t + nu) / 2
                outside = torch.cat([coef, coef * u / safe], dim=-1)
                out = torch.where(nu <= t, g, torch.where(nu <= -t, torch.zeros_like(g), outside))
                return out.flatten(-2)
            ''',
            4,
        )
    else:
        code.add(
            '''
            def _project(self, y):
                """CoLU on each cone of size S: (t, u) → (t, clip(t/(‖u‖+ε), 0, 1)·u), a skew projection onto
                the Lorentz cone (its Jacobian is not symmetric: no potential).
                """
                g = y.unflatten(-1, (-1, self.cone_size))
                t, u = g[..., :1], g[..., 1:]
                nu = torch.linalg.vector_norm(u, dim=-1, keepdim=True)
                out = torch.cat([t, torch.clamp(t / (nu + self.eps), 0.0, 1.0) * u], dim=-1)
                return out.flatten(-2)
            ''',
            4,
        )
    return code.render()


def _gated_source(term: Gated, note: str, tied: bool, class_name: str, chosen) -> str:
    k = term.k
    names = _names(chosen)
    doc = [f"Gated field block (k = {k}, {'tied' if tied else 'untied'}), summed over heads.", ""]
    doc += _wrap(note)
    doc += ["", "Per token (causal changes nothing). Weights are full (H, C, C); rank is ignored.",
            *_wrap("effective_weights(): {" + ", ".join(names) + "} → (H, C, C) tensors.")]
    code = _Code.module(class_name, doc)
    _full_parameters(code, names)
    code.add("def forward(self, x):", 4)
    code.add(_FORWARD_DOC, 8)
    if tied:
        code.add("# projections p_m = X W_m per head (B, H, N, C); F = Σ_m (⊙_{m'≠m} p_m') W_mᵀ", 8)
        for m in range(1, k + 1):
            code.add(f"p{m} = {_HEAD_PROJECTION.format(w=f'W{m}')}", 8)
        for m in range(1, k + 1):
            prod = " * ".join(f"p{j}" for j in range(1, k + 1) if j != m)
            line = f'torch.einsum("bhnd,hcd->bnc", {prod}, self.W{m})'
            code.accumulate(line, m == 1)
    else:
        for b in chosen:
            ins = [b.weight(j) for j in range(k) if j != b.edge]
            code.add(f"# branch {b.index}: ({' ⊙ '.join('X ' + w for w in ins)}) {b.output}", 8)
            code.add(f"prod = {_HEAD_PROJECTION.format(w=ins[0])}", 8)
            for w in ins[1:]:
                code.add(f"prod = prod * {_HEAD_PROJECTION.format(w=w)}", 8)
            line = f'torch.einsum("bhnd,hdc->bnc", prod, self.{b.output})'
            code.accumulate(line, b.index == 0)
    code.add("return out", 8)
    code.add()
    _full_effective(code, names)
    return code.render()


__all__ = ["BRANCHES", "DEFAULT_CHUNK_ELEMENTS", "IMPORTS", "family_class", "family_source"]
