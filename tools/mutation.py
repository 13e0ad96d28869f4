"""Mutation testing of one core module with mutmut: ``make mutation MODULE=archsearch/families/canonical.py``.

The tracked files are copied to ``.mutation/<module>/`` (the working tree is never mutated, so tests can run
beside it), a ``[tool.mutmut]`` section naming the module and the tests that check it is written into the
copy's pyproject.toml, and ``mutmut run`` mutates it one change at a time, running only the listed tests that
execute the mutated function (mutmut's per-function test selection; slow tests left out). A second run
continues where the first stopped. Prints killed / survived / other counts and the survivors, whose diffs
``mutmut show NAME`` (run inside the copy) prints. Results are summarised by hand in results/quality/mutation.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# (not tests/test_api.py: its doc examples run in a subprocess, where mutmut's trampolines find no config)
ENUMERATION_USERS = ["tests/enumeration", "tests/cli/test_enumerate_show.py", "tests/reliability/test_bad_input.py",
                     "tests/families/test_shipped_grammars.py"]
# the families are read by the grammar, differentiated by the calculus and compiled by the compiler
# (and printed: tests/families/test_display.py, the reviewed block sources, `archsearch show`, bad-input messages)
FAMILY_USERS = ["tests/families", "tests/calculus", "tests/grammar", "tests/compiler/test_families.py",
                "tests/compiler/test_mask.py", "tests/compiler/test_generated_sources.py",
                "tests/reliability/test_bad_input.py", "tests/cli/test_enumerate_show.py"]
# The core modules and the tests that check them (a module not listed uses tests/<its subpackage>).
TESTS: dict[str, list[str]] = {
    "archsearch/families/canonical.py": ["tests/enumeration/test_canonical.py",
                                         "tests/enumeration/test_key_stability.py",
                                         "tests/enumeration/test_counts.py", "tests/enumeration/test_burnside.py"],
    "archsearch/enumeration/diagrams.py": ["tests/enumeration"],
    "archsearch/enumeration/bruteforce.py": ["tests/enumeration/test_counts.py"],
    # the axioms are read by the grammar as well; the catalogue and the limits by the CLI
    "archsearch/enumeration/axioms.py": ["tests/enumeration", "tests/grammar"],
    "archsearch/enumeration/catalogue.py": ENUMERATION_USERS,
    "archsearch/enumeration/limits.py": ENUMERATION_USERS,
    "archsearch/enumeration/references.py": ENUMERATION_USERS,
    "archsearch/enumeration/stability.py": ENUMERATION_USERS,
    # the export tests cannot run here: mutmut's trampolines make the copied model classes non-standalone
    "archsearch/train/model.py": ["tests/train"],
    "archsearch/search/study.py": ["tests/search"],
    "archsearch/search/liveness.py": ["tests/search"],
    "archsearch/search/recovery.py": ["tests/search"],
    "archsearch/search/storage.py": ["tests/search"],
    # the numerical block tests (test_blocks.py) also execute every plan helper but take minutes a mutant
    "archsearch/compiler/plan.py": ["tests/compiler/test_plan.py", "tests/compiler/test_plan_helpers.py",
                                    "tests/compiler/test_plan_contract.py", "tests/compiler/test_codegen.py",
                                    "tests/compiler/test_generated_sources.py"],
    "archsearch/compiler/lowrank.py": ["tests/compiler/test_lowrank.py", "tests/compiler/test_lowrank_contract.py",
                                       "tests/compiler/test_generated_sources.py",
                                       "tests/compiler/test_compile_term.py"],
    "archsearch/calculus/evaluate.py": ["tests/calculus"],
    "archsearch/export/__init__.py": ["tests/export"],
    "archsearch/export/source.py": ["tests/export"],
    # the Triton kernels run under TRITON_INTERPRET=1 (tests/compiler/kernels/conftest.py); mutmut leaves the
    # @triton.jit kernels alone (it skips functions under decorators other than @staticmethod; they are planted by
    # hand, tools/planted_kernels.py): their launchers and the torch references are mutated
    **{f"archsearch/compiler/kernels/{name}.py": ["tests/compiler/kernels"]
       for name in ("__init__", "reference", "triton_causal")},
    **{f"archsearch/families/{name}.py": FAMILY_USERS
       for name in ("__init__", "activation", "base", "conic", "diagram", "edge", "entrywise", "functions",
                    "gated", "glu", "registry", "softmax", "token")},
}
# mutmut gives a mutant this x (its tests' time + 1 s) of wall time and twice that of CPU time
TIMEOUT_MULTIPLIER = 5.0
# (not test_jit_script_is_not_supported: with the caches emptied per mutant a regenerated class meets TorchScript's
# registry of the first one and fails with "Can't redefine method" before the reason the test checks)
PYTEST_ARGS = ["-p", "no:xdist", "-p", "no:cacheprovider", "-m", "not slow", "-q", "-x",
               "-k", "not test_jit_script_is_not_supported", "-o", "tmp_path_retention_count=1000000"]


def tests_for(module: str) -> list[str]:
    if module in TESTS:
        return TESTS[module]
    parts = Path(module).parts
    return [str(Path("tests", *parts[1:-1]))] if len(parts) > 2 else ["tests"]


def copy_tracked(dest: Path) -> None:
    """The tracked files of the working tree under ``dest`` (files already there and equal are left alone)."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, files.decode().split("\0")):
        src, dst = ROOT / name, dest / name
        if src.is_symlink():  # e.g. grammars -> archsearch/grammars: the same link in the copy
            if not dst.is_symlink():
                dst.parent.mkdir(parents=True, exist_ok=True)
                dst.symlink_to(os.readlink(src))
            continue
        if src.is_file() and (not dst.exists() or dst.read_bytes() != src.read_bytes()):
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)


def prepare(module: str, tests: list[str], timeout_multiplier: float = TIMEOUT_MULTIPLIER) -> Path:
    """The copy of the tracked files for ``module``, its pyproject.toml carrying the mutmut section."""
    work = ROOT / ".mutation" / module.replace("/", "-").removesuffix(".py")
    copy_tracked(work)
    pyproject = (ROOT / "pyproject.toml").read_text()
    section = "\n".join([
        "", "[tool.mutmut]",
        'source_paths = ["archsearch"]',
        f"only_mutate = {json.dumps([module])}",
        f"pytest_add_cli_args = {json.dumps(PYTEST_ARGS)}",
        f"pytest_add_cli_args_test_selection = {json.dumps(tests)}",
        f"timeout_multiplier = {timeout_multiplier}",  # past that a mutant counts as killed (a timeout)
        'also_copy = ["grammars", "tests", "docs", "benchmarks", "results", "README.md"]',
        "",
    ])
    (work / "pyproject.toml").write_text(pyproject + section)
    return work


def summary(work: Path, mutmut: str) -> dict[str, list[str]]:
    """Mutant names by status, from ``mutmut results --all true``."""
    out = subprocess.run([mutmut, "results", "--all", "true"], cwd=work, capture_output=True, text=True).stdout
    found: dict[str, list[str]] = {}
    for line in out.splitlines():
        m = re.match(r"\s*(\S+): (.+)$", line)
        if m:
            found.setdefault(m.group(2).strip(), []).append(m.group(1))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("module", help="a core module, e.g. archsearch/families/canonical.py")
    parser.add_argument("--tests", nargs="*", help="test paths (default: the table in this file)")
    parser.add_argument("--only", nargs="*", default=[],
                        help="functions to mutate (names in the module, e.g. perm_to permute_expr; default: all)")
    parser.add_argument("--survivors", action="store_true",
                        help="re-run only the previous run's survivors, with the current tests (after adding tests)")
    parser.add_argument("--timeouts", action="store_true",
                        help="re-run only the previous run's timeouts (e.g. with a larger --timeout-multiplier)")
    parser.add_argument("--mutants", nargs="*", default=[],
                        help="re-run these mutants by name (e.g. the survivors a run printed), with the current tests")
    parser.add_argument("--max-children", type=int, default=1, help="parallel mutants (default 1: shared cores)")
    parser.add_argument("--timeout-multiplier", type=float, default=TIMEOUT_MULTIPLIER,
                        help="a mutant may run this x (its tests' time + 1 s) of wall time, twice that of CPU "
                             "time (default 5; 1.5 gives up sooner on the compiler's mutated path searches, but "
                             "on busy cores it can cut a slow clean run short: re-run those with --timeouts)")
    args = parser.parse_args()
    module = args.module
    if not (ROOT / module).is_file() or not module.startswith("archsearch/") or not module.endswith(".py"):
        parser.error(f"{module!r} is not a module under archsearch/")
    mutmut = str(Path(sys.executable).with_name("mutmut"))
    if not Path(mutmut).exists():
        parser.error("mutmut is not installed: pip install -e '.[mutation]'")
    dotted = module.removesuffix(".py").replace("/", ".")
    names = [f"{dotted}.x*{name}__mutmut_*" for name in args.only]
    work = ROOT / ".mutation" / module.replace("/", "-").removesuffix(".py")
    rerun = ["survived"] * args.survivors + ["timeout"] * args.timeouts
    rerunning = bool(args.mutants or rerun)  # named mutants only: the report keeps to them
    if args.mutants:
        names = list(args.mutants)
    elif rerun:
        found = summary(work, mutmut) if (work / "mutants").is_dir() else {}
        names = [name for status in rerun for name in found.get(status, [])]
        if not names:
            parser.error(f"no {' or '.join(rerun)} mutants recorded for this module: run it first")
    if rerunning:
        shutil.rmtree(work / "mutants", ignore_errors=True)  # mutmut copies the tests once: use the current ones
    work = prepare(module, args.tests or tests_for(module), args.timeout_multiplier)
    # Each mutant runs in a child forked from mutmut's process, with that process's module globals: the studies
    # tests/report/results_helpers.py built there live in a pytest numbered directory, which a later session
    # would delete after three more sessions (every test then failing: every mutant "killed"). The run keeps
    # its numbered directories under the copy, all of them, and removes them at the end.
    temp_root = work / "pytest-tmp"
    temp_root.mkdir(exist_ok=True)
    env = {**os.environ, "PYTEST_DEBUG_TEMPROOT": str(temp_root)}
    subprocess.run([mutmut, "run", "--max-children", str(args.max_children), *names], cwd=work, env=env)
    shutil.rmtree(temp_root, ignore_errors=True)
    found = summary(work, mutmut)
    if args.only:
        found = {status: [n for n in ns if any(f"{name}__mutmut_" in n for name in args.only)]
                 for status, ns in found.items()}
    if rerunning:
        found = {status: [n for n in ns if n in names] for status, ns in found.items()}
    counts = {status: len(names) for status, names in sorted(found.items())}
    print(f"\n{module}: " + ", ".join(f"{status} {n}" for status, n in counts.items()))
    for status in ("survived", "timeout"):  # timeouts count as killed; listed for a re-run with --timeouts
        for name in found.get(status, []):
            print(f"  {status}: {name}")
    print(f"(diffs: cd {work.relative_to(ROOT)} && mutmut show NAME)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
