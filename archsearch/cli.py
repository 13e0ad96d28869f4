"""The ``archsearch`` command line: click commands that parse options and call the library.

Every error a user can cause (bad grammar file, bad option, unknown term id) is printed as one line
``archsearch <command>: error: …`` on stderr with exit code 2, and nothing is written.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from archsearch import __version__
from archsearch.tabular import choose_format


class UserError(click.ClickException):
    """A one-line error with exit code 2, printed as ``archsearch <command>: error: …``."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.ctx = click.get_current_context(silent=True)


def logging_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--quiet, --verbose and --log-file (archsearch.logs.configure), taken off the command's arguments."""

    @functools.wraps(func)
    def wrapper(*args: Any, quiet: bool, verbose: bool, log_file: Path | None, **kwargs: Any) -> Any:
        from archsearch.logs import configure, verbosity_level

        try:
            level = verbosity_level(quiet, verbose)
            configure(level, log_file)
        except ValueError as err:
            raise UserError(str(err)) from None
        except OSError as err:
            raise UserError(f"--log-file {log_file}: {err.strerror or err}") from None
        return func(*args, **kwargs)

    wrapper = click.option("--log-file", type=click.Path(path_type=Path, dir_okay=False),
                           help="Append every message (per-trial details too) with timestamps to this file.")(wrapper)
    wrapper = click.option("-v", "--verbose", is_flag=True, help="More detail: each trial's hyper-parameters, "
                           "parameters and FLOPs.")(wrapper)
    return click.option("-q", "--quiet", is_flag=True, help="Only warnings, errors and the result; no progress.")(
        wrapper)


def make_console() -> Console:
    return Console(soft_wrap=False)


class StageProgress:
    """A transient progress bar on stderr (terminals only) for ``progress(stage, done, total)`` callbacks."""

    LABELS = {"enumerate": "enumerating orders", "cost": "planning costs"}
    LOG_EVERY = 5.0  # seconds

    def __init__(self) -> None:
        self._console = Console(stderr=True)
        self._bar: object | None = None
        self._tasks: dict[str, object] = {}
        self._start: float | None = None  # pipes: when the first callback came, and the last log line
        self._last = 0.0

    def __enter__(self) -> StageProgress:
        if self._console.is_terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeRemainingColumn(), console=self._console, transient=True)
            self._bar.start()
        return self

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self._bar is None:  # not a terminal: a log line at most every LOG_EVERY seconds of a long run
            import time

            from archsearch.logs import get_logger

            now = time.monotonic()
            if self._start is None:
                self._start = self._last = now
            if now - self._last >= self.LOG_EVERY or (done == total and now - self._start >= self.LOG_EVERY):
                self._last = now
                get_logger("enumerate").info(f"enumerate: {self.LABELS.get(stage, stage)} {done}/{total} "
                                             f"({now - self._start:.0f} s)")
            return
        if stage not in self._tasks:
            self._tasks[stage] = self._bar.add_task(self.LABELS.get(stage, stage), total=total)  # type: ignore[attr-defined]
        self._bar.update(self._tasks[stage], completed=done, total=total)  # type: ignore[attr-defined]

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()  # type: ignore[attr-defined]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="archsearch")
def cli() -> None:
    """Axiom-driven architecture search.

    State axioms (symmetries of a layer's potential V(X) and a maximal order) in a grammar file or
    as options; archsearch enumerates every admissible term, derives the field F(X) = ∂V/∂X* each
    term induces, and recognises the known architectures among them.

    \b
    Examples:
      archsearch grammars
      archsearch enumerate --grammar paper
      archsearch enumerate --left perm --max-order 6 --all --format json
      archsearch show 0-1.0-1
    """


@cli.command()
@logging_options
@click.option("--grammar", "grammar_path", metavar="NAME|FILE",
              help="A shipped grammar's name (see `archsearch grammars`: paper, permutation, softmax, …) or a "
                   "grammar file (TOML). Options given below override its axioms.")
@click.option("--left", type=click.Choice(["perm", "orthogonal", "unitary"]),
              help="Left symmetry group: perm (S_N, tokens exchangeable), orthogonal (O(N), real field: traces "
                   "of words in the edges and their transposes) or unitary (U(N): traces of words in the edges; "
                   "for real X, the restriction of U(N)-invariant potentials of X W X*).")
@click.option("--right", type=click.Choice(["centralizer", "none"]),
              help="centralizer: V depends on X only through X W X*; none: every S_N-invariant polynomial "
                   "(also the products of projections X W_m, odd orders and order 1; needs --left perm).")
@click.option("--field", "field_kind", type=click.Choice(["real", "complex"]), help="Real or complex X.")
@click.option("--max-order", type=click.IntRange(1, 16), help="Highest order in X (default 4).")
@click.option("--min-order", type=click.IntRange(1, 16), help="Lowest order in X (default 2).")
@click.option("--connected/--all", "connected", default=None,
              help="Connected families only (default) or all, products of lower-order ones too.")
@click.option("--weights", type=click.Choice(["free", "labelled", "alphabet"]),
              help="free: a free weight per edge; labelled: distinguishable edges; alphabet: named letters.")
@click.option("--alphabet", help="Comma-separated weight letters, e.g. A,B (implies --weights alphabet).")
@click.option("--symmetric", help="Comma-separated letters whose weights are symmetric, e.g. A.")
@click.option("--tokens", type=click.IntRange(1, 1 << 24), help="Number of tokens N (default: the grammar's). "
              "The table says whether the listed diagrams are independent at N and C (proved for N, C ≥ the "
              "vertices of a diagram; below that the numerical rank, with a warning when identities appear).")
@click.option("--features", type=click.IntRange(1, 1 << 20), help="Number of features C (default: the grammar's); "
              "see --tokens.")
@click.option("--format", "fmt", type=click.Choice(["auto", "table", "tsv", "csv", "json", "latex"]), default="auto",
              show_default=True, help="auto: a table fitted to the terminal, plain TSV in a pipe; csv, json and "
              "latex for documents and scripts (every format starts with the id column).")
@click.option("--no-cost", "no_cost", is_flag=True,
              help="Leave out the cost column (planning each term's contraction order is the slow part: about 8 ms "
                   "of CPU a term at order 12, more for higher orders).")
@click.option("--cost-limit", "cost_limit", type=click.FloatRange(min=0), default=120.0, show_default=True,
              metavar="SECONDS",
              help="Refuse (with the estimate) a cost column estimated to take longer than this; "
                   "--force or --no-cost lift it.")
@click.option("--force", is_flag=True,
              help="List more than 20,000 terms, or plan a cost column estimated to take longer than "
                   "--cost-limit; without it such requests are refused with the estimate.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), metavar="N",
              help="Worker processes that plan the costs and describe the terms (default: every CPU this process "
                   "may use; 1: no workers). The output does not depend on it.")
def enumerate(  # noqa: A001 - the command's name
    grammar_path: str | None,
    left: str | None,
    right: str | None,
    field_kind: str | None,
    max_order: int | None,
    min_order: int | None,
    connected: bool | None,
    weights: str | None,
    alphabet: str | None,
    symmetric: str | None,
    tokens: int | None,
    features: int | None,
    fmt: str,
    no_cost: bool,
    cost_limit: float,
    force: bool,
    jobs: int | None,
) -> None:
    """List every admissible term: id, order, potential, field, recognised name, and counts.

    Admissible means invariant under the axioms: a grammar that names a family its axioms do not
    admit (softmax under left = unitary, say) is an error. The id column is the term's canonical
    key; pass it to `archsearch show`.

    Limits: at most 20,000 terms (estimated from the growth of the lower orders before the
    expensive ones are listed), alphabets of at most 26 letters, a cost column estimated (from one
    term per order) under --cost-limit (2 minutes); --force lifts the first and the last. A progress bar follows
    long runs on a terminal.
    """
    from archsearch import describe, render
    from archsearch.enumeration import TooManyTerms
    from archsearch.families import InadmissibleFamily
    from archsearch.grammar import GrammarError, load_grammar

    letters = tuple(s.strip() for s in alphabet.split(",")) if alphabet else None
    sym = frozenset(s.strip() for s in symmetric.split(",")) if symmetric else None
    if letters and weights is None:
        weights = "alphabet"
    overrides = dict(left=left, right=right, field=field_kind, max_order=max_order, min_order=min_order,
                     connected=connected, weights=weights, alphabet=letters, symmetric=sym)
    try:
        if grammar_path is not None:
            grammar = describe.grammar_with_overrides(load_grammar(grammar_path), **overrides)
        else:
            grammar = describe.grammar_from_options(**overrides)
        grammar = describe.grammar_with_sizes(grammar, tokens=tokens, features=features)
        with StageProgress() as progress:
            desc = describe.describe_grammar(grammar, cost=not no_cost, force=force, progress=progress,
                                              cost_limit=cost_limit, workers=jobs)
    except GrammarError as err:
        raise UserError(str(err)) from None
    except TooManyTerms as err:
        raise UserError(f"{err}, or pass --force") from None
    except describe.CostTooSlow as err:
        raise UserError(str(err)) from None
    except InadmissibleFamily as err:
        option = f"--{err.axiom} {overrides[err.axiom]}: " if overrides.get(err.axiom) is not None else ""
        raise UserError(f"{option}{err.message} (named in {grammar_path})") from None
    except ValueError as err:
        raise UserError(f"invalid axioms: {err}") from None
    fmt = choose_format(fmt)
    if fmt == "json":
        click.echo(render.to_json(desc))
    elif fmt == "table":
        render.grammar_table(desc, make_console())
    else:
        text, warnings = render.grammar_text(desc, fmt)
        click.echo(text)
        for line in warnings:
            click.echo(f"archsearch enumerate: warning: {line}", err=True)


@cli.command()
@click.argument("term_id")
@click.option("--field", "field_kind", type=click.Choice(["real", "complex"]),
              help="Field to derive in (default: complex for free oriented edges such as 0~1.1~0, else real).")
@click.option("--untied", is_flag=True, help="Show the untied field (one parameter set per branch).")
@click.option("--code", is_flag=True, help="Also print the contraction plan and the generated PyTorch module.")
@click.option("--causal", is_flag=True, help="Compile the causal variant: future tokens masked (each summed token "
              "index ≤ its parent's along a spanning tree rooted at the output token; softmax: keys ≤ the query). "
              "A causal block is not the gradient of a potential.")
@click.option("--grammar", "grammar_path", metavar="NAME|FILE",
              help="Take the declared sizes (N, C, C_A, H) the contraction order is chosen for from this grammar "
                   "(a shipped grammar's name or a file).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "latex"]), default="text",
              show_default=True, help="Output format.")
@click.option("--draw", "draw_path", type=click.Path(path_type=Path, dir_okay=False), metavar="FILE",
              help="Also draw the contraction diagram to FILE (.png, .svg or .pdf): token vertices j, k, …, "
                   "edges labelled by their weight, arrows X → X* on oriented edges.")
def show(term_id: str, field_kind: str | None, untied: bool, code: bool, causal: bool, grammar_path: str | None,
         fmt: str, draw_path: Path | None) -> None:
    """Show the derivation of one term: potential → field → known name.

    TERM_ID is an id printed by `archsearch enumerate`: a diagram key such as 0-0 (Tr G, the MLP
    term), 0-1.0-1 (Tr(G₁G₂), linear attention), 0~1.1~0 (the same in the complex field), or a
    named family: lse (softmax; lse@0.5 at temperature 0.5), f-exp (entrywise kernel), mlp-gelu,
    mlp-relu2, mlp-silu (activated MLPs as gradient fields), glu-silu (SwiGLU, no potential), relu,
    soc4, colu4 (cone projections), glu3, glu2.1, glu1 (the products of right = none).

    \b
    Examples:
      archsearch show 0-1.0-1
      archsearch show 0-1.0-1 --draw linear_attention.svg
    """
    from archsearch import describe, render
    from archsearch.grammar import GrammarError, load_grammar

    try:
        term = describe.lookup_term(term_id)
        sizes = load_grammar(grammar_path).sizes if grammar_path is not None else None
        desc = describe.describe_term(term, field=field_kind, untied=untied, sizes=sizes, causal=causal, code=code)
    except GrammarError as err:
        raise UserError(str(err)) from None
    except describe.TermLookupError as err:
        raise UserError(str(err)) from None
    except ValueError as err:
        raise UserError(f"term {term_id!r}: {err}") from None
    if draw_path is not None:
        from archsearch.draw import DrawError, draw_diagram
        from archsearch.report.studies import ResultsError

        try:
            draw_diagram(term, draw_path, title=f"{term.key}: {desc['name'] or desc['potential']}")
        except (DrawError, ResultsError) as err:
            raise UserError(str(err)) from None
    if fmt == "json":
        click.echo(render.to_json(desc))
    elif fmt == "latex":
        click.echo(f"V(X) = {desc['potential_latex']}\nF(X) = {desc['field_latex']}")
        if code:
            click.echo(desc["code"])
    else:
        render.term_panel(desc, make_console())


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["auto", "table", "tsv", "csv", "json"]), default="auto",
              show_default=True, help="auto: a table on a terminal, TSV in a pipe.")
@click.option("--paths", is_flag=True, help="Also show each grammar's file.")
def grammars(fmt: str, paths: bool) -> None:
    """List the grammars shipped with archsearch: pass a name to --grammar (e.g. --grammar paper).

    They are package data, so they work from any directory once archsearch is installed; copy one (the
    path column of --paths) to start your own grammar file.
    """
    from archsearch import describe, render
    from archsearch.tabular import Column, Tabular, render_table
    from archsearch.tabular import render as render_text

    rows = describe.describe_shipped_grammars()
    fmt = choose_format(fmt)
    if fmt == "json":
        click.echo(render.to_json(rows))
        return
    cols = [Column("name", "name", "id", style="cyan"), Column("left", "left", "id"), Column("right", "right", "id",
            drop=2), Column("field", "field", "id", drop=2), Column("orders", "orders", "number"),
            Column("families", "named families", drop=1), Column("description", "description", drop=3)]
    cols += [Column("path", "path", drop=4)] if paths else []
    cells = [(r["name"], r["left"], r["right"], r["field"], r["orders"], ", ".join(r["families"]) or "—",
              r["description"]) + ((r["path"],) if paths else ()) for r in rows]
    table = Tabular(tuple(cols), tuple(cells), title="shipped grammars (--grammar NAME)")
    if fmt == "table":
        render_table(table, make_console())
    else:
        click.echo(render_text(table, fmt))


def _register() -> None:
    from archsearch import cli_experiment, cli_results, cli_search

    for command in (*cli_search.COMMANDS, *cli_results.COMMANDS, *cli_experiment.COMMANDS):
        cli.add_command(command)


_register()


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the click group, turning usage errors into one line with exit code 2."""
    args = sys.argv[1:] if argv is None else argv
    try:
        try:
            cli.main(args=args, prog_name="archsearch", standalone_mode=False)
        finally:  # a process that runs several commands (tests, a notebook) must not pile up server connections
            opened = sys.modules.get("archsearch.search.storage")
            if opened is not None:
                opened.close_storages()
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("archsearch: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        ctx = getattr(exc, "ctx", None)
        command = ctx.command_path if ctx is not None else "archsearch"
        message = " ".join(exc.format_message().split())
        hint = f" (see '{command} --help')" if isinstance(exc, click.UsageError) else ""
        # messages that already locate themselves (path:line:column: error: …) keep their own prefix
        label = "" if ": error: " in message else "error: "
        click.echo(f"{command}: {label}{message}{hint}", err=True)
        sys.exit(2 if exc.exit_code in (1, 2) else exc.exit_code)
    finally:
        from archsearch.logs import reset

        reset()
    sys.exit(0)


if __name__ == "__main__":
    main()
