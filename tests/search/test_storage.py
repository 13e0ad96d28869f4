"""Storage: the default journal file, refused URLs, an unreachable database, corrupt journals left unchanged."""

from __future__ import annotations

import json
import multiprocessing
import socket
import time

import optuna
import pytest
from search_helpers import hold_claim_lock

from archsearch.search import StorageError, StudyError, check_journal, claim_lock, journal_path, open_storage

optuna.logging.set_verbosity(optuna.logging.WARNING)


def test_default_is_a_journal_file_in_the_study_dir(tmp_path):
    storage = open_storage(None, tmp_path / "s")
    assert isinstance(storage, optuna.storages.JournalStorage)
    study = optuna.create_study(study_name="s", storage=storage)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    path = journal_path(tmp_path / "s")
    assert path.exists() and check_journal(path) > 3
    again = optuna.load_study(study_name="s", storage=open_storage(None, tmp_path / "s", create=False))
    assert len(again.trials) == 3


def test_missing_journal_without_create(tmp_path):
    with pytest.raises(StudyError, match="no study journal"):
        open_storage(None, tmp_path / "nothing", create=False)
    assert not (tmp_path / "nothing").exists()


@pytest.mark.parametrize("url", ["sqlite:///x.db", "mysql://u:secret@host/db", "random text", "redis://host",
                                 "postgresq://host/db"])
def test_unsupported_urls_are_refused_in_one_line(tmp_path, url):
    with pytest.raises(StorageError) as info:
        open_storage(url, tmp_path / "s")
    msg = str(info.value)
    assert "\n" not in msg and "unsupported storage URL" in msg and "postgresql://" in msg
    assert "secret" not in msg  # passwords are never printed
    assert not (tmp_path / "s").exists()


def test_unreachable_database_is_a_quick_one_line_error(tmp_path):
    with socket.socket() as s:  # a local port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    pytest.importorskip("psycopg2")
    start = time.monotonic()
    with pytest.raises(StorageError) as info:
        open_storage(f"postgresql://user:hunter2@127.0.0.1:{port}/db", tmp_path / "s")
    msg = str(info.value)
    assert time.monotonic() - start < 30
    assert msg.startswith("cannot connect to postgresql://user:***@127.0.0.1") and "\n" not in msg
    assert "hunter2" not in msg


GOOD = json.dumps({"op_code": 0, "worker_id": "w", "study_name": "s", "directions": [1]}) + "\n"
CORRUPT = {
    "binary": b"\x00\xff\xfe garbage\n" + GOOD.encode(),
    "not-json": GOOD.encode() + b"this is not json\n",
    "torn-inside": GOOD.encode() + GOOD.encode()[:20] + b"\n" + GOOD.encode(),  # a cut-short entry, then more
    "wrong-shape": GOOD.encode() + b'{"hello": "world"}\n',
    "list": b"[1, 2, 3]\n",
    "bad-op": GOOD.encode() + b'{"op_code": 99, "worker_id": "w"}\n',
    "inconsistent": GOOD.encode() + b'{"op_code": 0, "worker_id": "w"}\n',  # create-study without a name
}


@pytest.mark.parametrize("kind", sorted(CORRUPT))
def test_corrupt_journal_is_refused_and_left_unchanged(tmp_path, kind):
    path = journal_path(tmp_path / "s")
    path.parent.mkdir()
    path.write_bytes(CORRUPT[kind])
    with pytest.raises(StorageError) as info:
        open_storage(None, tmp_path / "s", create=False)
    msg = str(info.value)
    assert "\n" not in msg and str(path) in msg and "corrupt" in msg and "unchanged" in msg
    assert path.read_bytes() == CORRUPT[kind]


def test_torn_last_entry_is_ignored_then_removed_at_the_next_append(tmp_path, capfd):
    """A kill or a full disk in the middle of an append leaves an incomplete last line: readers skip it (as
    Optuna's reader does), the next append cuts it off first (else it would glue a whole entry to the partial
    one, corrupting the file), with a warning."""
    storage = open_storage(None, tmp_path / "s")
    study = optuna.create_study(study_name="s", storage=storage)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    path = journal_path(tmp_path / "s")
    whole = path.read_bytes()
    path.write_bytes(whole + b'{"op_code": 5, "worker_id": "w", "tri')
    torn: list[int] = []
    assert check_journal(path, torn) == whole.count(b"\n") and torn == [whole.count(b"\n") + 1]
    again = optuna.load_study(study_name="s", storage=open_storage(None, tmp_path / "s", create=False))
    assert len(again.trials) == 2
    again.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    assert path.read_bytes().startswith(whole) and path.read_bytes().endswith(b"\n")
    assert check_journal(path) > whole.count(b"\n")
    assert "removed an incomplete last entry" in capfd.readouterr().err
    assert len(optuna.load_study(study_name="s", storage=open_storage(None, tmp_path / "s", create=False)).trials) == 3


def _holder(study_dir):
    """A spawned process that holds the study's claim lock (for a second) by the time this returns."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=hold_claim_lock, args=(str(study_dir), queue))
    proc.start()
    queue.get(timeout=60)
    return proc


def test_claim_lock_excludes_other_processes(tmp_path):
    storage = open_storage(None, tmp_path / "s")
    proc = _holder(tmp_path / "s")
    start = time.monotonic()
    with claim_lock(storage, tmp_path / "s", "s"):
        waited = time.monotonic() - start
    proc.join(30)
    assert waited > 0.5 and proc.exitcode == 0


def test_claim_lock_of_a_killed_holder_is_released(tmp_path):
    storage = open_storage(None, tmp_path / "s")
    proc = _holder(tmp_path / "s")
    proc.kill()
    proc.join(30)
    start = time.monotonic()
    with claim_lock(storage, tmp_path / "s", "s"):
        pass
    assert time.monotonic() - start < 5
