"""Reproduce every table and plot of results/paper/ ("Transformers Are Optimal Effective Fields", Fu 2025).

One script, library calls only (the same calls the ``archsearch`` CLI makes), CPU, one worker, one torch thread:

1. tables   fields_unitary.md, fields_perm.md (admissible fields at orders 2–8, counts against OEIS and an
            independent brute force) and derivations.md (potential → field → known block). Deterministic.
2. search   per task (icl-regression, mqar): a TPE search over the paper grammar, the permutation grammar
            (orders 2–4) and the softmax grammar with the same budget → search_<task>.md, pareto_<task>.png,
            history_<task>.png. The Optuna journals and trial weights go to a scratch directory (--studies).
3. tied     tied (potential-exact) against untied blocks, same terms and budget, several seeds per task →
            tied_vs_untied.md, tied_vs_untied.png.
4. README.md of the output directory: every file, the command, the run time, the machine, the noise.

    python benchmarks/reproduce_paper.py                          # the full run (about 12 min on 2 shared CPU cores)
    python benchmarks/reproduce_paper.py --only tables            # the deterministic tables only (< 1 min)
    python benchmarks/reproduce_paper.py --quick --out /tmp/paper # tiny budgets, every file (< 2 min)
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # paper_tables, next to this file

import paper_tables  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "paper"
COMMAND = paper_tables.COMMAND
PARTS = ("tables", "search", "tied")
GRAMMARS = ("paper", "permutation", "softmax")
COLOURS = {"paper": "#1f77b4", "permutation": "#2ca02c", "softmax": "#d62728"}
MARKERS = {"paper": "o", "permutation": "s", "softmax": "^"}


# ------------------------------------------------------------------------------------------ budgets


@dataclass(frozen=True)
class Budget:
    """Everything that sets how much is trained (full run or --quick)."""

    trials: int = 24
    steps: int = 300
    batch_size: int = 32
    eval_size: int = 1024
    space: dict[str, tuple[Any, ...]] = field(default_factory=lambda: {
        "width": (16, 32), "depth": (1, 2), "heads": (1, 2), "rank_frac": (0.5, 1.0), "step": (0.5, 1.0),
        "lr": (3e-3, 1e-2),
    })
    perm_max_order: int = 4
    seeds: tuple[int, ...] = (0, 1, 2)
    tied_model: dict[str, Any] = field(default_factory=lambda: {
        "width": 32, "depth": 2, "heads": 1, "rank": 16, "step": 0.5})
    tied_lr: float = 3e-3
    tied_steps: int = 600
    field_orders: tuple[int, ...] | None = None  # None: every order up to 8 in fields_perm.md
    tasks: dict[str, dict[str, Any]] = field(default_factory=lambda: {
        "icl-regression": {"d": 4, "n": 10},
        "mqar": {"vocab": 32, "seq_len": 16, "num_kv": 4},
    })


FULL = Budget()
QUICK = Budget(
    trials=3, steps=12, batch_size=16, eval_size=64,
    space={"width": (8,), "depth": (1,), "heads": (1,), "rank_frac": (1.0,), "step": (0.5,), "lr": (3e-3, 1e-2)},
    seeds=(0, 1), tied_model={"width": 8, "depth": 1, "heads": 1, "rank": 8, "step": 0.5}, tied_steps=12,
    field_orders=(2, 4, 6),
    tasks={"icl-regression": {"d": 4, "n": 10}, "mqar": {"vocab": 32, "seq_len": 16, "num_kv": 4}},
)

TIED_TERMS = (
    (("0-0", "0-1.0-1"), "MLP + linear attention"),
    (("0-0", "lse"), "MLP + softmax attention"),
)


# ------------------------------------------------------------------------------------------ helpers


def log(msg: str) -> None:
    print(msg, flush=True)


def fmt(x: Any, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    if isinstance(x, float):
        return f"{x:.{digits}g}"
    return str(x)


def fmt_count(x: Any) -> str:
    if x is None:
        return "—"
    v = float(x)
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(v) >= scale:
            return f"{v / scale:.3g}{unit}"
    return str(int(v))


def task_label(task: str, options: dict[str, Any]) -> str:
    return f"{task} (" + ", ".join(f"{k} = {v}" for k, v in options.items()) + ")"


def machine() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} logical cores (shared with other jobs while this ran), "
            f"{platform.system()} {platform.machine()}, Python {platform.python_version()}, torch {torch.__version__} "
            f"(CPU, 1 thread)")


def write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def save_png(fig: Any, path: Path, command: str = COMMAND) -> Path:
    """The figure as PNG; the command that made it goes into the PNG's header (tEXt chunk "Description")."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110,
                metadata={"Title": path.stem, "Description": f"made by: {command}", "Software": "archsearch"})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())
    return path


def new_figure(width: float, height: float, ncols: int = 1) -> tuple[Any, list[Any]]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, list(fig.subplots(1, ncols, squeeze=False)[0])


# ------------------------------------------------------------------------------------------ 1. tables


def write_tables(out: Path, budget: Budget) -> list[Path]:
    """fields_unitary.md, fields_perm.md, derivations.md (deterministic)."""
    paths = []
    for left, name in (("unitary", "fields_unitary.md"), ("perm", "fields_perm.md")):
        t0 = time.perf_counter()
        # --quick shortens the perm table (30 order-8 families to compile); the unitary one has one per order
        text = paper_tables.fields_document(left, detail_orders=budget.field_orders if left == "perm" else None)
        paths.append(write_text(out / name, text))
        log(f"  {name}: {time.perf_counter() - t0:.1f} s")
    paths.append(write_text(out / "derivations.md", paper_tables.derivations_document()))
    log("  derivations.md")
    return paths


# ------------------------------------------------------------------------------------------ 2. searches


def grammar_of(name: str, budget: Budget) -> Any:
    from archsearch.describe import grammar_with_overrides
    from archsearch.grammar import load_grammar

    grammar = load_grammar(ROOT / "grammars" / f"{name}.toml")
    if name == "permutation":
        grammar = grammar_with_overrides(grammar, max_order=budget.perm_max_order)
    return grammar


def space_option(space: dict[str, tuple[Any, ...]]) -> str:
    return " ".join(f"--space {k}={','.join(str(v) for v in vals)}" for k, vals in space.items())


def cli_search(grammar: str, task: str, options: dict[str, Any], budget: Budget, study: str, studies: Path) -> str:
    opts = " ".join(f"--task-option {k}={v}" for k, v in {**options, "eval_size": budget.eval_size}.items())
    path = f"grammars/{grammar}.toml" if grammar != "permutation" else \
        f"grammars/permutation.toml[max_order = {budget.perm_max_order}]"
    return (f"archsearch search --grammar {path} --task {task} {opts} --trials {budget.trials} "
            f"--steps {budget.steps} --batch-size {budget.batch_size} {space_option(budget.space)} "
            f"--sampler tpe --pruner median --workers 1 --threads 1 --device cpu --seed 0 --study {study} "
            f"--results {studies}")


@dataclass
class StudyResult:
    grammar: str
    study: Any  # optuna.Study
    rows: list[dict[str, Any]]  # the leaderboard, best first (archsearch.report.leaderboard)
    counts: dict[str, int]
    terms: tuple[str, ...]
    wall: float
    command: str


def run_one_search(grammar_name: str, task: str, options: dict[str, Any], budget: Budget,
                   studies: Path) -> StudyResult:
    from archsearch.report import leaderboard, write_report
    from archsearch.search import count_trials, run_search, space_from_grammar

    grammar = grammar_of(grammar_name, budget)
    name = f"paper-{grammar_name}-{task}"
    study_dir = studies / name
    if study_dir.exists():
        shutil.rmtree(study_dir)  # a fresh study on every run (the scratch directory is ours)
    t0 = time.perf_counter()
    study = run_search(
        grammar, task, {**options, "eval_size": budget.eval_size}, name, budget.trials, None, "tpe", "median",
        ("metric",), steps=budget.steps, batch_size=budget.batch_size, space=dict(budget.space), workers=1,
        resume=False, baseline=True, device="cpu", seed=0, results_dir=studies, progress=False, threads=1,
    )
    wall = time.perf_counter() - t0
    rows = leaderboard(study, top=None, results_dir=studies)
    try:  # the full per-study report (scratch, not committed)
        write_report(study, study_dir / "report", results_dir=studies)
    except Exception as err:  # noqa: BLE001 - an extra; the paper files do not depend on it
        log(f"    (per-study report skipped: {err})")
    terms = space_from_grammar(grammar).terms
    counts = count_trials(study)
    log(f"  {name}: {counts['COMPLETE']} complete, {counts['PRUNED']} pruned, best val {fmt(rows[0]['values'][0])} "
        f"({' + '.join(rows[0]['term_ids'])}), {wall:.0f} s")
    return StudyResult(grammar_name, study, rows, counts, terms, wall,
                       cli_search(grammar_name, task, options, budget, name, studies))


def task_references(task_name: str, options: dict[str, Any], budget: Budget) -> dict[str, float]:
    """icl-regression: one-step GD (formula and measured on the test set) and predicting 0; mqar: guessing."""
    import torch

    from archsearch.tasks import make_task

    task = make_task(task_name, **options, eval_size=budget.eval_size)
    if task_name == "icl-regression":
        test = task.dataset("test")
        gd = task.metric(task.gd_prediction(test["inputs"], task.gd_optimal_lr()), test)
        zero = task.metric(torch.zeros_like(test["targets"]), test)
        return {"gd_formula": task.gd_optimal_mse(), "gd_measured": gd, "eta": task.gd_optimal_lr(), "zero": zero}
    return {"guess_context": 1.0 / options["num_kv"], "guess_values": 1.0 / (options["vocab"] - options["vocab"] // 2)}


def hyper(row: dict[str, Any]) -> str:
    p = row.get("params", {})
    keys = ("width", "depth", "heads", "rank_frac", "step", "lr")
    return ", ".join(f"{k} {p[k]}" for k in keys if k in p)


def terms_text(row: dict[str, Any]) -> str:
    parts = []
    for tid, name in zip(row["term_ids"], row["names"], strict=True):
        parts.append(f"{name} `{tid}`" if name else f"`{tid}`")
    return " + ".join(parts)


def better(direction: str, a: float, b: float) -> bool:
    return a < b if direction == "minimize" else a > b


def search_markdown(task: str, options: dict[str, Any], results: list[StudyResult], refs: dict[str, float],
                    budget: Budget, studies: Path, quick: bool) -> str:
    from archsearch.tasks import make_task

    t = make_task(task, **options)
    metric, direction = t.metric_name, t.direction
    lines = [
        f"# Search on {task_label(task, options)}: paper vs permutation vs softmax grammar",
        "",
        f"Generated by `{COMMAND}{' --quick' if quick else ''}` (the search part; `--only search` reruns it). "
        "Trained numbers: single seed per trial; see tied_vs_untied.md for the spread over seeds.",
        "",
        f"Budget per grammar: {budget.trials} finished trials (TPE sampler, seed 0; median pruner; the baseline "
        f"candidate queued first), {budget.steps} AdamW steps of batch {budget.batch_size} per trial, val/test sets "
        f"of {budget.eval_size} examples; CPU, one worker, one torch thread. Hyper-parameter choices: "
        + "; ".join(f"{k} ∈ {{{', '.join(str(v) for v in vals)}}}" for k, vals in budget.space.items())
        + ". Objective: validation " + f"{metric} ({'lower' if direction == 'minimize' else 'higher'} is better); "
        "the test metric of the same trained model is shown beside it.",
        "",
        "Grammars searched (terms as canonical keys):",
        "",
    ]
    for r in results:
        note = f" (grammars/permutation.toml with max_order = {budget.perm_max_order}: its order-6 terms are left " \
               "out to fit the CPU budget)" if r.grammar == "permutation" else f" (grammars/{r.grammar}.toml)"
        lines.append(f"- **{r.grammar}**{note}: " + ", ".join(f"`{k}`" for k in r.terms))
    lines.append("")
    if task == "icl-regression":
        lines += [
            "Reference (von Oswald et al. 2023): one step of gradient descent from w = 0 on the context, "
            f"ŷ = η x_qᵀ (1/n) Σ x_i y_i at η* = n/(n+d+1) = {refs['eta']:.4f}, has expected MSE "
            f"d(d+1)/(n+d+1) = **{refs['gd_formula']:.4f}** (measured on this test set: {refs['gd_measured']:.4f}); "
            f"predicting 0 gives {refs['zero']:.4f}. One linear-attention layer can implement that step; deeper "
            "models can beat it.",
            "",
        ]
    else:
        lines += [
            f"Reference: outputting one of the {options['num_kv']} values bound in the context at random gives "
            f"accuracy {refs['guess_context']:.3f}; guessing among all {options['vocab'] - options['vocab'] // 2} "
            f"value tokens {refs['guess_values']:.4f}.",
            "",
        ]
    lines += [
        "## Best trial per grammar",
        "",
        f"| grammar | trials (complete / pruned) | best val {metric} | its test {metric} | winning terms | params "
        "| FLOPs / example | hyper-parameters | search wall s |",
        "| --- | ---: | ---: | ---: | --- | ---: | ---: | --- | ---: |",
    ]
    overall = None
    for r in results:
        best = r.rows[0]
        if overall is None or better(direction, best["values"][0], overall[1]["values"][0]):
            overall = (r.grammar, best)
        lines.append(
            f"| {r.grammar} | {r.counts['COMPLETE']} / {r.counts['PRUNED']} | {fmt(best['values'][0])} | "
            f"{fmt(best['test_metric'])} | {terms_text(best)} | {fmt_count(best['n_params'])} | "
            f"{fmt_count(best['flops'])} | {hyper(best)} | {r.wall:.0f} |"
        )
    if task == "icl-regression":
        lines.append(f"| one-step GD (reference) | | | {refs['gd_measured']:.4g} (formula {refs['gd_formula']:.4g}) "
                     "| — | 0 | — | η* | |")
    lines.append("")
    grammar, best = overall
    tied_with = [r.grammar for r in results if r.grammar != grammar and r.rows[0]["values"][0] == best["values"][0]]
    verdict = [f"**Winner on {task}**: the {grammar} grammar's {terms_text(best)} (trial {best['number']}), val "
               f"{metric} {fmt(best['values'][0])}, test {fmt(best['test_metric'])}."]
    if tied_with:
        verdict.append(f"The {' and '.join(tied_with)} grammar{'s' if len(tied_with) > 1 else ''} found the same "
                       "best value (the same candidate: every grammar here contains its terms).")
    if task == "icl-regression":
        ratio = best["test_metric"] / refs["gd_formula"]
        verdict.append(f"Its test MSE is {ratio:.2f}× the one-step-GD value {refs['gd_formula']:.3f} "
                       f"({'below' if ratio < 1 else 'above'} it; the winner has depth "
                       f"{best['params'].get('depth')}).")
    lines += verdict + [""]
    if task == "icl-regression":
        lines += ["One-step GD is what one linear-attention layer can implement, so the like-for-like comparison is "
                  "with one Euler step (depth 1):", "",
                  f"| grammar | best depth-1 trial: val mse | test mse | ÷ GD formula {refs['gd_formula']:.4g} "
                  "| terms |",
                  "| --- | ---: | ---: | ---: | --- |"]
        for r in results:
            one = [row for row in r.rows if row.get("params", {}).get("depth") == 1]
            if one:
                row = one[0]
                lines.append(f"| {r.grammar} | {fmt(row['values'][0])} | {fmt(row['test_metric'])} | "
                             f"{row['test_metric'] / refs['gd_formula']:.2f} | {terms_text(row)} |")
            else:
                lines.append(f"| {r.grammar} | — (no complete depth-1 trial) | | | |")
        lines.append("")
    lines += ["## Term usage among the five best trials of each grammar", ""]
    lines += ["| grammar | term | recognised as | in top 5 | best val with it |", "| --- | --- | --- | ---: | ---: |"]
    for r in results:
        top = [row for row in r.rows if row.get("duplicate_of") is None][:5]
        for key in r.terms:
            with_key = [row for row in top if key in row["term_ids"]]
            name = next((n for row in r.rows for t, n in zip(row["term_ids"], row["names"], strict=True)
                         if t == key and n), None)
            if name is None:
                from archsearch.enumeration import recognise
                from archsearch.terms import term_from_key

                name = recognise(term_from_key(key))
            best_with = fmt(with_key[0]["values"][0]) if with_key else "—"
            lines.append(f"| {r.grammar} | `{key}` | {name or '—'} | {len(with_key)} | {best_with} |")
    lines.append("")
    lines += ["## Leaderboards (top 5 per grammar)", ""]
    for r in results:
        lines += [f"### {r.grammar}", "",
                  f"| # | trial | val {metric} | test {metric} | terms | params | FLOPs | hyper-parameters |",
                  "| ---: | ---: | ---: | ---: | --- | ---: | ---: | --- |"]
        for row in r.rows[:5]:
            dup = f" (= trial {row['duplicate_of']})" if row.get("duplicate_of") is not None else ""
            lines.append(f"| {row['rank']} | {row['number']}{dup} | {fmt(row['values'][0])} | "
                         f"{fmt(row['test_metric'])} | {terms_text(row)} | {fmt_count(row['n_params'])} | "
                         f"{fmt_count(row['flops'])} | {hyper(row)} |")
        lines.append("")
    lines += [f"Plots: `pareto_{task}.png` (val {metric} against forward FLOPs, every complete trial, Pareto front "
              f"over all three grammars), `history_{task}.png` (best so far per grammar).", "",
              "CLI equivalents (the script makes the same library calls; the permutation grammar's max_order "
              "override has no CLI flag, so it passes a Grammar object):", "", "```"]
    lines += [r.command for r in results]
    lines += ["```", "", f"Studies (Optuna journals, trial weights, per-study HTML reports) were written to "
              f"`{display_path(studies)}/` (scratch, not committed).", ""]
    return "\n".join(lines)


def display_path(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def trial_points(r: StudyResult) -> list[tuple[float, float, int]]:
    """(flops, val metric, number) of the COMPLETE trials with finite values."""
    from optuna.trial import TrialState

    out = []
    for t in r.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        flops = t.user_attrs.get("flops")
        if t.values and flops and math.isfinite(t.values[0]):
            out.append((float(flops), float(t.values[0]), t.number))
    return out


def _reference_line(ax: Any, task: str, refs: dict[str, float]) -> None:
    """The task's reference: one-step GD's loss d(d+1)/(n+d+1) on icl-regression, else the random guess."""
    if task == "icl-regression":
        ax.axhline(refs["gd_formula"], color="#7f7f7f", linestyle="--", linewidth=1.2,
                   label=f"one-step GD, d(d+1)/(n+d+1) = {refs['gd_formula']:.3f}")
    else:
        ax.axhline(refs["guess_context"], color="#7f7f7f", linestyle=":", linewidth=1.2,
                   label=f"random context value = {refs['guess_context']:.2f}")


def _log_if_wide(ax: Any, direction: str, values: list[float]) -> None:
    """A log y axis for a loss that spans more than a factor 20."""
    if direction == "minimize" and values and min(values) > 0 and max(values) / min(values) > 20:
        ax.set_yscale("log")


def _finish(ax: Any, metric: str, direction: str, xlabel: str, title: str) -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"validation {metric} ({'lower' if direction == 'minimize' else 'higher'} is better)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=8)


def pareto_plot(task: str, metric: str, direction: str, results: list[StudyResult], refs: dict[str, float]) -> Any:
    from archsearch.report.plots import pareto_front

    fig, (ax,) = new_figure(8.0, 5.0)
    every = []  # (cost, metric, grammar) of every complete trial
    for r in results:
        pts = trial_points(r)
        every += [(c, m, r.grammar) for c, m, _ in pts]
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], color=COLOURS[r.grammar], marker=MARKERS[r.grammar],
                   s=36, alpha=0.75, edgecolors="black", linewidths=0.4, label=f"{r.grammar} grammar ({len(pts)})",
                   zorder=3)
    front = pareto_front([(c, m, i) for i, (c, m, _) in enumerate(every)], direction)
    if front:
        ax.step([p[0] for p in front], [p[1] for p in front], where="post", color="black", linewidth=1.3,
                zorder=4, label="Pareto front (all grammars)")
        ax.scatter([p[0] for p in front], [p[1] for p in front], facecolors="none", edgecolors="black", s=110,
                   linewidths=1.2, zorder=5)
    _reference_line(ax, task, refs)
    costs = [p[0] for p in every]
    if costs and max(costs) / max(min(costs), 1.0) > 20:
        ax.set_xscale("log")
    _log_if_wide(ax, direction, [p[1] for p in every])
    _finish(ax, metric, direction, "forward FLOPs per example (measured)",
            f"{task}: {metric} vs cost, every complete trial of the three searches")
    return fig


def history_plot(task: str, metric: str, direction: str, results: list[StudyResult], refs: dict[str, float]) -> Any:
    fig, (ax,) = new_figure(8.0, 5.0)
    for r in results:
        pts = sorted((n, m) for _, m, n in trial_points(r))
        if not pts:
            continue
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], color=COLOURS[r.grammar], marker=MARKERS[r.grammar],
                   s=18, alpha=0.35, zorder=2)
        xs, ys, best = [], [], None
        for n, m in pts:
            best = m if best is None or better(direction, m, best) else best
            xs.append(n)
            ys.append(best)
        last = max(t.number for t in r.study.get_trials(deepcopy=False))
        xs.append(last)
        ys.append(ys[-1])
        ax.step(xs, ys, where="post", color=COLOURS[r.grammar], linewidth=2, zorder=3,
                label=f"{r.grammar} grammar: best {ys[-1]:.4g}")
    _reference_line(ax, task, refs)
    if task == "icl-regression":
        _log_if_wide(ax, direction, [m for r in results for _, m, _ in trial_points(r)])
    _finish(ax, metric, direction, "trial number (pruned trials: no point)",
            f"{task}: best so far per grammar (dots: each complete trial)")
    return fig


def run_searches(out: Path, studies: Path, budget: Budget, quick: bool) -> tuple[list[Path], dict[str, Any]]:
    from archsearch.tasks import make_task

    paths, summary = [], {}
    for task, options in budget.tasks.items():
        t = make_task(task, **options)
        refs = task_references(task, options, budget)
        results = [run_one_search(g, task, options, budget, studies) for g in GRAMMARS]
        paths.append(write_text(out / f"search_{task}.md",
                                search_markdown(task, options, results, refs, budget, studies, quick)))
        command = COMMAND + (" --quick" if quick else "")
        paths.append(save_png(pareto_plot(task, t.metric_name, t.direction, results, refs), out / f"pareto_{task}.png",
                              command))
        paths.append(save_png(history_plot(task, t.metric_name, t.direction, results, refs),
                              out / f"history_{task}.png", command))
        best = None
        for r in results:
            if best is None or better(t.direction, r.rows[0]["values"][0], best[1]["values"][0]):
                best = (r.grammar, r.rows[0])
        summary[task] = {"best": best, "refs": refs, "wall": sum(r.wall for r in results),
                         "per_grammar": {r.grammar: r.rows[0] for r in results}}
    return paths, summary


# ------------------------------------------------------------------------------------------ 3. tied vs untied


def run_tied(out: Path, budget: Budget, quick: bool) -> tuple[list[Path], dict[str, Any]]:
    import torch

    from archsearch.tasks import make_task
    from archsearch.train import ModelConfig, TrainConfig, train

    torch.set_num_threads(1)
    records: list[dict[str, Any]] = []
    t_all = time.perf_counter()
    for task_name, options in budget.tasks.items():
        task = make_task(task_name, **options, eval_size=budget.eval_size)
        for terms, label in TIED_TERMS:
            for tied in (True, False):
                for seed in budget.seeds:
                    model_cfg = ModelConfig(terms=terms, tied=tied, seed=seed, norm="layer", **budget.tied_model)
                    train_cfg = TrainConfig(steps=budget.tied_steps, batch_size=budget.batch_size,
                                            lr=budget.tied_lr, warmup_steps=min(100, budget.tied_steps // 10),
                                            eval_every=max(1, budget.tied_steps // 5), eval_batches=4, seed=seed,
                                            device="cpu")
                    t0 = time.perf_counter()
                    res = train(model_cfg, train_cfg, task)
                    wall = time.perf_counter() - t0
                    records.append({"task": task_name, "terms": terms, "label": label, "tied": tied, "seed": seed,
                                    "test": res.test_metric, "val": res.val_metric, "params": res.n_params,
                                    "flops": res.flops, "wall": wall, "metric": task.metric_name})
                    log(f"  {task_name} {label} {'tied' if tied else 'untied'} seed {seed}: test "
                        f"{task.metric_name} {res.test_metric:.4f} ({wall:.1f} s)")
    total = time.perf_counter() - t_all
    groups = group_records(records)
    refs = {task: task_references(task, options, budget) for task, options in budget.tasks.items()}
    paths = [write_text(out / "tied_vs_untied.md", tied_markdown(groups, refs, budget, quick, total)),
             save_png(tied_plot(groups, records, refs, budget), out / "tied_vs_untied.png",
                      COMMAND + (" --quick" if quick else ""))]
    return paths, {"groups": groups, "wall": total}


def group_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[tuple, dict[str, Any]] = {}
    for r in records:
        key = (r["task"], r["terms"], r["tied"])
        g = groups.setdefault(key, {"task": r["task"], "terms": r["terms"], "label": r["label"], "tied": r["tied"],
                                    "metric": r["metric"], "tests": [], "params": r["params"], "flops": r["flops"],
                                    "walls": []})
        g["tests"].append(r["test"])
        g["walls"].append(r["wall"])
    for g in groups.values():
        g["mean"] = statistics.fmean(g["tests"])
        g["std"] = statistics.stdev(g["tests"]) if len(g["tests"]) > 1 else 0.0
    return list(groups.values())


def tied_markdown(groups: list[dict[str, Any]], refs: dict[str, dict[str, float]], budget: Budget, quick: bool,
                  total: float) -> str:
    m = budget.tied_model
    lines = [
        "# Tied (potential-exact) vs untied blocks",
        "",
        f"Generated by `{COMMAND}{' --quick' if quick else ''}` (the tied part; `--only tied` reruns it).",
        "",
        "Tied: every branch of a term's field shares the term's weights, so each block is exactly ∇_X V of its "
        "potential (fewer parameters). Untied: each branch has its own weights, as practical Transformers have "
        "separate Q, K, V, O. Same terms, same architecture and the same training budget for both; "
        f"seeds {', '.join(str(s) for s in budget.seeds)} (each seed sets the initialisation and the training data; "
        "the val/test sets are fixed).",
        "",
        f"Model: width {m['width']}, depth {m['depth']} (Euler steps, parallel scheme), heads {m['heads']}, rank C_A "
        f"{m['rank']}, step h {m['step']}, layer norm. Training: AdamW lr {budget.tied_lr}, {budget.tied_steps} steps "
        f"of batch {budget.batch_size}, warm-up {min(100, budget.tied_steps // 10)}, cosine decay, clip 1.0; test "
        f"sets of {budget.eval_size} examples. Tasks: "
        + "; ".join(task_label(t, o) for t, o in budget.tasks.items()) + ".",
        "",
        "| task | terms | block | test metric, mean ± std over seeds | per seed | params | FLOPs / example "
        "| train wall s (mean) |",
        "| --- | --- | --- | ---: | --- | ---: | ---: | ---: |",
    ]
    for g in groups:
        terms = " + ".join(f"`{k}`" for k in g["terms"])
        lines.append(
            f"| {g['task']} | {g['label']} ({terms}) | {'tied' if g['tied'] else 'untied'} | {g['metric']} "
            f"{g['mean']:.4f} ± {g['std']:.4f} | {', '.join(f'{v:.4f}' for v in g['tests'])} | "
            f"{fmt_count(g['params'])} | {fmt_count(g['flops'])} | {statistics.fmean(g['walls']):.1f} |"
        )
    lines.append("")
    if "icl-regression" in refs:
        r = refs["icl-regression"]
        lines.append(f"icl-regression reference: one-step GD d(d+1)/(n+d+1) = {r['gd_formula']:.4f} (measured on the "
                     f"test set {r['gd_measured']:.4f}); predicting 0: {r['zero']:.4f}.")
    if "mqar" in refs:
        lines.append(f"mqar reference: a random one of the bound context values, accuracy "
                     f"{refs['mqar']['guess_context']:.3f}.")
    lines += ["", "Findings:", ""]
    by = {(g["task"], g["terms"], g["tied"]): g for g in groups}
    for task in budget.tasks:
        for terms, label in TIED_TERMS:
            tied, untied = by.get((task, terms, True)), by.get((task, terms, False))
            if not tied or not untied:
                continue
            direction = "minimize" if tied["metric"] == "mse" else "maximize"
            winner = "tied" if better(direction, tied["mean"], untied["mean"]) else "untied"
            gap = abs(tied["mean"] - untied["mean"])
            noise = max(tied["std"], untied["std"])
            lines.append(f"- {task}, {label}: tied {tied['mean']:.4f} ± {tied['std']:.4f} vs untied "
                         f"{untied['mean']:.4f} ± {untied['std']:.4f} → {winner} better by {gap:.4f} "
                         f"({'larger' if gap > 2 * noise else 'not clearly larger'} than twice the seed spread); "
                         f"tied uses {tied['params'] / untied['params']:.2f}× the parameters.")
    lines += ["", f"Wall time of this part: {total:.0f} s (noisy: shared 2-core machine).", ""]
    return "\n".join(lines)


def tied_plot(groups: list[dict[str, Any]], records: list[dict[str, Any]], refs: dict[str, dict[str, float]],
              budget: Budget) -> Any:
    tasks = list(budget.tasks)
    fig, axes = new_figure(5.2 * len(tasks), 4.6, ncols=len(tasks))
    by = {(g["task"], g["terms"], g["tied"]): g for g in groups}
    colours = {True: "#1f77b4", False: "#ff7f0e"}
    for ax, task in zip(axes, tasks, strict=True):
        metric = next(g["metric"] for g in groups if g["task"] == task)
        xs = range(len(TIED_TERMS))
        for j, tied in enumerate((True, False)):
            offs = -0.2 if tied else 0.2
            means, stds = [], []
            for terms, _ in TIED_TERMS:
                g = by[(task, terms, tied)]
                means.append(g["mean"])
                stds.append(g["std"])
            ax.bar([x + offs for x in xs], means, width=0.38, yerr=stds, capsize=4, color=colours[tied],
                   alpha=0.85, label=("tied (∇V exact)" if tied else "untied (per-branch weights)"), zorder=2)
            for i, (terms, _) in enumerate(TIED_TERMS):
                vals = [r["test"] for r in records if r["task"] == task and r["terms"] == terms and r["tied"] == tied]
                ax.scatter([i + offs] * len(vals), vals, color="black", s=10, zorder=3,
                           label="single seed" if (i == 0 and j == 0) else None)
        if task == "icl-regression":
            ax.axhline(refs[task]["gd_formula"], color="#7f7f7f", linestyle="--", linewidth=1.2,
                       label=f"one-step GD = {refs[task]['gd_formula']:.3f}")
        else:
            ax.axhline(refs[task]["guess_context"], color="#7f7f7f", linestyle=":", linewidth=1.2,
                       label=f"random context value = {refs[task]['guess_context']:.2f}")
        ax.set_xticks(list(xs), [label.replace(" + ", "\n+ ") for _, label in TIED_TERMS])
        ax.set_xlabel("terms of each Euler step")
        better_word = "lower" if metric == "mse" else "higher"
        ax.set_ylabel(f"test {metric} ({better_word} is better), mean ± std")
        ax.set_title(f"{task}: {len(budget.seeds)} seeds each")
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend(loc="best", fontsize=8)
    fig.suptitle("Tied (potential-exact) vs untied blocks, same terms and budget")
    return fig


# ------------------------------------------------------------------------------------------ 4. README


FILE_NOTES = {
    "fields_unitary.md": "admissible connected fields, orders 2–8, left unitary / right centralizer (deterministic)",
    "fields_perm.md": "admissible connected fields, orders 2–8, left perm / right centralizer (deterministic)",
    "derivations.md": "potential → field → known block: MLP, linear attention, softmax (both branches), gated MLP, "
                      "ReLU, SOC and CoLU (flagged: no potential) (deterministic)",
    "search_icl-regression.md": "search leaderboards on icl-regression per grammar, with the one-step-GD reference",
    "pareto_icl-regression.png": "val MSE vs FLOPs, every complete trial, the three grammars, Pareto front, GD line",
    "history_icl-regression.png": "best val MSE so far per grammar, GD line",
    "search_mqar.md": "search leaderboards on mqar per grammar",
    "pareto_mqar.png": "val accuracy vs FLOPs, every complete trial, the three grammars, Pareto front",
    "history_mqar.png": "best val accuracy so far per grammar",
    "tied_vs_untied.md": "tied vs untied blocks, mean ± std over seeds, both tasks",
    "tied_vs_untied.png": "bar plot of the same",
}


def readme(out: Path, args: argparse.Namespace, budget: Budget, times: dict[str, float], total: float,
           search: dict[str, Any], tied: dict[str, Any]) -> str:
    flags = " --quick" if args.quick else ""
    lines = [
        "# Reproduction of the paper's tables and plots",
        "",
        "\"Transformers Are Optimal Effective Fields\" (Fu, 2025), with archsearch. Every file here is written by one "
        "command, from the repository root:",
        "",
        "```",
        f"{COMMAND}{flags}",
        "```",
        "",
        f"(`--only tables|search|tied` reruns one part; `--quick --out DIR` runs every part with tiny budgets.) "
        f"Studies (Optuna journals, trial weights, per-study HTML reports) go to `{display_path(args.studies)}/`, "
        "a scratch directory that is not committed.",
        "",
        f"Machine: {machine()}.",
        "",
        "| part | wall time |",
        "| --- | ---: |",
    ]
    for part in PARTS:
        if part in times:
            lines.append(f"| {part} | {times[part]:.0f} s |")
    lines += [f"| **total** | **{total:.0f} s ({total / 60:.1f} min)** |", "", "## Files", "",
              "| file | what |", "| --- | --- |"]
    for path in sorted(p.name for p in out.iterdir() if p.is_file() and p.suffix in (".md", ".png", ".csv")):
        if path == "README.md":
            continue
        lines.append(f"| [{path}]({path}) | {FILE_NOTES.get(path, '')} |")
    lines += ["", "The deterministic files (fields_*.md, derivations.md) are bit-for-bit identical on every run; "
              "tests/benchmarks/test_reproduce_paper.py regenerates them and compares.", ""]
    if search:
        lines += ["## Key findings", ""]
        for task, s in search.items():
            grammar, best = s["best"]
            text = (f"- **{task}**: best {best['values'][0]:.4g} (val; test {best['test_metric']:.4g}) from the "
                    f"{grammar} grammar with {terms_text(best)}")
            if task == "icl-regression":
                text += (f"; one-step GD reference d(d+1)/(n+d+1) = {s['refs']['gd_formula']:.4f}, so the winner is "
                         f"at {best['test_metric'] / s['refs']['gd_formula']:.2f}× it")
            lines.append(text + ".")
            for g, row in s["per_grammar"].items():
                lines.append(f"  - {g}: {row['values'][0]:.4g} with {terms_text(row)}")
        lines.append("")
    if tied:
        lines += ["Tied vs untied (test metric, mean ± std over seeds):", ""]
        for g in tied["groups"]:
            lines.append(f"- {g['task']}, {g['label']}, {'tied' if g['tied'] else 'untied'}: "
                         f"{g['mean']:.4f} ± {g['std']:.4f}")
        lines.append("")
    spreads = {}
    for g in (tied or {}).get("groups", []):
        spreads.setdefault(g["task"], []).append(g["std"])
    lines += ["## Noise", "",
              "Everything trained here ran on a shared 2-core CPU with small budgets, so: (1) wall times are noisy "
              "(other jobs ran at the same time); (2) each search trial is a single seed, and which grammar wins a "
              "search can change with the seed or budget when the best values are within the seed spread; (3) the "
              "seed spread measured in tied_vs_untied.md (standard deviation over seeds of the test metric, same "
              "configuration) is the noise floor to compare differences against"
              + (": " + "; ".join(f"{t}: std up to {max(v):.4f}" for t, v in spreads.items()) if spreads else "")
              + ". On CPU a run is a deterministic function of its seeds, so rerunning reproduces the trained numbers "
              "up to floating-point differences between machines.", ""]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny budgets (a test of the pipeline, < 2 min)")
    p.add_argument("--out", type=Path, default=None,
                   help="output directory (default results/paper; with --quick a temporary directory)")
    p.add_argument("--studies", type=Path, default=None,
                   help="scratch directory of the Optuna studies (default OUT/studies; not committed)")
    p.add_argument("--only", choices=PARTS, action="append", help="run only this part (repeatable)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    budget = QUICK if args.quick else FULL
    if args.out is None:
        args.out = Path(tempfile.mkdtemp(prefix="archsearch-paper-quick-")) if args.quick else OUT
    args.studies = args.studies or args.out / "studies"
    parts = tuple(args.only) if args.only else PARTS
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    log(f"writing {out} ({'quick' if args.quick else 'full'} budgets; parts: {', '.join(parts)})")
    t_start = time.perf_counter()
    times: dict[str, float] = {}
    search: dict[str, Any] = {}
    tied: dict[str, Any] = {}
    if "tables" in parts:
        t0 = time.perf_counter()
        log("tables")
        write_tables(out, budget)
        times["tables"] = time.perf_counter() - t0
    if "search" in parts:
        t0 = time.perf_counter()
        log("searches")
        _, search = run_searches(out, args.studies, budget, args.quick)
        times["search"] = time.perf_counter() - t0
    if "tied" in parts:
        t0 = time.perf_counter()
        log("tied vs untied")
        _, tied = run_tied(out, budget, args.quick)
        times["tied"] = time.perf_counter() - t0
    total = time.perf_counter() - t_start
    if parts == PARTS:  # the README describes a complete run only
        write_text(out / "README.md", readme(out, args, budget, times, total, search, tied))
    log(f"done in {total:.0f} s ({total / 60:.1f} min): {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
