"""set-duplicate: a set of tokens → does any symbol occur twice? (binary, balanced, accuracy).

Each example is a set of ``set_size`` symbols from ``vocab``; the label (drawn first, 50/50) says
whether some symbol occurs more than once. Without duplicates the symbols are a uniform sample
without replacement; with duplicates a uniform sample with replacement conditioned on a repeat.
The label is a function of the multiset, so it is invariant under any permutation of the tokens
by construction, and the embedding has no positions, so a model that mixes tokens only through
permutation-equivariant terms and pools by a mean is invariant too. The label is quadratic in the
symbol histogram (Σ_s count_s² > set_size), so no model that pools per-token features (MLP terms
only) can beat chance: the task needs token interactions (attention-like terms). Not causal.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from archsearch.tasks.base import Classification, TaskConfig
from archsearch.tasks.modules import MeanPoolReadout, TokenEmbedding


@dataclass(frozen=True)
class SetDuplicateConfig(TaskConfig):
    vocab: int = 64
    set_size: int = 10

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.set_size < 2:
            raise ValueError(f"set-duplicate: set_size must be at least 2, not {self.set_size}")
        if self.vocab < self.set_size:
            raise ValueError(
                f"set-duplicate: vocab ({self.vocab}) must be >= set_size ({self.set_size}), "
                "else every set has a duplicate"
            )


def has_duplicate(tokens: Tensor) -> Tensor:
    """(B, n) integer tokens → (B,) bool: some symbol occurs more than once (order-free)."""
    s = tokens.sort(dim=1).values
    return (s[:, 1:] == s[:, :-1]).any(dim=1)


class SetDuplicate(Classification):
    """set-duplicate; batch: inputs (B, set_size) long, targets (B,) long in {0, 1}."""

    name = "set-duplicate"
    causal = False
    Config = SetDuplicateConfig
    config: SetDuplicateConfig

    def generate(self, n: int, generator: torch.Generator) -> dict[str, Tensor]:
        K, m = self.config.vocab, self.config.set_size
        labels = torch.rand(n, generator=generator) < 0.5
        tokens = torch.rand(n, K, generator=generator).argsort(dim=1)[:, :m]  # distinct
        todo = labels.clone()
        for _ in range(10_000):
            if not todo.any():
                break
            idx = todo.nonzero().squeeze(1)
            draw = torch.randint(K, (len(idx), m), generator=generator)
            ok = has_duplicate(draw)
            tokens[idx[ok]] = draw[ok]
            todo[idx[ok]] = False
        else:  # pragma: no cover - needs astronomically bad luck
            raise RuntimeError("set-duplicate: could not draw sets with a duplicate")
        return {"inputs": tokens, "targets": labels.long()}

    def example_keys(self, data: dict[str, Tensor]) -> list[bytes]:
        """A set's identity is its multiset: permutations of one set are the same example."""
        s = data["inputs"].detach().cpu().sort(dim=1).values.contiguous().numpy()
        return [row.tobytes() for row in s]

    def sequence_length(self) -> int:
        return self.config.set_size

    def embedding(self, d_model: int) -> nn.Module:
        return TokenEmbedding(self.config.vocab, d_model, max_len=None)

    def readout(self, d_model: int) -> nn.Module:
        return MeanPoolReadout(d_model, 2)
