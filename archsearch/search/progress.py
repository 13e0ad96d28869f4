"""The search's progress: on a terminal, a rich bar on stderr over the study's finished trials with the elapsed
time, an ETA and the best value so far; and a log line per finished trial (number, state, value, terms, wall
time, the count, the best, the ETA) through the ``archsearch.search`` logger — on stderr when it is not a
terminal (a log file, CI), in ``--log-file`` always. Without a configured logger (the library used from
Python) the lines are printed on the console when it is not a terminal."""

from __future__ import annotations

import time
from typing import Any

from archsearch.logs import get_logger, has_handlers

LOG = get_logger("search")
FINISHED = ("COMPLETE", "PRUNED", "FAIL")


def best_text(study: Any, metric: str, direction: str) -> str:
    """"best <metric> <value> (#n)" over the COMPLETE trials so far, "" when none."""
    done = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE" and t.values]
    if not done:
        return ""
    sign = 1.0 if direction == "minimize" else -1.0
    best = min(done, key=lambda t: sign * t.values[0])
    return f"best {metric} {best.values[0]:.4g} (#{best.number})"


def clock(seconds: float) -> str:
    """``0:04:05``."""
    seconds = int(round(max(seconds, 0.0)))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _terms(trial: Any) -> str:
    readable = trial.user_attrs.get("terms") or trial.user_attrs.get("term_ids") or []
    return " + ".join(str(t).split(": ")[0] for t in readable) or "—"


def trial_line(trial: Any, metric: str) -> str:
    """``trial 3 complete: mse 0.1234 in 2.1 s, linear MLP + linear attention`` (pruned: the reason; failed:
    the error)."""
    state = trial.state.name.lower()
    wall = trial.user_attrs.get("wall_time")
    took = f" in {wall:.1f} s" if isinstance(wall, (int, float)) else ""
    if trial.state.name == "COMPLETE" and trial.values:
        value = f": {metric} {trial.values[0]:.4g}{took}"
        if trial.user_attrs.get("duplicate_of") is not None:
            value += f" (a repeat of trial {trial.user_attrs['duplicate_of']}, not counted)"
    elif trial.state.name == "PRUNED":
        value = f"{took} ({trial.user_attrs.get('pruned_reason', 'pruned')})"
    else:
        why = trial.user_attrs.get("error") or trial.user_attrs.get("stale") or "no reason recorded"
        value = f" ({' '.join(str(why).split())[:200]})"
    return f"trial {trial.number} {state}{value}, {_terms(trial)}"


class ProgressBar:
    """Progress of one study towards ``total`` finished trials; :meth:`update` with the study after each
    trial (or poll)."""

    def __init__(self, total: int, name: str, console: Any = None, metric: str = "value",
                 direction: str = "minimize") -> None:
        from rich.console import Console

        self._console = console or Console(stderr=True)
        self._name, self._total, self._metric, self._direction = name, total, metric, direction
        self._seen: set[int] | None = None  # trials finished before this run are not announced
        self._started = time.monotonic()
        self._done_at_start: int | None = None
        self._progress: Any = None
        if self._console.is_terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                TextColumn(f"[bold]search {name}[/]"), BarColumn(), MofNCompleteColumn(), TextColumn("trials"),
                TimeElapsedColumn(), TextColumn("{task.fields[eta]}"), TextColumn("{task.fields[best]}"),
                console=self._console, transient=False,
            )
            self._task = self._progress.add_task("trials", total=total, best="", eta="")
            self._progress.start()

    def eta(self, done: int) -> str:
        """"ETA 0:01:20" from this run's pace so far; "" before its first trial."""
        start = self._done_at_start or 0
        elapsed = time.monotonic() - self._started
        if done <= start or done >= self._total:
            return ""
        return f"ETA {clock(elapsed / (done - start) * (self._total - done))}"

    def update(self, study: Any, done: int) -> None:
        """Redraw with ``done`` finished trials (the count that goes towards the target) and log the trials that
        finished since the last call."""
        trials = [t for t in study.get_trials(deepcopy=False) if t.state.name in FINISHED]
        if self._seen is None:
            self._seen = {t.number for t in trials}
            self._done_at_start = done
        best, eta = best_text(study, self._metric, self._direction), self.eta(done)
        if self._progress is not None:
            self._progress.update(self._task, completed=done, best=best, eta=eta)
        for trial in sorted((t for t in trials if t.number not in self._seen), key=lambda t: t.number):
            self._seen.add(trial.number)
            tail = ", ".join(x for x in (f"{done}/{self._total} finished", best, eta) if x)
            self._emit(f"search {self._name}: {trial_line(trial, self._metric)} — {tail}")
            LOG.debug("search %s: trial %d: candidate %s; params %s, FLOPs %s", self._name, trial.number,
                      trial.user_attrs.get("candidate"), trial.user_attrs.get("n_params"),
                      trial.user_attrs.get("flops"))

    def _emit(self, line: str) -> None:
        if has_handlers():
            LOG.info(line)
        elif self._progress is None:
            self._console.print(line, highlight=False, soft_wrap=True)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
