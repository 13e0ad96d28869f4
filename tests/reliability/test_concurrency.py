"""Processes that meet a study: a worker that dies before the start barrier, Optuna's own tools writing to a
live study, concurrent resumes with different targets, a remote PostgreSQL worker that dies before its first
heartbeat."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta

import optuna
import pytest
from faults import SEARCH, study_state
from search_helpers import ROOT, TINY, cli, cli_env, popen_cli, wait_for

from archsearch.search import check_journal, count_trials, journal_path, open_storage, run_search
from archsearch.search.recovery import OWNER_ATTR
from archsearch.search.worker import BARRIER_TIMEOUT_ENV, WORKER_FAULT_ENV

optuna.logging.set_verbosity(optuna.logging.WARNING)
# study.ask() on a storage with heartbeats (the tests play a remote worker by hand) warns that it is meant for
# Study.optimize
pytestmark = pytest.mark.filterwarnings("ignore:Heartbeat of storage")


def test_a_worker_dead_before_the_start_barrier_does_not_stall_the_others(tmp_path):
    """Worker 1 of 2 is killed as it starts: the parent aborts the barrier at once, a replacement runs, and
    the search ends with every trial finished. The barrier's timeout is raised to an hour, so only the abort
    can end the wait before the 10-minute limit of the run (not a timing claim: the old code hangs)."""
    env = {**cli_env(), WORKER_FAULT_ENV: "kill@1", BARRIER_TIMEOUT_ENV: "3600"}
    res = subprocess.run([sys.executable, "-m", "archsearch", "search", "--study", "s", "--results", str(tmp_path),
                          "--trials", "4", "--workers", "2", "--no-progress", *TINY], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    assert "4 of 4 trials finished" in res.stdout


def _running(path) -> bool:
    if not path.exists():
        return False
    ops = [json.loads(line) for line in path.read_bytes().splitlines() if line.endswith(b"}")]
    return any(op["op_code"] == 6 and op.get("state") == 0 for op in ops)  # a trial set RUNNING


def test_optuna_writes_to_a_live_study_at_once(tmp_path):
    """A plain Optuna client (its own lock, ``journal.log.lock``) writes a note while a search runs: it does not
    wait for archsearch's lock or delete it, and the search finishes with the note in its study."""
    proc = popen_cli("search", "--study", "s", "--results", str(tmp_path), "--trials", "6", "--no-progress",
                     "--steps", "60", *TINY[2:])
    path = journal_path(tmp_path / "s")
    try:
        wait_for(lambda: _running(path), timeout=180)
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        start = time.monotonic()
        study = optuna.load_study(study_name="s", storage=JournalStorage(JournalFileBackend(str(path))))
        study.set_user_attr("note", "written by plain Optuna during the search")
        took = time.monotonic() - start
        dashboard = _dashboard_reads_and_notes(study) if DASHBOARD else None
        out, err = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert took < 1, took  # Optuna's lock waits 30 s for a lock file of its name before deleting it
    assert proc.returncode == 0, err
    assert "6 of 6 trials finished" in out
    check_journal(path)
    again = optuna.load_study(study_name="s", storage=open_storage(None, tmp_path / "s", create=False))
    assert again.user_attrs["note"] == "written by plain Optuna during the search"
    assert count_trials(again)["finished"] == 6  # the exact count (a reused duplicate does not count)
    if dashboard is not None:
        read_s, note_s, detail = dashboard
        print(f"plain Optuna note {took:.3f} s; optuna-dashboard read {read_s:.3f} s, save_note {note_s:.3f} s")
        assert read_s < 1 and note_s < 1, dashboard[:2]
        assert detail["objective_names"] == ["mse"]  # set_metric_names: the dashboard labels the axis "mse"
        from optuna_dashboard import get_note

        assert get_note(again) == "written by optuna-dashboard during the search"


try:
    import optuna_dashboard  # noqa: F401 - the [dashboard] extra (and dev)

    DASHBOARD = True
except ImportError:  # the plain Optuna half of the test still runs
    DASHBOARD = False


def _dashboard_reads_and_notes(study) -> tuple[float, float, dict]:
    """optuna-dashboard on a running study, through its Python API: its web app (WSGI, called in-process) reads
    the study as the browser would, and ``save_note`` writes a study note. Returns both timings and the study's
    detail as the dashboard serves it."""
    import wsgiref.util

    import optuna_dashboard

    app = optuna_dashboard.wsgi(study._storage)

    def get(path: str) -> dict:
        env: dict = {}
        wsgiref.util.setup_testing_defaults(env)
        env["PATH_INFO"], _, env["QUERY_STRING"] = path.partition("?")
        status: list[str] = []
        body = b"".join(app(env, lambda s, headers, exc_info=None: status.append(s)))
        assert status[0].startswith("200"), (path, status, body[:300])
        return json.loads(body)

    start = time.monotonic()
    summaries = get("/api/studies")["study_summaries"]
    (sid,) = [s["study_id"] for s in summaries if s["study_name"] == "s"]
    detail = get(f"/api/studies/{sid}?after=0")
    read_s = time.monotonic() - start
    start = time.monotonic()
    optuna_dashboard.save_note(study, "written by optuna-dashboard during the search")
    return read_s, time.monotonic() - start, detail


def _resume_both(results, storage=None) -> list[subprocess.CompletedProcess]:
    args = ["search", "--study", "s", "--results", str(results), "--resume", "--no-progress", *TINY]
    if storage:
        args += ["--storage", storage]
    outcomes: list[subprocess.CompletedProcess] = []

    def run(trials: str) -> None:
        outcomes.append(cli(*args, "--trials", trials, timeout=600))

    threads = [threading.Thread(target=run, args=(n,)) for n in ("5", "7")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


@pytest.mark.parametrize("backend", ["journal", "postgresql"])
def test_concurrent_resumes_agree_on_one_target(request, tmp_path, backend):
    """Two resumes at once, one asking for 5 trials and one for 7: the target written last stands and both
    processes work to it (a worker re-reads it before every claim), so the study never runs past 7 (the old
    code: 12 or 14). If 7 came last, exactly 7 finish; if 5 came last, the trials already claimed for 7 still
    finish, and no more are claimed."""
    storage = request.getfixturevalue("postgres")("resumes") if backend == "postgresql" else None
    run_search(**{**SEARCH, "n_trials": 3}, storage=storage, results_dir=tmp_path)
    outcomes = _resume_both(tmp_path, storage)
    assert all(o.returncode == 0 for o in outcomes), [o.stderr for o in outcomes]
    state = study_state(tmp_path, storage=storage)
    assert state["target"] in (5, 7)
    assert state["target"] <= state["finished"] <= 7, state
    if state["target"] == 7:
        assert state["finished"] == 7, state
    assert "RUNNING" not in state["states"]


def test_postgres_remote_worker_dead_before_its_first_heartbeat(postgres, tmp_path):
    """A worker on another machine claimed a trial and died before its first heartbeat: no heartbeat row, an
    owner on another host (its liveness unknowable from here). Once the grace period has passed since the
    trial started, a resume fails and re-queues it, and ends with exactly the asked number of trials."""
    url = postgres("remote")
    run_search(**{**SEARCH, "n_trials": 3}, storage=url, results_dir=tmp_path)
    storage = open_storage(url, tmp_path / "s", create=False)
    study = optuna.load_study(study_name="s", storage=storage)
    trial = study.ask()
    storage.set_trial_system_attr(trial._trial_id, OWNER_ATTR, {"host": "another-machine", "pid": 4242,
                                                                  "start": 1, "boot": "x"})
    from sqlalchemy import text

    old = datetime.now() - timedelta(seconds=10 * storage.grace_period)
    with storage.engine.begin() as conn:  # it started long ago (the grace period is a minute)
        conn.execute(text("UPDATE trials SET datetime_start = :t WHERE trial_id = :i"),
                     {"t": old, "i": trial._trial_id})
    res = cli("search", "--study", "s", "--storage", url, "--results", str(tmp_path), "--resume", "--trials", "4",
              "--no-progress", *TINY)
    assert res.returncode == 0, res.stderr
    assert "4 of 4 trials finished" in res.stdout
    state = study_state(tmp_path, storage=url)
    assert state["finished"] == 4 and "RUNNING" not in state["states"] and "FAIL" in state["states"]


def test_postgres_remote_worker_within_the_grace_is_left_running(postgres, tmp_path):
    """The negative control: a remote trial that started just now is not taken from its worker."""
    url = postgres("fresh")
    run_search(**{**SEARCH, "n_trials": 3}, storage=url, results_dir=tmp_path)
    storage = open_storage(url, tmp_path / "s", create=False)
    study = optuna.load_study(study_name="s", storage=storage)
    trial = study.ask()
    storage.set_trial_system_attr(trial._trial_id, OWNER_ATTR, {"host": "another-machine", "pid": 4242,
                                                                  "start": 1, "boot": "x"})
    from archsearch.search import recover_stale_trials

    assert recover_stale_trials(study, storage) == []
    assert storage.get_trial(trial._trial_id).state.name == "RUNNING"
