"""Figures of a study (matplotlib's object API with the Agg canvas: no pyplot, no display needed).

- history:    the first objective (the task metric) per trial number, pruned trials at their last reported
              value, and the best-so-far line;
- pareto:     the metric against forward FLOPs and against parameters, the Pareto front (better metric, lower
              cost) highlighted and labelled with trial numbers;
- terms:      per term, the best and the mean metric over the COMPLETE trials that use it (n = how many);
- importance: Optuna's hyper-parameter importance of the first objective, when the study has enough COMPLETE
              trials (single objective only; skipped otherwise).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from archsearch.report.studies import StudyRef, complete_trials
from archsearch.report.tables import recognised_names

MIN_IMPORTANCE_TRIALS = 8
_BLUE, _ORANGE, _RED, _GREY = "#1f77b4", "#ff7f0e", "#d62728", "#9a9a9a"


def _figure(width: float = 7.5, height: float = 4.5, ncols: int = 1) -> tuple[Any, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, list(axes)


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def _better(direction: str, a: float, b: float) -> bool:
    return a < b if direction == "minimize" else a > b


def history_figure(ref: StudyRef) -> Any:
    """Objective 0 against trial number: COMPLETE trials, PRUNED ones at their last value, best so far."""
    from optuna.trial import TrialState

    done = complete_trials(ref)
    direction = ref.directions[0]
    fig, (ax,) = _figure()
    xs = [t.number for t in done if _finite(t.values[0])]
    ys = [t.values[0] for t in done if _finite(t.values[0])]
    ax.scatter(xs, ys, color=_BLUE, s=28, zorder=3, label="complete trial")
    pruned = [t for t in ref.study.get_trials(deepcopy=False, states=(TrialState.PRUNED,))
              if t.intermediate_values and _finite(t.intermediate_values[t.last_step])]
    if pruned:
        ax.scatter([t.number for t in pruned], [t.intermediate_values[t.last_step] for t in pruned], marker="x",
                   color=_GREY, s=28, zorder=2, label="pruned (last reported value)")
    best_x, best_y, best = [], [], None
    for x, y in zip(xs, ys, strict=True):
        if best is None or _better(direction, y, best):
            best = y
        best_x.append(x)
        best_y.append(best)
    ax.step(best_x, best_y, where="post", color=_ORANGE, linewidth=2, zorder=4, label="best so far")
    if _log_scale(ys):
        ax.set_yscale("log")
    ax.set_xlabel("trial number")
    ax.set_ylabel(ref.objective_label(0))
    ax.set_title(f"Optimisation history — {ref.name}")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best")
    return fig


def _log_scale(values: list[float]) -> bool:
    pos = [v for v in values if _finite(v)]
    return bool(pos) and min(pos) > 0 and max(pos) / min(pos) > 30


def pareto_front(points: list[tuple[float, float, int]], direction: str) -> list[tuple[float, float, int]]:
    """The (cost, metric, number) points not dominated by another (lower-or-equal cost and better-or-equal
    metric, one of them strictly), sorted by cost."""
    sign = 1.0 if direction == "minimize" else -1.0
    front = []
    for c, m, n in points:
        dominated = any(
            c2 <= c and sign * m2 <= sign * m and (c2 < c or sign * m2 < sign * m) for c2, m2, _ in points
        )
        if not dominated:
            front.append((c, m, n))
    return sorted(front)


def pareto_figure(ref: StudyRef) -> Any:
    """The metric (objective 0) against FLOPs and against parameters, with each Pareto front highlighted."""
    done = complete_trials(ref)
    direction = ref.directions[0]
    costs = [(key, label) for key, label in (("flops", "forward FLOPs per example"), ("n_params", "parameters"))
             if any(_finite(t.user_attrs.get(key)) for t in done)]
    if not costs:
        costs = [("number", "trial number")]
    fig, axes = _figure(width=5.2 * len(costs), height=4.5, ncols=len(costs))
    for ax, (key, label) in zip(axes, costs, strict=True):
        pts = []
        for t in done:
            cost = t.number if key == "number" else t.user_attrs.get(key)
            if _finite(cost) and _finite(t.values[0]):
                pts.append((float(cost), float(t.values[0]), t.number))
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], color=_GREY, s=24, zorder=2, label="trial")
        front = pareto_front(pts, direction)
        if front:
            ax.step([p[0] for p in front], [p[1] for p in front], where="post", color=_RED, linewidth=1.5,
                    zorder=3, alpha=0.7)
            ax.scatter([p[0] for p in front], [p[1] for p in front], color=_RED, s=48, zorder=4,
                       edgecolors="black", linewidths=0.5, label="Pareto-optimal")
            labels: dict[tuple[float, float], list[str]] = {}
            for c, m, n in front:  # a repeated candidate (duplicate trial) shares its original's point
                labels.setdefault((c, m), []).append(str(n))
            for (c, m), numbers in labels.items():
                ax.annotate(", ".join(numbers), (c, m), textcoords="offset points", xytext=(5, 4), fontsize=8)
        if _log_scale([p[0] for p in pts]):
            ax.set_xscale("log")
        if _log_scale([p[1] for p in pts]):
            ax.set_yscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel(ref.objective_label(0))
        ax.set_title(f"{ref.metric} vs {label.split(' per ')[0]}")
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best")
    what = "study objectives: " + ", ".join(ref.objectives) if len(ref.directions) > 1 else "single-objective study"
    fig.suptitle(f"Pareto front — {ref.name} ({what}; labels: trial numbers)")
    return fig


def term_stats(ref: StudyRef) -> list[dict[str, Any]]:
    """Per term id: n (COMPLETE trials using it), best and mean of objective 0; best terms first."""
    done = complete_trials(ref)
    direction = ref.directions[0]
    by_term: dict[str, list[float]] = {}
    for t in done:
        if t.user_attrs.get("duplicate_of") is not None or not _finite(t.values[0]):
            continue  # a duplicate repeats its original's result: count each candidate once
        for key in t.user_attrs.get("term_ids", ()):
            by_term.setdefault(key, []).append(float(t.values[0]))
    rows: list[dict[str, Any]] = []
    for key, vals in by_term.items():
        best = min(vals) if direction == "minimize" else max(vals)
        rows.append({"term": key, "name": recognised_names([key])[0], "n": len(vals), "best": best,
                     "mean": sum(vals) / len(vals)})
    sign = 1.0 if direction == "minimize" else -1.0
    rows.sort(key=lambda r: (sign * r["best"], sign * r["mean"], r["term"]))
    return rows


def terms_figure(ref: StudyRef) -> Any:
    """Horizontal bars: best and mean metric of the trials that use each term."""
    import numpy as np

    rows = term_stats(ref)
    fig, (ax,) = _figure(width=8.0, height=max(2.6, 1.0 + 0.7 * len(rows)))
    y = np.arange(len(rows))
    labels = [f"{r['name'] or r['term']}\n[{r['term']}], {r['n']} trial{'s' if r['n'] != 1 else ''}"
              if r["name"] else f"{r['term']}\n{r['n']} trial{'s' if r['n'] != 1 else ''}" for r in rows]
    ax.barh(y - 0.2, [r["best"] for r in rows], height=0.4, color=_BLUE, label="best")
    ax.barh(y + 0.2, [r["mean"] for r in rows], height=0.4, color=_BLUE, alpha=0.4, label="mean")
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlabel(ref.objective_label(0))
    ax.set_ylabel("term")
    ax.set_title(f"Term importance — {ref.name}: {ref.metric} of the trials using each term")
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def importance_figure(ref: StudyRef) -> Any | None:
    """Optuna's parameter importance (its default evaluator) for objective 0, or None when the study is
    multi-objective, has fewer than MIN_IMPORTANCE_TRIALS COMPLETE trials, or importance cannot be computed."""
    import optuna

    done = complete_trials(ref)
    if len(ref.directions) > 1 or len(done) < MIN_IMPORTANCE_TRIALS:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            importances = optuna.importance.get_param_importances(ref.study)
    except Exception:  # e.g. a single distinct value per parameter: nothing to attribute
        return None
    if not importances:
        return None
    names = list(importances)
    fig, (ax,) = _figure(width=7.5, height=max(2.6, 1.0 + 0.45 * len(names)))
    ax.barh(range(len(names)), [importances[n] for n in names], color=_BLUE, label="importance")
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.set_xlabel(f"importance for {ref.objective_name(0)} (the importances sum to 1)")
    ax.set_ylabel("search parameter")
    ax.set_title(f"Parameter importance (Optuna) — {ref.name}")
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(loc="lower right")
    return fig


def figures(ref: StudyRef) -> dict[str, Any]:
    """Every figure of the report by file stem: history, pareto, terms and, when computable, importance."""
    out = {"history": history_figure(ref), "pareto": pareto_figure(ref), "terms": terms_figure(ref)}
    importance = importance_figure(ref)
    if importance is not None:
        out["importance"] = importance
    return out


def png_bytes(fig: Any, dpi: int = 120) -> bytes:
    """The figure rendered as PNG."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
