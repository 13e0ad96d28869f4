"""The ``archsearch`` command line: click commands that parse options and call the library.

Every error a user can cause (bad grammar file, bad option, unknown term id) is printed as one line
``archsearch <command>: error: …`` on stderr with exit code 2, and nothing is written.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console

from archsearch import __version__


class UserError(click.ClickException):
    """A one-line error with exit code 2, printed as ``archsearch <command>: error: …``."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.ctx = click.get_current_context(silent=True)


def make_console() -> Console:
    return Console(soft_wrap=False)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="archsearch")
def cli() -> None:
    """Axiom-driven architecture search.

    State axioms (symmetries of a layer's potential V(X) and a maximal order) in a grammar file or
    as options; archsearch enumerates every admissible term, derives the field F(X) = ∂V/∂X* each
    term induces, and recognises the known architectures among them.

    \b
    Examples:
      archsearch enumerate --grammar grammars/paper.toml
      archsearch enumerate --left perm --max-order 6 --all --format json
      archsearch show 0-1.0-1
    """


@cli.command()
@click.option("--grammar", "grammar_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Grammar file (TOML, see grammars/). Options given below override its axioms.")
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
@click.option("--format", "fmt", type=click.Choice(["table", "json", "latex"]), default="table",
              show_default=True, help="Output format.")
def enumerate(  # noqa: A001 - the command's name
    grammar_path: Path | None,
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
) -> None:
    """List every admissible term: id, order, potential, field, recognised name, and counts.

    Admissible means invariant under the axioms: a grammar that names a family its axioms do not
    admit (softmax under left = unitary, say) is an error. The id column is the term's canonical
    key; pass it to `archsearch show`.
    """
    from archsearch import describe, render
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
        desc = describe.describe_grammar(grammar)
    except GrammarError as err:
        raise UserError(str(err)) from None
    except InadmissibleFamily as err:
        option = f"--{err.axiom} {overrides[err.axiom]}: " if overrides.get(err.axiom) is not None else ""
        raise UserError(f"{option}{err.message} (named in {grammar_path})") from None
    except ValueError as err:
        raise UserError(f"invalid axioms: {err}") from None
    if fmt == "json":
        click.echo(render.to_json(desc))
    elif fmt == "latex":
        click.echo(render.grammar_latex(desc))
    else:
        render.grammar_table(desc, make_console())


@cli.command()
@click.argument("term_id")
@click.option("--field", "field_kind", type=click.Choice(["real", "complex"]),
              help="Field to derive in (default: complex for free oriented edges such as 0~1.1~0, else real).")
@click.option("--untied", is_flag=True, help="Show the untied field (one parameter set per branch).")
@click.option("--code", is_flag=True, help="Also print the contraction plan and the generated PyTorch module.")
@click.option("--causal", is_flag=True, help="Compile the causal variant: future tokens masked (each summed token "
              "index ≤ its parent's along a spanning tree rooted at the output token; softmax: keys ≤ the query). "
              "A causal block is not the gradient of a potential.")
@click.option("--grammar", "grammar_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Take the declared sizes (N, C, C_A, H) the contraction order is chosen for from this grammar.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "latex"]), default="text",
              show_default=True, help="Output format.")
def show(term_id: str, field_kind: str | None, untied: bool, code: bool, causal: bool, grammar_path: Path | None,
         fmt: str) -> None:
    """Show the derivation of one term: potential → field → known name.

    TERM_ID is an id printed by `archsearch enumerate`: a diagram key such as 0-0 (Tr G, the MLP
    term), 0-1.0-1 (Tr(G₁G₂), linear attention), 0~1.1~0 (the same in the complex field), or a
    named family: lse (softmax; lse@0.5 at temperature 0.5), f-exp (entrywise kernel), mlp-gelu,
    mlp-relu2, mlp-silu (activated MLPs as gradient fields), glu-silu (SwiGLU, no potential), relu,
    soc4, colu4 (cone projections), glu3, glu2.1, glu1 (the products of right = none).
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
    if fmt == "json":
        click.echo(render.to_json(desc))
    elif fmt == "latex":
        click.echo(f"V(X) = {desc['potential_latex']}\nF(X) = {desc['field_latex']}")
        if code:
            click.echo(desc["code"])
    else:
        render.term_panel(desc, make_console())


def _register() -> None:
    from archsearch import cli_experiment, cli_results, cli_search

    for command in (*cli_search.COMMANDS, *cli_results.COMMANDS, *cli_experiment.COMMANDS):
        cli.add_command(command)


_register()


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the click group, turning usage errors into one line with exit code 2."""
    args = sys.argv[1:] if argv is None else argv
    try:
        cli.main(args=args, prog_name="archsearch", standalone_mode=False)
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
    sys.exit(0)


if __name__ == "__main__":
    main()
