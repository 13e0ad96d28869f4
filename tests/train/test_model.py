"""Model assembly: configs, shapes, causality, permutation invariance, reload, parameters and FLOPs."""

from __future__ import annotations

import pytest
import torch
from train_helpers import TERMS, check_euler_step, tiny_model

from archsearch.tasks import make_task
from archsearch.train import ModelConfig, build_model, count_parameters, estimate_flops, plan_flops
from archsearch.train.model import EulerStep


def test_model_config_json_round_trip():
    cfg = ModelConfig(terms=("0-0", "0-1.0-1", "lse"), width=32, depth=3, step=0.25, scheme="split", norm="rms", rank=8,
                      heads=2, lowrank=False, seed=5)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    assert ModelConfig.from_json(cfg.to_json()) == cfg
    assert cfg.to_dict()["terms"] == ["0-0", "0-1.0-1", "lse"]
    assert ModelConfig(terms=["0-0"]).terms == ("0-0",)  # lists become tuples (hashable, frozen)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"terms": ()}, "empty"),
        ({"terms": ("zz",)}, "zz"),
        ({"scheme": "leapfrog"}, "scheme"),
        ({"norm": "batch"}, "norm"),
        ({"field": "quaternion"}, "field"),
        ({"width": 0}, "positive"),
        ({"rank": 0}, "rank"),
        ({"step": float("nan")}, "finite"),
    ],
)
def test_model_config_validation(kw, match):
    with pytest.raises(ValueError, match=match):
        ModelConfig(**kw)
    with pytest.raises(ValueError, match="unknown ModelConfig field"):
        ModelConfig.from_dict({"widht": 3})


@pytest.mark.parametrize("name", ["icl-regression", "mqar", "text", "set-duplicate", "digits", "text-stdlib"])
def test_forward_shapes(name, small_tasks):
    task = small_tasks[name]
    model = build_model(tiny_model(terms=TERMS), task)
    batch = task.batch("train", 5, torch.Generator().manual_seed(0))
    pred = model(batch["inputs"])
    vocab = getattr(task, "vocab", None)
    expected = {"icl-regression": (5,), "mqar": (5, 32, 64), "text": (5, 16, vocab), "set-duplicate": (5, 2),
                "digits": (5, 10), "text-stdlib": (5, 16, 256)}[name]
    assert pred.shape == expected
    assert torch.isfinite(pred).all()
    loss = task.loss(pred, batch)
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize(
    ("name", "kw"),
    [
        ("mqar", {}),
        ("mqar", {"scheme": "split", "rank": 4}),
        ("mqar", {"terms": ("0-1.1-2", "relu", "glu3"), "heads": 2, "rank": 4}),
        ("mqar", {"terms": ("lse",), "heads": 2, "rank": 4}),
        ("mqar", {"terms": ("lse", "f-exp"), "tied": True, "rank": 4}),
        ("mqar", {"field": "complex", "width": 8}),
        ("text", {}),
        ("text-stdlib", {}),
    ],
)
def test_causal_model(name, kw, small_tasks):
    task = small_tasks[name]
    assert task.causal
    model = build_model(tiny_model(**kw), task).eval()
    x = task.batch("train", 3, torch.Generator().manual_seed(0))["inputs"]
    vocab = task.config.vocab if name == "mqar" else task.vocab
    with torch.no_grad():
        base = model(x)
        for t in (0, 7, 14):
            y = x.clone()
            y[:, t + 1 :] = (y[:, t + 1 :] + 1 + torch.randint(vocab - 1, y[:, t + 1 :].shape)) % vocab
            out = model(y)
            assert torch.allclose(out[:, : t + 1], base[:, : t + 1], atol=1e-5), f"position ≤ {t} saw the future"
            assert not torch.allclose(out[:, t + 1 :], base[:, t + 1 :], atol=1e-5)


def test_set_model_is_permutation_invariant(small_tasks):
    task = small_tasks["set-duplicate"]
    model = build_model(tiny_model(), task).eval()
    x = task.batch("train", 4, torch.Generator().manual_seed(0))["inputs"]
    with torch.no_grad():
        base = model(x)
        for seed in range(3):
            perm = torch.randperm(x.shape[1], generator=torch.Generator().manual_seed(seed))
            assert torch.allclose(model(x[:, perm]), base, atol=1e-5)


@pytest.mark.parametrize(
    "kw",
    [
        {"terms": ("lse",), "heads": 2, "rank": 8},
        {"terms": ("relu", "glu3")},
        {"terms": ("0-1.0-1",), "tied": True, "lowrank": False},
        {"field": "complex", "norm": "rms"},
        {"field": "complex", "norm": "none", "scheme": "split"},
    ],
)
def test_other_terms_and_fields(kw, small_tasks):
    task = small_tasks["set-duplicate"]
    model = build_model(tiny_model(**kw), task)
    batch = task.batch("train", 4, torch.Generator().manual_seed(0))
    pred = model(batch["inputs"])
    assert pred.shape == (4, 2) and pred.dtype == torch.float32 and torch.isfinite(pred).all()
    task.loss(pred, batch).backward()
    perm = torch.randperm(batch["inputs"].shape[1], generator=torch.Generator().manual_seed(0))
    assert torch.allclose(model(batch["inputs"][:, perm]), pred, atol=1e-4)


def test_split_scheme_and_norms(small_tasks):
    task = small_tasks["icl-regression"]
    x = task.batch("train", 4, torch.Generator().manual_seed(0))["inputs"]
    outs = {}
    for scheme in ("parallel", "split"):
        for norm in ("layer", "rms", "none"):
            model = build_model(tiny_model(scheme=scheme, norm=norm), task)
            n_norms = 1 if scheme == "parallel" else len(TERMS)
            assert len(model.steps) == 2 and len(model.steps[0].norms) == n_norms
            assert len(model.steps[0].blocks) == len(TERMS)
            outs[scheme, norm] = model(x).detach()
            assert torch.isfinite(outs[scheme, norm]).all()
    assert not torch.allclose(outs["parallel", "layer"], outs["split", "layer"])


def test_init_is_seeded_and_state_dict_reloads(small_tasks):
    task = small_tasks["mqar"]
    rng = torch.get_rng_state()
    a, b = build_model(tiny_model(seed=3), task), build_model(tiny_model(seed=3), task)
    assert torch.equal(torch.get_rng_state(), rng)  # building leaves the global RNG alone
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(va, vb)
    c = build_model(tiny_model(seed=4), task)
    assert any(not torch.equal(v, c.state_dict()[k]) for k, v in a.state_dict().items())
    c.load_state_dict(a.state_dict())
    x = task.batch("train", 2, torch.Generator().manual_seed(0))["inputs"]
    assert torch.equal(a(x), c(x))
    keys = list(a.state_dict())
    assert any(k.startswith("embedding.") for k in keys) and any(k.startswith("readout.") for k in keys)
    assert any(k.startswith("steps.1.blocks.1.") for k in keys)


def test_steps_have_their_own_parameters(small_tasks):
    model = build_model(tiny_model(depth=3), small_tasks["icl-regression"])
    ptrs = [{p.data_ptr() for p in step.parameters()} for step in model.steps]
    assert not (ptrs[0] & ptrs[1]) and not (ptrs[1] & ptrs[2])


def test_parameters_and_flops_scale_with_depth(small_tasks):
    task = small_tasks["mqar"]
    counts = {d: count_parameters(build_model(tiny_model(depth=d), task)) for d in (1, 2, 3)}
    assert counts[3] - counts[2] == counts[2] - counts[1] > 0
    flops = {d: estimate_flops(tiny_model(depth=d), task) for d in (1, 2, 3)}
    assert flops[1] > 0
    assert flops[3] - flops[2] == flops[2] - flops[1] > 0
    # wider → more FLOPs
    assert estimate_flops(tiny_model(width=32), task) > estimate_flops(tiny_model(width=16), task)


def test_flops_agree_with_plan_costs(small_tasks):
    # non-causal diagram blocks: the measured count is the plans' cost (2 FLOPs per multiply-add) plus the
    # embedding and readout, minus the O(C²) additions the plans list but FlopCounterMode does not count
    task = small_tasks["icl-regression"]
    cfg = tiny_model(depth=2)
    planned = plan_flops(cfg, task)
    measured = estimate_flops(cfg, task)
    assert planned is not None and 0.9 * planned < measured < 1.5 * planned
    assert plan_flops(tiny_model(terms=("lse",)), task) is None


def test_icl_model_readout_is_last_token():
    task = make_task("icl-regression", d=3, n=4, eval_size=8)
    model = build_model(tiny_model(norm="none", depth=1), task).eval()
    x = task.batch("train", 2, torch.Generator().manual_seed(0))["inputs"]
    feats = model.features(x)
    assert torch.allclose(model(x), model.readout.proj(feats[:, -1]).squeeze(-1))


def test_euler_step_with_known_fields():
    """Both schemes, real and complex: h applied once per term, −i h F in the complex field, h = 0 is X."""
    check_euler_step(EulerStep)


@pytest.mark.parametrize("kw", [{"scheme": "parallel"}, {"scheme": "split"}, {"field": "complex", "width": 8}])
def test_model_passes_its_step_to_every_euler_step(kw, small_tasks):
    """build_model gives each EulerStep the config's h, scheme and rotation: h = 0 leaves the embedding as
    it is, and h ≠ 0 does not."""
    task = small_tasks["set-duplicate"]
    x = task.batch("train", 3, torch.Generator().manual_seed(0))["inputs"]
    still = build_model(tiny_model(step=0.0, norm="none", **kw), task).eval()
    moving = build_model(tiny_model(step=0.5, norm="none", **kw), task).eval()
    assert all(s.step == 0.5 and s.scheme == moving.steps[0].scheme for s in moving.steps)
    assert all(s.rotate == (kw.get("field") == "complex") for s in moving.steps)
    with torch.no_grad():
        embedded = still.embedding(x)
        if still.complex_state:
            embedded = torch.complex(embedded[..., :8], embedded[..., 8:])
        assert torch.equal(still.features(x), embedded)
        assert not torch.allclose(moving.features(x), embedded)


def test_model_config_edges():
    """A single key is a one-term tuple; the smallest sizes are valid; each invalid size is refused on its own;
    messages list the choices; the JSON text is key-sorted (stable)."""
    import json

    assert ModelConfig(terms="0-1.0-1").terms == ("0-1.0-1",)
    small = ModelConfig(width=1, depth=1, heads=1, rank=1)
    assert (small.width, small.rank) == (1, 1)
    for kw in ({"depth": 0}, {"heads": 0}, {"width": 0}):
        with pytest.raises(ValueError, match="positive"):
            ModelConfig(**kw)
    for kw, match in [({"scheme": "x"}, "scheme must be one of parallel, split, not 'x'"),
                      ({"norm": "x"}, "norm must be one of layer, rms, none, not 'x'"),
                      ({"field": "x"}, "field must be one of real, complex, not 'x'"),
                      ({"terms": ()}, r"^ModelConfig.terms is empty")]:
        with pytest.raises(ValueError, match=match):
            ModelConfig(**kw)
    with pytest.raises(TypeError, match="term keys are strings, not 3"):
        ModelConfig(terms=(3,))
    text = ModelConfig(terms=("0-0",), seed=2).to_json()
    assert list(json.loads(text)) == sorted(json.loads(text))


@pytest.mark.parametrize("kind", ["layer", "rms"])
def test_complex_norm_formula(kind):
    """ComplexNorm: (x − mean) (layer) or x (rms), divided by sqrt(mean |·|² + eps), times a real gain."""
    from archsearch.train.model import ComplexNorm, make_norm

    norm = make_norm(kind, 5, complex_state=True)
    assert isinstance(norm, ComplexNorm) and norm.center == (kind == "layer")
    assert norm.eps == torch.nn.LayerNorm(5).eps  # the same eps as the real norms
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        norm.weight.copy_(torch.rand(5, generator=g) + 0.5)
    x = torch.complex(torch.randn(3, 5, generator=g), torch.randn(3, 5, generator=g)).to(torch.complex128) * 0.01
    y = x - x.mean(-1, keepdim=True) if kind == "layer" else x
    expected = y / torch.sqrt((y.abs() ** 2).mean(-1, keepdim=True) + norm.eps) * norm.weight.double()
    torch.testing.assert_close(norm(x), expected, rtol=1e-6, atol=1e-9)


def test_make_norm_kinds():
    from torch import nn

    from archsearch.train.model import make_norm

    assert isinstance(make_norm("none", 4), nn.Identity) and isinstance(make_norm("none", 4, True), nn.Identity)
    assert isinstance(make_norm("layer", 4), nn.LayerNorm) and isinstance(make_norm("rms", 4), nn.RMSNorm)


def test_split_step_needs_one_norm_per_block():
    norms = [torch.nn.Identity()]
    step = EulerStep([torch.nn.Identity(), torch.nn.Identity()], norms, 0.5, "split", rotate=False)
    with pytest.raises(ValueError):
        step(torch.ones(1, 2, 3))


def test_count_parameters_counts_complex_twice_and_skips_frozen():
    m = torch.nn.Module()
    m.a = torch.nn.Parameter(torch.zeros(3, dtype=torch.complex64))
    m.b = torch.nn.Parameter(torch.zeros(2, 5), requires_grad=False)
    m.c = torch.nn.Parameter(torch.zeros(4))
    assert count_parameters(m) == 2 * 3 + 4
    assert count_parameters(m, trainable_only=False) == 2 * 3 + 10 + 4


def test_model_builds_what_the_config_says(small_tasks):
    """rank and heads reach the blocks (parameter counts), tied reaches the compiled blocks, and the plans
    are chosen for the task's N and the config's C, C_A, H."""
    from archsearch.train.model import compile_blocks

    task = small_tasks["set-duplicate"]
    full = count_parameters(build_model(tiny_model(rank=None, heads=1), task))
    assert count_parameters(build_model(tiny_model(rank=2, heads=1), task)) < full
    assert count_parameters(build_model(tiny_model(rank=None, heads=2), task)) > full
    for tied in (True, False):
        blocks = compile_blocks(tiny_model(tied=tied, rank=4, heads=2, lowrank=not tied), task)
        assert all(b.tied == tied and b.plan.lowrank == (not tied) for b in blocks)
        sizes = blocks[1].plan.sizes
        assert (sizes.N, sizes.C, sizes.C_A, sizes.H) == (task.sequence_length(), 16, 4, 2)
