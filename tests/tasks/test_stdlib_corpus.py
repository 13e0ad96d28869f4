"""The standard-library corpus (archsearch.tasks.corpus) and the text task's corpus=stdlib / level=byte modes."""

from __future__ import annotations

import hashlib
import os
import platform
import sysconfig
from pathlib import Path

import pytest
import torch

from archsearch.tasks import corpus, make_task
from archsearch.tasks.corpus import SEPARATOR, file_split, load_stdlib, stdlib_files

EVERYTHING = 10**9  # a cap that holds the whole library


def _write(root: Path, rel: str, data: bytes) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _names(split: str, count: int, prefix: str) -> list[str]:
    """``count`` file names that the hash rule puts in ``split``, in sorted order."""
    found = [f"{prefix}{i:03d}.py" for i in range(400) if file_split(f"{prefix}{i:03d}.py") == split]
    return sorted(found)[:count]


# ---- the files ------------------------------------------------------------------------------------------------
def test_walk_keeps_library_sources_only(tmp_path):
    kept = ["a.py", "idlelib/editor.py", "pkg/__init__.py", "pkg/mod.py", "pkg/sub/deep.py"]
    dropped = ["pkg/data.txt", "test/test_os.py", "test/support/helper.py", "pkg/tests/test_mod.py",
               "idlelib/idle_test/test_editor.py", "lib2to3/tests/data/fixer.py", "__pycache__/a.py",
               "pkg/__pycache__/mod.py", "site-packages/third.py", "dist-packages/debian.py",
               "config-3.11-x86_64-linux-gnu/python-config.py", "_sysconfigdata__linux_x86_64-linux-gnu.py"]
    for rel in kept + dropped:
        _write(tmp_path, rel, b"x = 1\n")
    os.symlink(tmp_path / "a.py", tmp_path / "link.py")  # not a regular file
    os.symlink(tmp_path / "pkg", tmp_path / "linked_pkg")  # a linked directory is not followed
    assert stdlib_files(tmp_path) == sorted(kept)


def test_split_is_a_hash_of_the_relative_path():
    for rel in ("os.py", "asyncio/events.py", "email/mime/text.py"):
        bucket = int.from_bytes(hashlib.sha256(f"archsearch/stdlib/{rel}".encode()).digest()[:8], "little") % 20
        assert file_split(rel) == {0: "val", 1: "test"}.get(bucket, "train")
    names = stdlib_files(Path(sysconfig.get_paths()["stdlib"]))
    counts = {s: sum(file_split(n) == s for n in names) for s in ("train", "val", "test")}
    assert len(names) > 200
    for split in ("val", "test"):  # about 1/20 of the files each
        assert 0.02 * len(names) < counts[split] < 0.09 * len(names), counts


def test_cap_takes_whole_files_first_fit_in_sorted_order(tmp_path):
    t1, t2, t3, t4 = _names("train", 4, "t")
    v1, v2 = _names("val", 2, "v")
    sizes = {t1: 300, t2: 500, t3: 100, t4: 50, v1: 60, v2: 40}
    for i, (rel, size) in enumerate(sizes.items()):
        _write(tmp_path, rel, bytes([97 + i]) * (size - 1) + b"\n")
    # max_bytes 1000: train room 900 → t1 (301), t2 (501) fit, t3 (101) does not, t4 (51) does; val room 50 → v2
    got = load_stdlib(1000, root=tmp_path)
    assert got.files == {"train": (t1, t2, t4), "val": (v2,), "test": ()}
    assert got.parts["train"] == b"".join((tmp_path / f).read_bytes() + SEPARATOR for f in (t1, t2, t4))
    assert got.parts["val"] == (tmp_path / v2).read_bytes() + SEPARATOR and got.parts["test"] == b""
    assert len(got.parts["train"]) <= 900
    whole = load_stdlib(EVERYTHING, root=tmp_path)
    assert whole.files == {"train": (t1, t2, t3, t4), "val": (v1, v2), "test": ()}


# ---- the real library ----------------------------------------------------------------------------------------
def test_stdlib_corpus_is_split_by_file():
    got = load_stdlib(EVERYTHING)
    root = Path(sysconfig.get_paths()["stdlib"])
    names = stdlib_files(root)
    files = {s: set(got.files[s]) for s in ("train", "val", "test")}
    assert files["train"] | files["val"] | files["test"] == set(names)  # the cap holds everything
    assert not (files["train"] & files["val"] or files["train"] & files["test"] or files["val"] & files["test"])
    for split in ("train", "val", "test"):
        assert list(got.files[split]) == sorted(got.files[split])
        assert all(file_split(f) == split for f in got.files[split])
        assert got.parts[split] == b"".join((root / f).read_bytes() + SEPARATOR for f in got.files[split])
    # os.py: its whole source is in exactly one split
    source = (root / "os.py").read_bytes()
    holders = [s for s in ("train", "val", "test") if source in got.parts[s]]
    assert holders == [file_split("os.py")] and "os.py" in got.files[holders[0]]
    info = got.describe()
    assert info["python"] == f"{platform.python_implementation()} {platform.python_version()}"
    assert info["files"] == {s: len(got.files[s]) for s in got.files} and sum(info["files"].values()) == len(names)
    assert info["bytes"] == {s: len(got.parts[s]) for s in got.parts}


def test_stdlib_corpus_is_deterministic():
    first = load_stdlib(EVERYTHING).describe()
    corpus._load.cache_clear()  # a second construction from the files, not the cached object
    second = load_stdlib(EVERYTHING).describe()
    assert first == second and len(first["sha256"]) == 64


def test_text_task_on_stdlib():
    task = make_task("text", corpus="stdlib", seq_len=32, eval_size=64)
    assert task.causal and task.level == "byte" and task.vocab == 256
    assert task.metric_name == "bpb" and task.direction == "minimize" and task.describe()["metric"] == "bpb"
    parts = task.corpus.parts
    assert {s: hi - lo for s, (lo, hi) in task.bounds.items()} == {s: len(p) for s, p in parts.items()}
    batch = task.batch("train", 32, torch.Generator().manual_seed(0))
    assert batch["inputs"].shape == batch["targets"].shape == (32, 32)
    assert torch.equal(batch["inputs"][:, 1:], batch["targets"][:, :-1])
    for window in torch.cat([batch["inputs"], batch["targets"][:, -1:]], dim=1):
        assert bytes(window.tolist()) in parts["train"]  # every training window lies inside the train files
    val = task.dataset("val")
    assert val["inputs"].shape == (64, 32)
    assert bytes(val["inputs"][0].tolist()) == parts["val"][:32]  # consecutive windows from the start of val
    assert bytes(val["inputs"][1].tolist()) == parts["val"][32:64]
    uniform = torch.zeros(64, 32, 256)
    assert task.metric(uniform, val) == pytest.approx(8.0, rel=1e-6)  # log2(256) bits per byte
    data = task.describe()["data"]
    assert data["corpus"] == "stdlib" and data["python"].endswith(platform.python_version())
    assert data["tokens"] == data["bytes"] and data["files"]["test"] > 0 and data["max_bytes"] == 32_000_000
    # two constructions: the same held-out sets and, for one generator seed, the same training batches
    other = make_task("text", corpus="stdlib", seq_len=32, eval_size=64)
    assert torch.equal(other.dataset("test")["inputs"], task.dataset("test")["inputs"])
    again = other.batch("train", 32, torch.Generator().manual_seed(0))
    assert torch.equal(again["inputs"], batch["inputs"])


def test_stdlib_cap_and_char_level():
    small = make_task("text", corpus="stdlib", max_bytes=400_000, seq_len=32, eval_size=8)
    sizes = small.describe()["data"]["bytes"]
    assert sizes["train"] <= 360_000 and sizes["val"] <= 20_000 and sizes["test"] <= 20_000
    assert sizes["val"] > 33 and sizes["test"] > 33
    chars = make_task("text", corpus="stdlib", level="char", max_bytes=400_000, seq_len=32, eval_size=8)
    assert chars.metric_name == "bpc" and chars.vocab == len(chars.chars) < 256
    assert chars.decode(chars.dataset("val")["inputs"][0]) == small.corpus.parts["val"][:32].decode()


def test_byte_level_file(tmp_path):
    raw = "caf\xe9 au lait; ".encode("latin-1") * 100  # not UTF-8: fine at the byte level
    path = tmp_path / "latin1.txt"
    path.write_bytes(raw)
    task = make_task("text", path=str(path), level="byte", seq_len=8, eval_size=1000)
    assert task.vocab == 256 and task.metric_name == "bpb" and task.chars is None
    n = len(raw)
    assert task.bounds == {"train": (0, int(0.9 * n)), "val": (int(0.9 * n), int(0.95 * n)), "test": (int(0.95 * n), n)}
    first = task.dataset("val")["inputs"][0]
    assert bytes(first.tolist()) == raw[int(0.9 * n) : int(0.9 * n) + 8]
    assert task.decode(first) == raw[int(0.9 * n) : int(0.9 * n) + 8].decode("utf-8", errors="replace")


# ---- errors ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("options", "match"), [
    ({}, "needs a file or a corpus"),
    ({"path": "a.txt", "corpus": "stdlib"}, "give path or corpus, not both"),
    ({"corpus": "wikipedia"}, r"unknown corpus 'wikipedia' \(known: stdlib\)"),
    ({"corpus": "stdlib", "level": "word"}, r"unknown level 'word' \(known: byte, char\)"),
    ({"path": "a.txt", "max_bytes": 1000}, "max_bytes caps a corpus"),
    ({"corpus": "stdlib", "max_bytes": 0}, "max_bytes must be an integer >= 1, not 0"),
    ({"corpus": "stdlib", "max_bytes": "lots"}, "max_bytes must be an integer, not 'lots'"),
    ({"corpus": "stdlib", "max_bytes": 1e6}, "max_bytes must be an integer"),
    ({"corpus": "stdlib", "seq_len": "long"}, "option seq_len must be an integer, not .long."),
    ({"path": 7}, "option path must be a string, not 7"),
    ({"corpus": "stdlib", "max_bytes": 2000}, "the val part of corpus=stdlib has .* bytes.*raise max_bytes"),
])
def test_text_option_errors(options, match):
    with pytest.raises(ValueError, match=match):
        make_task("text", **options)


def test_missing_or_empty_stdlib_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus, "stdlib_root", lambda: tmp_path / "nowhere")
    with pytest.raises(ValueError, match="corpus=stdlib: the standard library directory .*nowhere.* does not exist"):
        make_task("text", corpus="stdlib")
    (tmp_path / "empty" / "test").mkdir(parents=True)
    _write(tmp_path / "empty", "test/test_only.py", b"pass\n")  # tests are not part of the corpus
    monkeypatch.setattr(corpus, "stdlib_root", lambda: tmp_path / "empty")
    with pytest.raises(ValueError, match=r"corpus=stdlib: no Python source files under .*empty. \(an empty corpus\)"):
        make_task("text", corpus="stdlib")
