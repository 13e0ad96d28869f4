"""Is the worker that owns a trial alive? Owner records (host, pid, process start time, boot id) and their
check on this host from /proc (a reused pid or a zombie is not taken for alive)."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any


def _proc_start(pid: int) -> tuple[str, int] | None:
    """(state, start time in clock ticks) of a process from /proc, or None when it does not exist."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read().decode(errors="replace")
    except FileNotFoundError:
        return None
    except OSError:
        return ("?", -1)
    rest = data[data.rfind(")") + 2:].split()
    return rest[0], int(rest[19])


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _has_proc() -> bool:
    """Whether this host has /proc (Linux); elsewhere liveness falls back to signal 0."""
    return Path("/proc/self/stat").exists()


def owner_record() -> dict[str, Any]:
    """Who runs a trial: host, pid, process start time (so a reused pid is not mistaken), boot id."""
    pid = os.getpid()
    start = _proc_start(pid)
    return {"host": socket.gethostname(), "pid": pid, "start": start[1] if start else None, "boot": _boot_id()}


def owner_alive(owner: dict[str, Any]) -> bool | None:
    """True/False for an owner on this host; None when it cannot be known (another host)."""
    if owner.get("host") != socket.gethostname():
        return None
    if owner.get("boot") and _boot_id() and owner["boot"] != _boot_id():
        return False
    pid = int(owner.get("pid", -1))
    if pid <= 0:
        return False
    if _has_proc():
        info = _proc_start(pid)
        if info is None or info[0] in ("Z", "X"):  # gone, or a zombie (killed, not yet reaped)
            return False
        return owner.get("start") is None or info[1] < 0 or info[1] == owner["start"]
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
