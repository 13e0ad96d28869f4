"""A full or read-only disk: one line, exit 2, the journal left readable, and the study resumes once there is
space again. The real cases run in a private mount namespace (``unshare --user --map-root-user --mount``): a
small tmpfs that fills up, and a bind mount of the results directory made read-only. They skip where user
namespaces are not allowed; the patched-writer cases (the fault hook) run everywhere."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys

import pytest
from faults import study_state
from search_helpers import ROOT, TINY, cli, cli_env

from archsearch.search import check_journal, journal_path

SEARCH = ["--study", "s", "--trials", "3", "--no-progress", *TINY]


def _one_line(res, command: str, *needles: str) -> str:
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    assert lines[0].startswith(f"archsearch {command}: error: "), lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_cli_disk_full_mid_trial_is_one_line_and_resumes(tmp_path):
    """The disk fills half-way through an append during the second trial (a patched writer)."""
    env = {**cli_env(), "ARCHSEARCH_FAULT_JOURNAL": "enospc@30"}
    full = subprocess.run([sys.executable, "-m", "archsearch", "search", "--results", str(tmp_path), *SEARCH],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    line = _one_line(full, "search", "no space left on device", "the study is intact",
                     "free space and run the same command with --resume")
    assert str(journal_path(tmp_path / "s")) in line
    raw = journal_path(tmp_path / "s").read_bytes()
    assert not raw.endswith(b"\n")  # the partial entry the full disk left
    check_journal(journal_path(tmp_path / "s"))  # still readable
    board = cli("leaderboard", "--study", "s", "--results", str(tmp_path))
    assert board.returncode == 0, board.stderr  # and the trials before it are there to see
    resumed = cli("search", "--results", str(tmp_path), "--resume", *SEARCH)
    assert resumed.returncode == 0, resumed.stderr
    assert "removed an incomplete last entry" in resumed.stderr
    assert "3 of 3 trials finished" in resumed.stdout
    state = study_state(tmp_path)
    assert state["finished"] == 3 and "RUNNING" not in state["states"]


def _namespace_script(script: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run a shell script as root of a private user + mount namespace (mounts vanish with it)."""
    if shutil.which("unshare") is None:
        pytest.skip("no unshare(1) here")
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
                            "mount -t tmpfs -o size=64k tmpfs /mnt 2>&1 || mount -t tmpfs -o size=64k tmpfs /tmp"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"user and mount namespaces are not allowed here: {probe.stderr.strip()[:200]}")
    return subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script], cwd=ROOT,
                          env=cli_env(), capture_output=True, text=True, timeout=timeout)


def _archsearch(*args: str) -> str:
    return " ".join(shlex.quote(a) for a in [sys.executable, "-m", "archsearch", *args])


def test_real_full_disk_then_space_freed(tmp_path):
    """A 1 MiB tmpfs, all but 24 KiB taken by another file: the search runs out of space (the journal or a
    trial's weights), says so on one line, and resumes to 3 finished trials once the other file is gone."""
    disk = tmp_path / "disk"
    disk.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    search = _archsearch("search", "--results", str(disk), *SEARCH)
    script = "\n".join([
        "set -u",
        f"mount -t tmpfs -o size=1m tmpfs {disk}",
        f"dd if=/dev/zero of={disk}/filler bs=4k count=250 2>/dev/null",
        f"{search} > {out}/full.out 2> {out}/full.err; echo $? > {out}/full.rc",
        f"cp {disk}/s/journal.log {out}/journal.full 2>/dev/null",
        f"rm {disk}/filler",
        f"{search} --resume > {out}/resume.out 2> {out}/resume.err; echo $? > {out}/resume.rc",
        f"cp {disk}/s/journal.log {out}/journal.after",
    ])
    done = _namespace_script(script)
    assert done.returncode == 0, done.stderr
    err = (out / "full.err").read_text()
    assert (out / "full.rc").read_text().strip() == "2", err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "no space left on device (the study is intact" in lines[0], err
    assert (out / "resume.rc").read_text().strip() == "0", (out / "resume.err").read_text()
    assert "3 of 3 trials finished" in (out / "resume.out").read_text()
    check_journal(out / "journal.after")
    entries = [json.loads(line) for line in (out / "journal.after").read_text().splitlines()]
    finished = {e["trial_id"] for e in entries if e["op_code"] == 6 and e.get("state") in (1, 2)}
    assert len(finished) >= 3


def test_read_only_results_are_one_line_and_readable(tmp_path):
    """A study on a file system that became read-only: search --resume, worker and confirm say so on one
    line (exit 2); leaderboard still reads it."""
    assert cli("search", "--results", str(tmp_path), *SEARCH).returncode == 0
    out = tmp_path.parent / f"{tmp_path.name}-out"
    out.mkdir()
    commands = {
        "resume": ("search", _archsearch("search", "--results", str(tmp_path), "--resume", *SEARCH[:2],
                                         "--trials", "4", "--no-progress")),
        "worker": ("worker", _archsearch("worker", "--study", "s", "--results", str(tmp_path), "--threads", "1")),
        "confirm": ("confirm", _archsearch("confirm", "--study", "s", "--results", str(tmp_path), "--top", "1",
                                           "--seeds", "1")),
        "leaderboard": ("leaderboard", _archsearch("leaderboard", "--study", "s", "--results", str(tmp_path))),
    }
    script = [f"mount --bind {tmp_path} {tmp_path}", f"mount -o remount,bind,ro {tmp_path}"]
    for name, (_, cmd) in commands.items():
        script.append(f"{cmd} > {out}/{name}.out 2> {out}/{name}.err; echo $? > {out}/{name}.rc")
    before = journal_path(tmp_path / "s").read_bytes()
    done = _namespace_script("\n".join(script))
    assert done.returncode == 0, done.stderr
    for name, (command, _) in commands.items():
        rc = (out / f"{name}.rc").read_text().strip()
        err = (out / f"{name}.err").read_text()
        if name == "leaderboard":
            assert rc == "0", err
            continue
        assert rc == "2", (name, rc, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"archsearch {command}: error: "), (name, err)
        assert "read-only file system" in lines[0], (name, err)
    assert journal_path(tmp_path / "s").read_bytes() == before
