"""Export a trial of a study as ONE standalone PyTorch file (+ its weights).

    from archsearch.export import export_trial
    export_trial("paper-icl-regression", "best", Path("winner.py"), Path("winner.safetensors"))

    # elsewhere, with only torch (and safetensors) installed:
    from winner import load_model
    model = load_model()            # winner.safetensors beside winner.py; strict state_dict keys

The file holds the compiled term blocks verbatim (the code that ran in the search), the task's embedding and
readout classes, the Euler-step model, ``build_model()`` with the trial's hyper-parameters and
``load_model(weights_path)``; ``config.json`` beside the weights (beside the file without weights) and the
safetensors metadata (key ``archsearch_config``) hold the trial's configuration as JSON (:func:`model_config`).
Before anything is written the export is checked: statically (only torch is
imported; no undefined names) and numerically (the exported model, with the trial's weights loaded strictly,
reproduces archsearch's own model on sample inputs of the task).

``trial="best"``: single objective, the best trial; several objectives, the first trial of the Pareto front by
the first objective (the task metric).
"""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

from archsearch.export.block import CONFIG_NAME, block_source, export_block, load_weights, weights_bytes
from archsearch.export.source import (
    ExportError,
    ModuleCall,
    assemble,
    build_model_source,
    check_sections,
    check_standalone,
    record_call,
    sections_of,
)
from archsearch.report.studies import (
    ResultsError,
    StudyRef,
    open_study,
    select_trial,
    trial_config,
    trial_tensors,
    trial_weights,
)

__all__ = ["ExportError", "ResultsError", "block_source", "export_block", "export_source", "export_trial",
           "model_config"]

WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth")
ATOL = 1e-5  # exported vs archsearch model on sample inputs (same code; differences are summation order only)


def export_trial(study: Any, trial: str | int = "best", out_py: str | os.PathLike[str] = "winner.py",
                 weights: str | os.PathLike[str] | None = None, *, storage: str | None = None,
                 results_dir: str | os.PathLike[str] = "results") -> Path:
    """Write trial ``trial`` of ``study`` as the standalone file ``out_py``, ``config.json`` beside the weights
    (beside ``out_py`` without weights) and, when ``weights`` is given, the trained weights there
    (``.safetensors``: the trial's tensors, with the config as JSON under the metadata key
    ``archsearch_config``; ``.pt``/``.pth``: a plain state_dict for ``torch.load(weights_only=True)``).
    Returns ``out_py``.

    ``study``: a name (journal under ``results_dir/<study>`` or ``storage``), an Optuna study or a StudyRef.
    The output directory must exist; files are written all-or-nothing. Raises ResultsError (one line) for an
    unknown study or trial, a trial that is not COMPLETE, missing weights or an unwritable output, and
    archsearch.search.errors.StorageError for a ``storage`` URL it cannot open.
    """
    from archsearch.report.output import check_writable_dir, write_files

    out_py, weights_path = output_paths(out_py, weights)
    config_path = (weights_path if weights_path is not None else out_py).parent / CONFIG_NAME
    if config_path.resolve() in {out_py.resolve(), *([weights_path.resolve()] if weights_path else [])}:
        raise ResultsError(f"{CONFIG_NAME} is written beside the weights; name the files differently")
    check_writable_dir(out_py.parent)
    check_writable_dir(config_path.parent)

    ref = open_study(study, storage, results_dir)
    chosen = select_trial(ref, trial)
    rel = None
    if weights_path is not None:
        rel = os.path.relpath(weights_path.resolve(), out_py.resolve().parent)
    source, state = export_source(ref, chosen, weights_name=rel, selected=str(trial))
    cfg = model_config(ref, chosen)
    files = {out_py: source.encode()}
    if weights_path is not None:
        files[weights_path] = _weights_bytes(ref, chosen, weights_path.suffix, state, cfg)
    files[config_path] = (json.dumps(cfg, indent=2) + "\n").encode()
    write_files(files)
    return out_py


def model_config(study: Any, trial: Any) -> dict[str, Any]:
    """The JSON configuration of an exported model (config.json, the safetensors metadata): the model and
    training configurations, the task, the trial's values and where it came from."""
    from archsearch import __version__

    ref = open_study(study)
    config = trial_config(ref, trial)
    attrs = trial.user_attrs
    return {
        "format": "archsearch-model",
        "archsearch_version": __version__,
        "study": ref.name,
        "trial": trial.number,
        "objectives": {ref.objective_name(i): v for i, v in enumerate(trial.values or ())},
        "test_metric": attrs.get("test_metric"),
        "n_params": attrs.get("n_params"),
        "flops": attrs.get("flops"),
        "terms": list(config["model"].get("terms") or ()),
        "model": config["model"],
        "train": config.get("train"),
        "task": {"name": config["task"]["name"], "options": dict(config["task"].get("options") or {})},
        "entry_points": {"build_model": "fresh parameters", "load_model": "weights_path (default: the exported "
                         "weights beside the file)"},
    }


def output_paths(out_py: str | os.PathLike[str], weights: str | os.PathLike[str] | None) -> tuple[Path, Path | None]:
    """The exported file and the weights file as paths; ResultsError unless the first ends in .py, the second in
    one of WEIGHT_SUFFIXES, and they differ."""
    out_py = Path(out_py)
    if out_py.suffix != ".py":
        raise ResultsError(f"the exported file must end in .py, not {out_py.name!r}")
    weights_path = Path(weights) if weights is not None else None
    if weights_path is not None:
        if weights_path.suffix not in WEIGHT_SUFFIXES:
            raise ResultsError(f"--weights must end in {', '.join(WEIGHT_SUFFIXES)}, not {weights_path.name!r}")
        if weights_path.resolve() == out_py.resolve():
            raise ResultsError("--weights and the exported file must differ")
    return out_py, weights_path


def _weights_bytes(ref: StudyRef, trial: Any, suffix: str, state: dict[str, Any] | None,
                   cfg: dict[str, Any]) -> bytes:
    """The trial's tensors as .safetensors (the config under the metadata key ``archsearch_config``) or its
    state_dict saved by torch.save (.pt/.pth)."""
    stored = trial_weights(ref, trial)  # a ResultsError when the trial has no weights file
    if state is None:
        return stored.read_bytes()
    return weights_bytes(state, suffix, cfg)


def export_source(study: Any, trial: Any = "best", *, weights_name: str | None = None, selected: str = "",
                  storage: str | None = None, results_dir: str | os.PathLike[str] = "results",
                  check: bool = True) -> tuple[str, dict[str, Any] | None]:
    """The exported file's text for a trial (a FrozenTrial, "best" or a number) and the trial's state_dict
    (None when it has no weights file). ``weights_name``: the default weights file for ``load_model()``,
    relative to the exported file. ``check``: verify the text (static checks, and outputs against
    archsearch's model with the trial's weights — or, without weights, fresh parameters, which must also
    match: ``build_model()`` reproduces the search's initialisation)."""
    from archsearch.train import ModelConfig, compile_blocks
    from archsearch.train import build_model as archsearch_build_model

    ref = open_study(study, storage, results_dir)
    chosen = trial if hasattr(trial, "number") else select_trial(ref, trial)
    selected = selected or (trial if trial == "best" else "")
    config = trial_config(ref, chosen)
    try:
        model_cfg = ModelConfig.from_dict(config["model"])
    except (TypeError, ValueError) as err:
        raise ResultsError(f"trial {chosen.number}: invalid model config ({err})") from None
    task = _make_task(config["task"], chosen.number)
    compiled = compile_blocks(model_cfg, task)
    d_model = 2 * model_cfg.width if model_cfg.field == "complex" else model_cfg.width
    embedding = record_call(task.embedding, d_model)
    readout = record_call(task.readout, d_model)
    task_classes = list(dict.fromkeys([embedding.cls, readout.cls]))
    blocks = [(cb.class_name, cb.source) for cb in compiled]
    if len({name for name, _ in blocks}) != len(blocks):
        raise ExportError(f"trial {chosen.number}: two terms compile to one class name")
    constants = _constants(ref, chosen, config, model_cfg, weights_name)
    build_src = build_model_source(model_cfg, embedding, readout, [name for name, _ in blocks], chosen.number)
    header = _header(ref, chosen, config, model_cfg, task, compiled, embedding, readout, weights_name, selected)
    source = assemble(header, constants, blocks, task_classes, task.name, build_src)

    state = trial_tensors(ref, chosen.number)
    if check:
        check_sections(sections_of(blocks, task_classes))
        check_standalone(source, "exported model")
        reference = archsearch_build_model(model_cfg, task, compiled)
        _verify(source, reference, state, task, chosen.number)
    return source, state


def _make_task(spec: Any, number: int) -> Any:
    from archsearch.tasks import make_task

    if not isinstance(spec, dict) or "name" not in spec:
        raise ResultsError(f"trial {number}: the config's task section lacks the task name")
    try:
        return make_task(spec["name"], **(spec.get("options") or {}))
    except (KeyError, TypeError, ValueError, OSError) as err:
        msg = err.args[0] if isinstance(err, KeyError) and err.args else err
        raise ResultsError(f"trial {number}: cannot rebuild task {spec['name']!r} ({msg})") from None


def _verify(source: str, reference: Any, state: dict[str, Any] | None, task: Any, number: int) -> None:
    """Exec the text in a fresh namespace; its build_model() must take the trial's state_dict strictly (else
    equal archsearch's fresh parameters) and reproduce archsearch's outputs on two sample examples."""
    import torch

    namespace: dict[str, Any] = {"__name__": "archsearch_export_check", "__file__": "<export>"}
    exec(compile(source, "<exported model>", "exec"), namespace)  # noqa: S102 - the text we just generated
    exported = namespace["build_model"]()
    fresh = exported.state_dict()
    if state is None:
        expected = reference.state_dict()
        if fresh.keys() != expected.keys() or any(not torch.equal(fresh[k], expected[k]) for k in fresh):
            raise ExportError(f"trial {number}: the exported build_model() does not reproduce archsearch's "
                              "initial parameters")
        state = expected
    load_weights((exported, reference), state, number, "model")
    inputs = task.generate(2, torch.Generator().manual_seed(0))["inputs"]
    exported.eval()
    reference.eval()
    with torch.no_grad():
        got, want = exported(inputs), reference(inputs)
    if got.shape != want.shape or not torch.allclose(got, want, rtol=ATOL, atol=ATOL):
        diff = (got - want).abs().max().item() if got.shape == want.shape else "shape"
        raise ExportError(f"trial {number}: the exported model does not reproduce archsearch's outputs "
                          f"(max |difference| {diff})")


def _constants(ref: StudyRef, trial: Any, config: dict[str, Any], model_cfg: Any,
               weights_name: str | None) -> dict[str, Any]:
    return {
        "STUDY": ref.name,
        "TRIAL": trial.number,
        "TASK": {"name": config["task"]["name"], "options": dict(config["task"].get("options") or {})},
        "MODEL_CONFIG": model_cfg.to_dict(),
        "WIDTH": model_cfg.width,
        "DEPTH": model_cfg.depth,
        "STEP": model_cfg.step,
        "SCHEME": model_cfg.scheme,
        "NORM": model_cfg.norm,
        "RANK": model_cfg.rank,
        "HEADS": model_cfg.heads,
        "SEED": model_cfg.seed,
        "WEIGHTS": weights_name,
    }


def _values_text(ref: StudyRef, trial: Any) -> list[str]:
    from archsearch.report.tables import format_value

    lines = []
    for i, value in enumerate(trial.values):
        lines.append(f"{ref.objective_name(i)} = {format_value(value) if ref.objectives[i] != 'metric' else value}")
    attrs = trial.user_attrs
    extra = []
    if attrs.get("test_metric") is not None:
        extra.append(f"test {ref.metric} = {attrs['test_metric']:.6g}")
    if attrs.get("n_params") is not None and "params" not in ref.objectives:
        extra.append(f"parameters {attrs['n_params']}")
    if attrs.get("flops") is not None and "flops" not in ref.objectives:
        extra.append(f"forward FLOPs per example {format_value(attrs['flops'])}")
    if attrs.get("wall_time") is not None:
        extra.append(f"trained in {format_value(float(attrs['wall_time']))} s on {attrs.get('device', '?')}")
    return ["; ".join(lines), "; ".join(extra)] if extra else ["; ".join(lines)]


def _optional_note(compiled: list[Any]) -> list[str]:
    """Say which optional imports the blocks try (inside try/except ImportError) and what runs without them."""
    optional = sorted({m for cb in compiled for m in check_standalone(cb.source, cb.class_name)})
    if not optional:
        return []
    return [f"Where {', '.join(optional)} can be imported (archsearch installed), the blocks use its kernels "
            "(Triton on CUDA); otherwise their pure-torch fallbacks in this file run."]


def _header(ref: StudyRef, trial: Any, config: dict[str, Any], model_cfg: Any, task: Any, compiled: list[Any],
            embedding: ModuleCall, readout: ModuleCall, weights_name: str | None, selected: str) -> str:
    from archsearch import __version__
    from archsearch.describe import describe_term

    multi = len(ref.directions) > 1
    if selected == "best":
        how = ("selected as the best: the first trial of the Pareto front by the first objective" if multi
               else "selected as the best trial")
    else:
        how = "selected by number"
    objectives = ", ".join(f"{ref.objective_name(i)} ({d})" for i, d in enumerate(ref.directions))
    lines = [f"Trial {trial.number} of the archsearch study {ref.name!r}, exported as standalone PyTorch code.",
             "",
             "Only torch is imported (safetensors too, inside load_model, for .safetensors weights). The term "
             "blocks are",
             "the code that ran in the search, verbatim; the embedding, readout and model classes are "
             "archsearch's own.",
             *_optional_note(compiled),
             "",
             f"Trial {trial.number}, {how}. Objectives: {objectives}."]
    lines += [f"    {text}" for text in _values_text(ref, trial)]
    if trial.user_attrs.get("duplicate_of") is not None:
        lines.append(f"    (a repeat of trial {trial.user_attrs['duplicate_of']}: its result and weights were reused)")
    options = ", ".join(f"{k}={v!r}" for k, v in sorted((config["task"].get("options") or {}).items()))
    doc = (type(task).__doc__ or "").strip().splitlines()
    lines += ["", f"Task: {task.name}({options}); metric {task.metric_name} ({task.direction})"
              + ("; causal" if task.causal else "") + "."]
    if doc:
        lines += textwrap.wrap(doc[0], 100, initial_indent="    ", subsequent_indent="    ")
    kind = "tied (exact gradients of V)" if model_cfg.tied else "untied (one parameter set per branch)"
    if model_cfg.layers is None:
        lines += ["", f"Terms ({model_cfg.field} field, {kind}; every Euler step applies all of them):"]
    else:
        steps = "; ".join(f"step {t + 1}: {' + '.join(layer)}" for t, layer in enumerate(model_cfg.layers))
        lines += ["", f"Terms ({model_cfg.field} field, {kind}; each Euler step its own: {steps}):"]
    for cb in compiled:
        desc = describe_term(cb.term, field=model_cfg.field, untied=not model_cfg.tied)
        name = desc["name"] or "no established name"
        lines += [f"    {cb.term.key}: {name}  (block {cb.class_name}, cost {cb.cost})",
                  f"        V(X) = {desc['potential']}",
                  f"        F(X) = {desc['field']}"]
    h = model_cfg.step
    step = (f"X <- X - i h Σ F_i({'norm(X)' if model_cfg.norm != 'none' else 'X'})" if model_cfg.field == "complex"
            else f"X <- X + h Σ F_i({'norm(X)' if model_cfg.norm != 'none' else 'X'})")
    if model_cfg.scheme == "split":
        step = "for each term i in turn: " + step.replace("Σ F_i", "F_i")
    lines += ["", "Model:",
              f"    X = {embedding.call()}(inputs)",
              f"    {model_cfg.depth} Euler step(s), each with its own parameters: {step}, h = {h} "
              f"({model_cfg.scheme} scheme, {model_cfg.norm} norm)",
              f"    pred = {readout.call()}(norm(X))",
              f"    width C = {model_cfg.width}, rank C_A = {model_cfg.rank or 'full'}, heads H = {model_cfg.heads}, "
              f"seed {model_cfg.seed}"]
    usage = ["", "Usage:"]
    if weights_name is not None:
        usage += [f"    model = load_model()                      # the weights in {weights_name}, beside this file"]
    usage += ["    model = load_model(\"path/to/weights.safetensors\")   # or a .pt state_dict",
              "    pred = model(inputs)                      # inputs as the task's batch['inputs']",
              "    model = build_model()                     # fresh parameters (the search's initialisation)",
              "",
              f"Exported by archsearch {__version__}."]
    wrapped = []
    for line in lines + usage:
        indent = " " * (len(line) - len(line.lstrip()))
        wrapped += textwrap.wrap(line, 110, subsequent_indent=indent + "    ") if len(line) > 110 else [line]
    body = "\n".join(wrapped).replace('"""', "'''").replace("\\", "\\\\")
    return f'"""{body}\n"""\n\n'
