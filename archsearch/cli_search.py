"""Click commands registered on the `archsearch` group by archsearch/cli.py: ``search`` and ``worker``.

Import heavy libraries (optuna, torch) inside the command functions, so `archsearch enumerate` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from archsearch.cli import UserError

SAMPLER_CHOICES = ["tpe", "grid", "nsga2", "motpe", "random"]
PRUNER_CHOICES = ["median", "hyperband", "none"]
OBJECTIVE_CHOICES = ["metric", "metric,flops", "metric,params"]


class SearchUserError(UserError):
    """A one-line error with exit code 2, printed as ``archsearch <command>: error: …``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.ctx = click.get_current_context(silent=True)


def parse_task_options(items: tuple[str, ...]) -> dict[str, Any]:
    """``("d=4", "noise=0.1", "path=data.txt")`` → {"d": 4, "noise": 0.1, "path": "data.txt"}."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key or not key.replace("_", "").isalnum():
            raise click.BadParameter(f"{item!r} is not KEY=VALUE (e.g. --task-option d=4)",
                                     param_hint="'--task-option'")
        if text.strip() in ("True", "False"):
            value: Any = text.strip() == "True"
        else:
            try:
                value = json.loads(text)
            except ValueError:
                value = text
        out[key] = value
    return out


def _errors():
    """The exceptions of the library that are a user's mistake."""
    from archsearch.grammar import GrammarError
    from archsearch.search import SearchError

    return GrammarError, SearchError


STUDY_DEFINITION = {
    "grammar_path": "--grammar", "task_name": "--task", "task_option": "--task-option", "sampler": "--sampler",
    "pruner": "--pruner", "objectives": "--objectives", "steps": "--steps", "batch_size": "--batch-size",
    "space_items": "--space", "seed": "--seed", "no_baseline": "--no-baseline",
}


def _note_ignored_on_resume(settings: dict[str, Any]) -> None:
    """--resume continues with the study's stored settings: say which given options have no effect."""
    from click.core import ParameterSource

    ctx = click.get_current_context()
    given = [flag for name, flag in STUDY_DEFINITION.items()
             if ctx.get_parameter_source(name) not in (None, ParameterSource.DEFAULT)]
    if given:
        click.echo(f"archsearch search: note: --resume continues with the study's stored settings; ignoring "
                   f"{', '.join(given)}", err=True)


def _print_leaderboard(study: Any, top: int, where: str, study_dir: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    from archsearch.search import count_trials, leaderboard

    console = Console(soft_wrap=False)
    settings = study.user_attrs.get("archsearch", {})
    metric = settings.get("task_info", {}).get("metric", "value")
    objectives = settings.get("objectives", ["metric"])
    rows = leaderboard(study, top)
    counts = count_trials(study)
    title = (f"study {study.study_name}: {settings.get('task')} ({metric}, "
             f"{settings.get('task_info', {}).get('direction', '')}), {counts['finished']} of "
             f"{settings.get('n_trials')} trials finished")
    console.print(title, highlight=False, soft_wrap=True)
    table = Table()
    table.add_column("#", justify="right")
    for name in objectives:
        table.add_column(f"val {metric}" if name == "metric" else name, justify="right")
    table.add_column("terms")
    table.add_column("params", justify="right")
    table.add_column("flops", justify="right")
    table.add_column("time", justify="right")
    table.add_column("note")
    for row in rows:
        cells = [str(row["number"])]
        for name, value in zip(objectives, row["values"], strict=False):
            cells.append(f"{value:.4g}" if name == "metric" else f"{value:,.0f}")
        cells.append(" + ".join(row["term_labels"]))
        cells.append(f"{row['n_params']:,}" if row["n_params"] is not None else "")
        cells.append(f"{row['flops']:,}" if row["flops"] is not None else "")
        cells.append(f"{row['wall_time']:.2f}s" if row["wall_time"] is not None else "")
        notes = []
        if row["pareto"]:
            notes.append("pareto")
        if row["duplicate_of"] is not None:
            notes.append(f"= #{row['duplicate_of']}")
        cells.append(", ".join(notes))
        table.add_row(*cells)
    console.print(table)
    console.print(f"{counts['COMPLETE']} complete, {counts['PRUNED']} pruned, {counts['FAIL']} failed",
                  highlight=False, soft_wrap=True)
    console.print(f"storage: {where}", highlight=False, soft_wrap=True)
    console.print(f"weights: {study_dir / 'trials'}/<number>/model.safetensors", highlight=False, soft_wrap=True)


def _report(study: Any, as_json: bool, top: int, where: str, study_dir: Path) -> None:
    from archsearch.search import summary

    if as_json:
        data = summary(study, top)
        data["storage"] = where
        data["trials_dir"] = str(study_dir / "trials")
        click.echo(json.dumps(data, indent=2))
    else:
        _print_leaderboard(study, top, where, study_dir)


@click.command()
@click.option("--grammar", "grammar_path", type=click.Path(path_type=Path, dir_okay=False),
              default=Path("grammars/paper.toml"), show_default=True, help="Grammar file whose terms are searched.")
@click.option("--task", "task_name", default="icl-regression", show_default=True,
              help="Task: icl-regression, mqar, text, set-duplicate, digits.")
@click.option("--task-option", "task_option", multiple=True, metavar="KEY=VALUE",
              help="A task option, e.g. d=4, corpus=stdlib, patch=4 or eval_size=256 (repeatable).")
@click.option("--study", "study_name", help="Study name (default: <grammar>-<task>); its files go to RESULTS/NAME/.")
@click.option("--trials", type=click.IntRange(1), help="Finished trials to reach (default 20; grid: one per term).")
@click.option("--storage", help="postgresql://user:password@host:port/db for workers on several machines "
              "(default: a journal file RESULTS/NAME/journal.log).")
@click.option("--sampler", type=click.Choice(SAMPLER_CHOICES), default="tpe", show_default=True,
              help="tpe; grid (each term alone, fixed hyper-parameters); nsga2/motpe (several objectives); random.")
@click.option("--pruner", type=click.Choice(PRUNER_CHOICES),
              help="Stop unpromising trials early (default: median; none for the grid and several objectives).")
@click.option("--objectives", type=click.Choice(OBJECTIVE_CHOICES), default="metric", show_default=True,
              help="The task metric alone, or against FLOPs or parameter count (Pareto front).")
@click.option("--workers", type=click.IntRange(1), default=1, show_default=True,
              help="Worker processes on this machine (one per GPU when there are several).")
@click.option("--resume", is_flag=True, help="Continue an existing study (and re-run trials of killed workers).")
@click.option("--steps", type=click.IntRange(1), default=200, show_default=True, help="Training steps per trial.")
@click.option("--batch-size", type=click.IntRange(1), default=32, show_default=True, help="Training batch size.")
@click.option("--space", "space_items", multiple=True, metavar="KEY=V1,V2",
              help="Replace the choices of width, depth, heads, rank_frac, step, lr or tied, or fix scheme "
              "(parallel|split) or norm (layer|rms|none) (repeatable), e.g. --space width=8 --space depth=1,2.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:i.")
@click.option("--threads", type=click.IntRange(1), default=1, show_default=True,
              help="torch CPU threads per worker (small models train fastest on one; raise it for large models).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sampler, the weights and the data.")
@click.option("--no-baseline", is_flag=True, help="Do not queue the baseline (linear MLP + linear attention) first.")
@click.option("--results", "results_dir", type=click.Path(path_type=Path, file_okay=False), default=Path("results"),
              show_default=True, help="Directory of the study directories.")
@click.option("--top", type=click.IntRange(1), default=10, show_default=True, help="Rows of the leaderboard.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON instead of a table.")
def search(grammar_path: Path, task_name: str, task_option: tuple[str, ...], study_name: str | None,
           trials: int | None, storage: str | None, sampler: str, pruner: str | None, objectives: str, workers: int,
           resume: bool, steps: int, batch_size: int, space_items: tuple[str, ...], device: str, threads: int,
           seed: int, no_baseline: bool, results_dir: Path, top: int, no_progress: bool, as_json: bool) -> None:
    """Train and rank candidate architectures built from a grammar's terms with Optuna.

    Each trial picks a set of terms and hyper-parameters (width, depth, heads, rank, step size h, learning
    rate), trains the model on the task, and records the validation metric, parameters, FLOPs and the
    weights (RESULTS/STUDY/trials/N/model.safetensors). Ends with a leaderboard.

    \b
    Examples:
      archsearch search --trials 20 --steps 300 --space width=16,32 --task-option d=4
      archsearch search --grammar grammars/softmax.toml --sampler grid
      archsearch search --objectives metric,flops --sampler nsga2 --trials 40
      archsearch search --study paper-icl-regression --resume --trials 40 --workers 2
    """
    from archsearch.search import describe_storage, parse_space_overrides, run_search

    grammar_error, search_error = _errors()
    options = parse_task_options(task_option)
    try:
        space = parse_space_overrides(space_items)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="'--space'") from None
    try:
        study = run_search(
            grammar_path, task_name, options, study_name, trials, storage, sampler, pruner,
            tuple(objectives.split(",")), steps=steps, batch_size=batch_size, space=space, workers=workers,
            resume=resume, baseline=not no_baseline, device=device, seed=seed, results_dir=results_dir,
            progress=not (no_progress or as_json), threads=threads, on_resume=_note_ignored_on_resume,
        )
    except (grammar_error, search_error) as err:
        raise SearchUserError(str(err)) from None
    study_dir = results_dir / study.study_name
    _report(study, as_json, top, describe_storage(storage, study_dir), study_dir)


@click.command()
@click.option("--study", "study_name", required=True, help="The study to join (created by archsearch search).")
@click.option("--storage", help="The study's storage URL (default: the journal file RESULTS/NAME/journal.log).")
@click.option("--results", "results_dir", type=click.Path(path_type=Path, file_okay=False), default=Path("results"),
              show_default=True, help="Directory of the study directories (trial weights are written there).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:i.")
@click.option("--max-trials", type=click.IntRange(1), help="Stop after this many trials of this worker.")
@click.option("--threads", type=click.IntRange(1), default=1, show_default=True, help="torch CPU threads.")
@click.option("--json", "as_json", is_flag=True, help="Print the study's summary as JSON at the end.")
def worker(study_name: str, storage: str | None, results_dir: Path, device: str, max_trials: int | None,
           threads: int, as_json: bool) -> None:
    """Join an existing study and run its trials until it has the number of trials it asks for.

    Start as many workers as you like, on this machine (journal file) or on several machines
    (PostgreSQL); each claims one trial at a time, so the final count is exact.

    \b
    Example:
      archsearch search --study s --trials 40 --storage postgresql://u:p@db/archsearch
      archsearch worker --study s --storage postgresql://u:p@db/archsearch   # on another machine
    """
    from archsearch.search import count_trials, describe_storage, run_worker

    _, search_error = _errors()
    try:
        study = run_worker(study_name, storage, results_dir, device, max_trials=max_trials, threads=threads)
    except search_error as err:
        raise SearchUserError(str(err)) from None
    study_dir = results_dir / study_name
    if as_json:
        _report(study, True, 10, describe_storage(storage, study_dir), study_dir)
    else:
        counts = count_trials(study)
        click.echo(f"study {study_name}: {counts['finished']} of {study.user_attrs['archsearch']['n_trials']} "
                   f"trials finished ({counts['COMPLETE']} complete, {counts['PRUNED']} pruned, "
                   f"{counts['FAIL']} failed)")


COMMANDS: list[click.Command] = [search, worker]
