"""Wall and CPU time of ``archsearch enumerate`` with its cost column, each in a fresh process.

The commands of the goals (order 12, connected: ≤ 3 s wall; ``--all``: ≤ 8 s wall), each also with
``--no-cost`` (enumeration, fields and printing only: the floor the cost column adds to). The terms are
described and costed in one worker process per available CPU (``--jobs``, the default), so wall time is
below CPU time on more than one core. CPU time is the child's and its workers' user + system time (it
moves less than wall time on a shared machine). Writes
results/benchmarks/enumerate_cli.md.

    python benchmarks/enumerate_cli.py [--max-order 12] [--repeats 1]
"""

from __future__ import annotations

import argparse
import datetime
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(args: list[str]) -> tuple[float, float]:
    """(wall, cpu) seconds of one ``archsearch enumerate`` in a fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "from archsearch.cli import main; main()", "enumerate", *args],
                   check=True, stdout=subprocess.DEVNULL, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-order", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=1, help="runs of each command (the table gives the best)")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "benchmarks" / "enumerate_cli.md")
    args = parser.parse_args()
    base = ["--left", "perm", "--max-order", str(args.max_order), "--format", "json"]
    goals = {"": 3.0, "--all": 8.0}
    load = os.getloadavg()[0]
    rows = []
    for extra, goal in goals.items():
        for cost in (True, False):
            cmd = base + ([extra] if extra else []) + ([] if cost else ["--no-cost"])
            runs = [run(cmd) for _ in range(args.repeats)]
            wall, cpu = min(r[0] for r in runs), min(r[1] for r in runs)
            verdict = (f"{'met' if wall <= goal else 'NOT met'} (≤ {goal:g} s)") if cost else "floor"
            rows.append(f"| `archsearch enumerate {' '.join(cmd)}` | {wall:.1f} | {cpu:.1f} | {verdict} |")
            print(rows[-1], flush=True)
    lines = [
        "# `archsearch enumerate` with the cost column",
        "",
        f"{datetime.date.today()}; {os.cpu_count()} cores, load average {load:.1f} at the start and "
        f"{os.getloadavg()[0]:.1f} at the end (other processes share the machine: wall time is inflated by "
        f"them, CPU time less so); Python {sys.version.split()[0]}; best of {args.repeats}.",
        "",
        "| command | wall (s) | CPU (s) | goal |",
        "| --- | --- | --- | --- |",
        *rows,
        "",
        f"Command: `python benchmarks/enumerate_cli.py --max-order {args.max_order} --repeats {args.repeats}`",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
