"""Shared fixtures: ``run`` (the CLI in-process); the session's small studies (tests/report/results_helpers.py,
built once per test session and xdist worker) for tests/report, tests/export and tests/cli; a throw-away
PostgreSQL server for tests/search and tests/reliability; the known-field Euler step check of
tests/train/train_helpers.py, which tests/export runs on the exported copy."""

import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

for _helpers in (str(Path(__file__).parent / name) for name in ("report", "train", "helpers")):
    if _helpers not in sys.path:
        sys.path.insert(0, _helpers)

import results_helpers  # noqa: E402


@pytest.fixture(scope="session")
def results(tmp_path_factory):
    """A results directory with the studies of results_helpers.STUDIES (read only: copy before changing)."""
    return results_helpers.results_dir(tmp_path_factory)


@pytest.fixture(autouse=True)
def _fresh_caches_under_mutation():
    """Under mutmut (MUTANT_UNDER_TEST set) each mutant's tests run in a child forked from a process whose
    module caches hold what the unmutated code computed: empty them, or a mutant behind a cache never runs."""
    if os.environ.get("MUTANT_UNDER_TEST"):
        dict_caches = (("_CACHE", "archsearch.enumeration.diagrams"), ("_PAIR_SCORES", "archsearch.compiler.order"))
        for attr, module_name in dict_caches:
            module = sys.modules.get(module_name)
            if module is not None:
                getattr(module, attr).clear()
        for name, module in list(sys.modules.items()):  # every lru_cache of the compiler (plan, order, cores, …)
            if name.startswith("archsearch.compiler") and module is not None:
                for value in vars(module).values():
                    if callable(getattr(value, "cache_clear", None)):
                        value.cache_clear()
    yield


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    if found:
        return Path(found[0]).parent
    which = shutil.which("pg_ctl")
    return Path(which).parent if which else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", "postgres", "--", *cmd]
    return ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(cmd)]


@pytest.fixture(scope="module")
def postgres():
    """A throw-away PostgreSQL server on 127.0.0.1 (initdb + pg_ctl in a temp dir); yields a URL factory.

    Skips when the server binaries are missing (.ci/run installs them) or the server cannot start here.
    """
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found; .ci/run installs the postgresql package")
    pytest.importorskip("psycopg2")
    if os.geteuid() == 0:
        try:
            import pwd

            pw = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run the server as")
    base = Path(tempfile.mkdtemp(prefix="archsearch-pg-"))
    if os.geteuid() == 0:
        os.chown(base, pw.pw_uid, pw.pw_gid)
    data, port = base / "data", _free_port()
    init = subprocess.run(_as_postgres([str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                                        "--no-sync"]), capture_output=True, text=True)
    if init.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"initdb failed: {init.stderr.strip()[:300]}")
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {base} -c fsync=off -c max_connections=50"
    start = subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l",
                                         str(base / "server.log"), "-w", "-t", "60", "start"]),
                           capture_output=True, text=True)
    if start.returncode != 0:
        log = (base / "server.log").read_text(errors="replace")[-300:] if (base / "server.log").exists() else ""
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"pg_ctl start failed: {start.stderr.strip()[:200]} {log}")

    import psycopg2

    def make_db(name: str) -> str:
        conn = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres")
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        conn.close()
        return f"postgresql://postgres@127.0.0.1:{port}/{name}"

    try:
        yield make_db
    finally:
        subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]),
                       capture_output=True, text=True)
        shutil.rmtree(base, ignore_errors=True)


REPO = Path(__file__).resolve().parents[1]


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


@pytest.fixture
def run(capsys, monkeypatch):
    """Run the CLI in-process from the repository root; return exit code, stdout, stderr."""
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("COLUMNS", "200")

    def _run(*args: str) -> Result:
        from archsearch.cli import main

        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return _run
