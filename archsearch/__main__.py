"""``python -m archsearch`` runs the command line."""

from archsearch.cli import main

main()
