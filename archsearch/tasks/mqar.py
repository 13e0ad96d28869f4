"""Multi-query associative recall (Zoology, Arora et al. 2023).

Each sequence of length T starts with ``num_kv`` key-value pairs (k_1 v_1 k_2 v_2 …): keys distinct,
drawn from [1, V/2), values distinct, drawn from [V/2, V). After them every key is queried once, at
even offsets of the remaining positions chosen without replacement with power-law weights
p(g) ∝ g^(a−1), a = ``power_a`` (0.01: small gaps are much likelier). The model must output, at the
position of each query key, the value bound to that key; the loss and the accuracy count those
positions only (``mask``; ``targets`` is −100 elsewhere). Other positions hold random tokens
(``random_non_queries``, as Zoology) or 0. Causal. Zoology's constraints: V > T and 4·num_kv ≤ T.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from archsearch.tasks.base import Task, TaskConfig
from archsearch.tasks.modules import TokenEmbedding, TokenReadout

IGNORE = -100


@dataclass(frozen=True)
class MQARConfig(TaskConfig):
    vocab: int = 128
    seq_len: int = 64
    num_kv: int = 4
    power_a: float = 0.01
    random_non_queries: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        V, T, kv = self.vocab, self.seq_len, self.num_kv
        if kv < 1:
            raise ValueError(f"mqar: num_kv must be at least 1, not {kv}")
        if T < 4 * kv:
            raise ValueError(
                f"mqar: needs 4·num_kv <= seq_len (num_kv={kv}, seq_len={T}); lower num_kv or raise seq_len"
            )
        if V <= T:
            raise ValueError(f"mqar: needs vocab > seq_len (vocab={V}, seq_len={T}); raise vocab or lower seq_len")
        if not self.power_a > 0:
            raise ValueError(f"mqar: power_a must be > 0, not {self.power_a}")


class MQAR(Task):
    """MQAR; batch: inputs (B, T) long, targets (B, T) long (−100 off queries), mask (B, T) bool."""

    name = "mqar"
    causal = True
    metric_name = "accuracy"
    direction = "maximize"
    Config = MQARConfig
    config: MQARConfig

    def generate(self, n: int, generator: torch.Generator) -> dict[str, Tensor]:
        c = self.config
        V, T, kv = c.vocab, c.seq_len, c.num_kv
        half = V // 2
        keys = torch.rand(n, half - 1, generator=generator).argsort(dim=1)[:, :kv] + 1
        values = torch.rand(n, V - half, generator=generator).argsort(dim=1)[:, :kv] + half
        context = torch.stack([keys, values], dim=2).reshape(n, 2 * kv)
        space = (T - 2 * kv) // 2
        g = torch.arange(1, space + 1, dtype=torch.float64)
        p = c.power_a * g ** (c.power_a - 1)
        gaps = torch.multinomial((p / p.sum()).expand(n, space), kv, replacement=False, generator=generator)
        queries = torch.zeros(n, T - 2 * kv + 1, dtype=torch.long)
        queries.scatter_(1, 2 * gaps, keys)
        examples = torch.cat([context, queries], dim=1)  # (n, T + 1)
        labels = torch.full((n, T + 1), IGNORE, dtype=torch.long)
        labels.scatter_(1, 2 * kv + 2 * gaps + 1, values)
        inputs, targets = examples[:, :-1].contiguous(), labels[:, 1:].contiguous()
        if c.random_non_queries:
            fill = torch.randint(V, inputs.shape, generator=generator)
            inputs = torch.where(inputs == 0, fill, inputs)
        return {"inputs": inputs, "targets": targets, "mask": targets != IGNORE}

    def sequence_length(self) -> int:
        return self.config.seq_len

    def embedding(self, d_model: int) -> nn.Module:
        return TokenEmbedding(self.config.vocab, d_model, max_len=self.config.seq_len)

    def readout(self, d_model: int) -> nn.Module:
        return TokenReadout(d_model, self.config.vocab)

    def loss(self, pred: Tensor, batch: dict[str, Tensor]) -> Tensor:
        logits = pred.float().reshape(-1, pred.shape[-1])
        return F.cross_entropy(logits, batch["targets"].reshape(-1), ignore_index=IGNORE)

    def metric_terms(self, pred: Tensor, batch: dict[str, Tensor]) -> tuple[float, float]:
        mask = batch["mask"]
        correct = (pred.detach().argmax(-1) == batch["targets"]) & mask
        return float(correct.sum()), float(mask.sum())
