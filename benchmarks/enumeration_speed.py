"""Time the enumeration of all connected left = perm families up to order 10 (goal: < 10 s on a
2-core machine), in a fresh process with empty caches; print the counts and the time; write a
table to results/benchmarks/enumeration_speed.md."""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

from archsearch.enumeration.axioms import Axioms
from archsearch.enumeration.diagrams import all_diagrams, connected_diagrams


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-order", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("results/benchmarks/enumeration_speed.md"))
    args = parser.parse_args()
    rows = []
    for name, ax, connected in [
        ("perm, real, free, connected", Axioms(), True),
        ("perm, real, free, all", Axioms(), False),
        ("perm, complex (directed), connected", Axioms(field="complex"), True),
        ("unitary, two letters, connected", Axioms(left="unitary", weights="alphabet", alphabet=("A", "B")), True),
    ]:
        t0 = time.perf_counter()
        make = connected_diagrams if connected else all_diagrams
        counts = [len(make(ax, d)) for d in range(1, args.max_order // 2 + 1)]
        rows.append((name, counts, time.perf_counter() - t0))
    lines = [
        f"# Enumeration speed (orders 2..{args.max_order}; {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()})",
        "",
        "| axioms | counts at orders 2, 4, … | seconds |",
        "| --- | --- | --- |",
    ]
    for name, counts, secs in rows:
        lines.append(f"| {name} | {', '.join(map(str, counts))} | {secs:.3f} |")
        print(f"{name:40s} {counts}  {secs:.3f} s")
    goal = rows[0][2]
    print(f"connected left = perm families up to order {args.max_order}: {goal:.3f} s (goal < 10 s)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
