"""Heartbeats of a running trial (PostgreSQL), recorded from a thread as ``Study.optimize`` does."""

from __future__ import annotations

import contextlib
import threading
from typing import Any


class Heartbeat:
    """Context manager: while inside, record the trial's heartbeat every storage interval (no-op without one)."""

    def __init__(self, storage: Any, trial_id: int) -> None:
        self._storage, self._trial_id = storage, trial_id
        self._stop = threading.Event()
        interval = getattr(storage, "get_heartbeat_interval", lambda: None)()
        self._thread = None
        if interval:
            self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)

    def _run(self, interval: float) -> None:
        while True:
            with contextlib.suppress(Exception):
                self._storage.record_heartbeat(self._trial_id)
            if self._stop.wait(interval):
                return

    def __enter__(self) -> Heartbeat:
        if self._thread is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
