"""The search's progress on stderr: a rich bar over the study's finished trials, with the best value so far;
a line per change when stderr is not a terminal (CI logs)."""

from __future__ import annotations

from typing import Any


class ProgressBar:
    def __init__(self, total: int, name: str, console: Any = None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._console = console or Console(stderr=True)
        self._name, self._total, self._last = name, total, -1
        self._progress = None
        if self._console.is_terminal:
            self._progress = Progress(
                TextColumn(f"[bold]search {name}[/]"), BarColumn(), MofNCompleteColumn(), TextColumn("trials"),
                TimeElapsedColumn(), TextColumn("{task.fields[best]}"), console=self._console, transient=False,
            )
            self._task = self._progress.add_task("trials", total=total, best="")
            self._progress.start()

    def update(self, done: int, best: str = "") -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=done, best=best)
        elif done != self._last:
            tail = f" ({best})" if best else ""
            self._console.print(f"search {self._name}: {done}/{self._total} trials finished{tail}", highlight=False)
        self._last = done

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
