"""Canonical keys are persisted identifiers (a study's term ids, grammar files, results/): the canonical form
may change only on purpose. tests/data/canonical_keys.txt lists the key of every family up to order 8 (real
free, complex, and a symmetric + a non-symmetric letter up to order 6), as written by this module's
``write_keys``; a canonical labelling that still counts right but names a family differently fails here.
After a deliberate change: ``run write_keys() of this module (import it by path)``
and say in the commit that stored studies' term ids change."""

from __future__ import annotations

import re
from pathlib import Path

from archsearch.enumeration.axioms import Axioms
from archsearch.enumeration.diagrams import all_diagrams
from archsearch.terms import Diagram

ROOT = Path(__file__).resolve().parents[2]
KEYS = ROOT / "tests" / "data" / "canonical_keys.txt"
CASES = {
    "real-free": (Axioms(), 4),
    "complex-free": (Axioms(field="complex"), 4),
    "letters-A-symmetric-B": (Axioms(weights="alphabet", alphabet=("A", "B"), symmetric=frozenset("A")), 3),
}


def current_keys() -> list[str]:
    return [f"{name} {g.key}" for name, (ax, top) in CASES.items() for d in range(1, top + 1)
            for g in all_diagrams(ax, d)]


def write_keys() -> None:
    KEYS.write_text("\n".join(current_keys()) + "\n")


def test_keys_of_every_family_are_unchanged():
    recorded = KEYS.read_text().splitlines()
    now = current_keys()
    changed = sorted(set(recorded) ^ set(now))
    assert not changed, f"{len(changed)} keys differ, e.g. {changed[:6]}"
    assert recorded == now


def test_keys_quoted_in_the_docs_and_results_are_canonical():
    """Every diagram key written in README.md, docs/, results/ and grammars/ parses to itself."""
    pattern = re.compile(r"(?<![\w.~-])[A-Z]?[0-9a-z][-~][0-9a-z](?:\.[A-Z]?[0-9a-z][-~][0-9a-z])+(?![\w~-])")
    files = [ROOT / "README.md", *(ROOT / "docs").rglob("*.md"), *(ROOT / "results").rglob("*.md"),
             *(ROOT / "grammars").rglob("*.toml")]
    keys = {k for p in files for k in pattern.findall(p.read_text())}
    assert len(keys) >= 40
    assert [k for k in sorted(keys) if Diagram.from_key(k).key != k] == []
