"""Click command registered on the `archsearch` group by archsearch/cli.py: ``experiment``.

Import torch inside the command, so `archsearch enumerate` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import click

from archsearch.cli import UserError

COMMANDS: list[click.Command] = []


@click.command()
@click.argument("name", required=False)
@click.option("--list", "list_only", is_flag=True, help="List the experiments (name, version, title) and exit.")
@click.option("--quick", is_flag=True,
              help="Tiny budgets that check the pipeline, not the claim (seconds; written to results/seeds-quick "
                   "unless --out says otherwise).")
@click.option("--seeds", type=click.IntRange(1), help="Seeds per arm (default: the experiment's).")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:<i> or auto.")
@click.option("--data", type=click.Path(path_type=Path),
              help="A local data set: the CIFAR-10 python directory (colu-resnet56), a text file read byte by "
                   "byte (colu-gpt-mlp, colu-gpt-mlp-gpu; default: the Python standard library's source).")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="Override one of the experiment's settings, e.g. --set epochs=1 or --set arms=relu,colu4 "
                   "(repeatable; an unknown key lists the known ones).")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False),
              help="Results directory [default: results/seeds, or results/seeds-quick with --quick].")
@click.option("--threads", type=click.IntRange(1), default=1, show_default=True,
              help="torch threads on the CPU.")
@click.option("--rewrite", is_flag=True,
              help="Train nothing: rebuild <name>.md, <name>.png and README.md from the stored <name>.json (after "
                   "a change to how results are shown; the numbers stay the record's).")
def experiment(name: str | None, list_only: bool, quick: bool, seeds: int | None, device: str, data: Path | None,
               settings: tuple[str, ...], out: Path | None, threads: int, rewrite: bool) -> None:
    """Run a named, versioned experiment: the seeds' CoLU studies.

    Each run writes <name>.md (the seeds' figures beside ours, the table, the verdicts), <name>.png and
    <name>.json into the results directory and rebuilds its README.md. A difference between two arms is
    called real only when it exceeds twice the seed spread.

    \b
    Examples:
      archsearch experiment --list
      archsearch experiment colu-minimal
      archsearch experiment colu-sample-efficiency --quick
      archsearch experiment colu-resnet56 --data cifar-10-batches-py --device cuda
    """
    from archsearch.cli_search import parse_task_options
    from archsearch.experiments import (
        EXPERIMENTS,
        ExperimentError,
        RunOptions,
        get_experiment,
        rewrite_experiment,
        run_experiment,
    )

    if list_only:
        for exp in EXPERIMENTS.values():
            click.echo(f"{exp.name:<24} v{exp.version}  {exp.title}")
        return
    if name is None:
        raise click.UsageError(f"name an experiment (known: {', '.join(EXPERIMENTS)}) or pass --list")
    options = RunOptions(out=out, quick=quick, seeds=seeds, device=device, data=data,
                         settings=parse_task_options(settings, "--set", "epochs=1"), threads=threads)
    try:
        exp = get_experiment(name)
        if rewrite:
            record = rewrite_experiment(name, options.out_dir)
        else:
            record = run_experiment(name, options, log=lambda line: click.echo(f"{name}: {line}", err=True))
    except ExperimentError as err:
        raise UserError(str(err)) from None
    except OSError as err:
        where = f" {err.filename}" if getattr(err, "filename", None) else ""
        raise UserError(f"cannot write{where}: {err.strerror or err}") from None
    out_dir = options.out_dir
    click.echo(f"{exp.name} v{exp.version}: {record['seeds']} seed(s), {record['wall_seconds']:.0f} s; wrote "
               f"{out_dir / (exp.name + '.md')}, .png, .json and {out_dir / 'README.md'}")
    for verdict in record["findings"]["verdicts"]:
        click.echo(f"  {verdict['label']}: {verdict['claim']}")


COMMANDS.append(experiment)
