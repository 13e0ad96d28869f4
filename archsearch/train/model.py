"""Model assembly: embedding → T Euler steps of the compiled term blocks → norm → readout.

    X₀ = embedding(inputs)
    parallel:  X_{t+1} = X_t + h Σ_i F_i(norm_t(X_t); θ_{t,i})
    split:     X ← X + h F_i(norm_{t,i}(X); θ_{t,i}) for i = 1..k in turn (Lie–Trotter)
    pred = readout(norm(X_T))

Every step has its own parameters θ_t. For ``field="complex"`` the state is complex: the embedding
gives 2C real features read as (real, imaginary) halves, the step is the conservative
X ← X − i h Σ F(X) (i Ẋ = F), and the readout reads the real and imaginary parts side by side (2C).

The module tree is fixed and plain so that a state_dict reloads into exported code::

    embedding.*                      the task's embedding
    steps.{t}.norms.{i}.*            one norm per step (parallel) or per term (split)
    steps.{t}.blocks.{i}.*           the compiled block of term i at step t
    norm.*                           the final norm
    readout.*                        the task's readout
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from archsearch.checks import check_keys
from archsearch.tasks.base import Task

SCHEMES = ("parallel", "split")
NORMS = ("layer", "rms", "none")
FIELDS = ("real", "complex")


@dataclass(frozen=True)
class ModelConfig:
    """A candidate architecture (JSON round-trip: :meth:`to_dict` / :meth:`from_dict`).

    terms:   term keys (``term_from_key``), e.g. ("0-0", "0-1.0-1"); each step applies all of them
    field:   "real" or "complex";  tied: tied (gradient) or untied blocks
    width:   C = d_model;  depth: T, the number of Euler steps;  step: h
    scheme:  "parallel" (X += h Σ F) or "split" (Lie–Trotter, terms one after another)
    norm:    "layer", "rms" or "none" (pre-norm inside each step, and once before the readout)
    rank:    C_A (None: full weights);  heads
    lowrank: passed to ``compile_term``: which plan (low-rank or full) the block's ``plan``/``cost``
             report. The compiled modules support both weight kinds and factorise W = Q Kᵀ exactly
             when ``rank`` is set (the compiler's convention), so ``rank`` decides what runs.
    seed:    parameter initialisation seed
    layers:  the term keys of each Euler step when the steps differ (``terms`` is then their union, in
             order of first use); None: every step applies ``terms``
    """

    terms: tuple[str, ...] = ("0-0", "0-1.0-1")
    field: str = "real"
    tied: bool = False
    width: int = 64
    depth: int = 2
    step: float = 1.0
    scheme: str = "parallel"
    norm: str = "layer"
    rank: int | None = None
    heads: int = 1
    lowrank: bool = True
    seed: int = 0
    layers: tuple[tuple[str, ...], ...] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.terms, str):
            object.__setattr__(self, "terms", (self.terms,))
        object.__setattr__(self, "terms", tuple(self.terms))
        if not self.terms:
            raise ValueError("ModelConfig.terms is empty: name at least one term key, e.g. ('0-0', '0-1.0-1')")
        if self.layers is not None:
            layers = tuple(tuple(layer) for layer in self.layers)
            if len(layers) != self.depth or not all(layers) or any(k not in self.terms for k in sum(layers, ())):
                raise ValueError(f"ModelConfig.layers must give {self.depth} non-empty term sets drawn from terms")
            object.__setattr__(self, "layers", layers)
        from archsearch.terms import term_from_key

        for key in self.terms:
            if not isinstance(key, str):
                raise TypeError(f"term keys are strings, not {key!r}")
            term_from_key(key)  # raises ValueError with a readable message
        if self.field not in FIELDS:
            raise ValueError(f"field must be one of {', '.join(FIELDS)}, not {self.field!r}")
        if self.scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {', '.join(SCHEMES)}, not {self.scheme!r}")
        if self.norm not in NORMS:
            raise ValueError(f"norm must be one of {', '.join(NORMS)}, not {self.norm!r}")
        if self.width < 1 or self.depth < 1 or self.heads < 1:
            raise ValueError(f"width, depth and heads must be positive (got {self.width}, {self.depth}, {self.heads})")
        if self.rank is not None and self.rank < 1:
            raise ValueError(f"rank must be a positive integer or None, not {self.rank}")
        if not math.isfinite(self.step):
            raise ValueError(f"step h must be finite, not {self.step}")

    def step_terms(self, t: int) -> tuple[str, ...]:
        """The term keys Euler step ``t`` applies."""
        return self.terms if self.layers is None else self.layers[t]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["terms"] = list(self.terms)
        if self.layers is None:
            d.pop("layers")  # configs without per-step sets read as before
        else:
            d["layers"] = [list(layer) for layer in self.layers]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        check_keys(d, cls, "ModelConfig field(s)")
        d = dict(d)
        if "terms" in d:
            d["terms"] = tuple(d["terms"])
        if d.get("layers") is not None:
            d["layers"] = tuple(tuple(layer) for layer in d["layers"])
        return cls(**d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ModelConfig:
        return cls.from_dict(json.loads(text))


class ComplexNorm(nn.Module):
    """Norm of a complex state: (x − mean) (layer) or x (rms), divided by the root mean |·|², times a
    real gain. Used for ``field="complex"``."""

    def __init__(self, features: int, center: bool, eps: float = 1e-5) -> None:
        super().__init__()
        self.center = center
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.center:
            x = x - x.mean(dim=-1, keepdim=True)
        scale = torch.rsqrt((x.real**2 + x.imag**2).mean(dim=-1, keepdim=True) + self.eps)
        return x * scale * self.weight


def make_norm(kind: str, features: int, complex_state: bool = False) -> nn.Module:
    if kind == "none":
        return nn.Identity()
    if complex_state:
        return ComplexNorm(features, center=kind == "layer")
    if kind == "layer":
        return nn.LayerNorm(features)
    return nn.RMSNorm(features)


class EulerStep(nn.Module):
    """One Euler step with its own blocks: parallel X + h Σ F_i(norm(X)), or split (terms in turn)."""

    def __init__(self, blocks: list[nn.Module], norms: list[nn.Module], step: float, scheme: str, rotate: bool) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.norms = nn.ModuleList(norms)
        self.step = step
        self.scheme = scheme
        self.rotate = rotate  # complex state: X ← X − i h F

    def _scaled(self, f: torch.Tensor) -> torch.Tensor:
        return f * (-1j * self.step) if self.rotate else f * self.step

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.scheme == "parallel":
            y = self.norms[0](x)
            total = self.blocks[0](y)
            for block in self.blocks[1:]:
                total = total + block(y)
            return x + self._scaled(total)
        for norm, block in zip(self.norms, self.blocks, strict=True):
            x = x + self._scaled(block(norm(x)))
        return x


class EulerModel(nn.Module):
    """embedding → steps → norm → readout; ``forward(inputs)`` returns the task's predictions."""

    def __init__(
        self, embedding: nn.Module, steps: list[EulerStep], norm: nn.Module, readout: nn.Module, complex_state: bool
    ) -> None:
        super().__init__()
        self.embedding = embedding
        self.steps = nn.ModuleList(steps)
        self.norm = norm
        self.readout = readout
        self.complex_state = complex_state

    def features(self, inputs: torch.Tensor) -> torch.Tensor:
        """The state after the last step and the final norm, (B, N, C) (complex for a complex field)."""
        x = self.embedding(inputs)
        if self.complex_state:
            half = x.shape[-1] // 2
            x = torch.complex(x[..., :half].float(), x[..., half:].float())
        for step in self.steps:
            x = step(x)
        return self.norm(x)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        x = self.features(inputs)
        if self.complex_state:
            x = torch.cat([x.real, x.imag], dim=-1)
        return self.readout(x)


def compile_blocks(model_cfg: ModelConfig, task: Task) -> list[Any]:
    """One CompiledBlock per term of ``model_cfg`` (causal iff the task is)."""
    from archsearch.compiler import compile_term
    from archsearch.terms import term_from_key

    sizes = {
        "N": task.sequence_length(),
        "C": model_cfg.width,
        "C_A": model_cfg.rank or model_cfg.width,
        "H": model_cfg.heads,
    }
    out = []
    for key in model_cfg.terms:
        out.append(
            compile_term(
                term_from_key(key),
                field=model_cfg.field,
                tied=model_cfg.tied,
                causal=task.causal,
                sizes=sizes,
                lowrank=model_cfg.lowrank,
            )
        )
    return out


def build_model(model_cfg: ModelConfig, task: Task, compiled: list[Any] | None = None) -> EulerModel:
    """The model of ``model_cfg`` for ``task``; parameters initialised from ``model_cfg.seed`` (the global
    RNG state is left untouched). ``compiled``: the blocks of :func:`compile_blocks`, to skip compiling."""
    compiled = compile_blocks(model_cfg, task) if compiled is None else compiled
    by_key = dict(zip(model_cfg.terms, compiled, strict=True))
    complex_state = model_cfg.field == "complex"
    C = model_cfg.width
    block_dtype = torch.complex64 if complex_state else torch.float32
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(model_cfg.seed)
        embedding = task.embedding(2 * C if complex_state else C)
        steps = []
        for t in range(model_cfg.depth):
            step_blocks = [by_key[key] for key in model_cfg.step_terms(t)]
            blocks = [
                cb.build(C, rank=model_cfg.rank, heads=model_cfg.heads, dtype=block_dtype) for cb in step_blocks
            ]
            n_norms = 1 if model_cfg.scheme == "parallel" else len(step_blocks)
            norms = [make_norm(model_cfg.norm, C, complex_state) for _ in range(n_norms)]
            steps.append(EulerStep(blocks, norms, model_cfg.step, model_cfg.scheme, rotate=complex_state))
        norm = make_norm(model_cfg.norm, C, complex_state)
        readout = task.readout(2 * C if complex_state else C)
    return EulerModel(embedding, steps, norm, readout, complex_state)


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (real) scalar parameters; a complex parameter counts twice."""
    total = 0
    for p in model.parameters():
        if trainable_only and not p.requires_grad:
            continue
        total += p.numel() * (2 if p.is_complex() else 1)
    return total
