"""Click commands registered on the `archsearch` group by archsearch/cli.py: leaderboard, report, export.

Import heavy libraries (optuna, torch) inside the command functions, so `archsearch enumerate` stays fast.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

COMMANDS: list[click.Command] = []


def _study_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--study, --storage and --results, shared by the commands that read a study."""
    func = click.option("--results", "results_dir", type=click.Path(path_type=Path, file_okay=False),
                        default=Path("results"), show_default=True,
                        help="Results directory: the study's journal and trial weights are under "
                             "<results>/<study>/.")(func)
    func = click.option("--storage", metavar="URL",
                        help="postgresql://user:password@host:port/db (default: the journal file under "
                             "--results).")(func)
    return click.option("--study", "study_name", required=True, help="Name of the study.")(func)


def _user_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the library's one-line errors into UserError (exit code 2)."""
    import functools

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from archsearch.cli import UserError
        from archsearch.search.errors import SearchError

        try:
            return func(*args, **kwargs)
        except SearchError as err:  # ResultsError, StorageError, StudyError
            error = UserError(str(err))
        except OSError as err:
            where = f" {err.filename}" if getattr(err, "filename", None) else ""
            error = UserError(f"cannot write{where}: {err.strerror or err}")
        # UserError records the current click context: printed as "archsearch <command>: error: …"
        raise error from None

    return wrapper


@click.command()
@_study_options
@click.option("--top", type=click.IntRange(1), default=20, show_default=True, help="How many trials to list.")
@click.option("--format", "fmt", type=click.Choice(["auto", "table", "tsv", "csv", "json", "latex"]), default="auto",
              show_default=True, help="auto: a table fitted to the terminal, TSV in a pipe (the trial number is "
              "the first column of every format).")
@click.option("--json", "as_json", is_flag=True, help="The same as --format json.")
@_user_errors
def leaderboard(study_name: str, storage: str | None, results_dir: Path, top: int, fmt: str, as_json: bool) -> None:
    """List the best COMPLETE trials of a study: values, terms (recognised names), params, FLOPs, the
    gap to the best baseline, hyper-parameters, time.

    Single objective: best value first. Several objectives: the Pareto-optimal trials first (marked *),
    then by the first objective. The table lists distinct configurations and leaves out, on a narrow
    terminal, the least important columns first. --format json prints one object per trial, repeated
    proposals too (number, state, values, term_ids, names, n_params, flops, wall_time, device, hyper,
    duplicate_of, …).

    \b
    Example:
      archsearch leaderboard --study paper-icl-regression --top 10
    """
    import json

    from archsearch.cli import make_console
    from archsearch.report import leaderboard as rows_of
    from archsearch.report import open_study
    from archsearch.report.tables import print_leaderboard
    from archsearch.tabular import choose_format

    fmt = "json" if as_json else choose_format(fmt)
    ref = open_study(study_name, storage, results_dir)
    rows = rows_of(ref, top, include_duplicates=fmt == "json")  # the others list distinct configurations
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    print_leaderboard(ref, rows, fmt, make_console())


@click.command()
@_study_options
@click.option("-o", "--out", "out_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Output directory (default: <results>/<study>/report).")
@click.option("--top", type=click.IntRange(1), default=20, show_default=True, help="Trials in the HTML leaderboard.")
@click.option("--json", "as_json", is_flag=True,
              help="Print {\"study\", \"files\": [paths], \"summary\": {…}} as JSON instead of the paths.")
@_user_errors
def report(study_name: str, storage: str | None, results_dir: Path, out_dir: Path | None, top: int,
           as_json: bool) -> None:
    """Write a study's plots (PNG) and an HTML page with them and the leaderboard; print the paths.

    Plots: optimisation history (with the best value so far), Pareto front (metric against FLOPs and
    parameters), term importance (best and mean metric of the trials using each term) and, with enough
    trials of a single-objective study, Optuna's parameter importance. With plotly installed, Optuna's
    interactive plots too, with plotly.js written beside them (plotly.min.js): the pages load nothing from
    the network. The study's storage is only read.

    \b
    Example:
      archsearch report --study paper-icl-regression -o report/
    """
    from archsearch.report import write_report

    paths = write_report(study_name, out_dir, top=top, storage=storage, results_dir=results_dir)
    if as_json:
        import json

        from archsearch.report import open_study
        from archsearch.search import summary

        ref = open_study(study_name, storage, results_dir)
        data = {"study": study_name, "files": [str(p) for p in paths], "summary": summary(ref.study, top,
                                                                                          ref.confirmed)}
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    for path in paths:
        click.echo(str(path))


@click.command()
@_study_options
@click.option("--trial", default="best", show_default=True, metavar="best|N",
              help="Trial to export: 'best' (several objectives: the first Pareto-optimal trial by the first "
                   "objective) or a trial number.")
@click.option("-o", "--out", "out_py", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="The Python file to write, e.g. winner.py.")
@click.option("--weights", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write the trained weights: .safetensors (the trial's tensors, or with --block the "
                   "step's, the config in the metadata) or .pt (a state_dict).")
@click.option("--block", is_flag=True,
              help="Export one Euler step as a drop-in nn.Module (X (B, N, C) -> (B, N, C)) instead of the "
                   "whole task model.")
@click.option("--step", "step_index", type=click.IntRange(min=0), default=0, show_default=True, metavar="T",
              help="With --block: which Euler step (0-based) of the trial.")
@_user_errors
def export(study_name: str, storage: str | None, results_dir: Path, trial: str, out_py: Path,
           weights: Path | None, block: bool, step_index: int) -> None:
    """Export a trial as one standalone PyTorch file (+ weights) that needs only torch.

    The file holds the compiled term blocks exactly as they ran in the search, the task's embedding and
    readout, the Euler-step model, build_model() and load_model(path) (strict state_dict keys). It is
    checked before it is written: it must reproduce archsearch's model on sample inputs. config.json (the
    trial's configuration, also in the .safetensors metadata) is written beside the weights (beside the
    file without --weights).

    With --block the file holds one Euler step instead, as the class ArchsearchBlock (X (B, N, C) -> X
    (B, N, C), unbatched (N, C) too) and load_block(path), to drop into your own model, and config.json
    describes the step. Loading needs torch, and safetensors for .safetensors weights.

    \b
    Example:
      archsearch export --study paper-icl-regression --trial best -o winner.py --weights winner.safetensors
      python -c "from winner import load_model; print(load_model())"
      archsearch export --study paper-icl-regression --block -o block.py --weights block.safetensors
    """
    from archsearch.export import export_block, export_trial

    if block:
        for path in export_block(study_name, trial, out_py, weights, step=step_index, storage=storage,
                                 results_dir=results_dir):
            click.echo(str(path))
        return
    if step_index != 0:
        raise click.UsageError("--step needs --block")
    path = export_trial(study_name, trial, out_py, weights, storage=storage, results_dir=results_dir)
    click.echo(str(path))
    if weights is not None:
        click.echo(str(weights))
    click.echo(str((weights if weights is not None else path).parent / "config.json"))


COMMANDS.extend([leaderboard, report, export])
