"""Regenerate docs/cli.md from the click commands: python docs/gen_cli.py"""

from __future__ import annotations

from pathlib import Path

import click

from archsearch.cli import cli


def render() -> str:
    parts = ["# Command-line reference", "", "Generated from the click commands by `python docs/gen_cli.py`.", ""]
    # the group's own help names (-h, --help), as every real invocation has them: click caches a command's help
    # option from the first context that asks, so rendering with other names would depend on what ran before
    names = cli.context_settings["help_option_names"]
    ctx = click.Context(cli, info_name="archsearch", terminal_width=100, max_content_width=100,
                        help_option_names=names)
    parts += ["## archsearch", "", "```", cli.get_help(ctx), "```", ""]
    for name, command in cli.commands.items():
        sub = click.Context(command, info_name=name, parent=ctx, terminal_width=100,
                            max_content_width=100)
        parts += [f"## archsearch {name}", "", "```", command.get_help(sub), "```", ""]
    return "\n".join(parts)


if __name__ == "__main__":
    Path(__file__).with_name("cli.md").write_text(render())
