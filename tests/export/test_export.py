"""Export: one standalone file (+ weights) that reproduces the study's model without archsearch."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest
import torch
from results_helpers import REAL_DATA_STUDIES, STUDIES, build_studies, journal_bytes
from train_helpers import check_euler_step  # tests/train, put on sys.path by tests/conftest.py

from archsearch.export import ExportError, export_source, export_trial
from archsearch.export.source import check_sections, check_standalone
from archsearch.report import ResultsError, open_study
from archsearch.report.studies import best_trial, complete_trials, trial_config
from archsearch.tasks import make_task
from archsearch.train import ModelConfig, build_model

TOL = 1e-6


def _trained_model(results: Path, study: str, number: int):
    """archsearch's own model of a trial with its saved weights (strict), and its task."""
    from safetensors.torch import load_file

    ref = open_study(study, results_dir=results)
    trial = [t for t in ref.study.trials if t.number == number][0]
    config = trial_config(ref, trial)
    task = make_task(config["task"]["name"], **config["task"]["options"])
    model = build_model(ModelConfig.from_dict(config["model"]), task)
    model.load_state_dict(load_file(str(ref.trial_dir(number) / "model.safetensors")), strict=True)
    return model.eval(), task


def _distinct_trials(results: Path, studies: Iterable[str] = STUDIES) -> list[tuple[str, int]]:
    out = []
    for study in studies:
        for t in complete_trials(open_study(study, results_dir=results)):
            if t.user_attrs.get("duplicate_of") is None:
                out.append((study, t.number))
    return out


def _site_dirs() -> list[str]:
    import safetensors

    return sorted({str(Path(module.__file__).resolve().parents[1]) for module in (torch, safetensors)})


RUNNER = """
import importlib, json, sys
sys.path[:0] = {sites!r}
try:
    import archsearch  # noqa: F401
    importable = True
except ImportError:
    importable = False
sys.path.insert(0, {here!r})
import torch
cases = torch.load("cases.pt", weights_only=True)
out = {{"archsearch_importable": importable, "cases": {{}}}}
for name, case in sorted(cases.items()):
    module = importlib.import_module(name)
    model = module.load_model()
    with torch.no_grad():
        got = model(case["inputs"])
    fresh = module.build_model().state_dict()
    out["cases"][name] = {{
        "shape_ok": tuple(got.shape) == tuple(case["expected"].shape),
        "max_diff": float((got - case["expected"]).abs().max()),
        "keys": sorted(model.state_dict()),
        "init_equal": all(torch.equal(fresh[k], case["init"][k]) for k in case["init"]) and
                      sorted(fresh) == sorted(case["init"]),
    }}
out["archsearch_loaded"] = any(m.split(".")[0] == "archsearch" for m in sys.modules)
print(json.dumps(out))
"""


def _check_in_fresh_interpreter(results: Path, trials: list[tuple[str, int]], tmp_path: Path) -> None:
    """Export every trial, then run the files in a fresh interpreter in which archsearch cannot be imported:
    outputs match archsearch's in-process model to 1e-6, state_dict keys match exactly, and build_model()
    reproduces archsearch's initial parameters."""
    cases = {}
    for i, (study, number) in enumerate(trials):
        name = f"winner_{study}_{number}"
        weights = tmp_path / (f"{name}.pt" if i % 2 else f"{name}.safetensors")  # both formats
        export_trial(study, number, tmp_path / f"{name}.py", weights, results_dir=results)
        model, task = _trained_model(results, study, number)
        inputs = task.generate(3, torch.Generator().manual_seed(1234))["inputs"]
        with torch.no_grad():
            expected = model(inputs)
        config = trial_config(open_study(study, results_dir=results),
                              [t for t in open_study(study, results_dir=results).study.trials if t.number == number][0])
        init = build_model(ModelConfig.from_dict(config["model"]), task).state_dict()
        cases[name] = {"inputs": inputs, "expected": expected, "init": init, "keys": sorted(model.state_dict())}
    torch.save({k: {"inputs": v["inputs"], "expected": v["expected"], "init": v["init"]} for k, v in cases.items()},
               tmp_path / "cases.pt")
    (tmp_path / "runner.py").write_text(RUNNER.format(sites=_site_dirs(), here=str(tmp_path)))
    proc = subprocess.run([sys.executable, "-I", "-S", "runner.py"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["archsearch_importable"] is False
    assert out["archsearch_loaded"] is False
    for name, case in cases.items():
        got = out["cases"][name]
        assert got["shape_ok"], name
        assert got["max_diff"] <= TOL, (name, got["max_diff"])
        assert got["keys"] == case["keys"], name
        assert got["init_equal"], name


def test_fresh_interpreter_reproduces_every_trial(results, tmp_path):
    """Every distinct COMPLETE trial of the three studies (real and complex fields, causal and not, parallel and
    split, linear/softmax/entrywise attention) reproduces in a fresh interpreter without archsearch."""
    before = {s: journal_bytes(results, s) for s in STUDIES}
    trials = _distinct_trials(results)
    assert len(trials) >= 6
    _check_in_fresh_interpreter(results, trials, tmp_path)
    assert {s: journal_bytes(results, s) for s in STUDIES} == before  # export only reads the study


def test_real_data_tasks_export(tmp_path):
    """digits (patch tokens with positions, mean-pool readout) and the stdlib byte corpus (causal, softmax
    attention among the terms) export and reproduce in a fresh interpreter too."""
    results = build_studies(tmp_path / "results", REAL_DATA_STUDIES)
    trials = _distinct_trials(results, REAL_DATA_STUDIES)
    assert {study for study, _ in trials} == set(REAL_DATA_STUDIES)
    _check_in_fresh_interpreter(results, trials, tmp_path)


def test_exported_file_imports_only_torch(results, tmp_path):
    out = export_trial("causal", "best", tmp_path / "winner.py", results_dir=results)
    source = out.read_text()
    optional = check_standalone(source)
    assert set(optional) <= {"archsearch.compiler.kernels"}  # the compiler's try/except ImportError kernel hook
    tree = ast.parse(source)
    imported = {alias.name.split(".")[0] for node in tree.body if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in tree.body if isinstance(node, ast.ImportFrom)}
    assert imported <= {"__future__", "math", "os", "torch"}
    header = ast.get_docstring(tree)
    best = best_trial(open_study("causal", results_dir=results))
    assert f"Trial {best.number} of the archsearch study 'causal'" in header
    assert "V(X) =" in header and "F(X) =" in header and "val accuracy" in header
    assert "load_model" in header


def test_best_of_multi_objective_is_first_pareto_trial_by_metric(results, tmp_path):
    ref = open_study("multi", results_dir=results)
    pareto = ref.study.best_trials
    expected = min(pareto, key=lambda t: (t.values[0], t.number))
    assert best_trial(ref).number == expected.number
    out = export_trial("multi", "best", tmp_path / "w.py", results_dir=results)
    text = out.read_text()
    assert f"Trial {expected.number} of the archsearch study 'multi'" in text
    assert "first trial of the Pareto front by the first objective" in text


def test_trial_number_and_strict_keys(results, tmp_path):
    ref = open_study("multi", results_dir=results)
    number = max(t.number for t in complete_trials(ref) if t.user_attrs.get("duplicate_of") is None)
    out = export_trial("multi", str(number), tmp_path / "w.py", tmp_path / "w.safetensors", results_dir=results)
    namespace = {"__name__": "exported", "__file__": str(out)}
    exec(compile(out.read_text(), str(out), "exec"), namespace)
    assert namespace["TRIAL"] == number
    model, _ = _trained_model(results, "multi", number)
    exported = namespace["load_model"]()  # default: the weights beside the file, strict=True
    assert list(exported.state_dict()) == list(model.state_dict())
    from safetensors import safe_open
    from safetensors.torch import load_file

    stored, written = load_file(ref.trial_dir(number) / "model.safetensors"), load_file(tmp_path / "w.safetensors")
    assert written.keys() == stored.keys() and all(torch.equal(written[k], stored[k]) for k in stored)
    config = json.loads((tmp_path / "config.json").read_text())
    with safe_open(tmp_path / "w.safetensors", "pt") as f:
        assert json.loads(f.metadata()["archsearch_config"]) == config
    assert config["format"] == "archsearch-model" and config["trial"] == number and config["study"] == "multi"
    assert config["model"] == namespace["MODEL_CONFIG"] and config["task"] == namespace["TASK"]
    assert config["objectives"] == dict(zip([ref.objective_name(i) for i in range(len(ref.directions))],
                                            ref.study.trials[number].values, strict=True))
    bad = dict(model.state_dict())
    bad["extra.weight"] = torch.zeros(1)
    with pytest.raises(RuntimeError, match="Unexpected key"):
        namespace["build_model"]().load_state_dict(bad, strict=True)


def test_export_without_weights_has_no_default_file(results, tmp_path):
    out = export_trial("complex", 0, tmp_path / "c.py", results_dir=results)
    namespace = {"__name__": "exported", "__file__": str(out)}
    exec(compile(out.read_text(), str(out), "exec"), namespace)
    assert namespace["WEIGHTS"] is None
    with pytest.raises(ValueError, match="without weights"):
        namespace["load_model"]()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.py", "config.json"]  # config beside the file


@pytest.mark.parametrize("trial, message", [
    (99, "has no trial 99"),
    ("nine", "must be 'best' or a trial number"),
])
def test_unknown_trial(results, tmp_path, trial, message):
    with pytest.raises(ResultsError, match=message):
        export_trial("multi", trial, tmp_path / "w.py", tmp_path / "w.safetensors", results_dir=results)
    assert list(tmp_path.iterdir()) == []


def test_unwritable_output_writes_nothing(results, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ResultsError, match="cannot write"):
        export_trial("multi", "best", blocker / "w.py", results_dir=results)
    with pytest.raises(ResultsError, match="cannot write"):
        export_trial("multi", "best", tmp_path / "w.py", blocker / "w.safetensors", results_dir=results)
    with pytest.raises(ResultsError, match="must end in"):
        export_trial("multi", "best", tmp_path / "w.py", tmp_path / "w.bin", results_dir=results)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_missing_weights_is_an_error_and_writes_nothing(results, tmp_path):
    from results_helpers import copy_study

    copy = copy_study(results, "multi", tmp_path / "copy")
    ref = open_study("multi", results_dir=copy)
    number = best_trial(ref).number
    (ref.trial_dir(number) / "model.safetensors").unlink()
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ResultsError, match="has no weights"):
        export_trial("multi", number, out / "w.py", out / "w.safetensors", results_dir=copy)
    assert list(out.iterdir()) == []
    export_trial("multi", number, out / "w.py", results_dir=copy)  # code only: fine without weights
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "w.py"]


def test_export_source_checks_reproduction(results):
    source, state = export_source("causal", "best", results_dir=results)
    assert state is not None and "def load_model" in source
    with pytest.raises(ExportError, match="undefined name"):
        check_standalone(source + "\n\ndef broken():\n    return archsearch_helper()\n")
    with pytest.raises(ExportError, match="imports 'numpy'"):
        check_standalone(source.replace("import math\n", "import math\nimport numpy\n", 1))
    with pytest.raises(ExportError, match="imports 'archsearch.train'"):
        check_standalone(source + "\nfrom archsearch.train import build_model\n")


def test_conflicting_helpers_are_refused():
    a = "def _helper(x):\n    return x\n\nclass A:\n    pass\n"
    b = "def _helper(x):\n    return 2 * x\n\nclass B:\n    pass\n"
    check_sections([("block A", a), ("block A again", a)])  # identical helpers may repeat
    with pytest.raises(ExportError, match="both define '_helper' differently"):
        check_sections([("block A", a), ("block B", b)])


def test_exported_file_runs_as_a_script(results, tmp_path):
    out = export_trial("multi", "best", tmp_path / "winner.py", results_dir=results)
    proc = subprocess.run([sys.executable, str(out)], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "parameters" in proc.stdout
    assert out.read_text().startswith('"""Trial ')


def test_exported_euler_step_with_known_fields(results, tmp_path):
    """The exported file carries its own copy of the Euler step: the same known-field checks as
    archsearch's (h applied, −i h F for the complex state, h = 0 returns X), run on that copy."""
    source, _ = export_source("complex", "best", results_dir=results)
    namespace = {"__name__": "exported", "__file__": str(tmp_path / "winner.py")}
    exec(compile(source, str(tmp_path / "winner.py"), "exec"), namespace)
    from archsearch.train.model import EulerStep

    assert namespace["EulerStep"] is not EulerStep
    check_euler_step(namespace["EulerStep"])
