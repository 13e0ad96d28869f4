"""Language modelling on a text file the user names (``path``) or on a corpus that ships with Python
(``corpus=stdlib``: the standard library's own source, see :mod:`archsearch.tasks.corpus`).

Exactly one of ``path`` and ``corpus`` is given. ``level`` says what a token is:

* ``char`` (the default for ``path``): a Unicode character of the UTF-8 text; the vocabulary is the sorted set
  of characters of the whole text; metric ``bpc``, bits per character.
* ``byte`` (the default for ``corpus``): a byte; the vocabulary is the 256 byte values; metric ``bpb``, bits
  per byte. A file needs not be UTF-8 at this level.

Splits, disjoint by construction: a file is split by position (the first 90 % trains, the next 5 % validates,
the last 5 % tests); the stdlib corpus is split by file (a hash of each file's relative path; see
:mod:`archsearch.tasks.corpus`), so no source file contributes to two splits. Training batches are random
windows of ``seq_len + 1`` tokens inside the training part; val/test are the consecutive non-overlapping windows
of their part (at most ``eval_size``). The model predicts token t+1 from tokens ≤ t (causal). The metric is the
cross-entropy in base 2, averaged over every predicted token.

The stdlib corpus differs between Python versions: :meth:`TextTask.describe` records the version, the files and
bytes per split and a sha256 of the bytes, so a result can state exactly what it was trained on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from archsearch.tasks.base import SPLITS, Task, TaskConfig, check_choice, check_int
from archsearch.tasks.corpus import StdlibCorpus, load_stdlib
from archsearch.tasks.modules import TokenEmbedding, TokenReadout

SPLIT_FRACTIONS = (0.9, 0.05, 0.05)
CORPORA = ("stdlib",)
LEVELS = ("byte", "char")
DEFAULT_MAX_BYTES = 32_000_000  # the whole standard library (CPython 3.11: 12.1 MB)
UNITS = {"byte": "bytes", "char": "characters"}


@dataclass(frozen=True)
class TextConfig(TaskConfig):
    """``path`` or ``corpus``; ``level`` "byte" or "char" ("" = char for a path, byte for a corpus);
    ``max_bytes`` caps a corpus (at most this many bytes in all, see archsearch.tasks.corpus)."""

    path: str = ""
    seq_len: int = 128
    corpus: str = ""
    level: str = ""
    max_bytes: int = DEFAULT_MAX_BYTES

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.path, str):
            raise ValueError(f"text: path must be a file name, not {self.path!r}")
        if not self.path and not self.corpus:
            raise ValueError(
                "the text task needs a file or a corpus: make_task('text', path='corpus.txt') or corpus='stdlib' "
                "(--task-option path=FILE or --task-option corpus=stdlib)"
            )
        if self.path and self.corpus:
            raise ValueError(f"text: give path or corpus, not both (path={self.path!r}, corpus={self.corpus!r})")
        if self.corpus:
            check_choice("text", "corpus", self.corpus, CORPORA)
        elif self.max_bytes != DEFAULT_MAX_BYTES:
            raise ValueError("text: max_bytes caps a corpus (corpus=stdlib); it does not apply to path=")
        if self.level:
            check_choice("text", "level", self.level, LEVELS)
        check_int("text", "seq_len", self.seq_len, 1)
        check_int("text", "max_bytes", self.max_bytes, 1)


def read_bytes(path: str | Path) -> bytes:
    """The file's bytes, with clear errors for a missing, unreadable or empty file."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"text task: no such file: {str(p)!r}")
    if not p.is_file():
        raise ValueError(f"text task: {str(p)!r} is not a regular file")
    raw = p.read_bytes()
    if not raw:
        raise ValueError(f"text task: {str(p)!r} is empty")
    return raw


def decode_utf8(raw: bytes, where: str) -> str:
    """``raw`` as UTF-8 text, or a ValueError naming ``where`` and the first bad byte."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"text task: {where} is not valid UTF-8 (byte {exc.start}: {raw[exc.start:exc.start + 1]!r}); "
            "convert it, e.g. iconv -f latin1 -t utf-8, or use level=byte"
        ) from None


def read_text(path: str | Path) -> str:
    """The file's text, with clear errors for a missing, unreadable, empty or non-UTF-8 file."""
    return decode_utf8(read_bytes(path), repr(str(path)))


def char_ids(text: str) -> tuple[list[str], Tensor]:
    """The sorted characters of ``text`` and its ids in that vocabulary (int16, or int32 past 2**15 characters)."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype="<u4")
    points = np.flatnonzero(np.bincount(codes))
    table = np.zeros(int(points[-1]) + 1, dtype=np.int32)
    table[points] = np.arange(len(points), dtype=np.int32)
    ids = torch.from_numpy(table[codes])
    return [chr(int(p)) for p in points], ids.to(torch.int16) if len(points) < 2**15 else ids


def split_by_position(units: bytes | str) -> dict[str, Any]:
    """The first 90 %, the next 5 % and the last 5 % of ``units``."""
    n = len(units)
    a = int(n * SPLIT_FRACTIONS[0])
    b = int(n * (SPLIT_FRACTIONS[0] + SPLIT_FRACTIONS[1]))
    return {"train": units[:a], "val": units[a:b], "test": units[b:]}


class TextTask(Task):
    """Byte- or character-level LM; batch: inputs (B, T) long, targets (B, T) long (the next tokens)."""

    name = "text"
    causal = True
    metric_name = "bpc"  # "bpb" at level=byte (set per instance)
    direction = "minimize"
    Config = TextConfig
    config: TextConfig
    disjoint_by_construction = True

    def __init__(self, config: TextConfig | None = None, **options: Any) -> None:
        super().__init__(config, **options)
        c = self.config
        self.level: str = c.level or ("byte" if c.corpus else "char")
        self.metric_name = "bpb" if self.level == "byte" else "bpc"
        self.corpus: StdlibCorpus | None = load_stdlib(c.max_bytes) if c.corpus else None
        self.source = f"corpus={c.corpus}" if c.corpus else repr(c.path)
        parts = self._parts()
        self.chars: list[str] | None = None
        if self.level == "byte":
            self.vocab = 256
            self.ids = torch.from_numpy(np.frombuffer(bytearray(b"".join(parts[s] for s in SPLITS)), dtype=np.uint8))
        else:
            self.chars, self.ids = char_ids("".join(parts[s] for s in SPLITS))
            self.vocab = len(self.chars)
        ends = np.cumsum([len(parts[s]) for s in SPLITS]).tolist()
        self.bounds = {s: (lo, hi) for s, lo, hi in zip(SPLITS, [0, *ends[:-1]], ends, strict=True)}
        self._check_lengths()

    def _parts(self) -> dict[str, Any]:
        """The train/val/test parts: bytes at level byte, str at level char."""
        if self.corpus is not None:
            if self.level == "byte":
                return dict(self.corpus.parts)
            return {s: decode_utf8(self.corpus.parts[s], f"the {s} part of {self.source}") for s in SPLITS}
        if self.level == "byte":
            return split_by_position(read_bytes(self.config.path))
        return split_by_position(read_text(self.config.path))

    def _check_lengths(self) -> None:
        T = self.config.seq_len
        unit = UNITS[self.level]
        for split, (lo, hi) in self.bounds.items():
            if hi - lo < T + 1:
                longest = max(0, min(h - low for low, h in self.bounds.values()) - 1)
                remedy = "raise max_bytes" if self.corpus is not None else "use a longer text"
                raise ValueError(
                    f"text task: the {split} part of {self.source} has {hi - lo} {unit}, fewer than seq_len + 1 = "
                    f"{T + 1} ({len(self.ids)} {unit} in all); {remedy}, or use a smaller seq_len (at most {longest})"
                )

    def describe(self) -> dict[str, Any]:
        """The base description, the level, the vocabulary size, the tokens per split and, for a corpus, what it
        holds (Python version, files and bytes per split, sha256)."""
        out = super().describe()
        out["data"] = {
            "level": self.level,
            "vocab": self.vocab,
            "tokens": {s: hi - lo for s, (lo, hi) in self.bounds.items()},
        }
        if self.corpus is not None:
            out["data"].update(self.corpus.describe())
        return out

    def decode(self, ids: Tensor) -> str:
        if self.chars is None:
            return bytes(int(i) for i in ids).decode("utf-8", errors="replace")
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
