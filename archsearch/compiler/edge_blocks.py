"""Generated source of the edge families' blocks (softmax, entrywise): S = X W Xᵀ·scale per head.

Conventions (the numerical reference is each family's ``branch_value``):

* S = X W Xᵀ·scale with scale = 1/√C_A, C_A = ``rank`` (the head dimension) or C when ``rank`` is
  None — the reference's default 1/√C is the full-rank case. With ``lowrank=True`` every weight is
  factorised per head, W_h = Q_h K_hᵀ (Q, K of shape C × C_A), and stored in ``F.linear`` layout so
  the projections are single matmuls, exactly as a hand-written Transformer layer. An untied output
  weight is O_h = V_h U_hᵀ/scale: the block computes P (X V) Uᵀ — standard attention — while the
  field reads P X O·scale; absorbing the constant into O keeps the hot path free of extra
  multiplies. With ``lowrank=False`` the weights are full (H, C, C) tensors (and ``rank`` must be None).
* M is the family's matrix of S: P = row-softmax(S/τ) (softmax, temperature τ) or σ(S) entrywise.
  The row branch P X (…) uses ``F.scaled_dot_product_attention``; the transposed branch Pᵀ X (…) —
  column sums of a row-normalised matrix, not SDPA-native — and the entrywise branches are
  computed exactly, one block of query rows of S at a time (memory O(N·chunk)); traced (torch.export,
  torch.compile) all rows at once, O(N²) memory, since a Python loop over N would fix N in the program.
* Causal: keys k > j are masked everywhere (row-softmax over k ≤ j; entrywise σ(S_jk) := 0), so
  both branches use the same masked matrix; a masked field is not the gradient of a potential.
* Padding (softmax only): ``forward(x, mask)`` with a bool (B, N) ``mask`` (True = a real token) and the
  padded rows of x zero (the built block's wrapper, archsearch.compiler.checked, zeroes them and the
  output's padded rows): the row-softmax runs over the real keys only — SDPA's ``attn_mask``, -inf in
  the exact branch — plus the query itself, so a padded query's row is never empty (its output is
  discarded). The entrywise families need no mask: every S_jk they sum multiplies a row of x.
"""

from __future__ import annotations

from dataclasses import dataclass

from archsearch.compiler.emit import (
    EFFECTIVE_DOC,
    FORWARD_DOC,
    HEAD_PROJECTION,
    Code,
    branch_names,
    parameters_and_init,
    return_dict,
    wrap,
)

__all__ = ["DEFAULT_CHUNK_ELEMENTS", "EdgeKernel", "edge_source"]

#: Entries of S (batch × heads × rows × keys) materialised at once by the exact quadratic branches.
DEFAULT_CHUNK_ELEMENTS = 1 << 25


@dataclass(frozen=True)
class EdgeKernel:
    """What one edge family's block computes from S: M = row-softmax(S/τ), or M = σ(S) entrywise.

    title:       the block's name in its docstring ("Softmax", "Entrywise exp")
    softmax:     True: M = P = row-softmax(S/τ), the row branch through SDPA; False: M = σ(S)
    temperature: τ (softmax)
    sigma_torch: σ as a torch expression in ``{}`` (entrywise)
    sigma_name:  σ's printed name (entrywise), phi_name: φ's (V = Σ φ(S))
    """

    title: str
    softmax: bool
    temperature: float = 1.0
    sigma_torch: str = ""
    sigma_name: str = ""
    phi_name: str = ""

    @property
    def symbol(self) -> str:
        return "P" if self.softmax else "M"

    @property
    def tempered(self) -> bool:
        return self.softmax and self.temperature != 1.0


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


def _weighted_sums(code: Code, kernel: EdgeKernel, causal: bool) -> None:
    """The exact quadratic helper: (M @ row_values, Mᵀ @ col_values), S row-chunked. Causal, Mᵀ V keeps
    only the diagonal M_jj: for an entrywise M alone (no row_values) it is σ(S_jj) from q_j·k_j, without
    S; a softmax's P_jj needs its row's normaliser (every exp of the row), so P is computed by one fused
    ``torch.softmax`` (faster on CPU than exp(S_jj − logsumexp), which makes several passes)."""
    if kernel.softmax:
        what = f"M = P = row-softmax({'S/τ' if kernel.tempered else 'S'})" + (" over keys k ≤ j" if causal else "")
    else:
        what = f"M = {kernel.sigma_name}(S) = f'(S), f = {kernel.phi_name}"
        what += ", with M_jk = 0 for k > j" if causal else ""
    mask_arg = ", key_mask=None" if kernel.softmax else ""
    mask_doc = ("\n            key_mask (B, N) bool: the row-softmax runs over the real keys (and k = j) only."
                if kernel.softmax else "")
    code.add(
        f'''
        def _weighted_sums(self, q, k, row_values=None, col_values=None{mask_arg}):
            """(M @ row_values, Mᵀ @ col_values) per batch and head, S = q kᵀ·scale,
            {what}.

            Exact, without holding S (B, H, N, N) whole: rows j0..j1 of S at a time (at most
            ``max_chunk_elements`` entries), so memory is O(N·chunk). Row k of Mᵀ V is Σ_j M_jk v_j,
            accumulated chunk by chunk. Computed in float32 (float64 for float64 inputs). Under torch.export
            (a dynamic N): one chunk, so the program holds for every N.{mask_doc}
            """
            b, h, n, _ = q.shape
            dtype = q.dtype
            acc = torch.promote_types(dtype, torch.float32)
            q, k = q.to(acc), k.to(acc)
            if getattr(torch.compiler, "is_exporting", torch.compiler.is_compiling)():  # a dynamic N: one chunk
                chunks = [(0, n)]
            else:
                step = max(1, min(n, self.max_chunk_elements // max(1, b * h * n)))
                chunks = [(j0, min(n, j0 + step)) for j0 in range(0, n, step)]
            rows_out, cols_out = [], None
            if row_values is not None:
                row_values = row_values.to(acc)
            if col_values is not None:
                col_values = col_values.to(acc)
        ''',
        4,
    )
    if causal and not kernel.softmax:
        code.add(
            f"""
            if row_values is None:  # Mᵀ V alone: only M_jj = {kernel.sigma_name}(S_jj), S_jj = q_j·k_j·scale
                diag = {kernel.sigma_torch.format('((q * k).sum(-1) * self.scale)')}
                return None, (diag.unsqueeze(-1) * col_values).to(dtype)
            """,
            8,
        )
    if causal:
        code.add("cols_parts = []  # causal Mᵀ V: rows j0..j1 of the result, chunk by chunk", 8)
    code.add("for j0, j1 in chunks:", 8)
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
    if kernel.softmax:
        if kernel.tempered:
            code.add("s = s / self.temperature  # P = row-softmax(S/τ)", 12)
        keys = "j1" if causal else "n"
        code.add(
            f"""
            if key_mask is not None:  # padding: the real keys k, and k = j (no empty row; padded rows are discarded)
                own = torch.arange({keys}, device=q.device) == torch.arange(j0, j1, device=q.device)[:, None]
                s = s.masked_fill(~(key_mask[:, None, None, :{keys}] | own), float("-inf"))
            """,
            12,
        )
        if causal:
            code.add('s = s.masked_fill(future, float("-inf"))  # the row-softmax runs over k ≤ j only', 12)
        code.add("m = torch.softmax(s, dim=-1)  # P_jk = exp(S_jk − logsumexp_k S_jk): the exact row-softmax", 12)
    else:
        code.add(f"m = {kernel.sigma_torch.format('s')}  # f'(S) = {kernel.sigma_name}(S)", 12)
        if causal:
            code.add("m = m.masked_fill(future, 0.0)  # masked after f': masked entries contribute nothing", 12)
    if causal:
        code.add(
            """
            if row_values is not None:
                rows_out.append(torch.matmul(m, row_values[:, :, :j1]))  # (M V)_j = Σ_{k≤j} M_jk v_k
            if col_values is not None:
                # (Mᵀ V)_k = Σ_j M_jk v_j with the causal rule j ≤ k, while M_jk = 0 for k > j:
                # only j = k survives (the full sum would let token k see the later queries j > k)
                diag = torch.diagonal(m[..., j0:j1], dim1=-2, dim2=-1)  # M_jj for j in j0..j1
                part = diag.unsqueeze(-1) * col_values[:, :, j0:j1]
                cols_parts.append(part)
            """,
            12,
        )
    else:
        code.add(
            """
            if row_values is not None:
                rows_out.append(torch.matmul(m, row_values))  # (M V)_j = Σ_k M_jk v_k
            if col_values is not None:
                # (Mᵀ V)_k = Σ_j M_jk v_j: the rows j of this chunk add to every column k
                part = torch.matmul(m.transpose(-1, -2), col_values[:, :, j0:j1])
                cols_out = part if cols_out is None else cols_out + part
            """,
            12,
        )
    if causal:
        code.add("if cols_parts:", 8)
        code.add("cols_out = torch.cat(cols_parts, dim=2)", 12)
    code.add(
        """
        rows_res = torch.cat(rows_out, dim=2).to(dtype) if row_values is not None else None
        cols_res = cols_out.to(dtype) if cols_out is not None else None
        return rows_res, cols_res
        """,
        8,
    )


def edge_source(kernel: EdgeKernel, note: str, tied: bool, causal: bool, class_name: str, lowrank: bool,
                chosen: tuple, branches: str) -> str:
    """The source of an edge family's block computing the ``chosen`` branches of its field."""
    softmax = kernel.softmax
    sym = kernel.symbol
    if softmax:
        mat = f"P = row-softmax({'S/τ' if kernel.tempered else 'S'})" + (" over keys k ≤ j (causal)" if causal else "")
    else:
        mat = f"M = {kernel.sigma_name}(S) = f'(S)" + (", M_jk = 0 for k > j (causal)" if causal else "")
    names = branch_names(chosen)
    has_dst = any(b.end == "dst" for b in chosen)
    needs_sums = has_dst or not softmax
    title = kernel.title
    flags = ["tied" if tied else "untied"] + (["causal"] if causal else [])
    flags += ["paper branch only"] if branches == "paper" else []
    doc = [f"{title} field block ({', '.join(flags)}), summed over heads.", ""]
    doc += wrap(note)
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
        doc += wrap("Parameters, full rank (C_A = C): " + ", ".join(names) + ", each (H, C, C).")
        if not tied:
            doc.append("  Output weights are stored as O·scale (the block computes P X O_stored).")
    doc += wrap("effective_weights(): {" + ", ".join(names) + "} → (H, C, C) tensors.")

    code = Code.module(class_name, doc)
    if not lowrank:
        code.add("if rank is not None:", 8)
        code.add('raise ValueError("full-rank block (generated with lowrank=False): rank must be None")', 12)
    code.add("self.features, self.heads = features, heads", 8)
    code.add("self.rank = features if rank is None else rank  # C_A: the width of q and k per head", 8)
    code.add("self.scale = 1.0 / math.sqrt(self.rank)  # S = X W Xᵀ/√C_A", 8)
    if kernel.tempered:
        code.add(f"self.temperature = {kernel.temperature!r}  # τ: P = row-softmax(S/τ)", 8)
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
    parameters_and_init(code, params, "Gaussian init, variance 1/fan-in for every factor.")
    if softmax:
        code.add("def forward(self, x, mask=None):", 4)
        code.add(FORWARD_DOC.replace('"""', "", 2).join(['"""', ""]), 8)
        code.add("mask (B, N) bool, True = a real token (the padded rows of x zero): the row-softmax runs over", 8)
        code.add('the real keys only. None: every token is real."""', 8)
        code.add("allowed = None if mask is None else self._allowed(mask)  # SDPA's boolean attn_mask (B, 1, N, N)", 8)
    else:
        code.add("def forward(self, x):", 4)
        code.add(FORWARD_DOC, 8)
    if lowrank:
        _edge_forward_lowrank(code, kernel, tied, chosen, causal)
    else:
        _edge_forward_full(code, kernel, tied, chosen, causal)
    code.add()
    code.add("def effective_weights(self):", 4)
    code.add(EFFECTIVE_DOC, 8)
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
        return_dict(code, items)
    if lowrank:
        code.add()
        code.add(_SPLIT_MERGE, 4)
    if softmax:
        code.add()
        allowed = _ALLOWED.replace("{causal_doc}", " at or before j" if causal else "")
        code.add(allowed.replace("{causal}", _ALLOWED_CAUSAL if causal else "return allowed"), 4)
    if needs_sums:
        code.add()
        _weighted_sums(code, kernel, causal)
    return code.render()


_ALLOWED = '''
@staticmethod
def _allowed(mask):
    """SDPA's boolean attn_mask (B, 1, N, N) for the padding mask (B, N): query j attends to key k when
    k is a real token{causal_doc} — or k = j, so that a padded query's row is never empty (its output
    is discarded)."""
    n = mask.shape[-1]
    allowed = mask[:, None, None, :] | torch.eye(n, dtype=torch.bool, device=mask.device)
    {causal}
'''
_ALLOWED_CAUSAL = "return allowed & torch.ones(n, n, dtype=torch.bool, device=mask.device).tril()  # and k ≤ j"


def _sdpa(q: str, k: str, v: str, causal: bool, kernel: EdgeKernel) -> str:
    """SDPA with the padding mask ``allowed`` (None: every token real — then, causal, ``is_causal``)."""
    scale = "self.scale / self.temperature" if kernel.tempered else "self.scale"
    flag = "allowed is None" if causal else "False"
    return f"F.scaled_dot_product_attention(\n    {q}, {k}, {v}, attn_mask=allowed, is_causal={flag}, scale={scale})"


def _edge_forward_lowrank(code: Code, kernel: EdgeKernel, tied: bool, chosen, causal: bool) -> None:
    softmax, sym = kernel.softmax, kernel.symbol
    km = ", key_mask=mask" if softmax else ""  # softmax: the padding mask's keys
    code.add("c, h, d = x.shape[-1], self.heads, self.rank", 8)
    has_dst = any(b.end == "dst" for b in chosen)
    if tied:
        code.add("# q = X Q_h, k = X K_h per head (B, H, N, C_A): S = q kᵀ·scale = X W1 Xᵀ·scale", 8)
        code.add("q, k = self._split(F.linear(x, self.W1_qk.view(2 * h * d, c)), 2, h)", 8)
        if softmax:
            code.add("# row branch: P X W1ᵀ·scale = (P (X K)) Qᵀ·scale: attention with values k", 8)
            code.add("y_src = " + _sdpa("q", "k", "k", causal, kernel), 8)
            if has_dst:
                code.add("# transposed branch: Pᵀ X W1·scale = (Pᵀ (X Q)) Kᵀ·scale: exact column sums", 8)
                code.add(f"_, y_dst = self._weighted_sums(q, k, col_values=q{km})", 8)
        else:
            code.add(f"# row branch {sym} X W1ᵀ·scale = ({sym} (X K)) Qᵀ·scale;", 8)
            code.add(f"# transposed branch {sym}ᵀ X W1·scale = ({sym}ᵀ (X Q)) Kᵀ·scale", 8)
            code.add(f"y_src, y_dst = self._weighted_sums(q, k, row_values=k, col_values=q{km})", 8)
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
            code.add("y = " + _sdpa("q", "k", "v", causal, kernel), 8)
        elif b.end == "src":
            code.add(f"# {sym} X {b.output}·scale = ({sym} (X V)) Uᵀ", 8)
            code.add(f"y, _ = self._weighted_sums(q, k, row_values=v{km})", 8)
        else:
            code.add(f"# {sym}ᵀ X {b.output}·scale = ({sym}ᵀ (X V)) Uᵀ: the transposed branch, exact column sums", 8)
            code.add(f"_, y = self._weighted_sums(q, k, col_values=v{km})", 8)
        line = f"F.linear(self._merge(y), self.b{i}_out.view(c, h * d))"
        code.accumulate(line, j == 0)
    code.add("return out", 8)


def _edge_forward_full(code: Code, kernel: EdgeKernel, tied: bool, chosen, causal: bool) -> None:
    softmax, sym = kernel.softmax, kernel.symbol
    km = ", key_mask=mask" if softmax else ""  # softmax: the padding mask's keys
    code.add("b, n, c = x.shape", 8)
    code.add("xh = x.unsqueeze(1).expand(b, self.heads, n, c)  # X for every head (a view)", 8)
    has_dst = any(b.end == "dst" for b in chosen)
    if tied:
        code.add(HEAD_PROJECTION.format(w="W1").join(["q = ", "  # X W1 per head: S = q Xᵀ·scale"]), 8)
        if softmax:
            code.add("# row branch: P X W1ᵀ·scale", 8)
            code.add("px = " + _sdpa("q", "xh", "xh", causal, kernel) + "  # P X", 8)
            code.add('out = torch.einsum("bhnd,hcd->bnc", px, self.W1)  # Σ_h (P X) W1ᵀ', 8)
            if has_dst:
                code.add("# transposed branch: Pᵀ X W1·scale = Pᵀ q: exact column sums", 8)
                code.add(f"_, y = self._weighted_sums(q, xh, col_values=q{km})", 8)
                code.add("out = out + y.sum(1)", 8)
        else:
            code.add(f"# row branch {sym} X W1ᵀ·scale, transposed branch {sym}ᵀ X W1·scale = {sym}ᵀ q", 8)
            code.add(f"mx, y = self._weighted_sums(q, xh, row_values=xh, col_values=q{km})", 8)
            code.add('out = torch.einsum("bhnd,hcd->bnc", mx, self.W1) + y.sum(1)', 8)
        code.add("return out * self.scale", 8)
        return
    for j, b in enumerate(chosen):
        w, o = b.weight(0), b.output
        code.add(HEAD_PROJECTION.format(w=w).join(["q = ", f"  # X {w} per head"]), 8)
        if b.end == "src" and softmax:
            code.add(f"# P X {o}·scale (the stored {o} holds the scale)", 8)
            code.add("y = " + _sdpa("q", "xh", "xh", causal, kernel) + "  # P X", 8)
        elif b.end == "src":
            code.add(f"# {sym} X {o}·scale (the stored {o} holds the scale)", 8)
            code.add(f"y, _ = self._weighted_sums(q, xh, row_values=xh{km})", 8)
        else:
            code.add(f"# {sym}ᵀ X {o}·scale: the transposed branch, exact column sums", 8)
            code.add(f"_, y = self._weighted_sums(q, xh, col_values=xh{km})", 8)
        line = f'torch.einsum("bhnd,hdc->bnc", y, self.{o})'
        code.accumulate(line, j == 0)
    code.add("return out", 8)


