"""Export's contract with its users: the exact config.json and safetensors metadata, byte-identical repeats,
round-trips of both weight formats, and the refusals with their one-line messages."""

from __future__ import annotations

import ast
import json
import math
import os
import struct
from pathlib import Path
from typing import Any

import pytest
import torch
from results_helpers import copy_study, in_memory_copy, journal_config
from results_helpers import wrapped_header as _wrapped

import archsearch
from archsearch.export import ExportError, export_source, export_trial, model_config
from archsearch.report import ResultsError, open_study
from archsearch.tasks import make_task
from archsearch.train import ModelConfig, build_model

TOL = 1e-6
# what each study's objectives are called in the config (the study's settings: metric, flops)
OBJECTIVE_NAMES = {"multi": ["val mse", "forward FLOPs per example"], "causal": ["val accuracy"],
                   "layers": ["val mse"], "complex": ["val accuracy"]}
CONFIG_KEYS = ["format", "archsearch_version", "study", "trial", "objectives", "test_metric", "n_params", "flops",
               "terms", "model", "train", "task", "entry_points"]


def _trial(results: Path, study: str, number: int) -> Any:
    return [t for t in open_study(study, results_dir=results).study.trials if t.number == number][0]


def _expected_config(results: Path, study: str, number: int) -> dict[str, Any]:
    """The documented config of an exported trial, built from the journal without archsearch.export."""
    trial = _trial(results, study, number)
    stored, attrs = journal_config(trial), trial.user_attrs
    return {
        "format": "archsearch-model",
        "archsearch_version": archsearch.__version__,
        "study": study,
        "trial": number,
        "objectives": dict(zip(OBJECTIVE_NAMES[study], trial.values, strict=True)),
        "test_metric": attrs["test_metric"],
        "n_params": attrs["n_params"],
        "flops": attrs["flops"],
        "terms": stored["model"]["terms"],
        "model": stored["model"],
        "train": stored["train"],
        "task": {"name": stored["task"]["name"], "options": stored["task"]["options"]},
        "entry_points": {"build_model": "fresh parameters",
                         "load_model": "weights_path (default: the exported weights beside the file)"},
    }


def _raw_safetensors_header(path: Path) -> bytes:
    """The header of a .safetensors file as stored (8-byte little-endian length, then JSON padded with spaces)."""
    data = path.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    return data[8:8 + length]


def _safetensors_header(path: Path) -> dict[str, Any]:
    """The JSON header of a .safetensors file, read from its bytes."""
    return json.loads(_raw_safetensors_header(path))


def _load_exported(path: Path) -> dict[str, Any]:
    namespace = {"__name__": "exported", "__file__": str(path)}
    exec(compile(path.read_text(), str(path), "exec"), namespace)  # noqa: S102 - the file under test
    return namespace


def _library_model(results: Path, study: str, number: int):
    """archsearch's own model of a trial with its saved weights (strict), and sample inputs of its task."""
    from safetensors.torch import load_file

    stored = journal_config(_trial(results, study, number))
    task = make_task(stored["task"]["name"], **stored["task"]["options"])
    model = build_model(ModelConfig.from_dict(stored["model"]), task)
    weights = results / study / "trials" / str(number) / "model.safetensors"
    model.load_state_dict(load_file(str(weights)), strict=True)
    return model.eval(), task.generate(3, torch.Generator().manual_seed(7))["inputs"]


def _header(source: str) -> list[str]:
    """The exported file's docstring, as lines (read back by ast: the text a reader sees)."""
    return ast.get_docstring(ast.parse(source), clean=False).splitlines()


def _term_lines(results: Path, study: str, number: int, edit=None) -> list[str]:
    """The header's lines on each term (of the trial's config, or of ``edit(config)``): key, name, block class and
    cost, V(X) and F(X) (from archsearch's compiler and describe_term)."""
    from archsearch.describe import describe_term
    from archsearch.train import compile_blocks

    stored = (edit or (lambda c: c))(journal_config(_trial(results, study, number)))
    model_cfg = ModelConfig.from_dict(stored["model"])
    task = make_task(stored["task"]["name"], **stored["task"]["options"])
    lines = []
    for cb in compile_blocks(model_cfg, task):
        desc = describe_term(cb.term, field=model_cfg.field, untied=not model_cfg.tied)
        name = desc["name"] or "no established name"
        lines += [f"    {cb.term.key}: {name}  (block {cb.class_name}, cost {cb.cost})",
                  f"        V(X) = {desc['potential']}", f"        F(X) = {desc['field']}"]
    return lines


def test_config_json_and_metadata_are_the_documented_config(results, tmp_path):
    """config.json (2-space JSON, keys in the documented order, a final newline) and the safetensors metadata
    (exactly {"format": "pt", "archsearch_config": the same config as JSON with sorted keys}) hold the config."""
    export_trial("multi", 4, tmp_path / "w.py", tmp_path / "w.safetensors", results_dir=results)
    expected = _expected_config(results, "multi", 4)
    text = (tmp_path / "config.json").read_text()
    config = json.loads(text)
    assert config == expected
    assert list(config) == CONFIG_KEYS
    assert text == json.dumps(config, indent=2) + "\n"
    header = _safetensors_header(tmp_path / "w.safetensors")
    assert header["__metadata__"] == {"format": "pt", "archsearch_config": json.dumps(expected, sort_keys=True)}
    assert model_config(open_study("multi", results_dir=results), _trial(results, "multi", 4)) == expected


def test_config_of_a_single_objective_trial_with_pt_weights(results, tmp_path):
    """A single-objective study (val accuracy, maximised) exported with .pt weights: config.json is the documented
    config, and the .pt file is exactly the trial's tensors as a plain state_dict (torch.load, weights_only)."""
    from safetensors.torch import load_file

    export_trial("causal", 2, tmp_path / "w.py", tmp_path / "w.pt", results_dir=results)
    assert json.loads((tmp_path / "config.json").read_text()) == _expected_config(results, "causal", 2)
    stored = load_file(str(results / "causal" / "trials" / "2" / "model.safetensors"))
    written = torch.load(tmp_path / "w.pt", weights_only=True)
    assert list(written) == list(stored) and all(torch.equal(written[k], stored[k]) for k in stored)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "w.pt", "w.py"]


def test_exporting_twice_gives_identical_files(results, tmp_path):
    """The same export, repeated into directories of the same layout, writes byte-identical code, config.json and
    weights — .safetensors included: its header's keys sorted (safetensors itself writes its metadata in a random
    order, so five repeats would differ in bytes with probability 1 − 2⁻⁴ otherwise)."""
    for suffix, repeats in ((".safetensors", 5), (".pt", 2)):
        folders = [tmp_path / f"{k}{suffix}" for k in range(repeats)]
        for folder in folders:
            (folder / "weights").mkdir(parents=True)
            export_trial("layers", 5, folder / "w.py", folder / "weights" / f"w{suffix}", results_dir=results)
        for name in ["w.py", "weights/config.json", f"weights/w{suffix}"]:
            assert len({(folder / name).read_bytes() for folder in folders}) == 1, name
    raw = _raw_safetensors_header(tmp_path / "0.safetensors" / "weights" / "w.safetensors")
    text = raw.decode().rstrip(" ")
    assert len(raw) % 8 == 0 and text == json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))


def test_config_from_the_trial_files_when_the_journal_has_none(results, tmp_path):
    """A trial without the journal's config attribute exports from its trials/<n>/config.json: the same config
    (config.json equal as JSON; the safetensors metadata string, its keys sorted, and the tensors identical)."""
    ref = in_memory_copy(results, "multi", drop_config=True)
    assert "config" not in ref.study.trials[4].user_attrs
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    export_trial(ref, 4, tmp_path / "a" / "w.py", tmp_path / "a" / "w.safetensors")
    export_trial("multi", 4, tmp_path / "b" / "w.py", tmp_path / "b" / "w.safetensors", results_dir=results)
    assert json.loads((tmp_path / "a" / "config.json").read_text()) == _expected_config(results, "multi", 4)
    assert (tmp_path / "a" / "w.safetensors").read_bytes() == (tmp_path / "b" / "w.safetensors").read_bytes()
    assert model_config(ref, ref.study.trials[4]) == _expected_config(results, "multi", 4)


@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_weights_elsewhere_round_trip(results, tmp_path, suffix):
    """Weights in another directory: config.json lands beside them, WEIGHTS is their path relative to the file,
    and load_model() (run from elsewhere) gives archsearch's outputs with the trial's weights."""
    (tmp_path / "code").mkdir()
    (tmp_path / "store").mkdir()
    out = export_trial("multi", 4, tmp_path / "code" / "w.py", tmp_path / "store" / f"m{suffix}", results_dir=results)
    assert out == tmp_path / "code" / "w.py"
    assert sorted(p.name for p in (tmp_path / "store").iterdir()) == ["config.json", f"m{suffix}"]
    assert sorted(p.name for p in (tmp_path / "code").iterdir()) == ["w.py"]
    namespace = _load_exported(out)
    assert namespace["WEIGHTS"] == f"../store/m{suffix}"
    assert namespace["STUDY"] == "multi" and namespace["TRIAL"] == 4
    model, inputs = _library_model(results, "multi", 4)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        exported = namespace["load_model"]()
    finally:
        os.chdir(cwd)
    with torch.no_grad():
        assert (exported(inputs) - model(inputs)).abs().max().item() <= TOL
    assert list(exported.state_dict()) == list(model.state_dict())


def test_exported_constants_are_the_trial_config(results, tmp_path):
    """The exported file's constants repeat the trial's configuration (study, trial, task, model settings)."""
    out = export_trial("complex", 0, tmp_path / "c.py", tmp_path / "c.safetensors", results_dir=results)
    namespace = _load_exported(out)
    stored = journal_config(_trial(results, "complex", 0))
    model = stored["model"]
    assert namespace["STUDY"] == "complex" and namespace["TRIAL"] == 0 and namespace["WEIGHTS"] == "c.safetensors"
    assert namespace["TASK"] == {"name": stored["task"]["name"], "options": stored["task"]["options"]}
    assert namespace["MODEL_CONFIG"] == ModelConfig.from_dict(model).to_dict()
    got = {k: namespace[k.upper()] for k in ("width", "depth", "step", "scheme", "norm", "rank", "heads", "seed")}
    assert got == {k: model[k] for k in got}
    assert (got["scheme"], got["norm"], got["depth"]) == ("split", "rms", 2)
    assert "the search started trial 0 from (seed SEED)" in namespace["build_model"].__doc__
    assert "Embedding and readout of the task 'set-duplicate' (archsearch.tasks.modules, verbatim)" in out.read_text()


def test_selection_is_named_in_the_header(results, tmp_path):
    """The header says how the trial was chosen: "best" (single objective; export_source's default) or by number,
    for export_trial and export_source alike."""
    from archsearch.report.studies import best_trial

    best = best_trial(open_study("causal", results_dir=results)).number
    other = min({0, 1} - {best})
    chosen = f"Trial {best}, selected as the best trial. Objectives: val accuracy (maximize)."
    assert chosen in export_trial("causal", "best", tmp_path / "b.py", results_dir=results).read_text()
    assert (f"Trial {best}, selected by number. Objectives: val accuracy (maximize)."
            in export_trial("causal", str(best), tmp_path / "n.py", results_dir=results).read_text())
    for source, state in (export_source("causal", "best", results_dir=results),
                          export_source("causal", results_dir=results)):
        assert chosen in _header(source) and state is not None
    source, _ = export_source("causal", best, results_dir=results)
    assert f"\nTrial {best}, selected by number." in source
    source, _ = export_source("causal", other, results_dir=results)
    assert f"\nTrial {other}, selected by number." in source and f"\nTRIAL = {other}\n" in source


def test_path_refusals_write_nothing(results, tmp_path):
    """Output names are checked before anything is read or written, each with its one-line message."""
    cases = [
        (tmp_path / "w.txt", None, "the exported file must end in .py, not 'w.txt'"),
        (tmp_path / "w.py", tmp_path / "w.bin", "--weights must end in .safetensors, .pt, .pth, not 'w.bin'"),
        (tmp_path / "w.py", tmp_path / "w", "--weights must end in .safetensors, .pt, .pth, not 'w'"),
    ]
    for out_py, weights, message in cases:
        with pytest.raises(ResultsError) as err:
            export_trial("multi", "best", out_py, weights, results_dir=results)
        assert str(err.value) == message
    assert list(tmp_path.iterdir()) == []


def test_paths_that_resolve_to_one_file_are_refused(results, tmp_path):
    """Names that resolve (through links) to the same file are refused: the weights and the exported file, and
    config.json and either of them; nothing is written."""
    (tmp_path / "w.safetensors").symlink_to(tmp_path / "w.py")
    with pytest.raises(ResultsError) as err:
        export_trial("multi", "best", tmp_path / "w.py", tmp_path / "w.safetensors", results_dir=results)
    assert str(err.value) == "--weights and the exported file must differ"
    (tmp_path / "c.py").symlink_to(tmp_path / "config.json")
    with pytest.raises(ResultsError) as err:
        export_trial("multi", "best", tmp_path / "c.py", results_dir=results)
    assert str(err.value) == "config.json is written beside the weights; name the files differently"
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.pt").symlink_to(tmp_path / "sub" / "config.json")
    with pytest.raises(ResultsError) as err:
        export_trial("multi", "best", tmp_path / "x.py", tmp_path / "sub" / "c.pt", results_dir=results)
    assert str(err.value) == "config.json is written beside the weights; name the files differently"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.py", "sub", "w.safetensors"]
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["c.pt"]


def _misfit(results: Path, tmp_path: Path, change) -> str:
    """The one-line ExportError of exporting trial 4 of a copy of "multi" whose weights ``change(state)`` edited;
    nothing is written."""
    from safetensors.torch import load_file, save_file

    copy = copy_study(results, "multi", tmp_path / "copy")
    weights = copy / "multi" / "trials" / "4" / "model.safetensors"
    state = load_file(str(weights))
    change(state)
    save_file(state, str(weights))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ExportError) as err:
        export_trial("multi", 4, out / "w.py", out / "w.safetensors", results_dir=copy)
    assert list(out.iterdir()) == []
    return str(err.value)


def test_weights_that_do_not_fit_are_refused(results, tmp_path):
    """A trial whose weights file lacks a tensor: ExportError naming the missing key; nothing is written."""
    message = _misfit(results, tmp_path, lambda state: state.pop("steps.1.norms.0.weight"))
    # (torch's message: its second line, without the tab that starts it)
    assert message == ('trial 4: the weights do not fit the exported model (Missing key(s) in state_dict: '
                       '"steps.1.norms.0.weight".)')


def test_weights_that_do_not_fit_name_the_first_two_problems(results, tmp_path):
    """A renamed tensor and a resized one: the message names the missing and the unexpected key (torch's first
    two problems), not the size mismatch that follows."""
    def change(state):
        state["renamed.weight"] = state.pop("norm.weight")
        state["norm.bias"] = torch.zeros(9)

    message = _misfit(results, tmp_path, change)
    assert message == ('trial 4: the weights do not fit the exported model (Missing key(s) in state_dict: '
                       '"norm.weight". Unexpected key(s) in state_dict: "renamed.weight".)')


@pytest.mark.parametrize("bad", [math.nan, math.inf], ids=["nan", "inf"])
def test_weights_that_are_not_finite_are_refused(results, tmp_path, bad):
    """A diverged trial's weights (one NaN or inf entry): refused by name, not as outputs that differ by nan."""
    def change(state):
        state["norm.weight"][3] = bad

    message = _misfit(results, tmp_path, change)
    assert message == ("trial 4: weight 'norm.weight' is not finite (NaN or inf): the trial diverged; "
                       "export another trial")


def _error(call) -> str:
    try:
        call()
    except (KeyError, TypeError, ValueError) as err:
        return err.args[0]
    raise AssertionError("no error")


@pytest.mark.parametrize("edit, why", [
    (lambda c: {**c, "task": {"options": {}}}, "the config's task section lacks the task name"),
    (lambda c: {**c, "task": "icl-regression"}, "the config's task section lacks the task name"),
    (lambda c: {**c, "task": {"name": "no-such-task"}},
     "cannot rebuild task 'no-such-task' ({})".format(_error(lambda: make_task("no-such-task")))),
    (lambda c: {**c, "task": {"name": "icl-regression", "options": {"colour": 1}}},
     "cannot rebuild task 'icl-regression' ({})".format(_error(lambda: make_task("icl-regression", colour=1)))),
    (lambda c: {**c, "model": {**c["model"], "terms": ["0-0", "0-0"], "layers": None}},
     "two terms compile to one class name"),
    (lambda c: {**c, "model": {**c["model"], "width": "wide"}},
     "invalid model config ({})".format(_error(lambda: ModelConfig.from_dict({"terms": ["0-0"], "width": "wide"})))),
])
def test_unusable_trial_configs_are_refused(results, tmp_path, edit, why):
    """A trial config that names no task, an unknown task or bad options, or an invalid model: a one-line
    ResultsError naming the trial (the task's own message, unquoted); nothing is written."""
    ref = in_memory_copy(results, "multi", edit=edit)
    with pytest.raises(ResultsError) as err:
        export_trial(ref, 4, tmp_path / "w.py", tmp_path / "w.safetensors")
    assert str(err.value) == f"trial 4: {why}"
    assert list(tmp_path.iterdir()) == []


def test_storage_is_the_one_given(results, tmp_path):
    """export_trial opens the study in the storage it is given: an unsupported storage URL is refused (the
    storage's one-line message) and nothing is written."""
    from archsearch.search.errors import StorageError

    with pytest.raises(StorageError, match=r"^unsupported storage URL 'mysql://nowhere/x': the 'mysql' scheme"):
        export_trial("causal", "best", tmp_path / "w.py", tmp_path / "w.pt", storage="mysql://nowhere/x",
                     results_dir=results)
    with pytest.raises(StorageError, match=r"^unsupported storage URL 'mysql://nowhere/x': the 'mysql' scheme"):
        export_source("causal", "best", storage="mysql://nowhere/x", results_dir=results)
    assert list(tmp_path.iterdir()) == []


def test_header_of_a_causal_trial_in_full(results, tmp_path):
    """The exported file's docstring, line by line, for the best trial of a causal single-objective study with
    its weights: what it is, how it was chosen and scored, the task, the terms, the model and how to use it."""
    from archsearch.report.studies import best_trial

    number = best_trial(open_study("causal", results_dir=results)).number
    trial = _trial(results, "causal", number)
    attrs, model = trial.user_attrs, journal_config(trial)["model"]
    task = make_task("mqar", vocab=16, seq_len=8, num_kv=2, eval_size=16)
    task_doc = "    " + type(task).__doc__.strip().splitlines()[0]
    assert len(task_doc) <= 100
    flops = f"{attrs['flops'] / 1e3:.3g}k" if attrs["flops"] >= 1e3 else str(attrs["flops"])
    expected = _wrapped([
        f"Trial {number} of the archsearch study 'causal', exported as standalone PyTorch code.",
        "",
        "Only torch is imported (safetensors too, inside load_model, for .safetensors weights). The term blocks are",
        "the code that ran in the search, verbatim; the embedding, readout and model classes are archsearch's own.",
        "Where archsearch.compiler.kernels can be imported (archsearch installed), the blocks use its kernels "
        "(Triton on CUDA); otherwise their pure-torch fallbacks in this file run.",
        "",
        f"Trial {number}, selected as the best trial. Objectives: val accuracy (maximize).",
        f"    val accuracy = {trial.values[0]}",
        f"    test accuracy = {attrs['test_metric']:.6g}; parameters {attrs['n_params']}; forward FLOPs per example "
        f"{flops}; trained in {attrs['wall_time']:.4g} s on cpu",
        "",
        "Task: mqar(eval_size=16, num_kv=2, seq_len=8, vocab=16); metric accuracy (maximize); causal.",
        task_doc,
        "",
        "Terms (real field, untied (one parameter set per branch); every Euler step applies all of them):",
        *_term_lines(results, "causal", number),
        "",
        "Model:",
        "    X = TokenEmbedding(vocab=16, d_model=8, max_len=8)(inputs)",
        f"    {model['depth']} Euler step(s), each with its own parameters: X <- X + h Σ F_i(norm(X)), h = 0.5 "
        "(parallel scheme, layer norm)",
        "    pred = TokenReadout(d_model=8, vocab=16)(norm(X))",
        f"    width C = 8, rank C_A = {model['rank']}, heads H = 2, seed 0",
        "",
        "Usage:",
        "    model = load_model()                      # the weights in w.safetensors, beside this file",
        '    model = load_model("path/to/weights.safetensors")   # or a .pt state_dict',
        "    pred = model(inputs)                      # inputs as the task's batch['inputs']",
        "    model = build_model()                     # fresh parameters (the search's initialisation)",
        "",
        f"Exported by archsearch {archsearch.__version__}.",
    ])
    out = export_trial("causal", "best", tmp_path / "w.py", tmp_path / "w.safetensors", results_dir=results)
    source = out.read_text()
    assert source.startswith('"""' + "\n".join(expected) + '\n"""\n\n')
    assert _header(source) == expected
    assert all(len(line) <= 110 for line in expected)


def test_header_of_other_models(results):
    """The header's wording for a complex split-scheme model (no weights), a term set per Euler step, a repeated
    trial of a two-objective study, and its Pareto-front best."""
    complex_doc = _header(export_source("complex", 0, results_dir=results)[0])
    for block in (["Trial 0, selected by number. Objectives: val accuracy (maximize)."],
                  ["Task: set-duplicate(eval_size=16, set_size=5, vocab=12); metric accuracy (maximize)."],
                  ["Terms (complex field, untied (one parameter set per branch); every Euler step applies all of "
                   "them):", *_term_lines(results, "complex", 0)],
                  ["    2 Euler step(s), each with its own parameters: for each term i in turn: X <- X - i h "
                   "F_i(norm(X)), h = 0.5 (split scheme, rms norm)"],
                  ["Usage:", '    model = load_model("path/to/weights.safetensors")   # or a .pt state_dict']):
        assert _contains(complex_doc, _wrapped(block)), block
    assert not any(line.startswith("Where ") for line in complex_doc)  # no optional kernels in these blocks

    layers = _trial(results, "layers", 5)
    steps = "; ".join(f"step {i + 1}: {' + '.join(keys)}" for i, keys in enumerate(layers.user_attrs["layers"]))
    layers_doc = _header(export_source("layers", 5, results_dir=results)[0])
    assert layers_doc[0] == "Trial 5 of the archsearch study 'layers', exported as standalone PyTorch code."
    assert _contains(layers_doc, _wrapped(["", f"Terms (real field, untied (one parameter set per branch); each Euler "
                                           f"step its own: {steps}):", *_term_lines(results, "layers", 5)]))

    repeat = _trial(results, "multi", 2)
    attrs = repeat.user_attrs
    multi_doc = _header(export_source("multi", 2, results_dir=results)[0])
    flops = f"{repeat.values[1] / 1e3:.3g}k"
    assert _contains(multi_doc, _wrapped([
        "Trial 2, selected by number. Objectives: val mse (minimize), forward FLOPs per example (minimize).",
        f"    val mse = {repeat.values[0]}; forward FLOPs per example = {flops}",
        f"    test mse = {attrs['test_metric']:.6g}; parameters {attrs['n_params']}; trained in "
        f"{attrs['wall_time']:.4g} s on cpu",
        f"    (a repeat of trial {attrs['duplicate_of']}: its result and weights were reused)",
        "",
        "Task: icl-regression(d=3, eval_size=16, n=5); metric mse (minimize).",
        "    In-context linear regression; batch: inputs (B, n+1, d+1) float, targets (B,) float.",
    ]))
    best_doc = _header(export_source("multi", "best", results_dir=results)[0])
    number = int(best_doc[0].split()[1])
    assert _contains(best_doc, _wrapped([f"Trial {number}, selected as the best: the first trial of the Pareto "
                                         "front by the first objective. Objectives: val mse (minimize), forward "
                                         "FLOPs per example (minimize)."]))


def _contains(lines: list[str], block: list[str]) -> bool:
    return any(lines[i:i + len(block)] == block for i in range(len(lines) - len(block) + 1))


def test_header_of_edited_configs(results):
    """Tied weights, no norm, full rank, a parameter-count objective and a trial without test metric, wall time
    or device: the header's wording for each (export_source without the numerical check)."""
    def tied(config):
        return {**config, "model": {**config["model"], "tied": True, "norm": "none", "rank": None, "step": 0.25}}

    def bare(attrs):
        return {k: v for k, v in attrs.items() if k not in ("test_metric", "wall_time", "device")}

    ref = in_memory_copy(results, "multi", edit=tied, attrs=bare, objectives=["metric", "params"])
    trial = ref.study.trials[4]
    doc = _header(export_source(ref, trial, check=False)[0])
    assert _contains(doc, _wrapped([
        "Trial 4, selected by number. Objectives: val mse (minimize), parameters (minimize).",
        f"    val mse = {trial.values[0]}; parameters = {trial.values[1] / 1e3:.3g}k",
        f"    forward FLOPs per example {trial.user_attrs['flops'] / 1e3:.3g}k",
    ]))
    assert _contains(doc, ["", "Terms (real field, tied (exact gradients of V); every Euler step applies all of "
                           "them):"])
    assert _contains(doc, _wrapped(["    2 Euler step(s), each with its own parameters: X <- X + h Σ F_i(X), "
                                    "h = 0.25 (parallel scheme, none norm)"]))
    assert "    width C = 8, rank C_A = full, heads H = 1, seed 0" in doc

    def wall_only(attrs):
        return {"wall_time": 2, "duplicate_of": None}

    ref = in_memory_copy(results, "causal", attrs=wall_only)
    doc = _header(export_source(ref, ref.study.trials[3], check=False)[0])
    assert _contains(doc, ["Trial 3, selected by number. Objectives: val accuracy (maximize).",
                           f"    val accuracy = {ref.study.trials[3].values[0]}", "    trained in 2 s on ?", ""])
    def unnamed(config):
        return {**config, "model": {**config["model"], "terms": ["0-0.1-1"], "layers": None}}

    ref = in_memory_copy(results, "multi", edit=unnamed)
    doc = _header(export_source(ref, ref.study.trials[4], check=False)[0])
    lines = _term_lines(results, "multi", 4, unnamed)
    assert lines[0].startswith("    0-0.1-1: no established name  (block ")
    assert _contains(doc, _wrapped(["Terms (real field, untied (one parameter set per branch); every Euler step "
                                    "applies all of them):", *lines, "", "Model:"]))

    def real_terms_no_norm(config):
        return {**config, "model": {**config["model"], "terms": ["0-0"], "norm": "none"}}

    ref = in_memory_copy(results, "complex", edit=real_terms_no_norm)
    doc = _header(export_source(ref, ref.study.trials[0], check=False)[0])
    lines = _term_lines(results, "complex", 0, real_terms_no_norm)
    assert _contains(doc, _wrapped(["Terms (complex field, untied (one parameter set per branch); every Euler step "
                                    "applies all of them):", *lines, ""]))
    assert _contains(doc, _wrapped(["    2 Euler step(s), each with its own parameters: for each term i in turn: "
                                    "X <- X - i h F_i(X), h = 0.5 (split scheme, none norm)"]))

    ref = in_memory_copy(results, "multi", attrs=lambda attrs: {})
    values = ref.study.trials[4].values
    doc = _header(export_source(ref, ref.study.trials[4], check=False)[0])
    assert _contains(doc, ["Trial 4, selected by number. Objectives: val mse (minimize), forward FLOPs per example "
                           "(minimize).", f"    val mse = {values[0]}; forward FLOPs per example = "
                           f"{values[1] / 1e3:.3g}k", ""])


def test_defaults_export_the_best_trial_to_winner_py(results, tmp_path, monkeypatch):
    """With only a study given, export_trial reads it under ./results and writes the best trial to winner.py (and
    config.json) in the current directory, without weights, and returns that path."""
    from archsearch.report.studies import best_trial

    number = best_trial(open_study("causal", results_dir=results)).number
    (tmp_path / "results").symlink_to(results, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    out = export_trial("causal")
    assert out == Path("winner.py")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "results", "winner.py"]
    assert f"\nTrial {number}, selected as the best trial. " in "\n".join(_header(out.read_text()))
    assert _load_exported(tmp_path / "winner.py")["WEIGHTS"] is None
    assert export_source("causal")[0] == out.read_text()  # export_source reads ./results too


@pytest.mark.parametrize("doc, lines", [
    (None, []),
    ("   ", []),
    ("x" * 95 + " y z\n\nMore text.", ["    " + "x" * 95, "    y z"]),
])
def test_header_task_description(results, monkeypatch, doc, lines):
    """The task class's docstring gives the header its first line, wrapped at 100 characters and indented
    4 spaces, or nothing when it has none."""
    task_class = type(make_task("mqar", vocab=16, seq_len=8, num_kv=2, eval_size=16))
    monkeypatch.setattr(task_class, "__doc__", doc)
    header = _header(export_source("causal", 0, results_dir=results, check=False)[0])
    start = header.index("Task: mqar(eval_size=16, num_kv=2, seq_len=8, vocab=16); metric accuracy (maximize); causal.")
    assert header[start + 1:start + 2 + len(lines)] == [*lines, ""]


def test_header_reads_back_text_with_quotes_and_backslashes(results):
    """Text from the study that holds triple quotes or backslashes (here the device name) reads back from the
    header as written (triple double quotes shown as triple single quotes), and the file still parses."""
    device = 'gpu """0""" at C:\\new\\table'
    ref = in_memory_copy(results, "causal", attrs=lambda attrs: {"wall_time": 2, "device": device})
    source = export_source(ref, ref.study.trials[3], check=False)[0]
    assert "    trained in 2 s on gpu '''0''' at C:\\new\\table" in _header(source)


def test_header_wraps_lines_over_110_characters(results):
    """A header line of 111 characters is wrapped at 110 (continued 4 spaces deeper); one of 110 is kept."""
    for device, lines in [("gpu " * 22 + "g", ["    trained in 2 s on" + " gpu" * 22, "        g"]),
                          ("gpu " * 21 + "gpu1", ["    trained in 2 s on" + " gpu" * 21 + " gpu1"])]:
        assert len(lines[0]) <= 110
        ref = in_memory_copy(results, "causal", attrs=lambda attrs, device=device: {"wall_time": 2, "device": device})
        doc = _header(export_source(ref, ref.study.trials[3], check=False)[0])
        assert _contains(doc, [f"    val accuracy = {ref.study.trials[3].values[0]}", *lines, ""]), device


def test_export_leaves_the_global_random_state_alone(results, tmp_path):
    """Exporting (with its numerical check on sample inputs) leaves torch's global random state as it was."""
    torch.manual_seed(123)
    before = torch.get_rng_state()
    export_trial("causal", 0, tmp_path / "w.py", tmp_path / "w.pt", results_dir=results)
    export_source("complex", 0, results_dir=results)
    assert torch.equal(torch.get_rng_state(), before)


# a tampered exported file: build_model() wrapped so that the check against archsearch's model must fail
TAMPERED = {
    "initial parameters": "    next(iter(model.parameters())).data.add_(1.0)\n    return model\n",
    "outputs": ("    forward = model.forward\n    model.forward = lambda inputs: forward(inputs) + 0.5\n"
                "    return model\n"),
    "output shape": ("    forward = model.forward\n    model.forward = lambda inputs: forward(inputs)[..., :-1]\n"
                     "    return model\n"),
}


def _check_model(results: Path, body: str | None = None, with_weights: bool = True) -> None:
    """Run the self-check of trial 4 of "multi" on its exported file, build_model() wrapped by ``body`` (the
    lines after ``model = _build_model()``; None: the file as generated), with the trial's weights or fresh."""
    from archsearch.export import _verify
    from archsearch.train import compile_blocks

    source, state = export_source("multi", 4, results_dir=results, check=False)
    if body is not None:
        source += "\n\n_build_model = build_model\n\n\ndef build_model():\n    model = _build_model()\n" + body
    stored = journal_config(_trial(results, "multi", 4))
    task = make_task(stored["task"]["name"], **stored["task"]["options"])
    cfg = ModelConfig.from_dict(stored["model"])
    _verify(source, build_model(cfg, task, compile_blocks(cfg, task)), state if with_weights else None, task, 4)


@pytest.mark.parametrize("fault", list(TAMPERED))
@pytest.mark.parametrize("with_weights", [True, False], ids=["weights", "fresh"])
def test_the_numerical_check_refuses_a_source_that_does_not_reproduce(results, fault, with_weights):
    """The self-check of an exported file (exec it, load the weights strictly, compare outputs with archsearch's
    model) refuses a build_model() whose fresh parameters differ (checked without weights only), whose
    outputs differ (by 0.5: the message says so) or whose output shape differs."""
    _check_model(results, with_weights=with_weights)
    if fault == "initial parameters" and with_weights:  # the trial's weights replace the fresh ones: it passes
        _check_model(results, TAMPERED[fault])
        return
    with pytest.raises(ExportError) as err:
        _check_model(results, TAMPERED[fault], with_weights)
    message = str(err.value)
    if fault == "initial parameters":
        assert message == "trial 4: the exported build_model() does not reproduce archsearch's initial parameters"
    elif fault == "outputs":
        prefix = "trial 4: the exported model does not reproduce archsearch's outputs (max |difference| "
        assert message.startswith(prefix) and message.endswith(")")
        assert float(message[len(prefix):-1]) == pytest.approx(0.5, abs=1e-6)
    else:
        assert message == "trial 4: the exported model does not reproduce archsearch's outputs (max |difference| shape)"


def test_the_numerical_check_tolerates_differences_below_its_tolerance(results):
    """Outputs off by 5e-6 (below the check's 1e-5, absolute and relative) pass the exported model's check."""
    _check_model(results, "    forward = model.forward\n    model.forward = lambda inputs: forward(inputs) + 5e-6\n"
                          "    return model\n")
