"""The question the tool exists for: does any admissible term beyond MLP + attention earn its cost?

For each task: a multi-fidelity search (TPE + Hyperband over the training steps, a fixed budget of training
steps) over the permutation grammar — every connected S_N-invariant diagram of orders 2–6, 17 terms, up
to 3 of them per trial (the ``few`` mode: which few terms beside each other earn their cost; on 17 terms
free subsets average 8 terms a trial) — with the three baselines queued first (the paper's block: linear MLP + linear
attention; the standard Transformer block: softmax attention with untied Q, K, V, O + a GELU MLP of 4x
width; that MLP alone); then the confirmation stage: the top 5 trials and the baselines retrained with 3
new seeds at the full budget. From the confirmed configurations (mean ± std over the seeds):

* the Pareto front of validation metric against forward FLOPs, plotted with the baselines;
* the answer: a configuration "earns its cost" when it uses a term beyond MLP + attention (anything but
  0-0, 0-1.0-1, lse, mlp-gelu) and its confirmed mean beats every confirmed configuration of MLP and
  attention terms only (the baselines included) that costs no more FLOPs — all of them when it is cheaper
  than each — by more than twice the larger of the two seed standard deviations; the same question for
  order-6 terms.

Writes results/question/: README.md (the answers, budgets, wall times, machine), <task>.md (the confirmed
table), <task>.png (the plot) and question.json (every number). Optuna journals and weights go to a scratch
directory (--studies).

    python benchmarks/question.py                          # every task (hours on 2 CPU cores)
    python benchmarks/question.py --tasks icl-regression   # one task
    python benchmarks/question.py --quick --out /tmp/q     # tiny budgets: checks the pipeline, not the claim
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import device_name  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "question"
GRAMMAR = "grammars/permutation.toml"
MLP_AND_ATTENTION = frozenset({"0-0", "0-1.0-1", "lse", "mlp-gelu"})
RIVALS = ("paper", "transformer")  # retrained at the search winner's FLOPs (archsearch.search.rivals)
TASKS: dict[str, dict[str, Any]] = {
    "icl-regression": {"d": 4, "n": 10},
    "mqar": {"vocab": 32, "seq_len": 16, "num_kv": 4},
    "text": {"corpus": "stdlib", "seq_len": 64},
    "digits": {},
}
SPACE = {"width": (16, 32), "depth": (1, 2), "heads": (1, 2, 4), "rank_frac": (0.5, 1.0), "step": (0.5, 1.0),
         "lr": (1e-3, 3e-3, 1e-2), "max_terms": 3}


@dataclass(frozen=True)
class Budget:
    steps: int = 300  # per trial trained to the end (and per confirmation retrain)
    batch_size: int = 32
    search_steps: int = 40_000  # training steps per search, pruned trials included
    top: int = 5
    seeds: int = 3
    workers: int = 2


QUICK = Budget(steps=6, batch_size=8, search_steps=120, top=2, seeds=2, workers=1)
QUICK_OPTIONS = {"icl-regression": {"d": 2, "n": 4, "eval_size": 32},
                 "mqar": {"vocab": 16, "seq_len": 8, "num_kv": 2, "eval_size": 32},
                 "text": {"corpus": "stdlib", "seq_len": 16, "eval_size": 16},
                 "digits": {"eval_size": 32}}


def _config(trial: Any) -> dict[str, Any]:
    """A trial's config attribute: a dict (a JSON string in studies written before archsearch 0.2)."""
    raw = trial.user_attrs.get("config")
    return json.loads(raw) if isinstance(raw, str) else (raw or {})


def order_of(key: str) -> int:
    from archsearch.terms import term_from_key

    return term_from_key(key).order


def _exists(name: str, studies: Path) -> bool:
    """Whether study ``name`` already has finished trials in ``studies`` (a resumed run: its stage is done)."""
    from archsearch.search import open_storage
    from archsearch.search.factories import load_study, study_names

    if not (studies / name).is_dir():
        return False
    raw = open_storage(None, studies / name, create=False)
    if name not in study_names(raw):
        return False
    return any(t.state.name in ("COMPLETE", "PRUNED") for t in load_study(name, raw).get_trials(deepcopy=False))


def run_task(task: str, options: dict[str, Any], budget: Budget, studies: Path,
             prior: dict[str, Any] | None = None) -> dict[str, Any]:
    """Search, confirm, retrain the equal-cost rivals, and collect the confirmed configurations of one task.
    A stage whose study already exists in ``studies`` is resumed, and keeps its wall time from ``prior`` (the
    task's earlier result)."""
    from archsearch.search import confirmations, load_settings, rival_confirmations, run_confirm, run_search
    from archsearch.search.confirm import confirm_name, retrain_records

    prior = prior or {}
    name = f"question-{task}"
    searched, confirmed_before = _exists(name, studies), _exists(confirm_name(name), studies)
    t0 = time.perf_counter()
    study = run_search(GRAMMAR, task, options, name, None, sampler="tpe", pruner="hyperband", steps=budget.steps,
                       batch_size=budget.batch_size, train_options={"eval_every": max(1, budget.steps // 6)},
                       space=SPACE, budget=f"{budget.search_steps}steps", workers=budget.workers, seed=0,
                       results_dir=studies, progress=False, threads=1, mode="few", resume=searched)
    t1 = time.perf_counter()
    run_confirm(name, budget.top, budget.seeds, results_dir=studies, workers=budget.workers, progress=False,
                threads=1)
    t2 = time.perf_counter()
    run_confirm(name, budget.top, budget.seeds, results_dir=studies, workers=budget.workers, progress=False,
                threads=1, rivals=RIVALS)
    t3 = time.perf_counter()
    confirmed = confirmations(name, results_dir=studies)
    retrained = retrain_records(name, results_dir=studies)  # FLOPs of a baseline the pruner stopped
    settings = load_settings(study)
    trials = {t.number: t for t in study.get_trials()}
    rows = []
    for number, c in confirmed.items():
        t = trials[number]
        terms = tuple(t.user_attrs["term_ids"])
        own = {k: t.user_attrs.get(k) if t.user_attrs.get(k) is not None else retrained.get(number, {}).get(k)
               for k in ("flops", "n_params")}
        rows.append({"trial": number, "baseline": t.user_attrs.get("baseline"), "terms": list(terms),
                     "beyond": sorted(set(terms) - MLP_AND_ATTENTION), "order6": any(order_of(k) == 6 for k in terms),
                     "flops": own["flops"], "params": own["n_params"],
                     "search_value": t.values[0], "mean": c.mean, "std": c.std, "test_mean": c.test_mean,
                     "test_std": c.test_std, "seeds": list(c.seeds), "candidate": _config(t).get("candidate")})
    for r in rival_confirmations(name, results_dir=studies).values():
        c = r.confirmed
        rows.append({"trial": f"rival {r.key}", "baseline": None, "rival": r.name, "terms": list(r.candidate["terms"]),
                     "beyond": [], "order6": False, "flops": r.flops, "params": r.n_params, "search_value": None,
                     "mean": c.mean, "std": c.std, "test_mean": c.test_mean, "test_std": c.test_std,
                     "seeds": list(c.seeds), "candidate": r.candidate, "target_trial": r.target_trial,
                     "target_flops": r.target_flops})
    finished = [t for t in study.get_trials() if t.state.name in ("COMPLETE", "PRUNED")]
    search_s = prior["search_seconds"] if searched and "search_seconds" in prior else t1 - t0
    confirm_s = prior["confirm_seconds"] if confirmed_before and "confirm_seconds" in prior else t2 - t1
    rival_s = prior.get("rival_seconds", 0.0) + (t3 - t2) if confirmed_before else t3 - t2
    return {
        "task": task, "options": options, "metric": settings.metric, "direction": settings.directions[0],
        "rows": rows, "search_seconds": search_s, "confirm_seconds": confirm_s, "rival_seconds": rival_s,
        "trials": len(finished), "pruned": sum(t.state.name == "PRUNED" for t in finished),
        "steps_spent": sum(int(t.user_attrs.get("steps", 0)) for t in finished),
        "terms_tried": sorted({k for t in finished for k in t.user_attrs.get("term_ids", [])}
                              & set(settings.space["terms"])),
    }


def better(a: float, b: float, direction: str) -> float:
    """How much better a is than b (positive: better) in the metric's direction."""
    return (b - a) if direction == "minimize" else (a - b)


def compare(a: dict[str, Any], b: dict[str, Any], direction: str) -> dict[str, Any]:
    """Row ``a`` against row ``b``: the margin of their confirmed means (positive: a better), the larger seed
    standard deviation, and whether the margin exceeds twice it (a real difference)."""
    margin, spread = better(a["mean"], b["mean"], direction), max(a["std"], b["std"])
    return {"margin": margin, "spread": spread, "real": margin > 2 * spread}


def answer(result: dict[str, Any]) -> dict[str, Any]:
    """Which confirmed configurations with terms beyond MLP + attention (and with order-6 terms) beat every
    confirmed MLP + attention configuration of no more FLOPs by more than twice the seed spread."""
    direction, rows = result["direction"], result["rows"]
    refs = [r for r in rows if not r["beyond"]]
    out = {"earned": [], "order6_earned": [], "best": None, "best_baseline": None, "front": pareto(rows, direction)}
    if rows:
        out["best"] = max(rows, key=lambda r: better(r["mean"], 0.0, direction))["trial"]
    bases = [r for r in rows if r["baseline"]]
    if bases:
        out["best_baseline"] = max(bases, key=lambda r: better(r["mean"], 0.0, direction))["trial"]
    by_trial = {r["trial"]: r for r in rows}
    rivals = [r for r in rows if r.get("rival") and r.get("target_trial") in by_trial]
    if rivals:  # the search winner against the strongest MLP + attention of no more FLOPs
        rival = max(rivals, key=lambda r: better(r["mean"], 0.0, direction))
        target = by_trial[rival["target_trial"]]
        out["equal_cost"] = {"trial": target["trial"], "rival": rival["trial"], **compare(target, rival, direction),
                             "ratio": target["flops"] / rival["flops"]}
        # confirmed configurations that beat that rival with fewer FLOPs than it (the rule below compares them
        # only with the MLP + attention configurations of no more FLOPs, which the rival is not)
        out["beat_rival_cheaper"] = []
        for r in rows:
            if r["beyond"] and r.get("flops") and r["flops"] < rival["flops"] and not r.get("rival"):
                c = compare(r, rival, direction)
                if c["real"]:
                    out["beat_rival_cheaper"].append({"trial": r["trial"], "margin": c["margin"],
                                                      "spread": c["spread"], "ratio": r["flops"] / rival["flops"]})
    for r in rows:
        if not r["beyond"] or r["flops"] is None:
            continue
        cheaper = [q for q in refs if q["flops"] is not None and q["flops"] <= r["flops"]]
        cheaper = cheaper or refs  # cheaper than every MLP + attention configuration: it must beat the best one
        if not cheaper:
            continue
        best = max(cheaper, key=lambda q: better(q["mean"], 0.0, direction))
        entry = {"trial": r["trial"], "against": best["trial"], **compare(r, best, direction)}
        r["comparison"] = entry
        if entry["real"]:
            out["earned"].append(r["trial"])
            if r["order6"]:
                out["order6_earned"].append(r["trial"])
    return out


def pareto(rows: list[dict[str, Any]], direction: str) -> list[int]:
    """Trials on the Pareto front of (confirmed mean, FLOPs): nothing else is both cheaper and better."""
    front = []
    for r in rows:
        if r["flops"] is None:
            continue
        dominated = any(q is not r and q["flops"] is not None and q["flops"] <= r["flops"]
                        and better(q["mean"], r["mean"], direction) > 0
                        and (q["flops"] < r["flops"] or better(q["mean"], r["mean"], direction) > 0) for q in rows)
        if not dominated:
            front.append(r["trial"])
    return sorted(front, key=lambda t: (isinstance(t, str), t if isinstance(t, int) else 0, str(t)))


def ref_name(trial: int | str) -> str:
    """'trial 3' for a searched or baseline trial, 'rival paper' for an equal-cost rival."""
    return f"trial {trial}" if isinstance(trial, int) else str(trial)


def label(r: dict[str, Any]) -> str:
    from archsearch.enumeration import recognise
    from archsearch.terms import term_from_key

    if r["baseline"]:
        return f"baseline {r['baseline']}"
    if r.get("rival"):
        c = r["candidate"]
        return (f"rival {r['rival']} at width {c['width']}, depth {c['depth']}, lr {c['lr']:g} "
                f"({' + '.join(r['terms'])})")
    names = [recognise(term_from_key(k)) or k for k in r["terms"]]
    return " + ".join(f"{n} [{k}]" if n != k else k for n, k in zip(names, r["terms"], strict=True))


def paragraph(result: dict[str, Any], ans: dict[str, Any]) -> str:
    metric, direction = result["metric"], result["direction"]
    rows = {r["trial"]: r for r in result["rows"]}
    if not rows:
        return "No configuration was confirmed."
    best, base = rows[ans["best"]], rows.get(ans["best_baseline"])
    text = [f"{result['trials']} trials ({result['pruned']} pruned) spent {result['steps_spent']} training steps; "
            f"{len(result['terms_tried'])} of the 17 terms were tried. After retraining with "
            f"{len(best['seeds'])} new seeds, the best configuration is {ref_name(best['trial'])} ({label(best)}), "
            f"{metric} {best['mean']:.4g} ± {best['std']:.2g}"]
    if base is not None and base is not best:
        gap = better(best["mean"], base["mean"], direction)
        spread = max(best["std"], base["std"])
        verdict = "more than" if gap > 2 * spread else "within"
        text[-1] += (f", against the best baseline ({base['baseline']}: {base['mean']:.4g} ± {base['std']:.2g}); "
                     f"the difference, {gap:+.3g}, is {verdict} twice the seed spread ({spread:.2g})")
    text[-1] += "."
    if ans["earned"]:
        earned = ", ".join(f"trial {n} ({label(rows[n])}, {rows[n]['comparison']['margin']:+.3g} against "
                           f"{ref_name(rows[n]['comparison']['against'])})" for n in ans["earned"])
        text.append(f"Terms beyond MLP + attention earned their cost here: {earned}.")
    else:
        tried = [r for r in rows.values() if r["beyond"] and "comparison" in r]
        if tried:
            closest = max(tried, key=lambda r: r["comparison"]["margin"] - 2 * r["comparison"]["spread"])
            c = closest["comparison"]
            text.append(f"No configuration with a term beyond MLP + attention beat the MLP + attention "
                        f"configurations of no more FLOPs by more than twice the seed spread; the closest, trial "
                        f"{closest['trial']} ({label(closest)}), is {c['margin']:+.3g} against "
                        f"{ref_name(c['against'])} (spread {c['spread']:.2g}).")
        else:
            text.append("No confirmed configuration used a term beyond MLP + attention with a cheaper MLP + attention "
                        "configuration to compare with.")
    eq = ans.get("equal_cost")
    if eq:
        target, rival = rows[eq["trial"]], rows[eq["rival"]]
        verdict = ("beats it by more than" if eq["real"] else "does not beat it by more than" if eq["margin"] > 0
                   else "is worse, beyond" if -eq["margin"] > 2 * eq["spread"] else "is worse, within")
        text.append(f"At equal cost: the search winner, trial {target['trial']} ({target['flops']:,} FLOPs), "
                    f"{target['mean']:.4g} ± {target['std']:.2g}, against the strongest MLP + attention of no more "
                    f"FLOPs, {label(rival)} ({rival['flops']:,} FLOPs), {rival['mean']:.4g} ± {rival['std']:.2g}: "
                    f"{eq['margin']:+.3g}; the winner {verdict} twice the seed spread ({eq['spread']:.2g}).")
        if rival["candidate"]["lr"] == max(SPACE["lr"]):
            text.append("The rival's best learning rate is the largest the space offers (the searched trials had the "
                        "same choices); a larger one might serve it better.")
    six = [r for r in rows.values() if r["order6"]]
    if ans["order6_earned"]:
        text.append(f"Order-6 terms earned their FLOPs in trial(s) {', '.join(map(str, ans['order6_earned']))}.")
    elif six:
        text.append(f"{len(six)} confirmed configuration(s) used an order-6 term; none earned its FLOPs.")
    else:
        text.append("No order-6 term reached the confirmed top.")
    return " ".join(text)


def plot(result: dict[str, Any], ans: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    styles = {"baseline": ("#000000", "s"), "rival": ("#2ca02c", "D"), "beyond": ("#d62728", "o"),
              "mlp+attention": ("#1f77b4", "o")}
    done = set()
    for r in result["rows"]:
        kind = ("baseline" if r["baseline"] else "rival" if r.get("rival") else "beyond" if r["beyond"]
                else "mlp+attention")
        colour, marker = styles[kind]
        legend = {"baseline": "baselines", "rival": "equal-cost rivals (MLP + attention at the winner's FLOPs)",
                  "beyond": "with terms beyond MLP + attention",
                  "mlp+attention": "MLP + attention terms only"}[kind]
        ax.errorbar(r["flops"], r["mean"], yerr=r["std"], fmt=marker, color=colour, capsize=3,
                    label=None if kind in done else legend)
        done.add(kind)
        if r["baseline"] or r.get("rival"):
            ax.annotate(r["baseline"] or r["rival"], (r["flops"], r["mean"]), textcoords="offset points", xytext=(5, 4),
                        fontsize=8)
    front = sorted((r for r in result["rows"] if r["trial"] in ans["front"]), key=lambda r: r["flops"])
    if front:
        ax.step([r["flops"] for r in front], [r["mean"] for r in front], where="post", color="grey", lw=1,
                ls="--", label="Pareto front (confirmed)")
    ax.set_xscale("log")
    ax.set_xlabel("forward FLOPs per example")
    better_word = "lower" if result["direction"] == "minimize" else "higher"
    ax.set_ylabel(f"val {result['metric']}, mean ± std over seeds ({better_word} is better)")
    ax.set_title(f"{result['task']}: confirmed configurations of the permutation grammar")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def task_table(result: dict[str, Any], ans: dict[str, Any]) -> str:
    lines = [f"# {result['task']}", "",
             f"Task options {result['options']}; metric {result['metric']} ({result['direction']}). Search: "
             f"{result['trials']} trials ({result['pruned']} pruned), {result['steps_spent']} training steps, "
             f"{result['search_seconds']:.0f} s; confirmation {result['confirm_seconds']:.0f} s; equal-cost rivals "
             f"{result.get('rival_seconds', 0):.0f} s.", "",
             "| trial | terms | FLOPs | search | confirmed val (mean ± std) | test (mean ± std) | seeds | front |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    sign = 1 if result["direction"] == "minimize" else -1
    for r in sorted(result["rows"], key=lambda r: sign * r["mean"]):
        test = f"{r['test_mean']:.4g} ± {r['test_std']:.2g}" if r["test_mean"] is not None else "—"
        search = f"{r['search_value']:.4g}" if r["search_value"] is not None else "—"
        lines.append(f"| {r['trial']} | {label(r)} | {r['flops']:,} | {search} | "
                     f"{r['mean']:.4g} ± {r['std']:.2g} | {test} | {len(r['seeds'])} | "
                     f"{'*' if r['trial'] in ans['front'] else ''} |")
    lines += ["", paragraph(result, ans), "", f"![{result['task']}]({result['task']}.png)", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tasks", default=",".join(TASKS), help="comma-separated: " + ", ".join(TASKS))
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--studies", help="where the Optuna journals and weights go (default: a scratch directory)")
    p.add_argument("--search-steps", type=int, help="training steps per search (default 40000)")
    p.add_argument("--workers", type=int, help="worker processes (default 2)")
    p.add_argument("--quick", action="store_true", help="tiny budgets: checks the pipeline, not the claim")
    p.add_argument("--rewrite", action="store_true",
                   help="recompute the answers and rewrite question.json and README.md from the stored confirmed "
                        "rows in --out, without training")
    args = p.parse_args(argv)
    if args.rewrite:
        raw = args.out / "question.json"
        if not raw.is_file():
            p.error(f"--rewrite: {raw} does not exist")
        data = json.loads(raw.read_text())
        for entry in data["tasks"].values():  # the answers again, from the stored confirmed rows
            entry["answer"] = answer(entry["result"])
        raw.write_text(json.dumps(data, indent=1, default=str))
        write_readme(data, args.out, False)
        return
    import torch

    torch.set_num_threads(1)
    budget = QUICK if args.quick else Budget()
    if args.search_steps:
        budget = Budget(**{**asdict(budget), "search_steps": args.search_steps})
    if args.workers:
        budget = Budget(**{**asdict(budget), "workers": args.workers})
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        p.error(f"unknown task(s) {', '.join(unknown)} (known: {', '.join(TASKS)})")
    studies = Path(args.studies or tempfile.mkdtemp(prefix="archsearch-question-"))
    args.out.mkdir(parents=True, exist_ok=True)
    raw_path = args.out / "question.json"
    data = json.loads(raw_path.read_text()) if raw_path.exists() and not args.quick else {"tasks": {}}
    for task in tasks:
        options = {**TASKS[task], **(QUICK_OPTIONS[task] if args.quick else {})}
        print(f"{task}: searching ({budget.search_steps} steps) and confirming ...", flush=True)
        result = run_task(task, options, budget, studies, data["tasks"].get(task, {}).get("result"))
        ans = answer(result)
        data["tasks"][task] = {"result": result, "answer": ans}
        plot(result, ans, args.out / f"{task}.png")
        (args.out / f"{task}.md").write_text(task_table(result, ans))
        print(paragraph(result, ans), flush=True)
        data["budget"] = asdict(budget)
        data["machine"] = {"cpu": device_name(torch.device("cpu")), "cores": os.cpu_count(),
                           "python": platform.python_version(), "torch": torch.__version__}
        data["date"] = time.strftime("%Y-%m-%d")
        raw_path.write_text(json.dumps(data, indent=1, default=str))
    write_readme(data, args.out, args.quick)


def write_readme(data: dict[str, Any], out: Path, quick: bool) -> None:
    b = data["budget"]
    m = data["machine"]
    lines = ["# Does any admissible term beyond MLP + attention earn its cost?", "",
             f"`python benchmarks/question.py{' --quick' if quick else ''}` ({data['date']}; {m['cpu']}, {m['cores']} "
             f"cores, Python {m['python']}, torch {m['torch']}).", "",
             f"Per task: a search over the permutation grammar (every connected S_N-invariant diagram of orders 2–6: "
             f"17 terms, up to 3 per trial; widths {SPACE['width']}, depths {SPACE['depth']}, heads "
             f"{SPACE['heads']}) by TPE with Hyperband over the training steps, {b['search_steps']} training steps in "
             f"all ({b['steps']} per trial trained to the end, batch {b['batch_size']}, {b['workers']} worker(s)), "
             "the three baselines queued first (the paper's block: linear MLP + linear attention; the standard "
             "Transformer block: softmax attention with untied Q, K, V, O + a GELU MLP of 4x width; that MLP "
             f"alone). Then the top {b['top']} trials and the baselines retrained with {b['seeds']} new seeds at the "
             "full budget, and the equal-cost rivals trained with the same seeds: the paper block's and the "
             "Transformer block's terms at the widest width (a multiple of 8) and depth of the space whose FLOPs do "
             "not exceed the search winner's, at each learning rate of the space (the best is compared). Every "
             "number below is that confirmation's mean ± std over the seeds "
             "(validation metric; the test metric is in each task's table).", "",
             "A configuration earns its cost when it uses a term beyond MLP + attention (anything but 0-0, "
             "0-1.0-1, lse, mlp-gelu) and beats every confirmed configuration of MLP and attention terms only — "
             "baselines included — with no more FLOPs (all of them, when it is cheaper than each), by more than "
             "twice the larger seed standard deviation.", "",
             "| task | best confirmed | best baseline | winner vs equal-cost rival | terms beyond MLP + attention "
             "earned their cost | an order-6 term did | search wall s | confirmation wall s |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for task, entry in data["tasks"].items():
        r, ans = entry["result"], entry["answer"]
        rows = {x["trial"]: x for x in r["rows"]}
        best = rows.get(ans["best"])
        base = rows.get(ans["best_baseline"])
        fmt = (lambda x: f"{x['mean']:.4g} ± {x['std']:.2g} ({label(x)})") if rows else (lambda x: "—")
        eq = ans.get("equal_cost")
        versus = (f"{eq['margin']:+.3g} (2× spread {2 * eq['spread']:.2g}) against {rows[eq['rival']]['rival']} at "
                  f"{1 / eq['ratio']:.2g}× the FLOPs: {'real' if eq['real'] else 'not real'}") if eq else "—"
        lines.append(f"| [{task}]({task}.md) | {fmt(best) if best else '—'} | {fmt(base) if base else '—'} | "
                     f"{versus} | "
                     f"{'yes: ' + ', '.join(map(str, ans['earned'])) if ans['earned'] else 'no'} | "
                     f"{'yes' if ans['order6_earned'] else 'no'} | {r['search_seconds']:.0f} | "
                     f"{r['confirm_seconds'] + r.get('rival_seconds', 0):.0f} |")
    missing = [t for t in TASKS if t not in data["tasks"]]
    if missing and not quick:
        lines += ["", f"Not run yet: {', '.join(missing)} (`python benchmarks/question.py --tasks "
                      f"{','.join(missing)}` adds them; a run resumes the studies it finds under --studies)."]
    lines += ["", scope(data), ""]
    for task, entry in data["tasks"].items():
        lines += [f"## {task}", "", paragraph(entry["result"], entry["answer"]), ""]
        cheaper = entry["answer"].get("beat_rival_cheaper")
        if cheaper:
            eq = entry["answer"]["equal_cost"]
            lines += ["Also cheaper than the equal-cost rival and better than it by more than twice the spread: " +
                      "; ".join(f"trial {c['trial']} at {c['ratio']:.2f}× its FLOPs ({c['margin']:+.3g}, 2× spread "
                                f"{2 * c['spread']:.2g})" for c in cheaper) + f" (rival: {eq['rival']}).", ""]
        caveat = flops_caveat(entry["result"], entry["answer"])
        if caveat:
            lines += [caveat, ""]
        lines += [f"![{task}]({task}.png)", ""]
    (out / "README.md").write_text("\n".join(lines))


def scope(data: dict[str, Any]) -> str:
    """What the answers do and do not show: the training budget of every configuration, in words."""
    b = data["budget"]
    tokens = b["steps"] * b["batch_size"]
    text = data["tasks"].get("text", {}).get("result", {}).get("options", {})
    seen = f" (text: {tokens * int(text.get('seq_len', 64)):,} bytes)" if text else ""
    return (f"Scope: every configuration trains {b['steps']} steps at batch {b['batch_size']}{seen}, on CPU cores, "
            f"at search widths of at most {max(SPACE['width'])} (the equal-cost rivals wider). The answers say "
            "which terms learn the most per FLOP within this short budget and at these small sizes, not which "
            "win at scale or after convergence (the text models' bits per byte are far from a converged byte "
            "model's). Where a rival's best learning rate is the largest of the grid, the paragraph says so.")


def flops_caveat(result: dict[str, Any], ans: dict[str, Any]) -> str:
    """Whether the verdict compares like with like: when every configuration that earned its cost uses over
    twice the FLOPs of the largest confirmed MLP + attention configuration, no equal-cost rival was trained."""
    rows = {x["trial"]: x for x in result["rows"]}
    earned = [rows[t] for t in ans["earned"] if t in rows]
    plain = [x for x in result["rows"] if not x["beyond"]]
    if not earned or not plain:
        return ""
    biggest = max(x["flops"] for x in plain)
    cheapest = min(x["flops"] for x in earned)
    if cheapest <= 2 * biggest:
        return ""
    return (f"Caveat: every configuration that earned its cost uses at least {cheapest / biggest:.0f}× the FLOPs of "
            f"the largest confirmed MLP + attention configuration ({biggest:,} FLOPs); no MLP + attention model of "
            "comparable cost was confirmed. The verdict says that more compute with these terms beat less compute "
            "without them, not that the terms beat MLP + attention at equal cost.")


if __name__ == "__main__":
    main()
