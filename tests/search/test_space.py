"""The search space: term selection modes, canonical candidate keys, determinism, overrides, grid, baseline."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest

from archsearch.grammar import load_grammar
from archsearch.search import Candidate, SearchSpace, parse_space_overrides, space_from_grammar

ROOT = Path(__file__).resolve().parents[2]


def _space(name: str, **kw) -> SearchSpace:
    return space_from_grammar(load_grammar(ROOT / "grammars" / name), **kw)


def test_paper_space_is_subsets_of_mlp_and_linear_attention():
    space = _space("paper.toml")
    assert space.terms == ("0-0", "0-1.0-1") and space.mode == "subsets"
    assert space.subsets() == [("0-0",), ("0-1.0-1",), ("0-0", "0-1.0-1")]
    assert space.baseline_terms() == ("0-0", "0-1.0-1")
    assert space.field == "real"


def test_large_grammar_uses_one_flag_per_term_and_never_an_empty_set():
    space = _space("permutation.toml")
    assert space.mode == "flags" and len(space.terms) > 4
    none = {f"use:{k}": False for k in space.terms}
    params = {**none, **{n: space.default(n) for n in ("width", "depth", "heads", "rank_frac", "step", "lr", "tied")}}
    assert space.decode(params).terms == space.terms[:1]  # empty → the first term, deterministically


def test_candidate_key_is_canonical():
    a = Candidate(terms=("0-1.0-1", "0-0"), width=8, depth=1, heads=2, rank=4, step=0.5, lr=1e-3)
    b = Candidate(terms=("0-0", "0-1.0-1", "0-0"), width=8, depth=1, heads=2, rank=4, step=0.5, lr=1e-3)
    assert a.key() == b.key() and a.terms == ("0-0", "0-1.0-1")
    data = json.loads(a.key())
    assert data["terms"] == ["0-0", "0-1.0-1"] and data["width"] == 8 and data["lr"] == 1e-3
    c = Candidate(terms=("0-0", "0-1.0-1"), width=8, depth=1, heads=2, rank=4, step=0.5, lr=3e-3)
    assert c.key() != a.key()
    assert Candidate.from_dict(a.to_dict()) == a
    with pytest.raises(ValueError):
        Candidate(terms=(), width=8, depth=1, heads=1, rank=None, step=1.0, lr=1e-3)


def test_model_config_of_a_candidate():
    cand = Candidate(terms=("0-1.0-1", "0-0"), width=8, depth=2, heads=2, rank=4, step=0.5, lr=1e-3)
    cfg = cand.model_config(seed=3)
    assert cfg.terms == ("0-0", "0-1.0-1") and cfg.width == 8 and cfg.depth == 2 and cfg.rank == 4
    assert cfg.heads == 2 and cfg.step == 0.5 and cfg.seed == 3


@pytest.mark.parametrize("grammar", ["paper.toml", "permutation.toml", "softmax.toml"])
def test_space_is_deterministic(grammar):
    """The same grammar gives the same space, and the same sampler seed the same candidates."""
    assert _space(grammar) == _space(grammar)
    space = _space(grammar)
    assert SearchSpace.from_dict(json.loads(json.dumps(space.to_dict()))) == space

    def keys(seed: int) -> list[str]:
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
        out = []
        for _ in range(12):
            trial = study.ask()
            out.append(space.suggest(trial).key())
            study.tell(trial, 0.0)
        return out

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    assert keys(7) == keys(7)
    # decoding a trial's parameters again gives the same candidate
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    trial = study.ask()
    cand = space.suggest(trial)
    assert space.decode(trial.params) == cand


def test_params_for_round_trip_and_baseline():
    space = _space("paper.toml", overrides={"width": (8, 16)})
    params = space.baseline_params()
    cand = space.decode(params)
    assert cand.terms == ("0-0", "0-1.0-1") and cand.width == 8
    assert cand.rank == round(8 * space.default("rank_frac"))
    with pytest.raises(ValueError):
        space.params_for(["0-0"], width=12)


def test_grid_is_each_term_alone_with_fixed_hyper_parameters():
    space = _space("softmax.toml", mode="single").single()
    grid = space.grid()
    cands = [space.decode(p) for p in grid]
    # grammar order: the 6 S_N-invariant diagrams of orders 2 and 4, then softmax and the exp kernel
    assert [c.terms for c in cands] == [("0-0",), ("0-1",), ("0-0.0-0",), ("0-1.0-1",), ("0-1.1-1",), ("0-2.1-2",),
                                        ("lse",), ("f-exp",)]
    assert len({c.key() for c in cands}) == len(space.terms)
    assert len({(c.width, c.depth, c.heads, c.rank, c.step, c.lr) for c in cands}) == 1
    assert space.size() == len(space.terms)


def test_space_overrides():
    assert parse_space_overrides(["width=8,16", "tied=false,true", "h=0.5", "rank=1"]) == {
        "width": (8, 16), "tied": (False, True), "step": (0.5,), "rank_frac": (1.0,),
    }
    assert parse_space_overrides(["scheme=split", "norm=rms"]) == {"scheme": "split", "norm": "rms"}
    for bad in (["width"], ["colour=red"], ["width=eight"], ["width=8,"], ["tied=maybe"], ["norm=rms,layer"]):
        with pytest.raises(ValueError):
            parse_space_overrides(bad)
    with pytest.raises(ValueError):
        SearchSpace(terms=("0-0",), rank_frac=(2.0,))
    with pytest.raises(ValueError):
        SearchSpace(terms=())
    with pytest.raises(ValueError, match="scheme"):
        SearchSpace(terms=("0-0",), scheme="sideways")


def test_few_mode_picks_at_most_max_terms():
    import math

    space = _space("permutation.toml", mode="few")
    others = math.prod(len(getattr(space, name)) for name in ("width", "depth", "heads", "rank_frac", "step", "lr",
                                                              "tied"))
    assert space.max_terms == 3 and space.size() == (17 + math.comb(17, 2) + math.comb(17, 3)) * others
    sampler = optuna.trial.FixedTrial  # a deterministic stand-in for an Optuna trial
    for terms in (["0-0"], ["0-0", "0-1.0-1"], ["0-1", "0-1.0-1", "0-1.0-2.1-2"]):
        params = space.params_for(terms)
        assert space.decode(params).terms == tuple(sorted(terms))
        assert space.suggest(sampler(params)).terms == tuple(sorted(terms))
    with pytest.raises(ValueError, match="at most 3 terms"):
        space.params_for(["0-0", "0-1", "0-1.0-1", "0-0.0-0"])
    repeated = {**space.params_for(["0-0"]), "term2": "0-0", "term3": "none"}
    assert space.decode(repeated).terms == ("0-0",)  # a slot repeating a term adds nothing
    assert parse_space_overrides(["max_terms=2"]) == {"max_terms": 2}
    with pytest.raises(ValueError, match="one value"):
        parse_space_overrides(["max_terms=2,3"])
