"""No printed output of any command contains a password, in any form a URL can carry it: the user part, a
raw '@' inside it, ``password=`` and ``sslpassword=`` query parameters, a malformed port, a libpq key=value
string, an unsupported scheme — against a closed port (every error path) and a real server (every success
path: summaries, leaderboards, exports)."""

from __future__ import annotations

import socket

import pytest
from search_helpers import TINY, cli

from archsearch.search.storage import hide_password

SECRET = "s3cr3tPW"
FRAGMENTS = ("s3cr", "3tPW", "cr3t", "cr@3")  # the raw-'@' form is "s3cr@3tPW": neither half may show


def forms(host: str, db: str) -> dict[str, str]:
    return {
        "user-part": f"postgresql://postgres:{SECRET}@{host}/{db}",
        "raw-at": f"postgresql://postgres:s3cr@3tPW@{host}/{db}",
        "query": f"postgresql://postgres@{host}/{db}?password={SECRET}",
        "ssl-query": f"postgresql+psycopg2://postgres:{SECRET}@{host}/{db}?sslpassword={SECRET}&application_name=x",
        "percent": f"postgresql://postgres:s3cr%403tPW@{host}/{db}",
        "bad-port": f"postgres://postgres:{SECRET}@{host.split(':')[0]}:notaport/{db}",
        "libpq": f"host={host.split(':')[0]} dbname={db} password={SECRET}",
        "mysql": f"mysql://u:{SECRET}@{host}/{db}",
    }


def assert_hidden(*texts: str) -> None:
    for text in texts:
        for fragment in FRAGMENTS:
            assert fragment not in text, text[-3000:]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("name", list(forms("h:1", "d")))
def test_hide_password(name):
    shown = hide_password(forms("127.0.0.1:5432", "db")[name])
    assert_hidden(shown)
    assert "***" in shown


@pytest.mark.parametrize("name", list(forms("h:1", "d")))
def test_every_command_on_an_unreachable_server(run, tmp_path, name):
    url = forms(f"127.0.0.1:{_closed_port()}", "db")[name]
    results = str(tmp_path / "r")
    commands = [
        ["search", "--storage", url, "--results", results, "--trials", "1", *TINY],
        ["search", "--storage", url, "--results", results, "--resume", "--study", "s"],
        ["worker", "--study", "s", "--storage", url, "--results", results],
        ["confirm", "--study", "s", "--storage", url, "--results", results],
        ["leaderboard", "--study", "s", "--storage", url, "--results", results],
        ["export", "--study", "s", "--storage", url, "--results", results, "--out", str(tmp_path / "m.py")],
    ]
    for command in commands:
        res = run(*command)
        assert res.code == 2, (command[0], res.err)
        assert len(res.err.strip().splitlines()) == 1, res.err
        assert_hidden(res.out, res.err)
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_every_command_on_a_real_server(run, postgres, tmp_path):
    """Trust authentication ignores the password, so each URL form connects (a raw '@' in the password is
    percent-encoded first: a host name never has one): search, leaderboard, export, worker and confirm print
    summaries, tables and errors — none with the password. The searches run as subprocesses, so that whatever
    a library logs straight to the process's stderr is checked too."""
    base = postgres("pw")
    host = base.split("@", 1)[1].split("/", 1)[0]
    worked = 0
    for i, (name, url) in enumerate(forms(host, "pw").items()):
        results = str(tmp_path / name)
        study = f"s{i}"
        searched = cli("search", "--study", study, "--storage", url, "--results", results, "--trials", "1",
                       "--no-baseline", "--no-progress", *TINY)
        assert_hidden(searched.stdout, searched.stderr)
        if searched.returncode != 0:
            assert name in ("bad-port", "libpq", "mysql"), (name, searched.stderr)
            continue
        worked += 1
        for command in (["leaderboard", "--study", study], ["export", "--study", study, "--out",
                                                             str(tmp_path / f"{name}.py")],
                        ["worker", "--study", study, "--max-trials", "1"],
                        ["confirm", "--study", study, "--top", "1", "--seeds", "1"]):
            res = run(*command, "--storage", url, "--results", results)
            assert res.code == 0, (name, command[0], res.err)
            assert_hidden(res.out, res.err)
        assert_hidden((tmp_path / f"{name}.py").read_text())
    assert worked == 5  # user-part, raw-at, query, ssl-query, percent
