"""archsearch/export/block.py: what an exported step says about itself — config.json key by key (also the
safetensors metadata and CONFIG in the file), the file's docstring line by line, and its sections in order."""

from __future__ import annotations

import ast
import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

import archsearch
from archsearch.export import export_block
from archsearch.report import open_study
from archsearch.report.studies import best_trial, trial_config
from archsearch.tasks import make_task
from archsearch.train import ModelConfig, compile_blocks

# (study, step): real and complex fields, causal and not, parallel and split schemes, a term set per step
CASES = [("multi", 0), ("causal", 0), ("layers", 1), ("complex", 1)]


def _trial_config(results: Path, study: str) -> tuple[Any, dict[str, Any], ModelConfig]:
    ref = open_study(study, results_dir=results)
    trial = best_trial(ref)
    config = trial_config(ref, trial)
    return trial, config, ModelConfig.from_dict(config["model"])


def _expected_config(results: Path, study: str, step: int) -> dict[str, Any]:
    """The documented block config, built from the trial's stored config: key, value and order."""
    trial, config, m = _trial_config(results, study)
    task = make_task(config["task"]["name"], **config["task"]["options"])
    classes = [cb.class_name for cb in compile_blocks(m, task) if cb.term.key in m.step_terms(step)]
    return {
        "format": "archsearch-block", "archsearch_version": archsearch.__version__, "study": study,
        "trial": trial.number, "step_index": step, "depth": m.depth, "class": "ArchsearchBlock",
        "terms": list(m.step_terms(step)), "term_classes": classes, "features": m.width, "rank": m.rank,
        "heads": m.heads, "step_size": m.step, "scheme": m.scheme, "norm": m.norm, "field": m.field,
        "tied": m.tied, "causal": bool(getattr(task, "causal", False)),
        "input": f"(B, N, {m.width}) {'complex64' if m.field == 'complex' else 'float32'}",
        "task": {"name": config["task"]["name"], "options": dict(config["task"]["options"])},
    }


@pytest.mark.parametrize("study, step", CASES)
def test_config_json_is_the_documented_config(results, tmp_path, study, step):
    """config.json holds the documented keys in order (format, version, trial, step, sizes, scheme, field, tie,
    causality, input shape and dtype, task), 2-space JSON with a final newline; CONFIG in the file is the same."""
    paths = export_block(study, "best", tmp_path / "b.py", tmp_path / "b.safetensors", step=step,
                         results_dir=results)
    text = (tmp_path / "config.json").read_text()
    expected = _expected_config(results, study, step)
    assert list(json.loads(text).items()) == list(expected.items())
    assert text == json.dumps(expected, indent=2) + "\n"
    module = ast.parse(paths[0].read_text())
    config = next(ast.literal_eval(n.value) for n in module.body
                  if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "CONFIG")
    assert config == expected


def _wrapped(lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        indent = " " * (len(line) - len(line.lstrip()))
        out += textwrap.wrap(line, 110, subsequent_indent=indent + "    ") if len(line) > 110 else [line]
    return out


@pytest.mark.parametrize("study, step, with_weights", [("complex", 1, True), ("causal", 0, False)])
def test_docstring_of_an_exported_step_in_full(results, tmp_path, study, step, with_weights):
    """The file's docstring, line by line: which step of which trial, the shapes and dtype, the update rule
    (X + h F, or X - i h F in the complex field) with its scheme, step size, norm and causality, what loading
    needs, each term with its name, block class, cost and field, and usage (the weights beside the file when
    they were exported)."""
    from archsearch.describe import describe_term

    trial, config, m = _trial_config(results, study)
    task = make_task(config["task"]["name"], **config["task"]["options"])
    causal = bool(getattr(task, "causal", False))
    complex_ = m.field == "complex"
    terms = []
    for cb in compile_blocks(m, task):
        if cb.term.key in m.step_terms(step):
            desc = describe_term(cb.term, field=m.field, untied=not m.tied, cost=False)
            terms += [f"    {cb.term.key}: {desc['name'] or 'no established name'}  (block {cb.class_name}, "
                      f"cost {cb.cost})", f"        F(X) = {desc['field']}"]
    expected = _wrapped([
        f"One Euler step (step {step} of {m.depth}) of trial {trial.number} of the archsearch study {study!r}, as a "
        "drop-in torch.nn.Module.",
        "",
        f"    ArchsearchBlock: X (B, N, C) -> (B, N, C), or unbatched (N, C) -> (N, C); C = {m.width} by default, "
        f"{'complex64' if complex_ else 'float32'}.",
        f"    The residual step {'X - i h F' if complex_ else 'X + h F'}, F = the sum of the terms' fields at norm(X) "
        f"({m.scheme} scheme, h = {m.step}, {m.norm} norm)"
        + ("; causal: token j sees tokens <= j." if causal else "."),
        "",
        "Loading needs torch (>= 2.4 for the rms norm) and, for .safetensors weights only, the safetensors package; "
        "nothing else is imported. The term blocks are the code that ran in the search, verbatim.",
        "",
        "Terms:",
        *terms,
        "",
        "Usage:",
        *(["    layer = load_block()                  # the trained step: weights in b.safetensors, beside this file"]
          if with_weights else []),
        '    layer = load_block("path/to/weights.safetensors")   # or a .pt state_dict',
        "    layer = ArchsearchBlock()             # fresh parameters (ArchsearchBlock(features=256): another width)",
        "    y = layer(x)                          # x (B, N, C); y has x's shape",
    ])
    paths = export_block(study, "best", tmp_path / "b.py", tmp_path / "b.safetensors" if with_weights else None,
                         step=step, results_dir=results)
    source = paths[0].read_text()
    assert source.startswith('"""' + "\n".join(expected) + '\n"""\n\n')
    assert ast.get_docstring(ast.parse(source), clean=False).splitlines() == expected
    assert complex_ is (study == "complex") and causal is (study == "causal")


def test_sections_of_an_exported_step_in_order(results, tmp_path):
    """After the docstring and the imports: the configuration, each term block verbatim under its own rule, the
    norms and the Euler step, then the drop-in block (TERM_CLASSES naming the blocks in order)."""
    paths = export_block("layers", "best", tmp_path / "b.py", step=1, results_dir=results)
    source = paths[0].read_text()
    config = json.loads((tmp_path / "config.json").read_text())
    rules = re.findall(r"^# -{98}\n# (.*)\n# -{98}$", source, flags=re.M)
    assert rules == [
        "Configuration of the exported step (also in config.json and the safetensors metadata)",
        *[f"Term block {name}: generated by archsearch.compiler, verbatim (the code the search ran)"
          for name in config["term_classes"]],
        "Norms and the Euler step (archsearch.train.model, verbatim)",
        "The drop-in block",
    ]
    assert f"\nTERM_CLASSES = ({', '.join(config['term_classes'])},)\n" in source
    _, stored, m = _trial_config(results, "layers")
    task = make_task(stored["task"]["name"], **stored["task"]["options"])
    blocks = {cb.class_name: cb.source for cb in compile_blocks(m, task)}
    for name in config["term_classes"]:  # each block verbatim right under its rule, then two blank lines
        rule = (f"# {'-' * 98}\n# Term block {name}: generated by archsearch.compiler, verbatim "
                "(the code the search ran)")
        assert f"{rule}\n# {'-' * 98}\n{blocks[name].rstrip()}\n\n\n" in source
