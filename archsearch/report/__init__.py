"""Tables and plots of a study: the leaderboard, PNG figures and an HTML page that embeds them.

    from archsearch.report import leaderboard, write_report
    rows = leaderboard("paper-icl-regression", top=10)          # JSON-able dicts, best first
    paths = write_report("paper-icl-regression", "results/paper-icl-regression/report")

A study is named (journal under ``results/<study>/`` or a ``storage`` URL) or passed as an Optuna study.
Reading never writes into the storage, so the study still opens in optuna-dashboard unchanged.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any

from archsearch.report.plots import figures, png_bytes
from archsearch.report.studies import ResultsError, StudyRef, open_study
from archsearch.report.tables import html_table, leaderboard

__all__ = ["ResultsError", "StudyRef", "figures", "leaderboard", "open_study", "write_report"]

_CAPTIONS = {
    "history": "Optimisation history: the first objective per trial, and the best value so far.",
    "pareto": "Pareto front: the metric against cost; red points are not beaten by a cheaper, better trial.",
    "terms": "Term importance: best and mean metric over the COMPLETE trials that use each term "
             "(duplicates counted once).",
    "importance": "Parameter importance of the search's parameters for the first objective (Optuna).",
}

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; font-size: 0.9em; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f3f3f3; }
td:nth-child(n) { white-space: nowrap; }
tr.pareto td { background: #fff3f0; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; }
dt { font-weight: 600; }
figure { margin: 1.5em 0; }
img { max-width: 100%; border: 1px solid #eee; }
"""


def write_report(study: Any, out_dir: str | os.PathLike[str] | None = None, *, top: int = 20,
                 storage: str | None = None, results_dir: str | os.PathLike[str] = "results") -> list[Path]:
    """Write the report's PNG figures, ``index.html`` (figures + leaderboard) and, when plotly is importable,
    Optuna's interactive plots (``*_plotly.html``) into ``out_dir`` (default ``<results>/<study>/report``).

    Everything is rendered before anything is written; files are written all-or-nothing. Returns the paths
    written (PNGs first, index.html last). A ResultsError (one line) for an unknown study, a study without
    COMPLETE trials or an unwritable directory.
    """
    from archsearch.report.output import check_writable_dir, make_dir, write_files
    from archsearch.search.storage import describe_storage

    ref = open_study(study, storage, results_dir)
    out = check_writable_dir(Path(out_dir) if out_dir is not None else ref.study_dir / "report", create=True)
    rows = leaderboard(ref, top)
    figs = figures(ref)
    files: dict[Path, bytes] = {out / f"{name}.png": png_bytes(fig) for name, fig in figs.items()}
    interactive = _plotly_pages(ref)
    files.update({out / name: data for name, data in interactive.items()})
    diagrams = _diagram_pictures(rows[0] if rows else None)
    files.update({out / name: data for name, (_, data) in diagrams.items()})
    where = describe_storage(storage, ref.study_dir) if isinstance(study, str) else None
    files[out / "index.html"] = _page(ref, rows, list(figs), list(interactive), where,
                                      {name: caption for name, (caption, _) in diagrams.items()}).encode()
    make_dir(out)
    return write_files(files)


def _diagram_pictures(best: dict[str, Any] | None) -> dict[str, tuple[str, bytes]]:
    """``diagram_<id>.svg`` → (caption, SVG) for each contraction diagram among the best row's terms."""
    from archsearch.draw import picture_bytes
    from archsearch.terms import Diagram, term_from_key

    out: dict[str, tuple[str, bytes]] = {}
    if best is None:
        return out
    for key, name in zip(best["term_ids"], best["names"], strict=True):
        try:
            term = term_from_key(key)
        except ValueError:  # a family this version does not know: no picture, the table still names it
            continue
        if isinstance(term, Diagram):
            caption = f"{key}: {name}" if name else key
            out[f"diagram_{key}.svg"] = (caption, picture_bytes(term, "svg", caption))
    return out


def _plotly_pages(ref: StudyRef) -> dict[str, bytes]:
    """Optuna's interactive plots as standalone HTML (plotly.js from its CDN) when plotly is installed."""
    try:
        import plotly  # noqa: F401
    except ImportError:
        return {}
    import optuna.visualization as vis

    pages: dict[str, bytes] = {}
    target = None if len(ref.directions) == 1 else (lambda t: t.values[0])
    makers = {"history_plotly.html": lambda: vis.plot_optimization_history(
        ref.study, target=target, target_name=ref.objective_label(0))}
    if len(ref.directions) > 1:
        makers["pareto_plotly.html"] = lambda: vis.plot_pareto_front(ref.study, target_names=ref.objectives)
    for name, make in makers.items():
        try:
            pages[name] = make().to_html(include_plotlyjs="cdn", full_html=True).encode()
        except Exception:  # an optional extra: the PNG report stands without it
            continue
    return pages


def _page(ref: StudyRef, rows: list[dict[str, Any]], pngs: list[str], interactive: list[str],
          where: str | None, diagrams: dict[str, str] | None = None) -> str:
    from archsearch.search.recovery import count_trials

    esc = html.escape
    settings = ref.settings
    counts = count_trials(ref.study)
    states = ", ".join(f"{n} {s.lower()}" for s, n in counts.items() if n and s != "finished")
    objectives = ", ".join(f"{o} ({d})" for o, d in zip(ref.objectives, ref.directions, strict=True))
    facts = [("study", ref.name), ("task", settings.task if settings else None), ("metric", ref.metric),
             ("objectives", objectives), ("trials", states or "none"),
             ("grammar", settings.grammar.get("name") if settings else None),
             ("sampler", settings.sampler if settings else None),
             ("baselines", ", ".join(settings.baselines) if settings and settings.baselines else None),
             ("storage", where)]
    dl = "\n".join(f"<dt>{esc(k)}</dt><dd>{esc(str(v))}</dd>" for k, v in facts if v is not None)
    figs = "\n".join(
        f'<figure><img src="{esc(name)}.png" alt="{esc(name)}"><figcaption>{esc(_CAPTIONS.get(name, ""))}'
        "</figcaption></figure>" for name in pngs)
    drawn = ""
    if diagrams:
        drawn = "<h2>The best trial's diagrams</h2>\n<p>Token vertices j, k, …; each edge labelled by its weight; " \
            "arrows from the X end to the X* end of oriented edges.</p>\n" + "\n".join(
                f'<figure><img src="{esc(name)}" alt="{esc(caption)}"><figcaption>{esc(caption)}</figcaption>'
                "</figure>" for name, caption in diagrams.items())
    links = ""
    if interactive:
        links = "<p>Interactive (plotly): " + ", ".join(f'<a href="{esc(n)}">{esc(n)}</a>' for n in interactive) \
            + "</p>"
    pareto_note = "<p>* Pareto-optimal over the study's objectives (listed first).</p>" \
        if len(ref.directions) > 1 else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>archsearch report — {esc(ref.name)}</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>archsearch report — {esc(ref.name)}</h1>
<dl>
{dl}
</dl>
<h2>Leaderboard (top {len(rows)})</h2>
{html_table(ref, rows)}
{pareto_note}
{drawn}
<h2>Figures</h2>
{figs}
{links}
<p>Export the winner: <code>archsearch export --study {esc(ref.name)} --trial best -o winner.py
--weights winner.safetensors</code></p>
</body>
</html>
"""
