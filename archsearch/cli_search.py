"""Click commands registered on the `archsearch` group by archsearch/cli.py: ``search`` and ``worker``.

Import heavy libraries (optuna, torch) inside the command functions, so `archsearch enumerate` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from archsearch.cli import UserError, logging_options
from archsearch.logs import is_quiet

SAMPLER_CHOICES = ["tpe", "grid", "nsga2", "motpe", "random"]
PRUNER_CHOICES = ["median", "sha", "hyperband", "none"]
OBJECTIVE_CHOICES = ["metric", "metric,flops", "metric,params"]


class SearchUserError(UserError):
    """A one-line error with exit code 2, printed as ``archsearch <command>: error: …``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.ctx = click.get_current_context(silent=True)


def parse_task_options(items: tuple[str, ...], option: str = "--task-option", example: str = "d=4") -> dict[str, Any]:
    """``("d=4", "noise=0.1", "path=data.txt")`` → {"d": 4, "noise": 0.1, "path": "data.txt"} (values parsed as
    JSON where they parse); ``option`` and ``example`` name the option in the error."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key or not key.replace("_", "").isalnum():
            raise click.BadParameter(f"{item!r} is not KEY=VALUE (e.g. {option} {example})",
                                     param_hint=f"'{option}'")
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


def _disk(err: OSError, where: str) -> SearchUserError:
    """A full or read-only disk as one line (exit 2); other OS errors are bugs and propagate."""
    from archsearch.search.errors import disk_error

    mapped = disk_error(err, where)
    if mapped is None:
        raise err
    return SearchUserError(str(mapped))


STUDY_DEFINITION = {
    "grammar_path": "--grammar", "task_name": "--task", "task_option": "--task-option", "sampler": "--sampler",
    "pruner": "--pruner", "objectives": "--objectives", "steps": "--steps", "batch_size": "--batch-size",
    "space_items": "--space", "seed": "--seed", "no_baseline": "--no-baseline", "mode": "--mode",
    "precision": "--precision", "compile_model": "--compile",
}


def _run_options(precision: str, compile_model: bool) -> dict[str, Any]:
    """The TrainConfig options of --precision and --compile (only what differs from TrainConfig's defaults)."""
    options: dict[str, Any] = {}
    if precision == "fp32":
        options["amp"] = False
    if compile_model:
        options["compile"] = True
    return options


def _note_ignored_on_resume(settings: Any) -> None:
    """--resume continues with the study's stored settings: say which given options have no effect."""
    from click.core import ParameterSource

    ctx = click.get_current_context()
    given = [flag for name, flag in STUDY_DEFINITION.items()
             if ctx.get_parameter_source(name) not in (None, ParameterSource.DEFAULT)]
    if given:
        click.echo(f"archsearch search: note: --resume continues with the study's stored settings; ignoring "
                   f"{', '.join(given)}", err=True)


def _print_leaderboard(study: Any, top: int, where: str, study_dir: Path, storage: str | None) -> None:
    """The leaderboard as ``archsearch leaderboard`` prints it, then the counts and where the files are."""
    from archsearch.cli import make_console
    from archsearch.report import open_study
    from archsearch.report.tables import leaderboard, print_leaderboard
    from archsearch.search import count_trials, load_settings
    from archsearch.tabular import choose_format

    console = make_console()
    ref = open_study(study, storage, study_dir.parent)
    counts = count_trials(study)
    settings = load_settings(study)
    if counts["COMPLETE"]:  # as `archsearch leaderboard` prints it: a table on a terminal, TSV in a pipe
        print_leaderboard(ref, leaderboard(ref, top, include_duplicates=False), choose_format("auto"), console)
    dups = f"; {counts['duplicates']} repeated proposals reused a result, not counted" if counts["duplicates"] else ""
    console.print(f"study {settings.study}: {counts['finished']} of {settings.n_trials} trials finished "
                  f"({counts['COMPLETE']} complete, {counts['PRUNED']} pruned, {counts['FAIL']} failed{dups})"
                  f"{_why_fewer(study, settings, counts)}", highlight=False, soft_wrap=True)
    for line in _failures(study):
        console.print(line, highlight=False, soft_wrap=True)
    console.print(f"storage: {where}", highlight=False, soft_wrap=True)
    console.print(f"weights: {study_dir / 'trials'}/<number>/model.safetensors", highlight=False, soft_wrap=True)


def _failures(study: Any, most: int = 3) -> list[str]:
    """Why trials failed: "failed trial 3: worker pid 41 on host died (re-queued)" for the last few."""
    failed = [t for t in study.get_trials(deepcopy=False) if t.state.name == "FAIL"]
    lines = []
    for t in failed[-most:]:
        why = t.user_attrs.get("error") or t.user_attrs.get("stale") or "no reason recorded"
        lines.append(f"failed trial {t.number}: {' '.join(str(why).split())[:160]}")
    if len(failed) > most:
        lines.insert(0, f"({len(failed) - most} earlier failed trials not shown)")
    return lines


def _why_fewer(study: Any, settings: Any, counts: dict[str, int]) -> str:
    """Why a search ended before its target: the step budget, the space, or the time budget."""
    from archsearch.search.recovery import steps_spent
    from archsearch.search.space import SearchSpace

    if counts["finished"] >= settings.n_trials or settings.kind != "search":
        return ""
    if settings.step_budget is not None and steps_spent(study) >= settings.step_budget:
        return f": the budget of {settings.step_budget} training steps is spent"
    if counts["finished"] >= SearchSpace.from_dict(settings.space).size():
        return ": every configuration of the space is trained"
    return ": the time budget is spent, or the sampler proposed only trained configurations"


def _report(study: Any, as_json: bool, top: int, where: str, study_dir: Path, storage: str | None) -> None:
    from archsearch.search import confirmations, summary

    if as_json:
        data = summary(study, top, confirmations(study.study_name, storage, study_dir.parent))
        data["storage"] = where
        data["trials_dir"] = str(study_dir / "trials")
        click.echo(json.dumps(data, indent=2))
    else:
        _print_leaderboard(study, top, where, study_dir, storage)


def _print_verdict(study_name: str, storage: str | None, results_dir: Path, as_json: bool) -> None:
    """The confirmation's verdict: does the winner beat the best baseline by more than twice the spread?"""
    from archsearch.report import open_study
    from archsearch.search import confirmations, rival_confirmations, rival_verdict, verdict

    ref = open_study(study_name, storage, results_dir)
    confirmed = confirmations(study_name, storage, results_dir)
    v = verdict(ref.study, confirmed)
    rivals = rival_confirmations(study_name, storage, results_dir)
    r = rival_verdict(ref.study, confirmed, rivals) if rivals else None
    if as_json:
        data: dict[str, Any] = {"winner": v.winner, "baseline": v.baseline, "baseline_name": v.baseline_name,
                "margin": v.margin, "spread": v.spread, "real": v.real, "verdict": v.describe(ref.metric)}
        if r is not None:
            data["rivals"] = {name: {"candidate": x.candidate, "flops": x.flops, "mean": x.confirmed.mean,
                                     "std": x.confirmed.std, "seeds": list(x.confirmed.seeds),
                                     "target_trial": x.target_trial, "target_flops": x.target_flops}
                              for name, x in rivals.items()}
            data["rival_verdict"] = {"winner": r.winner, "rival": r.baseline_name, "margin": r.margin,
                                     "spread": r.spread, "real": r.real, "verdict": r.describe(ref.metric)}
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo(f"verdict: {v.describe(ref.metric)}")
        for x in rivals.values():
            sized = f"sized to trial {x.target_trial}'s {x.target_flops:,} FLOPs" if x.target_flops else "sized earlier"
            click.echo(f"rival {x.describe()} ({sized}): "
                       f"{ref.metric} {x.confirmed.mean:.4g} ± {x.confirmed.std:.2g} over {x.confirmed.n} seeds")
        if r is not None:
            click.echo(f"at equal cost: {r.describe(ref.metric)}")


@click.command()
@logging_options
@click.option("--grammar", "grammar_path", metavar="NAME|FILE", default="paper", show_default=True,
              help="The grammar whose terms are searched: a shipped grammar's name (archsearch grammars) or a file.")
@click.option("--task", "task_name", default="icl-regression", show_default=True,
              help="Task: icl-regression, mqar, text, set-duplicate, digits.")
@click.option("--task-option", "task_option", multiple=True, metavar="KEY=VALUE",
              help="A task option, e.g. d=4, corpus=stdlib, patch=4 or eval_size=256 (repeatable).")
@click.option("--study", "study_name", help="Study name (default: <grammar>-<task>); its files go to RESULTS/NAME/.")
@click.option("--trials", type=click.IntRange(1), help="Finished trials to reach (default 20; grid: one per term).")
@click.option("--storage", help="postgresql://user:password@host:port/db for workers on several machines "
              "(default: a journal file RESULTS/NAME/journal.log).")
@click.option("--budget", metavar="TIME|NSTEPS",
              help="Stop when this is spent: wall time of this run (1h, 30m, 1h30m, 90s) or training steps summed "
                   "over the trials (20000steps; pruned trials count what they trained). Without --trials the "
                   "target is then the whole space.")
@click.option("--sampler", type=click.Choice(SAMPLER_CHOICES), default="tpe", show_default=True,
              help="tpe; grid (each term alone, fixed hyper-parameters); nsga2/motpe (several objectives); random.")
@click.option("--pruner", type=click.Choice(PRUNER_CHOICES),
              help="Stop unpromising trials early: median; sha (successive halving over the training steps: "
                   "multi-fidelity, one bracket, so TPE learns from every trial); or hyperband (successive "
                   "halving in brackets; TPE learns from a trial's own bracket only). Default median; none for "
                   "the grid and several objectives.")
@click.option("--mode", type=click.Choice(["auto", "subsets", "flags", "few", "layers"]), default="auto",
              show_default=True, help="How a trial picks its terms: one subset for every Euler step (auto: a "
              "categorical over subsets up to 4 terms, else one flag per term; few: at most --space max_terms=K "
              "terms, default 3), or layers: a subset per step.")
@click.option("--objectives", type=click.Choice(OBJECTIVE_CHOICES), default="metric", show_default=True,
              help="The task metric alone, or against FLOPs or parameter count (Pareto front).")
@click.option("--workers", type=click.IntRange(1), default=1, show_default=True,
              help="Worker processes on this machine (one per GPU when there are several).")
@click.option("--resume", is_flag=True, help="Continue an existing study (and re-run trials of killed workers).")
@click.option("--steps", type=click.IntRange(1), default=200, show_default=True, help="Training steps per trial.")
@click.option("--batch-size", type=click.IntRange(1), default=32, show_default=True, help="Training batch size.")
@click.option("--space", "space_items", multiple=True, metavar="KEY=V1,V2",
              help="Replace the choices of width, depth, heads, rank_frac, step, lr or tied, or fix scheme "
              "(parallel|split), norm (layer|rms|none) or max_terms (--mode few) (repeatable), e.g. --space "
              "width=8 --space depth=1,2.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:i.")
@click.option("--threads", type=click.IntRange(1), default=1, show_default=True,
              help="torch CPU threads per worker (small models train fastest on one; raise it for large models).")
@click.option("--precision", type=click.Choice(["auto", "fp32"]), default="auto", show_default=True,
              help="auto: bf16 autocast on CUDA (matmuls in bfloat16; parameters, optimizer and scan states in "
                   "float32), float32 on the CPU; fp32: float32 everywhere.")
@click.option("--compile", "compile_model", is_flag=True,
              help="Run each trial's model through torch.compile (pays off for long trials on a GPU; a model "
                   "that fails to compile trains eagerly, with a warning).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sampler, the weights and the data.")
@click.option("--no-baseline", is_flag=True, help="Do not queue the baselines first (the paper's block: linear MLP + "
              "linear attention; the standard Transformer block: softmax attention + a GELU MLP of 4x width; "
              "that MLP alone), which run at the space's default width, depth and learning rate.")
@click.option("--confirm", "confirm_top", type=click.IntRange(1), metavar="K",
              help="At the end, retrain the top K trials and the baselines with --seeds new seeds at the full "
                   "budget (archsearch confirm) and say whether the winner beats the best baseline.")
@click.option("--seeds", type=click.IntRange(1), default=3, show_default=True,
              help="Seeds per configuration for --confirm.")
@click.option("--results", "results_dir", type=click.Path(path_type=Path, file_okay=False), default=Path("results"),
              show_default=True, help="Directory of the study directories.")
@click.option("--top", type=click.IntRange(1), default=10, show_default=True, help="Rows of the leaderboard.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON instead of a table.")
def search(grammar_path: str, task_name: str, task_option: tuple[str, ...], study_name: str | None,
           trials: int | None, storage: str | None, budget: str | None, sampler: str, pruner: str | None,
           mode: str, objectives: str, workers: int, resume: bool, steps: int, batch_size: int,
           space_items: tuple[str, ...], device: str, threads: int, precision: str, compile_model: bool,
           seed: int, no_baseline: bool,
           confirm_top: int | None, seeds: int, results_dir: Path, top: int, no_progress: bool,
           as_json: bool) -> None:
    """Train and rank candidate architectures built from a grammar's terms with Optuna.

    Each trial picks a set of terms and hyper-parameters (width, depth, heads, rank, step size h, learning
    rate), trains the model on the task, and records the validation metric, parameters, FLOPs and the
    weights (RESULTS/STUDY/trials/N/model.safetensors). The baselines run first; a proposal that repeats a
    trained configuration reuses its result and does not count. Ends with a leaderboard: each trial's gap
    to the best baseline at no more FLOPs, and with --confirm its mean ± std over seeds.

    \b
    Examples:
      archsearch search --trials 20 --steps 300 --space width=16,32 --task-option d=4
      archsearch search --grammar permutation --pruner hyperband --budget 1h --confirm 5
      archsearch search --grammar softmax --sampler grid
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
            tuple(objectives.split(",")), steps=steps, batch_size=batch_size, space=space, mode=mode,
            train_options=_run_options(precision, compile_model),
            workers=workers, resume=resume, baseline=not no_baseline, budget=budget, device=device, seed=seed,
            results_dir=results_dir, progress=not (no_progress or as_json or is_quiet()), threads=threads,
            on_resume=_note_ignored_on_resume,
        )
        if confirm_top is not None:
            from archsearch.search import run_confirm

            run_confirm(study.study_name, confirm_top, seeds, storage, results_dir, workers, device,
                        progress=not (no_progress or as_json or is_quiet()), threads=threads)
    except (grammar_error, search_error) as err:
        raise SearchUserError(str(err)) from None
    except OSError as err:
        raise _disk(err, describe_storage(storage, results_dir / (study_name or "<study>"))) from None
    study_dir = results_dir / study.study_name
    _report(study, as_json, top, describe_storage(storage, study_dir), study_dir, storage)
    if confirm_top is not None and not as_json:
        _print_verdict(study.study_name, storage, results_dir, as_json)


@click.command()
@logging_options
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
    from archsearch.logs import get_logger
    from archsearch.search import count_trials, describe_storage, load_settings, run_worker
    from archsearch.search.progress import trial_line

    _, search_error = _errors()
    log = get_logger("search")
    try:
        study = run_worker(study_name, storage, results_dir, device, max_trials=max_trials, threads=threads,
                           on_trial=lambda _, trial: log.info(f"worker {study_name}: {trial_line(trial, 'value')}"))
    except search_error as err:
        raise SearchUserError(str(err)) from None
    except OSError as err:
        raise _disk(err, describe_storage(storage, results_dir / study_name)) from None
    study_dir = results_dir / study_name
    if as_json:
        _report(study, True, 10, describe_storage(storage, study_dir), study_dir, storage)
    else:
        counts = count_trials(study)
        click.echo(f"study {study_name}: {counts['finished']} of {load_settings(study).n_trials} "
                   f"trials finished ({counts['COMPLETE']} complete, {counts['PRUNED']} pruned, "
                   f"{counts['FAIL']} failed)")


@click.command()
@logging_options
@click.option("--study", "study_name", required=True, help="The search study whose results to confirm.")
@click.option("--top", type=click.IntRange(1), default=5, show_default=True,
              help="How many of the best distinct trials to retrain (the baselines are always retrained).")
@click.option("--seeds", type=click.IntRange(1), default=3, show_default=True,
              help="New seeds per configuration (model initialisation and data order).")
@click.option("--storage", help="The study's storage URL (default: the journal file RESULTS/NAME/journal.log).")
@click.option("--results", "results_dir", type=click.Path(path_type=Path, file_okay=False), default=Path("results"),
              show_default=True, help="Directory of the study directories.")
@click.option("--workers", type=click.IntRange(1), default=1, show_default=True, help="Worker processes.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:i.")
@click.option("--threads", type=click.IntRange(1), default=1, show_default=True, help="torch CPU threads per worker.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--rivals", "rivals", default="", metavar="NAMES",
              help="Also retrain these baselines' terms (paper, transformer; comma-separated) at the search "
                   "winner's FLOPs (the widest width and depth of no more FLOPs), at each learning rate of the "
                   "space: the equal-cost comparison.")
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
def confirm(study_name: str, top: int, seeds: int, storage: str | None, results_dir: Path, workers: int,
            device: str, threads: int, no_progress: bool, rivals: str, as_json: bool) -> None:
    """Retrain a study's top trials and its baselines with new seeds at the full budget.

    One search run per configuration, the best of many, is optimistic and noisy; this retrains each chosen
    configuration with SEEDS new seeds (as the trials of the study STUDY.confirm, so it can be killed and
    resumed by running the command again) and prints the leaderboard with mean ± std over the seeds and
    whether the winner beats the best baseline by more than twice the seed spread.

    \b
    Example:
      archsearch confirm --study paper-icl-regression --top 5 --seeds 3
    """
    from archsearch.search import describe_storage, open_storage, run_confirm
    from archsearch.search.factories import load_study

    _, search_error = _errors()
    try:
        run_confirm(study_name, top, seeds, storage, results_dir, workers, device,
                    progress=not (no_progress or as_json or is_quiet()), threads=threads,
                    rivals=tuple(n.strip() for n in rivals.split(",") if n.strip()))
        study_dir = results_dir / study_name
        where = describe_storage(storage, study_dir)
        study = load_study(study_name, open_storage(storage, study_dir, create=False), where=where)
        if not as_json:
            _print_leaderboard(study, top + 3, where, study_dir, storage)
        _print_verdict(study_name, storage, results_dir, as_json)
    except search_error as err:
        raise SearchUserError(str(err)) from None
    except OSError as err:
        raise _disk(err, describe_storage(storage, results_dir / f"{study_name}.confirm")) from None


COMMANDS: list[click.Command] = [search, worker, confirm]
