"""Embeddings and readouts of the built-in tasks: small, self-contained nn.Modules (plain torch only,
no imports from archsearch), so exported code can copy their source verbatim and reload a state_dict.
"""

from __future__ import annotations

import torch
from torch import nn


class VectorEmbedding(nn.Module):
    """Real token vectors (B, N, D) → (B, N, C) by a linear map. Without ``max_len`` there are no positions (a
    set stays a set); with it a learned absolute position embedding is added (image patches)."""

    def __init__(self, in_features: int, d_model: int, bias: bool = True, max_len: int | None = None) -> None:
        super().__init__()
        self.proj = nn.Linear(in_features, d_model, bias=bias)
        self.positions = None
        if max_len is not None:
            self.positions = nn.Parameter(torch.randn(max_len, d_model) * 0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.proj(x)
        if self.positions is not None:
            out = out + self.positions[: x.shape[1]]
        return out


class TokenEmbedding(nn.Module):
    """Integer tokens (B, N) → (B, N, C); with ``max_len`` a learned absolute position embedding is added."""

    def __init__(self, vocab: int, d_model: int, max_len: int | None = None) -> None:
        super().__init__()
        self.tokens = nn.Embedding(vocab, d_model)
        nn.init.normal_(self.tokens.weight, std=1.0)
        self.positions = None
        if max_len is not None:
            self.positions = nn.Parameter(torch.randn(max_len, d_model) * 0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.tokens(x)
        if self.positions is not None:
            out = out + self.positions[: x.shape[1]]
        return out


class TokenReadout(nn.Module):
    """(B, N, C) → (B, N, V) logits at every position."""

    def __init__(self, d_model: int, vocab: int) -> None:
        super().__init__()
        self.proj = nn.Linear(d_model, vocab)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


class LastTokenReadout(nn.Module):
    """(B, N, C) → (B,) (out_features = 1) or (B, out_features): a linear map of the last token."""

    def __init__(self, d_model: int, out_features: int = 1) -> None:
        super().__init__()
        self.out_features = out_features
        self.proj = nn.Linear(d_model, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.proj(x[:, -1])
        return out.squeeze(-1) if self.out_features == 1 else out


class MeanPoolReadout(nn.Module):
    """(B, N, C) → (B, classes): mean over tokens (permutation-invariant), then a linear map."""

    def __init__(self, d_model: int, classes: int) -> None:
        super().__init__()
        self.proj = nn.Linear(d_model, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x.mean(dim=1))
