"""archsearch/export/block.py: what an exported step says about itself — config.json key by key (also the
safetensors metadata and CONFIG in the file), the file's docstring line by line, and its sections in order."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest
from results_helpers import in_memory_copy, wrapped_header

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
    expected = wrapped_header([
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
        assert re.search(re.escape(f"{rule}\n# {'-' * 98}\n{blocks[name].rstrip()}\n\n\n") + "# -{98}\n", source)


def test_block_source_opens_a_study_by_name(results, tmp_path, monkeypatch):
    """block_source on a study name: the best trial and step 0 by default, from ./results by default; a trial
    number; ``storage`` passed on to Optuna (an unsupported URL is refused by name)."""
    from results_helpers import copy_study

    from archsearch.export.block import block_source
    from archsearch.search.errors import StorageError

    ref = open_study("layers", results_dir=results)
    best = best_trial(ref)
    source, cfg, state = block_source("layers", results_dir=results)
    assert (cfg["trial"], cfg["step_index"]) == (best.number, 0)
    assert (source, cfg) == block_source(ref, best, step=0)[:2] and state is not None
    monkeypatch.chdir(tmp_path)
    copy_study(results, "layers", tmp_path / "results")
    assert block_source("layers")[:2] == (source, cfg)
    other = next(t.number for t in ref.study.trials if t.number != best.number and t.state.name == "COMPLETE")
    assert block_source("layers", other, step=1, results_dir=results)[1]["trial"] == other
    with pytest.raises(StorageError) as err:  # the storage is passed on (a bad URL is refused by name)
        block_source("layers", storage="bogus://x", results_dir=results)
    assert "unsupported storage URL 'bogus://x'" in str(err.value)


def test_block_source_errors_name_the_trial(results, monkeypatch):
    """A step out of range, a model config that does not parse and a task that cannot be rebuilt: one-line
    ResultsErrors that name the trial."""
    import archsearch.export.block as block
    from archsearch.report import ResultsError

    ref = open_study("layers", results_dir=results)
    number = best_trial(ref).number
    with pytest.raises(ResultsError) as err:
        block.block_source(ref, "best", step=5)
    assert str(err.value) == f"trial {number} has 2 Euler step(s) (0..1); --step 5 is out of range"
    for bad in (True, 1.0, -1):  # a bool or a float is not a step number, even where it equals one
        with pytest.raises(ResultsError, match=rf"--step {bad} is out of range"):
            block.block_source(ref, "best", step=bad)
    stored = trial_config(ref, best_trial(ref))
    monkeypatch.setattr(block, "trial_config", lambda *_: {**stored, "model": {**stored["model"], "width": "wide"}})
    with pytest.raises(ResultsError) as err:
        block.block_source(ref, "best")
    assert str(err.value).startswith(f"trial {number}: invalid model config (")
    monkeypatch.setattr(block, "trial_config", lambda *_: {**stored, "task": {"name": "no-such-task"}})
    with pytest.raises(ResultsError) as err:
        block.block_source(ref, "best")
    assert str(err.value).startswith(f"trial {number}: cannot rebuild task 'no-such-task' (")


TAMPERED_STEP = {  # ArchsearchBlock.forward wrapped: every output, or only unbatched calls, changed
    "outputs": "        return forward(self, x) + 0.5\n",
    "output shape": "        return forward(self, x)[..., :-1]\n",
    "unbatched outputs": "        return forward(self, x) + (0.5 if x.dim() == 2 else 0.0)\n",
}


def _check_step(results: Path, returns: str | None = None) -> int:
    """Run the self-check of the best "layers" trial's step 1 on its exported file, with
    ArchsearchBlock.forward's return line replaced by ``returns`` (None: the file as generated); the trial."""
    from archsearch.export.block import _verify, block_source
    from archsearch.train import build_model

    source, cfg, state = block_source(open_study("layers", results_dir=results), "best", step=1, check=False)
    if returns is not None:
        source += ("\n\nforward = ArchsearchBlock.forward\n\n\ndef _forward(self, x):\n" + returns
                   + "\n\nArchsearchBlock.forward = _forward\n")
    _, stored, m = _trial_config(results, "layers")
    task = make_task(stored["task"]["name"], **stored["task"]["options"])
    _verify(source, build_model(m, task).steps[1], state, cfg, task.sequence_length(), cfg["trial"])
    return cfg["trial"]


@pytest.mark.parametrize("fault", list(TAMPERED_STEP))
def test_the_numerical_check_refuses_a_step_that_does_not_reproduce(results, fault):
    """The exported step's self-check (exec, strict weights, batched and unbatched outputs against archsearch's
    step) passes the generated file and refuses one whose outputs, output shape or unbatched outputs differ."""
    from archsearch.export.source import ExportError

    number = _check_step(results)
    with pytest.raises(ExportError) as err:
        _check_step(results, TAMPERED_STEP[fault])
    assert str(err.value) == f"trial {number}: the exported block does not reproduce archsearch's Euler step"


def test_export_block_defaults_and_choices(results, tmp_path, monkeypatch):
    """export_block's defaults (the best trial's step 0 to ./block.py from ./results), another trial by number,
    ``storage`` passed on, and names that resolve to config.json refused (the file itself through a link, or
    the weights); nothing is written by a refusal."""
    from results_helpers import copy_study

    from archsearch.report import ResultsError
    from archsearch.search.errors import StorageError

    monkeypatch.chdir(tmp_path)
    copy_study(results, "layers", tmp_path / "results")
    written = export_block("layers")
    assert [p.name for p in written] == ["block.py", "config.json"]
    config = json.loads((tmp_path / "config.json").read_text())
    ref = open_study("layers", results_dir=results)
    best = best_trial(ref).number
    assert (config["trial"], config["step_index"]) == (best, 0)
    other = next(t.number for t in ref.study.trials if t.number != best and t.state.name == "COMPLETE")
    (tmp_path / "o").mkdir()
    export_block("layers", other, tmp_path / "o" / "b.py", step=1)
    assert json.loads((tmp_path / "o" / "config.json").read_text())["trial"] == other
    with pytest.raises(StorageError, match="unsupported storage URL 'bogus://x'"):
        export_block("layers", "best", tmp_path / "s.py", storage="bogus://x")
    (tmp_path / "l").mkdir()
    (tmp_path / "l" / "c.py").symlink_to(tmp_path / "l" / "config.json")
    (tmp_path / "l" / "w.pt").symlink_to(tmp_path / "l" / "config.json")
    for weights in (None, tmp_path / "l" / "w.pt"):
        out = tmp_path / "l" / ("c.py" if weights is None else "x.py")
        with pytest.raises(ResultsError) as err:
            export_block("layers", "best", out, weights)
        assert str(err.value) == "config.json is written beside the weights; name the files differently"
    assert sorted(p.name for p in (tmp_path / "l").iterdir()) == ["c.py", "w.pt"]


def test_docstring_reads_back_quotes_and_backslashes(results, monkeypatch):
    """A term description holding triple quotes or backslashes reads back from the docstring as written
    (triple double quotes shown as triple single quotes), and the file still parses; a term without an
    established name says so."""
    import archsearch.describe as describe
    from archsearch.export.block import block_source

    real = describe.describe_term

    def odd(term, **kw):
        return {**real(term, **kw), "name": None, "field": 'x """y""" at C:\\new\\table'}

    monkeypatch.setattr(describe, "describe_term", odd)
    source = block_source(open_study("causal", results_dir=results), "best", check=False)[0]
    lines = ast.get_docstring(ast.parse(source), clean=False).splitlines()
    assert "        F(X) = x '''y''' at C:\\new\\table" in lines
    assert any(line.startswith("    0-0: no established name  (block ") for line in lines)


def test_the_step_check_tolerates_differences_below_its_tolerance_and_leaves_the_random_state(results):
    """Outputs off by 5e-6 (below the check's 1e-5, absolute and relative) pass, batched and unbatched; exporting
    (the check builds a block and draws sample inputs) leaves torch's global random state as it was."""
    import torch

    from archsearch.export.block import block_source

    _check_step(results, "        return forward(self, x) + 5e-6\n")
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    block_source(open_study("layers", results_dir=results), "best", step=1)
    block_source(open_study("complex", results_dir=results), "best", step=0)
    assert torch.equal(torch.random.get_rng_state(), before)


@pytest.mark.parametrize("study, field", [("complex", "complex"), ("layers", "real")])
def test_docstring_describes_each_term_in_the_studys_field(results, monkeypatch, study, field):
    """Each term is described in the field the study searched (not the term's own default field), tied or
    untied as trained."""
    import archsearch.describe as describe
    from archsearch.export.block import block_source

    calls = []
    real = describe.describe_term

    def spy(term, **kw):
        calls.append(kw)
        return real(term, **kw)

    monkeypatch.setattr(describe, "describe_term", spy)
    _, cfg, _ = block_source(open_study(study, results_dir=results), "best", step=0, check=False)
    assert calls and all(kw["field"] == field and kw["untied"] is (not cfg["tied"]) for kw in calls)


def test_config_read_from_the_trial_files_when_the_journal_has_none(results):
    """A trial whose journal entry lacks the config attribute: block_source reads trials/<n>/config.json and
    exports the same step."""
    from archsearch.export.block import block_source

    src = open_study("layers", results_dir=results)
    ref = in_memory_copy(results, "layers", drop_config=True)
    best = best_trial(ref)
    assert "config" not in best.user_attrs
    assert block_source(ref, best, step=1)[:2] == block_source(src, best_trial(src), step=1)[:2]
