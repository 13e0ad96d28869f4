"""The data of each task: ICL regression, MQAR structure, set invariance, the text file task."""

from __future__ import annotations

import math

import pytest
import torch

from archsearch.tasks import make_task
from archsearch.tasks.mqar import IGNORE
from archsearch.tasks.sets import has_duplicate


# ---- icl-regression ----------------------------------------------------------------------------------
def test_icl_tokens_and_targets():
    task = make_task("icl-regression", d=10, n=10, eval_size=32)
    batch = task.batch("train", 32, torch.Generator().manual_seed(0))
    z, y = batch["inputs"], batch["targets"]
    assert z.shape == (32, 11, 11) and y.shape == (32,)
    assert torch.all(z[:, -1, -1] == 0)  # the query's y is hidden
    # n = d: the context determines w exactly, and the target is wᵀx_q
    x, yc = z[:, :-1, :-1].double(), z[:, :-1, -1].double()
    w = torch.linalg.solve(x, yc.unsqueeze(-1)).squeeze(-1)
    assert torch.allclose((w * z[:, -1, :-1].double()).sum(-1), y.double(), atol=1e-3, rtol=1e-3)


def test_icl_one_step_gd_baseline_matches_formula():
    task = make_task("icl-regression", d=10, n=10, eval_size=20000)
    assert task.gd_optimal_mse() == pytest.approx(110 / 21)
    assert task.gd_optimal_lr() == pytest.approx(10 / 21)
    data = task.dataset("test")
    pred = task.gd_prediction(data["inputs"], task.gd_optimal_lr())
    mse = task.metric(pred, data)
    assert mse == pytest.approx(110 / 21, rel=0.06)
    # η* is the best step: a smaller or larger one is worse
    for lr in (0.5 * task.gd_optimal_lr(), 1.5 * task.gd_optimal_lr()):
        assert task.metric(task.gd_prediction(data["inputs"], lr), data) > mse


def test_icl_noise_option():
    task = make_task("icl-regression", d=4, n=6, noise=0.5, eval_size=8)
    assert task.gd_optimal_lr() == pytest.approx(6 / (6 + 4 + 1 + 0.25))
    with pytest.raises(ValueError, match="noise"):
        make_task("icl-regression", noise=-1.0)


# ---- mqar ---------------------------------------------------------------------------------------------
def test_mqar_structure():
    V, T, kv = 128, 64, 8
    task = make_task("mqar", vocab=V, seq_len=T, num_kv=kv, eval_size=16)
    batch = task.batch("train", 64, torch.Generator().manual_seed(0))
    inputs, targets, mask = batch["inputs"], batch["targets"], batch["mask"]
    assert inputs.shape == targets.shape == mask.shape == (64, T)
    assert torch.equal(mask, targets != IGNORE)
    keys, values = inputs[:, 0 : 2 * kv : 2], inputs[:, 1 : 2 * kv : 2]
    assert torch.all((keys >= 1) & (keys < V // 2))
    assert torch.all((values >= V // 2) & (values < V))
    for row in range(64):
        assert len(set(keys[row].tolist())) == kv and len(set(values[row].tolist())) == kv
        binding = dict(zip(keys[row].tolist(), values[row].tolist(), strict=True))
        pos = mask[row].nonzero().squeeze(1)
        assert len(pos) == kv  # every key is queried exactly once ...
        assert torch.all(pos >= 2 * kv)  # ... after the context ...
        assert sorted(inputs[row, pos].tolist()) == sorted(binding)  # ... by its key
        for p in pos.tolist():
            assert targets[row, p].item() == binding[inputs[row, p].item()]


def test_mqar_loss_only_at_queries():
    task = make_task("mqar", eval_size=8)
    batch = task.batch("train", 8, torch.Generator().manual_seed(1))
    pred = torch.randn(8, 64, 128)
    base = task.loss(pred, batch)
    noisy = pred + 100.0 * torch.randn_like(pred) * (~batch["mask"]).unsqueeze(-1)
    assert torch.allclose(task.loss(noisy, batch), base)
    # perfect logits at the queries: accuracy 1 whatever the rest says
    perfect = noisy.clone()
    r, c = batch["mask"].nonzero(as_tuple=True)
    perfect[r, c, batch["targets"][r, c]] = 1e4
    assert task.metric(perfect, batch) == 1.0


def test_mqar_power_law_gaps_prefer_short():
    task = make_task("mqar", vocab=256, seq_len=128, num_kv=4, eval_size=8)
    mask = task.batch("train", 512, torch.Generator().manual_seed(0))["mask"]
    counts = mask[:, 8:].sum(0)
    assert counts[:16].sum() > counts[-16:].sum()


@pytest.mark.parametrize(
    ("options", "match"),
    [({"vocab": 64, "seq_len": 64}, "vocab > seq_len"), ({"seq_len": 64, "num_kv": 17}, "4·num_kv <= seq_len")],
)
def test_mqar_constraints(options, match):
    with pytest.raises(ValueError, match=match):
        make_task("mqar", **options)


# ---- set-duplicate ---------------------------------------------------------------------------------------
def test_set_labels_and_permutation_invariance():
    task = make_task("set-duplicate", eval_size=16)
    batch = task.batch("train", 512, torch.Generator().manual_seed(0))
    x, y = batch["inputs"], batch["targets"]
    assert torch.equal(y, has_duplicate(x).long())
    assert 0.4 < y.float().mean().item() < 0.6  # balanced
    g = torch.Generator().manual_seed(1)
    for _ in range(5):
        perm = torch.randperm(x.shape[1], generator=g)
        assert torch.equal(has_duplicate(x[:, perm]).long(), y)
        # the example's identity (disjointness key) is the multiset, too
        assert task.example_keys({"inputs": x[:, perm]}) == task.example_keys(batch)


# ---- text -----------------------------------------------------------------------------------------------
@pytest.fixture
def corpus(tmp_path):
    text = "".join(f"line {i}: the quick brown fox jumps over the lazy dog. é\n" for i in range(60))
    path = tmp_path / "corpus.txt"
    path.write_text(text, encoding="utf-8")
    return path, text


def test_text_task(corpus):
    path, text = corpus
    task = make_task("text", path=str(path), seq_len=16, eval_size=1000)
    assert task.causal and task.metric_name == "bpc" and task.direction == "minimize"
    assert task.chars == sorted(set(text)) and "é" in task.chars
    batch = task.batch("train", 8, torch.Generator().manual_seed(0))
    assert batch["inputs"].shape == batch["targets"].shape == (8, 16)
    assert torch.equal(batch["inputs"][:, 1:], batch["targets"][:, :-1])  # targets are the next characters
    n = len(text)
    val = task.dataset("val")
    assert val["inputs"].shape[0] == (int(0.95 * n) - int(0.9 * n) - 1) // 16
    assert task.decode(val["inputs"][0]) == text[int(0.9 * n) : int(0.9 * n) + 16]
    # uniform predictions: log2(vocab) bits per character
    uniform = torch.zeros(*val["targets"].shape, task.vocab)
    assert task.metric(uniform, val) == pytest.approx(math.log2(task.vocab), rel=1e-5)


def test_text_splits_by_position(tmp_path):
    # every character distinct: a character id is its position in the file
    n = 2000
    path = tmp_path / "distinct.txt"
    path.write_text("".join(chr(0x4E00 + i) for i in range(n)), encoding="utf-8")
    task = make_task("text", path=str(path), seq_len=8, eval_size=1000)
    assert task.vocab == n
    a, b = int(0.9 * n), int(0.95 * n)
    batch = task.batch("train", 4096, torch.Generator().manual_seed(0))
    assert batch["inputs"].min() >= 0 and batch["targets"].max() < a  # targets included: never past the split
    assert batch["targets"].max() > a - 20  # and the whole training part is used
    val, test = task.dataset("val"), task.dataset("test")
    assert val["inputs"].min() >= a and val["targets"].max() < b
    assert test["inputs"].min() >= b and test["targets"].max() < n
    assert torch.equal(val["inputs"][:, 0], torch.arange(a, b - 8, 8)[: len(val["inputs"])])


def test_text_errors(tmp_path):
    with pytest.raises(ValueError, match="needs a file"):
        make_task("text")
    with pytest.raises(FileNotFoundError, match="no such file"):
        make_task("text", path=str(tmp_path / "missing.txt"))
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(ValueError, match="is empty"):
        make_task("text", path=str(empty))
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("caf\xe9 ".encode("latin-1") * 100)
    with pytest.raises(ValueError, match="not valid UTF-8"):
        make_task("text", path=str(latin))
    short = tmp_path / "short.txt"
    short.write_text("abc" * 20)
    with pytest.raises(ValueError, match="smaller seq_len"):
        make_task("text", path=str(short), seq_len=16)
