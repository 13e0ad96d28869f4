"""A search killed at any journal operation loses nothing: after the kill, ``--resume`` (or, for a study
killed before its creation finished, the same command again) ends with exactly the asked number of finished
trials, no configuration trained twice, nothing left running, exit 0.

The fault hook kills the search process at its k-th journal append — right after it (``kill``), or half-way
through writing it (``torn``: the journal ends in a partial line) — or makes the disk full half-way through
it (``enospc``: a one-line error, exit 2). Every k of a 3-trial search is tried in turn."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest
from faults import MAX_APPENDS, TRIALS, journal_lines, search, study_state
from search_helpers import ROOT, TINY, cli, cli_env

from archsearch.search import check_journal, journal_path

ASK_AGAIN = ("no study named", "start it again")  # killed before the study existed as one: run it again


def recover(results, **changes):
    """``search --resume``; a study whose creation was cut short is started again by the same command."""
    code, message = search(results, resume=True, **changes)
    if code == 2 and any(s in message for s in ASK_AGAIN):
        code, message = search(results, **changes)
    return code, message


def check_exact(results, target: int = TRIALS) -> dict:
    state = study_state(results)
    assert state["finished"] == target, state
    assert len(set(state["candidates"])) == target, state  # no configuration trained twice
    assert "RUNNING" not in state["states"], state  # (a baseline beyond the target may stay queued)
    assert state["numbers"] == list(range(len(state["numbers"]))), state
    return state


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["kill", "torn", "enospc"])
def test_a_fault_at_every_journal_append_then_resume(warm, tmp_path, kind):
    tried = 0
    for k in range(1, MAX_APPENDS):
        results = tmp_path / f"{kind}{k}"
        code, message = search(results, fault=f"{kind}@{k}")
        if code == 0:  # fewer than k appends: every point has been tried, and this run was whole
            check_exact(results)
            break
        if kind == "enospc":
            assert code == 2 and "no space left on device" in message and "the study is intact" in message, \
                (k, code, message)
        else:
            assert code == -signal.SIGKILL, (k, code, message)
        if journal_path(results / "s").exists():
            check_journal(journal_path(results / "s"))  # readable as it was left: at most a torn last line
        code, message = recover(results)
        assert code == 0, (kind, k, message)
        check_exact(results)
        tried += 1
    else:
        pytest.fail(f"the search still appended after {MAX_APPENDS} entries")
    assert tried >= 40, tried  # a 3-trial search appends ~60 entries: the loop really reached them


def _first(results, op_code: int, after: int = 0) -> int:
    """The 1-based append number of the first journal entry with ``op_code`` after append ``after``."""
    lines = journal_path(results / "s").read_text().splitlines()
    return next(i for i, line in enumerate(lines, start=1) if i > after and json.loads(line)["op_code"] == op_code)


def test_kill_between_claim_and_owner_record_then_resume_with_more_trials(warm, tmp_path):
    """Killed after a trial is claimed (RUNNING) and before its owner record: the trial has no owner. It is
    stale at once (under the claim lock a claim and its owner record are never apart), so a resume that asks
    for 5 trials ends with 5 finished — not "3 of 8" with the rest left RUNNING for 300 s."""
    assert search(tmp_path / "plain")[0] == 0
    claim = _first(tmp_path / "plain", 6, after=_first(tmp_path / "plain", 2))  # first RUNNING after settings
    assert json.loads(journal_path(tmp_path / "plain" / "s").read_text().splitlines()[claim]).get("op_code") == 9
    code, _ = search(tmp_path / "r", fault=f"kill@{claim}")
    assert code == -signal.SIGKILL
    assert study_state(tmp_path / "r")["states"].count("RUNNING") == 1
    code, message = search(tmp_path / "r", resume=True, n_trials=5)
    assert code == 0, message
    check_exact(tmp_path / "r", 5)


def test_cli_kill_during_creation_resume_says_what_to_do(tmp_path):
    """Killed between creating the study and writing its settings: ``--resume`` says to start it again (one
    line, exit 2), and the same command without --resume does."""
    args = ["search", "--study", "s", "--results", str(tmp_path), "--trials", "2", "--no-progress", *TINY]
    env = {**cli_env(), "ARCHSEARCH_FAULT_JOURNAL": "kill@2"}
    killed = subprocess.run([sys.executable, "-m", "archsearch", *args], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=240)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert journal_lines(tmp_path) == 2
    resumed = cli(*args, "--resume")
    assert resumed.returncode == 2 and len(resumed.stderr.strip().splitlines()) == 1, resumed.stderr
    assert "interrupted while it was being created" in resumed.stderr and "without --resume" in resumed.stderr
    again = cli(*args)
    assert again.returncode == 0, again.stderr
    assert "2 of 2 trials finished" in again.stdout
    check_exact(tmp_path, 2)
