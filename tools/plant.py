"""Mutants planted by hand, one at a time: ``python tools/plant.py tools/planted_cached.py``.

For the code mutmut does not mutate (decorated functions: every ``lru_cache``d planner). The spec file defines
``MUTANTS = [(module path, exact old text, new text, [test paths]), …]``; each old text must occur exactly once.
The tracked files are copied to a scratch directory, each mutant is applied there alone and its tests run
(``-x``, slow tests left out unless ``--slow``); prints KILLED (with the first failing test) or alive per
mutant and the count. The working tree is never changed.
"""

from __future__ import annotations

import argparse
import os
import runpy
import subprocess
import sys
import tempfile
from pathlib import Path

from mutation import ROOT, copy_tracked  # tools/mutation.py: the script's own directory is on sys.path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", type=Path, help="a Python file defining MUTANTS")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per mutant (past it: killed)")
    parser.add_argument("--slow", action="store_true", help="run the slow tests too (left out by default)")
    args = parser.parse_args()
    mutants = runpy.run_path(str(args.spec))["MUTANTS"]
    with tempfile.TemporaryDirectory(prefix="archsearch-plant-") as tmp:
        copy = Path(tmp)
        copy_tracked(copy)
        env = {**os.environ, "PYTHONPATH": str(copy), "OMP_NUM_THREADS": "1"}
        killed = 0
        for k, (module, old, new, tests) in enumerate(mutants):
            text = (ROOT / module).read_text()
            if text.count(old) != 1:
                parser.error(f"mutant {k}: its old text occurs {text.count(old)} times in {module}")
            (copy / module).write_text(text.replace(old, new))
            try:
                marks = "not exhaustive" if args.slow else "not slow"
                run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-p",
                                      "no:xdist", "-m", marks, *tests], cwd=copy, env=env, capture_output=True,
                                     text=True, timeout=args.timeout)
                if run.returncode == 5:  # pytest collected no test (e.g. only slow ones): nothing was checked
                    parser.error(f"mutant {k}: no test ran ({' '.join(tests)}; slow tests run only with --slow)")
                dead, last = run.returncode != 0, (run.stdout.strip().splitlines() or [run.stderr[-200:]])[-1]
                failed = [line.split()[1] for line in run.stdout.splitlines()
                          if line.startswith(("FAILED ", "ERROR ")) and len(line.split()) > 1]
                if failed:  # the test that caught it (``-x``: the first failure)
                    last = f"{failed[0]} ({last})"
            except subprocess.TimeoutExpired:
                dead, last = True, f"timeout ({args.timeout:g} s)"
            finally:
                (copy / module).write_text(text)
            killed += dead
            print(f"{k:3d} {'KILLED' if dead else 'alive '} {module}: {old.strip()[:50]!r} -> {new.strip()[:50]!r} "
                  f"| {last[:160]}", flush=True)
    print(f"{killed} of {len(mutants)} killed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
