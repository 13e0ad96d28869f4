"""Where a study lives: a journal file under results/<study>/ (default) or a PostgreSQL database.

- No URL: ``JournalStorage`` on ``results/<study>/journal.log``, Optuna's recommendation for several
  processes on one machine (SQLite is not: "database is locked" under concurrent writers). Appends are
  locked with ``fcntl.flock`` on ``journal.log.archsearch-lock`` — a name of its own, so that Optuna's tools
  (optuna-dashboard, a plain ``optuna.load_study``), whose lock is ``journal.log.lock``, can write to a
  running study without waiting for or deleting archsearch's lock (each append is one ``write`` of whole
  lines to a file opened for appending, which the kernel does not interleave). The kernel releases a flock
  when its holder is killed, so a ``kill -9`` never leaves a stale lock behind. The file is validated
  before use: a corrupt journal is refused with a one-line error and never written to; an incomplete last
  line (an append cut short by a full disk or a kill) is ignored by readers, as Optuna's reader does, and
  removed, with a warning, before the next append.
- ``postgresql://user:password@host:port/db``: ``RDBStorage`` with heartbeats (a trial whose worker stops
  beating for ``grace_period`` seconds is failed and re-queued by ``RetryHeartbeatStaleTrialCallback``), for
  workers on several machines. A short connect timeout: an unreachable server is a one-line error, not a hang.
- Anything else (``sqlite:``, ``mysql:``, a typo) is refused with a one-line error.

Optuna and SQLAlchemy are imported inside the functions: importing this module is cheap.
"""

from __future__ import annotations

import json
import os
import re
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from archsearch.search.errors import StorageError, StudyError, disk_error

JOURNAL_NAME = "journal.log"
CLAIM_SUFFIX = ".claim"
LOCK_SUFFIX = ".archsearch-lock"  # not Optuna's ".lock": see the module docstring
FAULT_ENV = "ARCHSEARCH_FAULT_JOURNAL"  # tests: "kill@K", "torn@K" or "enospc@K" at this process's K-th append
HEARTBEAT_INTERVAL = 15  # seconds between heartbeats of a running trial (PostgreSQL)
GRACE_PERIOD = 60  # seconds without a heartbeat after which a running trial is stale
MAX_RETRY = 3  # how many times a stale trial is re-queued
CONNECT_TIMEOUT = 5  # seconds
_N_OPS = 11  # Optuna journal operation codes 0..10
_ENGINES: list[Any] = []  # the SQLAlchemy engines of the PostgreSQL storages this process opened (close_storages)


def journal_path(study_dir: str | os.PathLike[str]) -> Path:
    """The journal file of a study directory."""
    return Path(study_dir) / JOURNAL_NAME


def storage_kind(url: str | None) -> str:
    """'journal' (no URL) or 'postgresql'; a StorageError for anything else."""
    if url is None or url == "":
        return "journal"
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in ("postgresql", "postgresql+psycopg2", "postgresql+psycopg", "postgres"):
        return "postgresql"
    shown = hide_password(url)
    if scheme.startswith("sqlite"):
        why = "SQLite is not safe for several worker processes ('database is locked')"
    elif scheme:
        why = f"the '{scheme}' scheme is not supported"
    else:
        why = "it is not a URL"
    raise StorageError(
        f"unsupported storage URL {shown!r}: {why}; omit --storage for a journal file under the results "
        "directory (several processes on one machine) or use postgresql://user:password@host:port/database "
        "(several machines)"
    )


_SECRET_KEYS = re.compile(r"(?i)^(password|passwd|pwd|sslpassword|secret|token|api_key)$")


def hide_password(url: str) -> str:
    """The URL with every password replaced by ***: the one in the user part (up to the last '@' before the
    host, so a raw '@' inside the password hides it whole), ``password=`` query parameters, and the secret
    values of a libpq ``key=value`` string given in place of a URL.

    (SQLAlchemy's ``render_as_string(hide_password=True)`` was measured to leave the tail of a password with a
    raw '@' and every query-parameter password in the clear.)"""
    scheme, sep, rest = url.partition("://")
    if not sep:  # not a URL; perhaps a libpq "key=value" string: hide the values of secret keys
        words = [w.partition("=") for w in url.split(" ")]
        return " ".join(f"{k}=***" if eq and _SECRET_KEYS.match(k) else k + eq + v for k, eq, v in words)
    rest, qmark, query = rest.partition("?")
    userinfo, at, hostpath = rest.rpartition("@")
    if at:
        user, colon, _ = userinfo.partition(":")
        rest = f"{user}:***@{hostpath}" if colon else f"{user}@{hostpath}"
    if qmark:
        parts = []
        for item in query.split("&"):
            key, eq, _value = item.partition("=")
            parts.append(f"{key}=***" if eq and _SECRET_KEYS.match(key) else item)
        query = "&".join(parts)
    return f"{scheme}{sep}{rest}{qmark}{query}"


def describe_storage(url: str | None, study_dir: str | os.PathLike[str]) -> str:
    """A one-line description: the journal file's path, or the URL without its password."""
    return str(journal_path(study_dir)) if storage_kind(url) == "journal" else hide_password(url or "")


def open_storage(
    url: str | None,
    study_dir: str | os.PathLike[str],
    *,
    create: bool = True,
    heartbeat_interval: int = HEARTBEAT_INTERVAL,
    grace_period: int = GRACE_PERIOD,
    max_retry: int | None = MAX_RETRY,
) -> Any:
    """An Optuna storage for a study: the journal file in ``study_dir`` (default) or PostgreSQL.

    ``create=False``: the journal file must exist already (resume, worker). Raises StorageError (one line)
    for an unsupported URL, an unreachable database or a corrupt journal file; the file is never written.
    """
    kind = storage_kind(url)
    if kind == "journal":
        return _open_journal(journal_path(study_dir), create=create)
    return _open_postgresql(url or "", heartbeat_interval, grace_period, max_retry)


# ---------------------------------------------------------------------------------------------- journal


def _flock_class():
    import fcntl

    from optuna.storages.journal._file import BaseJournalFileLock

    class FlockLock(BaseJournalFileLock):
        """An exclusive ``flock`` on ``<journal>.archsearch-lock``: across processes, released when its holder dies."""

        def __init__(self, path: str) -> None:
            self._path = path
            self._fd: int | None = None

        def acquire(self) -> bool:
            fd = os.open(self._path, os.O_CREAT | os.O_RDWR, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except BaseException:
                os.close(fd)
                raise
            self._fd = fd
            return True

        def release(self) -> None:
            fd, self._fd = self._fd, None
            if fd is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_UN)
                finally:
                    os.close(fd)

        def __getstate__(self) -> dict[str, Any]:
            return {"_path": self._path, "_fd": None}

    return FlockLock


def _journal_lock(path: Path):
    try:
        return _flock_class()(str(path) + LOCK_SUFFIX)
    except ImportError:  # no fcntl (Windows): Optuna's open-file lock
        from optuna.storages.journal import JournalFileOpenLock

        return JournalFileOpenLock(str(path))


def _backend_class():
    """Optuna's journal file backend, plus: a torn last line is cut off (with a warning) before an append,
    and the test hook :data:`FAULT_ENV` (kill, tear or fill the disk at this process's K-th append)."""
    import errno
    import signal
    import sys

    from optuna.storages.journal import JournalFileBackend

    class Backend(JournalFileBackend):
        appends = 0

        def append_logs(self, logs: list[dict[str, Any]]) -> None:
            from optuna.storages.journal._file import get_lock_file

            type(self).appends += 1
            kind, _, k = os.environ.get(FAULT_ENV, "").partition("@")
            fault = kind if k.isdigit() and int(k) == type(self).appends else ""
            data = ("\n".join(json.dumps(log, separators=(",", ":")) for log in logs) + "\n").encode("utf-8")
            with get_lock_file(self._lock):
                _repair_torn_tail(Path(self._file_path))
                with open(self._file_path, "ab") as fh:
                    if fault in ("torn", "enospc"):  # a partial line, then the writer dies or the disk is full
                        fh.write(data[: max(1, len(data) // 2)])
                        fh.flush()
                        if fault == "torn":
                            os.kill(os.getpid(), signal.SIGKILL)
                        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), self._file_path)
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
            if fault == "kill":
                sys.stdout.flush()
                os.kill(os.getpid(), signal.SIGKILL)

    return Backend


def _repair_torn_tail(path: Path) -> None:
    """Cut an incomplete last line off the journal (call under its lock): a later append would otherwise glue a
    whole entry to the partial one and corrupt the file."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    if size == 0:
        return
    with open(path, "rb+") as fh:
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return
        start = max(0, size - (1 << 20))
        fh.seek(start)
        tail = fh.read()
        cut = start + tail.rfind(b"\n") + 1 if b"\n" in tail else 0
        fh.truncate(cut)
    import sys

    print(f"archsearch: warning: {path}: removed an incomplete last entry ({size - cut} bytes: an append cut short "
          "by a full disk or a kill); the study is otherwise intact", file=sys.stderr, flush=True)


@contextmanager
def _locked(lock: Any) -> Iterator[None]:
    lock.acquire()
    try:
        yield
    finally:
        lock.release()


def check_journal(path: str | os.PathLike[str], torn: list[int] | None = None) -> int:
    """Validate a journal file line by line (read only); return the number of complete entries.

    A StorageError names the file and the first bad line: not UTF-8 JSON or not an Optuna journal entry. An
    incomplete last line (an append cut short) is not an error: readers ignore it, the next append removes it;
    its line number is appended to ``torn`` when given.
    """
    path = Path(path)
    n = 0
    try:
        with open(path, "rb") as fh:
            for n, raw in enumerate(fh, start=1):  # noqa: B007 - n is used after the loop
                if not raw.endswith(b"\n"):
                    if torn is not None:
                        torn.append(n)
                    return n - 1
                try:
                    entry = json.loads(raw)
                except (UnicodeDecodeError, json.JSONDecodeError) as err:
                    msg = str(err).split(":")[0]
                    raise StorageError(f"{path}:{n}: corrupt study journal ({msg}); the file was left unchanged") \
                        from None
                op = entry.get("op_code") if isinstance(entry, dict) else None
                if not isinstance(op, int) or not 0 <= op < _N_OPS or not isinstance(entry.get("worker_id"), str):
                    raise StorageError(f"{path}:{n}: corrupt study journal (not an Optuna journal entry); "
                                       "the file was left unchanged")
    except OSError as err:
        raise StorageError(f"cannot read study journal {path}: {err.strerror or err}") from None
    return n


def _open_journal(path: Path, *, create: bool) -> Any:
    if not path.exists():
        if not create:
            raise StudyError(f"no study journal at {path}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise (disk_error(err, str(path.parent), intact=False)
                   or StorageError(f"cannot create {path.parent}: {err.strerror or err}")) from None
    elif path.is_dir():
        raise StorageError(f"{path} is a directory, not a study journal")
    if path.exists():
        check_journal(path)
    lock = _journal_lock(path)

    from optuna.storages import JournalStorage

    try:
        return JournalStorage(_backend_class()(str(path), lock_obj=lock))
    except StorageError:
        raise
    except OSError as err:
        raise (disk_error(err, str(path), intact=path.stat().st_size > 0 if path.exists() else False)
               or StorageError(f"cannot open study journal {path}: {err.strerror or err}")) from None
    except Exception as err:  # replay of a file that parses but is inconsistent
        raise StorageError(f"{path}: corrupt study journal ({type(err).__name__}: {err}); "
                           "the file was left unchanged") from None


@contextmanager
def claim_lock(storage: Any, study_dir: str | os.PathLike[str], study_name: str) -> Iterator[None]:
    """A lock shared by every worker of a study, held while a worker counts the trials and claims the next.

    Journal: ``flock`` on ``journal.log.claim``; PostgreSQL: a session advisory lock. Both are released
    when the holder dies, so a killed worker never blocks the others.
    """
    from optuna.storages import RDBStorage

    if isinstance(storage, RDBStorage):
        from sqlalchemy import text

        key = zlib.crc32(f"archsearch:{study_name}".encode()) - 2**31
        with storage.engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
        return
    path = str(journal_path(study_dir)) + CLAIM_SUFFIX
    try:
        lock = _flock_class()(path)
    except ImportError:
        from optuna.storages.journal import JournalFileOpenLock

        lock = JournalFileOpenLock(path)
    with _locked(lock):
        yield


# ------------------------------------------------------------------------------------------- postgresql


def _driver_url(url: str) -> str:
    """Pin the PostgreSQL driver that is installed: SQLAlchemy 2.1 maps postgresql:// to psycopg (3), while
    archsearch[postgres] installs psycopg2."""
    scheme, sep, rest = url.partition("://")
    if scheme.lower() not in ("postgresql", "postgres"):
        return url
    for module, driver in (("psycopg2", "psycopg2"), ("psycopg", "psycopg")):
        try:
            __import__(module)
        except ImportError:
            continue
        return f"postgresql+{driver}{sep}{rest}"
    raise StorageError("PostgreSQL storage needs a driver: pip install 'archsearch[postgres]' (psycopg2)")


def _quote_raw_at(url: str) -> str:
    """Percent-encode a raw '@' in the user part (everything up to the last '@' before the host): no host name
    has one, so ``postgresql://u:p@ss@host/db`` means the password ``p@ss`` (SQLAlchemy would split at the first)."""
    scheme, sep, rest = url.partition("://")
    netloc, slash, tail = rest.partition("/")
    userinfo, at, host = netloc.rpartition("@")
    if not at or "@" not in userinfo:
        return url
    return f"{scheme}{sep}{userinfo.replace('@', '%40')}@{host}{slash}{tail}"


def _secrets(url: str) -> list[str]:
    """The password pieces of a URL (user part, its '@'-separated parts, secret query values, decoded and not)."""
    from urllib.parse import unquote

    rest = url.partition("://")[2]
    rest, _, query = rest.partition("?")
    userinfo = rest.partition("/")[0].rpartition("@")[0]
    found = [userinfo.partition(":")[2]] if ":" in userinfo else []
    for item in query.split("&"):
        key, eq, value = item.partition("=")
        if eq and _SECRET_KEYS.match(key):
            found.append(value)
    pieces = {p for secret in found for q in (secret, unquote(secret)) for p in (q, *q.split("@"))}
    return sorted((p for p in pieces if len(p) >= 3), key=len, reverse=True)


def _scrub(text: str, url: str) -> str:
    """``text`` (a driver's error message) with every password piece of ``url`` replaced by ***."""
    for piece in _secrets(url):
        text = text.replace(piece, "***")
    return text


def _open_postgresql(url: str, heartbeat_interval: int, grace_period: int, max_retry: int | None) -> Any:
    shown = hide_password(url)
    given, url = url, _driver_url(_quote_raw_at(url))
    import sqlalchemy.exc
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # heartbeat options are flagged experimental
            opened = RDBStorage(
                url,
                engine_kwargs={"connect_args": {"connect_timeout": CONNECT_TIMEOUT}, "pool_pre_ping": True},
                heartbeat_interval=heartbeat_interval,
                grace_period=grace_period,
                heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=max_retry),
            )
            _ENGINES.append(opened.engine)  # kept: a dropped storage leaves its pool to the garbage collector
            return opened
    except sqlalchemy.exc.ArgumentError as err:
        raise StorageError(f"invalid storage URL {shown!r}: {_scrub(str(err), given)}") from None
    except sqlalchemy.exc.SQLAlchemyError as err:
        orig = getattr(err, "orig", None) or err
        lines = [ln.strip() for ln in str(orig).strip().splitlines() if ln.strip()]
        reason = lines[0] if lines else type(orig).__name__
        raise StorageError(f"cannot connect to {shown}: {_scrub(reason, given)}") from None
    except Exception as err:  # e.g. a malformed port number
        raise StorageError(f"cannot open storage {shown}: {_scrub(str(err), given)}") from None


def close_storages() -> int:
    """Close the pooled server connections of every PostgreSQL storage this process opened; return how many engines.

    A pool keeps idle connections until its engine is garbage-collected: a process that runs several commands
    (the CLI in-process, a notebook) would otherwise hold a few per command and exhaust the server's
    max_connections. The storages stay usable: a later query opens a fresh connection.
    """
    closed = 0
    while _ENGINES:
        _ENGINES.pop().dispose()
        closed += 1
    return closed


def has_heartbeat(storage: Any, trial_id: int) -> bool:
    """Whether a trial ever recorded a heartbeat (PostgreSQL; True for storages without heartbeats)."""
    engine = getattr(storage, "engine", None)
    if engine is None:
        return True
    from sqlalchemy import text

    with engine.connect() as conn:
        row = conn.execute(text("SELECT 1 FROM trial_heartbeats WHERE trial_id = :t"), {"t": trial_id}).first()
    return row is not None
