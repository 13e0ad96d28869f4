"""Run one experiment end to end: configure, check the device and data, train, write the page, the plot, the
JSON record and the summary README of the results directory."""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from archsearch.experiments.base import Context, Experiment, ExperimentError, RunOptions
from archsearch.experiments.machine import describe_machine


def resolve_device(name: str) -> str:
    """"auto" → cuda when available, else cpu; ExperimentError for CUDA without a GPU or an unknown name."""
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return name
    if name == "cuda" or (name.startswith("cuda:") and name[5:].isdigit()):
        if not torch.cuda.is_available():
            raise ExperimentError(f"device {name!r}: CUDA is not available on this machine (use --device cpu)")
        return name
    raise ExperimentError(f"unknown device {name!r} (known: auto, cpu, cuda, cuda:<i>)")


def command_line(exp: Experiment, options: RunOptions) -> str:
    """The ``archsearch experiment …`` line that reproduces a run."""
    parts = ["archsearch", "experiment", exp.name]
    if options.quick:
        parts.append("--quick")
    if options.seeds is not None:
        parts += ["--seeds", str(options.seeds)]
    if options.device != "cpu":
        parts += ["--device", options.device]
    if options.data is not None:
        parts += ["--data", str(options.data)]
    for key, value in options.settings.items():
        text = ",".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
        parts += ["--set", f"{key}={text}"]
    return shlex.join(parts)


def execute(exp: Experiment, options: RunOptions, experiments: dict[str, Experiment],
            log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run ``exp`` with ``options``; write its files into ``options.out_dir`` and rebuild the README there.
    Returns the JSON record. Raises ExperimentError for a user's mistake (one line)."""
    import torch

    from archsearch.experiments.report import summary, write_run

    config = exp.configure(options)
    device = resolve_device(options.device)
    if exp.data_help is not None and options.data is None:
        raise ExperimentError(f"{exp.name} needs --data: {exp.data_help}; nothing is downloaded")
    if options.threads:
        torch.set_num_threads(options.threads)
    start = time.perf_counter()
    results = exp.run(config, Context(device, options.data, log, options.quick))
    wall = time.perf_counter() - start
    findings = exp.findings(config, results)
    out = options.out_dir
    record = {"name": exp.name, "version": exp.version, "title": exp.title, "quick": options.quick,
              "command": command_line(exp, options), "date": time.strftime("%Y-%m-%d"),
              "machine": describe_machine(device, options.threads), "wall_seconds": wall, "seeds": config.seeds,
              "config": _jsonable(config), "findings": findings.to_dict(), "results": results}
    write_run(out, exp, record, findings)
    exp.plot(config, results, out / f"{exp.name}.png")
    (out / "README.md").write_text(summary(out, experiments))
    return record


def rewrite(exp: Experiment, out: Path, experiments: dict[str, Experiment]) -> dict[str, Any]:
    """Rebuild ``<name>.md``, ``<name>.png`` and README.md in ``out`` from the stored ``<name>.json`` without
    training: the numbers, command, machine and wall time are the record's; the findings, page and plot are
    redrawn by the current code. ExperimentError when there is no record or it is of another version."""
    from archsearch.experiments.report import summary, write_run

    path = out / f"{exp.name}.json"
    if not path.is_file():
        raise ExperimentError(f"no record {path} to rewrite: run the experiment first")
    record = json.loads(path.read_text())
    if record.get("name") != exp.name or record.get("version") != exp.version:
        raise ExperimentError(f"{path} holds {record.get('name')} version {record.get('version')}, not {exp.name} "
                              f"version {exp.version}: run the experiment again")
    config = exp.Config(**{k: tuple(v) if isinstance(v, list) else v for k, v in record["config"].items()})
    findings = exp.findings(config, record["results"])
    record["findings"] = findings.to_dict()
    write_run(out, exp, record, findings)
    exp.plot(config, record["results"], out / f"{exp.name}.png")
    (out / "README.md").write_text(summary(out, experiments))
    return record


def _jsonable(config: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()}


def output_files(out: Path, name: str) -> list[Path]:
    """The files a run of ``name`` writes into ``out``."""
    return [out / f"{name}.{ext}" for ext in ("md", "png", "json")] + [out / "README.md"]
