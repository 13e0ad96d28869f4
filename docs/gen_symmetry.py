"""Regenerate the family × axiom table of docs/concepts.md: python docs/gen_symmetry.py

Every representative family is checked numerically by archsearch.testing (seed 0): declared ✓ must
hold to 1e-10 (float64), undeclared ✗ must fail by more than 1e-3. The last two columns are the
measurements: the largest deviation among the declared cells, the smallest among the others.
"""

from __future__ import annotations

import re
from pathlib import Path

from archsearch.testing import AXIOMS, jacobian_asymmetry, representatives, symmetry_table

START, END = "<!-- symmetry-table -->", "<!-- /symmetry-table -->"


def render() -> str:
    terms = representatives()
    checks = symmetry_table(terms)
    lines = [
        "| term | S_N (perm) | O(N) (orthogonal) | U(N) (unitary) | centralizer | potential | "
        "worst declared | weakest undeclared |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for term in terms:
        cells = [c for c in checks if c.key == term.key]
        assert all(c.ok for c in cells), [c for c in cells if not c.ok]
        marks = " | ".join("✓" if c.declared else "✗" for c in cells)
        held = max((c.deviation for c in cells if c.declared), default=0.0)
        failed = min((c.deviation for c in cells if not c.declared), default=None)
        asym = jacobian_asymmetry(term)
        assert (asym < 1e-6) == term.has_potential, term.key
        potential = "✓" if term.has_potential else "✗"
        lines.append(f"| `{term.key}` | {marks} | {potential} | {held:.0e} | "
                     f"{'—' if failed is None else f'{failed:.2g}'} |")
    assert [c.axiom for c in checks[: len(AXIOMS)]] == list(AXIOMS)
    return "\n".join(lines)


if __name__ == "__main__":
    path = Path(__file__).with_name("concepts.md")
    text = path.read_text()
    block = f"{START}\n{render()}\n{END}"
    path.write_text(re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S))
