"""Character-level language modelling on a UTF-8 text file the user names (option ``path``).

The vocabulary is the sorted set of characters of the whole file. The text is split by position:
the first 90 % trains, the next 5 % validates, the last 5 % tests, so the splits are disjoint by
construction. Training batches are random windows of ``seq_len + 1`` characters inside the training
part; val/test are the consecutive non-overlapping windows of their part (at most ``eval_size``).
The model predicts character t+1 from characters ≤ t (causal). Metric: bits per character
(cross-entropy in base 2, averaged over every predicted character).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from archsearch.tasks.base import Task, TaskConfig
from archsearch.tasks.modules import TokenEmbedding, TokenReadout

SPLIT_FRACTIONS = (0.9, 0.05, 0.05)


@dataclass(frozen=True)
class TextConfig(TaskConfig):
    path: str = ""
    seq_len: int = 128

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.path:
            raise ValueError("the text task needs a file: make_task('text', path='corpus.txt')")
        if self.seq_len < 1:
            raise ValueError(f"text: seq_len must be at least 1, not {self.seq_len}")


def read_text(path: str | Path) -> str:
    """The file's text, with clear errors for a missing, unreadable, empty or non-UTF-8 file."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"text task: no such file: {str(p)!r}")
    if not p.is_file():
        raise ValueError(f"text task: {str(p)!r} is not a regular file")
    raw = p.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"text task: {str(p)!r} is not valid UTF-8 (byte {exc.start}: {raw[exc.start:exc.start + 1]!r}); "
            "convert it, e.g. iconv -f latin1 -t utf-8"
        ) from None
    if not text:
        raise ValueError(f"text task: {str(p)!r} is empty")
    return text


class TextTask(Task):
    """Character LM; batch: inputs (B, T) long, targets (B, T) long (the next characters)."""

    name = "text"
    causal = True
    metric_name = "bpc"
    direction = "minimize"
    Config = TextConfig
    config: TextConfig
    disjoint_by_construction = True

    def __init__(self, config: TextConfig | None = None, **options) -> None:
        super().__init__(config, **options)
        text = read_text(self.config.path)
        self.chars: list[str] = sorted(set(text))
        self.vocab = len(self.chars)
        lookup = {ch: i for i, ch in enumerate(self.chars)}
        dtype = torch.int16 if self.vocab < 2**15 else torch.int32
        self.ids = torch.tensor([lookup[ch] for ch in text], dtype=dtype)
        n = len(text)
        a = int(n * SPLIT_FRACTIONS[0])
        b = int(n * (SPLIT_FRACTIONS[0] + SPLIT_FRACTIONS[1]))
        self.bounds = {"train": (0, a), "val": (a, b), "test": (b, n)}
        T = self.config.seq_len
        for split, (lo, hi) in self.bounds.items():
            if hi - lo < T + 1:
                raise ValueError(
                    f"text task: the {split} part of {self.config.path!r} has {hi - lo} characters, fewer than "
                    f"seq_len + 1 = {T + 1} ({n} characters in all, split 90/5/5); use a longer text or a smaller "
                    f"seq_len (at most {max(0, min(h - l for l, h in self.bounds.values()) - 1)})"
                )

    def decode(self, ids: Tensor) -> str:
        return "".join(self.chars[int(i)] for i in ids)

    def _windows(self, starts: Tensor) -> dict[str, Tensor]:
        T = self.config.seq_len
        idx = starts.unsqueeze(1) + torch.arange(T + 1)
        w = self.ids[idx].long()
        return {"inputs": w[:, :-1].contiguous(), "targets": w[:, 1:].contiguous()}

    def generate(self, n: int, generator: torch.Generator) -> dict[str, Tensor]:
        lo, hi = self.bounds["train"]
        starts = torch.randint(lo, hi - self.config.seq_len, (n,), generator=generator)
        return self._windows(starts)

    def _make_dataset(self, split: str) -> dict[str, Tensor]:
        lo, hi = self.bounds[split]
        T = self.config.seq_len
        starts = torch.arange(lo, hi - T, T)[: self.config.eval_size]
        return self._windows(starts)

    def sequence_length(self) -> int:
        return self.config.seq_len

    def embedding(self, d_model: int) -> nn.Module:
        return TokenEmbedding(self.vocab, d_model, max_len=self.config.seq_len)

    def readout(self, d_model: int) -> nn.Module:
        return TokenReadout(d_model, self.vocab)

    def loss(self, pred: Tensor, batch: dict[str, Tensor]) -> Tensor:
        return F.cross_entropy(pred.float().reshape(-1, pred.shape[-1]), batch["targets"].reshape(-1))

    def metric_terms(self, pred: Tensor, batch: dict[str, Tensor]) -> tuple[float, float]:
        nats = F.cross_entropy(
            pred.detach().float().reshape(-1, pred.shape[-1]), batch["targets"].reshape(-1), reduction="sum"
        )
        return float(nats) / math.log(2), float(batch["targets"].numel())
