"""Multi-fidelity search against random search at the same budget of training steps.

Both search the permutation grammar (orders 2–6, all 17 connected diagrams; up to 3 terms per trial, the
``few`` mode) on one task, with the same space, the same steps per trial and the same total budget of
training steps (pruned trials count the steps they trained):

* multi-fidelity: TPE + successive halving over the training steps (``--pruner sha``, Optuna's
  SuccessiveHalvingPruner: one bracket, so TPE learns from every trial; ``--pruner hyperband`` compares the
  bracketed variant, whose TPE learns from a trial's own bracket only);
* random:         random sampling, every trial trained to the end (``--sampler random --pruner none``).

For each seed the best validation metric found so far is recorded against the training steps spent so far
(trials in the order they finished). The goal of the search issue: multi-fidelity reaches random search's
final best within a third of the budget. The script prints, per seed and on the mean over the seeds, the
fraction of the budget multi-fidelity needed (or "not reached"), and the goal's own comparison paired by
seed: multi-fidelity's best at a third of the budget against random search's at the end (mean ± standard
error). It writes results/benchmarks/multifidelity_cpu.md and multifidelity_cpu.png.

Ten seeds by default: over three, the paired comparison's standard error (0.11 on icl-regression, seeds 0–2)
is larger than the effect it measures (0.07 over 20 seeds), so three cannot tell either way. A study's seed
draws its sampler, its trials' data and their initialisation; the runs are deterministic per seed.

    python benchmarks/multifidelity.py                  # the full comparison (seeds 0-9, ~25 min on one core)
    python benchmarks/multifidelity.py --seeds 100-109 --out results/benchmarks/multifidelity_heldout
    python benchmarks/multifidelity.py --report-only --studies DIR --seeds 0-9,100-109   # pooled, no training
    python benchmarks/multifidelity.py --quick --out /tmp/mf   # tiny budgets (tests)
"""

from __future__ import annotations

import argparse
import math
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import device_name  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "benchmarks"
PRUNER_NAMES = {"sha": "successive halving", "hyperband": "Hyperband"}
METHODS = ("multi-fidelity", "random")  # the two arms; a study is named "<method>-<seed>"
SPACE = {"width": (8, 16), "depth": (1, 2), "heads": (1, 2), "rank_frac": (0.5, 1.0), "step": (0.5, 1.0),
         "lr": (1e-3, 3e-3, 1e-2), "max_terms": 3}


def eval_every(steps: int) -> int:
    """Six reports per trial: the pruners' rungs start at the first."""
    return max(1, steps // 6)


def curve(study: Any) -> list[tuple[int, float]]:
    """(training steps spent, best value so far) after each finished trial, in the order trials finished."""
    sign = 1.0 if study.directions[0].name == "MINIMIZE" else -1.0
    done = [t for t in study.get_trials(deepcopy=False) if t.state.name in ("COMPLETE", "PRUNED")]
    done.sort(key=lambda t: (t.datetime_complete, t.number))
    spent, best, out = 0, math.inf, []
    for t in done:
        spent += int(t.user_attrs.get("steps", 0))
        if t.state.name == "COMPLETE" and t.values and math.isfinite(t.values[0]):
            best = min(best, sign * t.values[0])
        out.append((spent, sign * best if math.isfinite(best) else math.nan))
    return out


def steps_to_reach(points: list[tuple[int, float]], target: float, direction: str) -> int | None:
    """The training steps spent when the best so far first reached ``target`` (None: never)."""
    for spent, best in points:
        if math.isfinite(best) and (best <= target if direction == "minimize" else best >= target):
            return spent
    return None


def best_at(points: list[tuple[int, float]], spent: int) -> float:
    """A search's best so far once ``spent`` training steps are spent (NaN before its first finished trial)."""
    best = math.nan
    for x, value in points:
        if x > spent:
            break
        best = value
    return best


def mean_curve(runs: list[dict[str, Any]]) -> list[tuple[int, float]]:
    """The mean over the seeds of the best so far, at each step count where a seed's curve has a point (from
    the first step count at which every seed has finished a trial)."""
    steps = sorted({x for r in runs for x, _ in r["points"]})
    out = []
    for x in steps:
        values = [best_at(r["points"], x) for r in runs]
        if all(math.isfinite(v) for v in values):
            out.append((x, statistics.fmean(values)))
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from archsearch.search import run_search

    torch.set_num_threads(1)
    studies = Path(args.studies or tempfile.mkdtemp(prefix="archsearch-mf-"))
    methods = {"multi-fidelity": {"sampler": "tpe", "pruner": args.pruner},
               "random": {"sampler": "random", "pruner": "none"}}  # METHODS, each with its sampler and pruner
    runs: dict[str, list[dict[str, Any]]] = {m: [] for m in METHODS}
    for seed in args.seeds:
        for method, choice in methods.items():
            start = time.perf_counter()
            study = run_search("grammars/permutation.toml", args.task, dict(args.task_option),
                               f"{method}-{seed}", None, steps=args.steps, batch_size=args.batch_size,
                               train_options={"eval_every": eval_every(args.steps)}, space=SPACE,
                               budget=f"{args.budget}steps", baseline=False, seed=seed, results_dir=studies,
                               progress=False, threads=1, workers=args.workers, mode="few", **choice)
            record = search_record(seed, study, time.perf_counter() - start)
            runs[method].append(record)
            points = record["points"]
            print(f"{method} seed {seed}: best {points[-1][1]:.4g} after {points[-1][0]} steps, "
                  f"{len(points)} trials, {record['seconds']:.0f} s", flush=True)
    return {"runs": runs, "studies": str(studies)}


def search_record(seed: int, study: Any, seconds: float) -> dict[str, Any]:
    """What the report reads of one finished search: its seed, best-so-far curve, wall time and direction."""
    points = curve(study)
    return {"seed": seed, "points": points, "seconds": seconds, "trials": len(points),
            "direction": study.directions[0].name.lower()}


def load(args: argparse.Namespace) -> dict[str, Any]:
    """The runs of an earlier ``run`` from its studies directory (``--report-only``): the same curves, read back
    from the Optuna journals; a search's wall time is its first trial's start to its last trial's end."""
    from archsearch.search.factories import load_study
    from archsearch.search.storage import open_storage

    studies = Path(args.studies)
    runs: dict[str, list[dict[str, Any]]] = {m: [] for m in METHODS}
    for seed in args.seeds:
        for method in METHODS:
            name = f"{method}-{seed}"
            study = load_study(name, open_storage(None, studies / name, create=False), where=str(studies / name))
            trials = [t for t in study.get_trials(deepcopy=False) if t.datetime_complete is not None]
            seconds = (max(t.datetime_complete for t in trials) - min(t.datetime_start for t in trials)).total_seconds()
            runs[method].append(search_record(seed, study, seconds))
    return {"runs": runs, "studies": str(studies)}


def summarise(data: dict[str, Any], budget: int) -> dict[str, Any]:
    runs = data["runs"]
    direction = runs["random"][0]["direction"]
    finals = {m: [r["points"][-1][1] for r in rs] for m, rs in runs.items()}
    target = statistics.fmean(finals["random"])

    def fraction(points: list[tuple[int, float]], goal: float) -> float | None:
        """The share of the budget spent when ``points`` first reached ``goal`` (None: never)."""
        steps = steps_to_reach(points, goal, direction)
        return None if steps is None else steps / budget

    # paired by seed: the study's seed also draws every trial's data and initialisation, so seed s of one method
    # meets seed s of the other on the same draws. The goal's own comparison, seed by seed: multi-fidelity's best
    # once a third of the budget is spent against random search's best at the end; gain > 0: multi-fidelity is
    # better (lower when minimising)
    at_third = [best_at(r["points"], budget / 3) for r in runs["multi-fidelity"]]
    sign = 1.0 if direction == "minimize" else -1.0
    gains = [sign * (final - early) for early, final in zip(at_third, finals["random"], strict=True)]
    return {"target": target, "finals": finals, "direction": direction, "at_third": at_third, "gains": gains,
            "fractions": [fraction(r["points"], target) for r in runs["multi-fidelity"]],
            "mean_fraction": fraction(mean_curve(runs["multi-fidelity"]), target),
            "paired": [fraction(mf["points"], final)
                       for mf, final in zip(runs["multi-fidelity"], finals["random"], strict=True)]}


def gain_line(summary: dict[str, Any], budget: int) -> str:
    """Multi-fidelity's best at a third of the budget against random search's final best: mean ± std of each,
    and their paired difference with its standard error (std / √n over the seeds)."""
    early, finals, gains = summary["at_third"], summary["finals"]["random"], summary["gains"]
    head = f"At a third of the budget ({budget / 3:.0f} training steps), multi-fidelity's best so far"
    if not all(math.isfinite(g) for g in gains):
        return head + ": not every seed had finished a trial there."
    n = len(gains)
    mean = statistics.fmean(gains)
    se = statistics.stdev(gains) / math.sqrt(n) if n > 1 else math.nan
    return (f"{head}: {_spread(early)}; random search's final best: {_spread(finals)} (mean ± std over {n} seeds). "
            f"Paired by seed, the gain of multi-fidelity at a third over random search at the end (positive: "
            f"multi-fidelity is better): {mean:+.3g} ± {se:.2g} (mean ± standard error over the seeds): "
            f"{'at least as good on average' if mean >= 0 else 'worse on average'}"
            + ("" if n < 2 else f", {'more' if abs(mean) > 2 * se else 'not more'} than twice the standard error")
            + f"; at least as good on {sum(g >= 0 for g in gains)} of {n} seeds.")


def _spread(xs: list[float]) -> str:
    return f"{statistics.fmean(xs):.4g} ± {statistics.stdev(xs):.2g}" if len(xs) > 1 else f"{xs[0]:.4g}"


def _listed(fractions: list[float | None]) -> str:
    return ", ".join("not reached" if f is None else f"{f:.2f}" for f in fractions)


def _within_a_third(fractions: list[float | None]) -> int:
    return sum(f is not None and f <= 1 / 3 for f in fractions)


def write(data: dict[str, Any], summary: dict[str, Any], args: argparse.Namespace, out: Path) -> None:
    import matplotlib

    from archsearch.search.factories import HYPERBAND_REDUCTION, SHA_REDUCTION

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    colours = {"multi-fidelity": "#d62728", "random": "#1f77b4"}
    for method, rs in data["runs"].items():
        for i, r in enumerate(rs):
            xs, ys = zip(*r["points"], strict=True)
            ax.step(xs, ys, where="post", color=colours[method], alpha=0.35, lw=0.8,
                    label=f"{method}, each seed" if i == 0 else None)
        mean = mean_curve(rs)
        if mean:
            xs, ys = zip(*mean, strict=True)
            ax.step(xs, ys, where="post", color=colours[method], lw=2.4, label=f"{method}, mean over the seeds")
    ax.axhline(summary["target"], color="grey", ls="--", lw=1, label="random search's final best (mean)")
    ax.axvline(args.budget / 3, color="grey", ls=":", lw=1, label="a third of the budget")
    ax.set_xlabel("training steps spent (all trials, pruned ones included)")
    ax.set_ylabel(f"best validation metric so far ({args.task})")
    ax.set_yscale("log" if summary["direction"] == "minimize" else "linear")
    ax.legend(fontsize=8)
    ax.set_title(f"permutation grammar (17 terms, up to 3 per trial), {args.task}: {len(args.seeds)} seeds each",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(out / "multifidelity_cpu.png", dpi=120)
    plt.close(fig)

    reached = [f for f in summary["fractions"] if f is not None]
    command = "python benchmarks/multifidelity.py" + (" --quick" if args.quick else "") + (
        "" if args.pruner == "sha" else f" --pruner {args.pruner}") + (
        "" if args.seeds == seed_list("10") or args.quick else f" --seeds {seed_text(args.seeds)}")
    lines = [
        "# Multi-fidelity search against random search",
        "",
        f"`{command}` on {device_name_cpu()}, "
        f"{args.workers} worker(s), one torch thread each, {time.strftime('%Y-%m-%d')}.",
        "",
        f"Permutation grammar (all 17 connected diagrams of orders 2–6, up to 3 per trial), task `{args.task}`, "
        f"widths {SPACE['width']}, {args.steps} steps per "
        f"trial, a budget of {args.budget} training steps per search (pruned trials count what they trained), "
        f"{len(args.seeds)} seeds per method (seeds {seed_text(args.seeds)}). "
        f"Multi-fidelity: TPE + {PRUNER_NAMES[args.pruner]} over the training steps "
        f"(`--pruner {args.pruner}`, rungs from step {eval_every(args.steps)}, reduction factor "
        f"{SHA_REDUCTION if args.pruner == 'sha' else HYPERBAND_REDUCTION}); random: random "
        "sampling, no pruning.",
        "",
        "| method | final best (mean ± std) | trials per search | wall s per search |",
        "| --- | --- | --- | --- |",
    ]
    for method, rs in data["runs"].items():
        lines.append(f"| {method} | {_spread(summary['finals'][method])} | "
                     f"{statistics.fmean(r['trials'] for r in rs):.0f} | "
                     f"{statistics.fmean(r['seconds'] for r in rs):.0f} |")
    n_seeds = len(summary["fractions"])
    median = statistics.median([1.0 if f is None else f for f in summary["fractions"]])
    verdicts = len(lines)  # from here on, also printed
    lines += ["", f"Random search's final best (mean): {summary['target']:.4g}. Budget multi-fidelity needed to reach "
              f"it, per seed: {_listed(summary['fractions'])} of its budget (goal ≤ 0.33; reached in {len(reached)} "
              f"of {n_seeds}; within a third on {_within_a_third(summary['fractions'])} of {n_seeds} seeds, median "
              f"{median:.2f}, a seed that never reached it counted as 1)."]
    verdict = "met" if reached and len(reached) == len(summary["fractions"]) and max(reached) <= 1 / 3 else "not met"
    on_mean = summary["mean_fraction"]
    paired = summary["paired"]
    lines += ["", "On the mean over the seeds of the best so far (the target is the mean of random search's finals): "
              + ("not reached." if on_mean is None else f"reached at {on_mean:.2f} of the budget."),
              "", "Paired by seed (a study's seed also draws its trials' data and initialisation): the budget "
              f"multi-fidelity needed to reach random search's final best of the same seed: {_listed(paired)} "
              f"(within a third on {_within_a_third(paired)} of {len(paired)}).",
              "", gain_line(summary, args.budget),
              "", f"Goal (≤ 0.33 on every seed): {verdict}. Goal on the mean over the seeds: "
              f"{'met' if on_mean is not None and on_mean <= 1 / 3 else 'not met'}.", "",
              "![best so far against steps](multifidelity_cpu.png)", ""]
    (out / "multifidelity_cpu.md").write_text("\n".join(lines))
    print("\n".join(lines[verdicts:]))


def device_name_cpu() -> str:
    import torch

    return device_name(torch.device("cpu"))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--task", default="icl-regression")
    p.add_argument("--task-option", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"),
                   help="a task option (default for icl-regression: d 4, the paper's setting)")
    p.add_argument("--steps", type=int, default=120, help="training steps of a trial trained to the end")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--budget", type=int, default=12_000, help="training steps per search")
    p.add_argument("--seeds", type=seed_list, default=seed_list("10"),
                   help="N: seeds 0 to N-1 (default 10); or a comma list of seeds and ranges, e.g. 100-109 or "
                   "0-9,100-109")
    p.add_argument("--pruner", choices=sorted(PRUNER_NAMES), default="sha", help="the multi-fidelity arm's pruner")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--studies", help="where the Optuna journals go (default: a scratch directory)")
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--quick", action="store_true", help="tiny budgets: checks the script, not the claim")
    p.add_argument("--report-only", action="store_true",
                   help="no training: read the searches of an earlier run back from --studies and write the report")
    args = p.parse_args(argv)
    args.task_option = [(k, _value(v)) for k, v in args.task_option]
    if args.task == "icl-regression" and not any(k == "d" for k, _ in args.task_option):
        args.task_option.append(("d", 4))  # learnable within a short trial (d = 10 barely moves off 10)
    if args.quick:
        args.steps, args.budget, args.seeds, args.batch_size = 6, 60, [0, 1], 8
        args.task_option += [("eval_size", 32), ("d", 2), ("n", 4)]
    if args.report_only and not args.studies:
        p.error("--report-only reads an earlier run's searches: give their directory with --studies")
    data = load(args) if args.report_only else run(args)
    write(data, summarise(data, args.budget), args, args.out)


def seed_list(text: str) -> list[int]:
    """``N`` alone → seeds 0 … N−1; otherwise a comma list of seeds S and ranges A-B (a single seed S: S-S or
    "S,"), in the order given, each seed once."""
    if re.fullmatch(r"\s*\d+\s*", text):
        if int(text) < 1:
            raise argparse.ArgumentTypeError(f"{text.strip()!r}: at least one seed")
        return list(range(int(text)))
    parts = text.split(",")
    if len(parts) > 1 and not parts[-1].strip():
        parts.pop()  # "S," names seed S alone
    seeds: list[int] = []
    for part in parts:
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not match or (match[2] and int(match[2]) < int(match[1])):
            raise argparse.ArgumentTypeError(f"{part.strip()!r} in {text!r}: use N (seeds 0 to N-1), or a comma "
                                             "list of seeds S and ranges A-B with A ≤ B")
        seeds += [s for s in range(int(match[1]), int(match[2] or match[1]) + 1) if s not in seeds]
    return seeds


def seed_text(seeds: list[int]) -> str:
    """The inverse of :func:`seed_list` for a list it returns: runs of consecutive seeds as ranges A-B."""
    parts, start = [], 0
    for i, seed in enumerate(seeds):
        if i + 1 == len(seeds) or seeds[i + 1] != seed + 1:
            parts.append(str(seeds[start]) if start == i else f"{seeds[start]}-{seed}")
            start = i + 1
    return ",".join(parts) + ("," if len(seeds) == 1 else "")  # "S," (a bare N would mean seeds 0 … N−1)


def _value(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


if __name__ == "__main__":
    main()
