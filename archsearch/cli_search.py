"""Click commands registered on the `archsearch` group by archsearch/cli.py (filled in by issue 4).

Import heavy libraries (optuna, torch) inside the command functions, so `archsearch enumerate` stays fast.
"""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
