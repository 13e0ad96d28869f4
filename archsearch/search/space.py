"""The search space of a grammar: which of its terms a candidate uses, and the hyper-parameters.

A candidate is a set of term keys (at least one) plus width C, depth T (Euler steps), heads, rank C_A
(as a fraction of the width), step size h, learning rate and, optionally, tied blocks. Every choice is
a finite list, so equal candidates are recognised exactly: :meth:`Candidate.key` is the canonical JSON of
the sorted term keys and all hyper-parameters, and a study trains each key once.

How the terms are chosen:

- ``subsets`` (grammars with at most 4 terms): one categorical parameter ``terms`` over every non-empty
  subset, e.g. ``"0-0+0-1.0-1"`` (the samplers then model the subsets jointly);
- ``flags`` (larger grammars): one boolean ``use:<key>`` per term; an empty choice falls back to the first
  term of the grammar (deterministically, so it is an ordinary duplicate);
- ``single`` (the grid sampler): one categorical ``term`` over the terms, each alone;
- ``layers``: a term set per Euler step — depth first, then one boolean ``use:<t>:<key>`` per term for each
  of the ``depth`` steps (an empty step falls back to the grammar's first term);
- ``few``: at most ``max_terms`` terms (default 3): categorical slots ``term1`` (a term) and ``term2`` …
  (a term or none); the set of the chosen terms. On a large grammar (17 terms up to order 6) flags give
  trials of about half the terms; this asks which few terms beside each other earn their cost.

No torch and no optuna at import time: the module works with any object that has ``suggest_categorical``.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from archsearch.checks import check_keys

SUBSET_LIMIT = 4  # up to this many terms: a categorical over subsets (2^4 - 1 = 15 choices)
MAX_WIDTH, MAX_DEPTH, MAX_HEADS = 16384, 256, 256  # bounds on the choices: larger is a typo, not a model
# Terms a baseline candidate uses when the grammar has them: the linear MLP and linear attention (real and
# complex keys), else softmax attention; otherwise the grammar's first term.
BASELINE_TERMS = (("0-0", "0-1.0-1"), ("0~0", "0~1.1~0"), ("0-0", "lse"))
HYPER = ("width", "depth", "heads", "rank_frac", "step", "lr", "tied")
MODES = ("subsets", "flags", "single", "layers", "few")
NONE = "none"  # an empty slot of the ``few`` mode
SCHEMES = ("parallel", "split")  # as archsearch.train.model (not imported: no torch here)
NORMS = ("layer", "rms", "none")


@dataclass(frozen=True)
class Candidate:
    """One point of the space: sorted term keys and every hyper-parameter; ``layers``: the term set of each
    Euler step when the steps differ (then ``terms`` is their union), None when every step uses ``terms``."""

    terms: tuple[str, ...]
    width: int
    depth: int
    heads: int
    rank: int | None
    step: float
    lr: float
    tied: bool = False
    field: str = "real"
    scheme: str = "parallel"
    norm: str = "layer"
    layers: tuple[tuple[str, ...], ...] | None = None

    def __post_init__(self) -> None:
        if self.layers is not None:
            layers = tuple(tuple(sorted(set(layer))) for layer in self.layers)
            if len(layers) != self.depth or not all(layers):
                raise ValueError(f"layers must give a non-empty term set for each of the {self.depth} steps")
            if len(set(layers)) == 1:  # the same set everywhere: the ordinary candidate
                object.__setattr__(self, "terms", layers[0])
                object.__setattr__(self, "layers", None)
            else:
                object.__setattr__(self, "layers", layers)
                object.__setattr__(self, "terms", tuple(sorted({t for layer in layers for t in layer})))
        object.__setattr__(self, "terms", tuple(sorted(set(self.terms))))
        if not self.terms:
            raise ValueError("a candidate needs at least one term")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["terms"] = list(self.terms)
        if self.layers is None:
            d.pop("layers")  # keys of per-step-less candidates are unchanged
        else:
            d["layers"] = [list(layer) for layer in self.layers]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Candidate:
        layers = d.get("layers")
        return cls(**{**d, "terms": tuple(d["terms"]),
                      "layers": tuple(tuple(layer) for layer in layers) if layers else None})

    def key(self) -> str:
        """Canonical JSON: equal candidates have equal keys, whatever order their terms were chosen in."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    def model_config(self, seed: int = 0) -> Any:
        """The :class:`archsearch.train.ModelConfig` of this candidate (imports torch)."""
        from archsearch.train import ModelConfig

        return ModelConfig(
            terms=self.terms, field=self.field, tied=self.tied, width=self.width, depth=self.depth,
            step=self.step, scheme=self.scheme, norm=self.norm, rank=self.rank, heads=self.heads,
            lowrank=True, seed=seed, layers=self.layers,
        )


def candidate_key(attr: Any) -> str | None:
    """The canonical key (:meth:`Candidate.key`) of a trial's ``candidate`` attribute: a dict, or the key itself
    in studies written before the attribute became a dict; None without one."""
    if isinstance(attr, dict):
        return json.dumps(attr, sort_keys=True, separators=(",", ":"))
    return attr if isinstance(attr, str) else None


@dataclass(frozen=True)
class SearchSpace:
    """Finite choices for every parameter; ``terms`` in grammar order. JSON round trip: to_dict/from_dict."""

    terms: tuple[str, ...]
    mode: str = "auto"  # subsets | flags | single | layers (auto: subsets up to SUBSET_LIMIT terms, else flags)
    width: tuple[int, ...] = (16, 32, 64)
    depth: tuple[int, ...] = (1, 2, 3)
    heads: tuple[int, ...] = (1, 2, 4)
    rank_frac: tuple[float, ...] = (0.25, 0.5, 1.0)
    step: tuple[float, ...] = (0.25, 0.5, 1.0)
    lr: tuple[float, ...] = (1e-3, 3e-3, 1e-2)
    tied: tuple[bool, ...] = (False,)
    field: str = "real"
    scheme: str = "parallel"
    norm: str = "layer"
    max_terms: int = 3  # the ``few`` mode: at most this many terms per candidate

    def __post_init__(self) -> None:
        object.__setattr__(self, "terms", tuple(self.terms))
        if not 1 <= self.max_terms <= 16:
            raise ValueError(f"max_terms must be between 1 and 16, not {self.max_terms}")
        if not self.terms:
            raise ValueError("the grammar admits no terms to search over")
        if len(set(self.terms)) != len(self.terms):
            raise ValueError("duplicate term keys in the search space")
        if self.mode == "auto":
            object.__setattr__(self, "mode", "subsets" if len(self.terms) <= SUBSET_LIMIT else "flags")
        if self.mode not in MODES:
            raise ValueError(f"unknown term mode {self.mode!r} (known: {', '.join(MODES)})")
        for name in HYPER:
            values = tuple(getattr(self, name))
            if not values:
                raise ValueError(f"no choices for {name}")
            if len(set(values)) != len(values):
                raise ValueError(f"repeated choices for {name}: {values}")
            object.__setattr__(self, name, values)
        for name, hi in (("width", MAX_WIDTH), ("depth", MAX_DEPTH), ("heads", MAX_HEADS)):
            bad = [v for v in getattr(self, name) if not 1 <= v <= hi]
            if bad:
                raise ValueError(f"{name} choices must be integers between 1 and {hi}, not {bad[0]}")
        if any(not 0 < r <= 1 for r in self.rank_frac):
            raise ValueError("rank fractions must lie in (0, 1]")
        for name in ("step", "lr"):
            bad = [v for v in getattr(self, name) if not (v > 0 and math.isfinite(v) and v <= 1e3)]
            if bad:
                raise ValueError(f"{name} choices must be positive, finite and at most 1000, not {bad[0]}")
        for name, known in (("scheme", SCHEMES), ("norm", NORMS), ("field", ("real", "complex"))):
            if getattr(self, name) not in known:
                raise ValueError(f"{name} must be one of {', '.join(known)}, not {getattr(self, name)!r}")

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SearchSpace:
        check_keys(d, cls, "search-space field(s)")
        values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        return cls(**values)

    # ------------------------------------------------------------------ choices
    def subsets(self) -> list[tuple[str, ...]]:
        """Every non-empty subset of the terms, smallest first, in grammar order."""
        out: list[tuple[str, ...]] = []
        for r in range(1, len(self.terms) + 1):
            out.extend(itertools.combinations(self.terms, r))
        return out

    def size(self) -> int:
        """The number of distinct candidates."""
        if self.mode == "single":
            sets = len(self.terms)
        elif self.mode == "few":
            sets = sum(math.comb(len(self.terms), r) for r in range(1, min(self.max_terms, len(self.terms)) + 1))
        else:
            sets = 2 ** len(self.terms) - 1
        others = 1
        for name in HYPER:
            if name != "depth":
                others *= len(getattr(self, name))
        if self.mode == "layers":  # a set per step (all steps equal: the ordinary candidate, counted once)
            return others * sum(sets ** d for d in self.depth)
        return others * sets * len(self.depth)

    def _rank(self, width: int, frac: float) -> int:
        return max(1, round(width * frac))

    # ------------------------------------------------------------------ sampling and decoding
    def suggest(self, trial: Any) -> Candidate:
        """Ask ``trial`` (an Optuna trial, or anything with ``suggest_categorical``) for a candidate."""
        params: dict[str, Any] = {}
        if self.mode == "subsets":
            params["terms"] = trial.suggest_categorical("terms", ["+".join(s) for s in self.subsets()])
        elif self.mode == "flags":
            for key in self.terms:
                params[f"use:{key}"] = trial.suggest_categorical(f"use:{key}", [False, True])
        elif self.mode == "single":
            params["term"] = trial.suggest_categorical("term", list(self.terms))
        elif self.mode == "few":
            params["term1"] = trial.suggest_categorical("term1", list(self.terms))
            for slot in range(2, self.max_terms + 1):
                params[f"term{slot}"] = trial.suggest_categorical(f"term{slot}", [NONE, *self.terms])
        for name in HYPER:
            params[name] = trial.suggest_categorical(name, list(getattr(self, name)))
        if self.mode == "layers":
            for t in range(int(params["depth"])):
                for key in self.terms:
                    params[f"use:{t}:{key}"] = trial.suggest_categorical(f"use:{t}:{key}", [False, True])
        return self.decode(params)

    def decode(self, params: dict[str, Any]) -> Candidate:
        """The candidate of a trial's parameters (deterministic; an empty flag choice → the first term)."""
        layers = None
        if self.mode == "subsets":
            terms = tuple(t for t in str(params["terms"]).split("+") if t)
        elif self.mode == "flags":
            terms = tuple(k for k in self.terms if params.get(f"use:{k}"))
            terms = terms or self.terms[:1]
        elif self.mode == "layers":
            layers = tuple(tuple(k for k in self.terms if params.get(f"use:{t}:{k}")) or self.terms[:1]
                           for t in range(int(params["depth"])))
            terms = tuple(k for layer in layers for k in layer)
        elif self.mode == "few":
            terms = tuple(dict.fromkeys(str(params[f"term{s}"]) for s in range(1, self.max_terms + 1)
                                        if params.get(f"term{s}", NONE) != NONE))
        else:
            terms = (str(params["term"]),)
        unknown = [t for t in terms if t not in self.terms]
        if unknown:
            raise ValueError(f"term(s) {', '.join(unknown)} are not in the search space")
        width = int(params["width"])
        return Candidate(
            layers=layers,
            terms=terms,
            width=width,
            depth=int(params["depth"]),
            heads=int(params["heads"]),
            rank=self._rank(width, float(params["rank_frac"])),
            step=float(params["step"]),
            lr=float(params["lr"]),
            tied=bool(params["tied"]),
            field=self.field,
            scheme=self.scheme,
            norm=self.norm,
        )

    def params_for(self, terms: Iterable[str], **hyper: Any) -> dict[str, Any]:
        """Trial parameters (for ``study.enqueue_trial``) of a term set; unspecified hyper-parameters take
        their default (the middle choice)."""
        chosen = [t for t in self.terms if t in set(terms)]
        if not chosen:
            raise ValueError("no term of the search space chosen")
        params: dict[str, Any] = {}
        if self.mode == "subsets":
            params["terms"] = "+".join(chosen)
        elif self.mode == "flags":
            params.update({f"use:{k}": k in chosen for k in self.terms})
        elif self.mode == "single":
            if len(chosen) != 1:
                raise ValueError("the single-term space takes exactly one term")
            params["term"] = chosen[0]
        elif self.mode == "few":
            if len(chosen) > self.max_terms:
                raise ValueError(f"at most {self.max_terms} terms in this space, not {len(chosen)}")
            slots = [*chosen, *[NONE] * (self.max_terms - len(chosen))]
            params.update({f"term{s + 1}": v for s, v in enumerate(slots)})
        for name in HYPER:
            value = hyper.get(name, self.default(name))
            if value not in getattr(self, name):
                raise ValueError(f"{name}={value!r} is not a choice of the space ({list(getattr(self, name))})")
            params[name] = value
        if self.mode == "layers":  # the same set in every step
            params.update({f"use:{t}:{k}": k in chosen for t in range(int(params["depth"])) for k in self.terms})
        return params

    def default(self, name: str) -> Any:
        """The default of a hyper-parameter: its middle choice (the lower middle for an even count)."""
        values = getattr(self, name)
        return values[(len(values) - 1) // 2]

    def baseline_terms(self) -> tuple[str, ...]:
        """The baseline's terms: linear MLP + linear attention when the grammar has them."""
        for group in BASELINE_TERMS:
            if all(t in self.terms for t in group):
                return group
        return self.terms[:1]

    def baseline_params(self) -> dict[str, Any]:
        if self.mode == "single":
            return self.params_for(self.baseline_terms()[:1])
        return self.params_for(self.baseline_terms())

    def grid(self) -> list[dict[str, Any]]:
        """Parameters of every candidate of a single-term space with one choice per hyper-parameter (the
        brute-force grid: each term alone, in grammar order)."""
        if self.mode != "single":
            raise ValueError("the grid enumerates single-term spaces only")
        return [self.params_for([t]) for t in self.terms]

    def single(self) -> SearchSpace:
        """The grid version of this space: each term alone, every hyper-parameter fixed to its default."""
        fixed: dict[str, Any] = {name: (self.default(name),) for name in HYPER}
        return replace(self, mode="single", **fixed)


SPACE_KEYS = {
    "width": int, "depth": int, "heads": int, "rank_frac": float, "step": float, "lr": float, "tied": bool,
    "scheme": str, "norm": str, "max_terms": int,
}
SINGLE_VALUED = ("scheme", "norm", "max_terms")  # fixed for the whole study: one value each
SPACE_ALIASES = {"rank": "rank_frac", "h": "step", "layers": "depth", "d_model": "width"}


def parse_space_overrides(items: Sequence[str]) -> dict[str, tuple[Any, ...]]:
    """``["width=8,16", "tied=false,true", "norm=rms"]`` → {"width": (8, 16), "tied": (False, True),
    "norm": "rms"}; ValueError if bad."""
    out: dict[str, tuple[Any, ...]] = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"{item!r} is not KEY=VALUE[,VALUE…] (keys: {', '.join(SPACE_KEYS)})")
        key, _, text = item.partition("=")
        key = SPACE_ALIASES.get(key.strip(), key.strip())
        if key not in SPACE_KEYS:
            raise ValueError(f"unknown search-space key {key!r} (known: {', '.join(SPACE_KEYS)})")
        kind = SPACE_KEYS[key]
        values: list[Any] = []
        for raw in (v.strip() for v in text.split(",")):
            if not raw:
                raise ValueError(f"{item!r}: empty value")
            try:
                if kind is bool:
                    if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
                        raise ValueError
                    values.append(raw.lower() in ("true", "1", "yes"))
                else:
                    values.append(kind(raw))
            except ValueError:
                raise ValueError(f"{item!r}: {raw!r} is not a valid {kind.__name__}") from None
        if key in SINGLE_VALUED:
            if len(values) != 1:
                raise ValueError(f"{item!r}: {key} takes one value for the whole study")
            out[key] = values[0]
        else:
            out[key] = tuple(dict.fromkeys(values))
    return out


def space_from_grammar(grammar: Any, overrides: dict[str, tuple[Any, ...]] | None = None,
                       mode: str = "auto") -> SearchSpace:
    """The search space of a grammar's terms (``archsearch.enumeration.enumerate_terms``) with optional
    choices replaced (``parse_space_overrides``)."""
    from archsearch.enumeration import enumerate_terms

    terms = enumerate_terms(grammar)
    choices: dict[str, Any] = dict(overrides or {})  # field name → tuple of choices, checked by SearchSpace
    space = SearchSpace(terms=tuple(t.key for t in terms), mode=mode, field=grammar.axioms.field, **choices)
    for term in terms:  # a cone projection acts on groups of cone_size features: every width must fit
        size = getattr(term, "cone_size", None)
        if size and getattr(term, "projection", "relu") != "relu":
            bad = [w for w in space.width if w % size]
            if bad:
                raise ValueError(f"width {bad[0]} is not divisible by the cone size {size} of {term.key}; choose "
                                 f"widths that are multiples of {size} (--space width=...)")
    return space
