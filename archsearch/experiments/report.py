"""The files an experiment writes into its results directory, and the summary page over all of them.

Per experiment: ``<name>.json`` (config, results, findings, machine, wall time, seeds, version, command),
``<name>.md`` (the page: the seeds' claim and figures beside ours, the table, the verdicts, the plot) and
``<name>.png``. ``README.md`` is rebuilt from every ``<name>.json`` present after each run, and says which
registered experiments have not been run there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from archsearch.experiments.base import Experiment, Findings
from archsearch.experiments.machine import machine_line
from archsearch.experiments.seeds import POSTER, SEED_CURVES, SEED_FIGURES, SLIDES
from archsearch.experiments.stats import NOT_RUN

QUICK_NOTE = "**Quick mode: tiny budgets that check the pipeline, not the claim; the verdicts below mean nothing.**"


def seeds_table(key: str) -> list[str]:
    """The seeds' figures of experiment ``key`` as markdown lines (or their description of a curve)."""
    figures = [f for f in SEED_FIGURES if f.experiment == key]
    if not figures:
        return [f"The seeds give no numbers here: {SEED_CURVES.get(key, 'nothing reported')}."]
    lines = ["| arm | quantity | reported | reading |", "| --- | --- | --- | --- |"]
    for f in figures:
        value = figure_text(f.value, f.spread)
        lines.append(f"| {f.arm} | {f.quantity} | {value} | {f.note or '—'} |")
    return lines


def page(exp: Experiment, record: dict[str, Any], findings: Findings) -> str:
    """The markdown page of one run."""
    lines = [f"# {exp.title}", ""]
    if record["quick"]:
        lines += [QUICK_NOTE, ""]
    lines += [f"`{record['command']}` — experiment `{exp.name}` version {exp.version}, {record['date']}; "
              f"{machine_line(record['machine'])}; {record['seeds']} seed(s) per arm; wall time "
              f"{record['wall_seconds']:.0f} s.", "",
              f"**The seeds' claim:** {exp.claim} (slides {SLIDES}, poster {POSTER}).", "", *seeds_table(exp.seed_key),
              "", "## What was run", "", exp.reading, "", "## Results (mean ± std over seeds)", "", *findings.table, ""]
    for note in findings.notes:
        lines += [f"- {note}"]
    lines += ["", "## Verdict", ""]
    for v in findings.verdicts:
        lines += [f"- **{v.label}** — {v.claim}. {v.reason.rstrip('.')}."]
    lines += ["", "A difference is called real only when it exceeds twice the seed spread (the larger of the two "
              "standard deviations).", "", f"![{exp.name}]({exp.name}.png)", ""]
    return "\n".join(lines)


def write_run(out: Path, exp: Experiment, record: dict[str, Any], findings: Findings) -> None:
    """``<name>.json`` and ``<name>.md`` (the plot is written by the experiment)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{exp.name}.json").write_text(json.dumps(record, indent=1, default=str) + "\n")
    (out / f"{exp.name}.md").write_text(page(exp, record, findings))


def ready_command(exp: Experiment) -> str:
    """The command that runs ``exp`` at full size (with a placeholder for its data and a GPU if it needs them)."""
    return f"archsearch experiment {exp.name}" + (" --data DIR" if exp.data_help else "") + \
        (" --device cuda" if exp.gpu else "")


def not_run_reason(exp: Experiment, records: list[dict[str, Any]]) -> str:
    """Why ``exp`` has no results in a directory whose other runs are ``records``."""
    if not exp.gpu:
        return f"no results in this directory yet; `{ready_command(exp)}`"
    gpus = sorted({r["machine"]["gpu"] for r in records if r["machine"].get("gpu")})
    where = "" if gpus or not records else " and the runs here had none (CPU only)"
    data = f"; needs {exp.data_help}" if exp.data_help else ""
    return f"sized for a GPU{where}{data}; ready: `{ready_command(exp)}`"


def summary(out: Path, experiments: dict[str, Experiment]) -> str:
    """The README of a results directory: one row per registered experiment (run or not) and one for the seed
    experiment that has no counterpart here."""
    records = {name: json.loads((out / f"{name}.json").read_text()) for name in experiments
               if (out / f"{name}.json").is_file()}
    lines = ["# The seeds' CoLU experiments, reproduced", "",
             "The seeds (the talk slides and the poster; REFERENCES.md) report CoLU — a skew projection onto a "
             "Lorentz cone used as an activation — beating ReLU. Each experiment below is run by one command, "
             "`archsearch experiment <name>`, which writes `<name>.md` (the page: the seeds' figures beside ours, "
             "the reading of the slides, the table, the verdicts), `<name>.png` and `<name>.json` here, and "
             "rebuilds this summary. A difference is real only when it exceeds twice the seed spread (the larger "
             "of the two standard deviations). The geometry, and what the tool proves about the three "
             "projections: [docs/conic.md](../../docs/conic.md).", "",
             "| experiment | the seeds' claim | verdict | ours (mean ± std) | seeds | seeds × arms, wall time | "
             "machine |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, exp in experiments.items():
        record = records.get(name)
        if record is None:
            lines.append(f"| {name} | {exp.claim} | {NOT_RUN}: {not_run_reason(exp, list(records.values()))} | — | "
                         f"{seed_summary(exp.seed_key)} | — | — |")
            continue
        verdicts = record["findings"]["verdicts"]
        said = "<br>".join(f"**{v['label']}**: {v['claim']}" for v in verdicts) or "—"
        if record["quick"]:
            said = "quick mode only (checks the pipeline, not the claim)"
        lines.append(f"| [{name}]({name}.md) | {exp.claim} | {said} | {record['findings']['summary']} | "
                     f"{seed_summary(exp.seed_key)} | {record['seeds']} seed(s), {record['wall_seconds']:.0f} s | "
                     f"{machine_line(record['machine'])} |")
    lines.append("| diffusion model (CIFAR-10) | CoLU trains faster: train loss 0.1458 against 0.1653 | "
                 f"{NOT_RUN}: not built — the slides give neither the model nor the schedule, and the issue asks for "
                 f"ResNet-56 and the GPT-2 MLP at GPU scale | — | {seed_summary('diffusion')} | — | — |")
    lines += [""]
    for name in records:
        lines += [f"## {experiments[name].title}", "", f"[{name}.md]({name}.md)", "", f"![{name}]({name}.png)", ""]
    return "\n".join(lines)


def figure_text(value: float | None, spread: float | None) -> str:
    """A reported figure as printed: ``3.4569 ± 0.1182``, ``39.064 M``."""
    if value is None:
        return "—"
    text = f"{value / 1e6:g} M" if abs(value) >= 1e6 else f"{value:g}"
    return text + (f" ± {spread:g}" if spread is not None else "")


def seed_summary(key: str) -> str:
    """The seeds' figures of ``key`` in one cell."""
    figures = [f for f in SEED_FIGURES if f.experiment == key and f.spread is not None]
    if not figures:
        figures = [f for f in SEED_FIGURES if f.experiment == key]
        if not figures:
            return "curves only, no numbers"
    return "; ".join(f"{f.arm} {figure_text(f.value, f.spread)} ({f.quantity})" for f in figures)
