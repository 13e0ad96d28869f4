"""The bugs issue 14 planted by hand (one line each) that the suite once let through: ``python tools/plant.py
tools/planted_issue14.py`` checks that each now fails a test, and prints which."""

CANONICAL = "archsearch/families/canonical.py"
MODEL = "archsearch/train/model.py"
RECOVERY = "archsearch/search/recovery.py"
LIVENESS = "archsearch/search/liveness.py"
PLAN = "archsearch/compiler/plan.py"

INDIVIDUALISE = " " * 16 + "search([2 * c + (0 if (u == v or c != target) else 1) for u, c in enumerate(colors)])\n"
MODEL_TESTS = ["tests/train/test_model.py", "tests/export/test_export.py"]
WORKER_TESTS = ["tests/search/test_workers.py", "tests/search/test_study.py"]

MUTANTS = [
    # the canonical form without individualisation: the equitable partition's colours taken as the labelling
    (CANONICAL, "        if not multi:\n", "        if True:\n",
     ["tests/enumeration/test_burnside.py", "tests/enumeration/test_canonical.py"]),
    # ... or individualising only the first vertex of the target cell (no search over the cell's members): like
    # the bug, every count right to order 12 (d = 6 edges), one wrong at order 14
    (CANONICAL, INDIVIDUALISE, INDIVIDUALISE + "                break\n",
     ["tests/enumeration/test_burnside.py", "tests/enumeration/test_canonical.py"]),
    # the Euler step: h dropped in the split scheme, the complex step's sign flipped, h dropped in the parallel one
    (MODEL, "            x = x + self._scaled(block(norm(x)))", "            x = x + block(norm(x))", MODEL_TESTS),
    (MODEL, "f * (-1j * self.step) if self.rotate", "f * (1j * self.step) if self.rotate", MODEL_TESTS),
    (MODEL, "            return x + self._scaled(total)", "            return x + total", MODEL_TESTS),
    # recovery of dead workers: the retry cap one run short, a zombie owner taken for alive
    (RECOVERY, "len(history) > max_retry", "len(history) >= max_retry", WORKER_TESTS),
    (LIVENESS, 'info[0] in ("Z", "X")', 'info[0] in ("X",)', WORKER_TESTS),
    # the axis-ordering helper returning the inverse permutation
    (PLAN, "    return tuple(idx.index(c) for c in target)", "    return tuple(target.index(c) for c in idx)",
     ["tests/compiler/test_plan_helpers.py"]),
]
