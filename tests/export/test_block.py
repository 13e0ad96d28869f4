"""export --block: one Euler step as a drop-in nn.Module file (+ weights, config.json) that needs only torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from archsearch.export import export_block
from archsearch.export.source import check_standalone
from archsearch.report import ResultsError, open_study
from archsearch.report.studies import best_trial, trial_config
from archsearch.tasks import make_task
from archsearch.train import ModelConfig, build_model

TOL = 1e-6  # the exported step against archsearch's, same weights, same code: summation order only

# (study, step): real and complex fields, causal and not, parallel and split schemes, a term set per step
CASES = [("multi", 0), ("causal", 0), ("layers", 1), ("complex", 1)]


def _library_step(results: Path, study: str, step: int):
    """archsearch's own Euler step ``step`` of the study's best trial, with the trial's weights (strict)."""
    from safetensors.torch import load_file

    ref = open_study(study, results_dir=results)
    trial = best_trial(ref)
    config = trial_config(ref, trial)
    model_cfg = ModelConfig.from_dict(config["model"])
    task = make_task(config["task"]["name"], **config["task"]["options"])
    model = build_model(model_cfg, task)
    model.load_state_dict(load_file(str(ref.trial_dir(trial.number) / "model.safetensors")), strict=True)
    return model.steps[step].eval(), model_cfg, task.sequence_length()


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
    block = module.load_block()
    with torch.no_grad():
        got = block(case["x"])
        single = block(case["x"][0])
    out["cases"][name] = {{
        "shape": list(got.shape),
        "dtype": str(got.dtype),
        "max_diff": float((got - case["expected"]).abs().max()),
        "max_diff_unbatched": float((single - case["expected"][0]).abs().max()),
        "keys": sorted(block.state_dict()),
        "repr": repr(block),
    }}
out["archsearch_loaded"] = any(m.split(".")[0] == "archsearch" for m in sys.modules)
print(json.dumps(out))
"""


def _site_dirs() -> list[str]:
    import safetensors

    return sorted({str(Path(module.__file__).resolve().parents[1]) for module in (torch, safetensors)})


def test_exported_block_reproduces_the_library_step_with_only_torch(results, tmp_path):
    """Each exported step, imported in a fresh interpreter where archsearch cannot be imported (only torch and
    safetensors on the path), gives archsearch's step output to 1e-6 on fresh random input, batched and
    unbatched, with the same weights (.safetensors and .pt both)."""
    cases = {}
    for i, (study, step) in enumerate(CASES):
        name = f"block_{study}_{step}"
        folder = tmp_path / name
        folder.mkdir()
        weights = folder / ("w.pt" if i % 2 else "w.safetensors")
        paths = export_block(study, "best", tmp_path / f"{name}.py", weights, step=step, results_dir=results)
        assert paths == [tmp_path / f"{name}.py", weights, folder / "config.json"]
        library, model_cfg, n = _library_step(results, study, step)
        gen = torch.Generator().manual_seed(4321)
        x = torch.randn(3, n, model_cfg.width, generator=gen)
        if model_cfg.field == "complex":
            x = torch.complex(x, torch.randn(x.shape, generator=gen))
        with torch.no_grad():
            expected = library(x)
        assert not torch.allclose(expected, x)  # the step does something
        cases[name] = {"x": x, "expected": expected, "keys": sorted(library.state_dict())}
    torch.save({k: {"x": v["x"], "expected": v["expected"]} for k, v in cases.items()}, tmp_path / "cases.pt")
    (tmp_path / "runner.py").write_text(RUNNER.format(sites=_site_dirs(), here=str(tmp_path)))
    proc = subprocess.run([sys.executable, "-I", "-S", "runner.py"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["archsearch_importable"] is False
    assert out["archsearch_loaded"] is False
    for name, case in cases.items():
        got = out["cases"][name]
        assert got["shape"] == list(case["x"].shape), name
        assert got["dtype"] == str(case["x"].dtype), name
        assert got["max_diff"] <= TOL, (name, got["max_diff"])
        assert got["max_diff_unbatched"] <= TOL, (name, got["max_diff_unbatched"])
        assert got["keys"] == case["keys"], name
        assert got["repr"].startswith("ArchsearchBlock(\n  features=8, rank=")


def test_config_json_and_safetensors_metadata(results, tmp_path):
    (tmp_path / "w").mkdir()
    paths = export_block("layers", "best", tmp_path / "block.py", tmp_path / "w" / "block.safetensors", step=1,
                         results_dir=results)
    config = json.loads((tmp_path / "w" / "config.json").read_text())
    ref = open_study("layers", results_dir=results)
    trial = best_trial(ref)
    model_cfg = ModelConfig.from_dict(trial_config(ref, trial)["model"])
    assert config["study"] == "layers" and config["trial"] == trial.number and config["step_index"] == 1
    assert config["terms"] == list(model_cfg.step_terms(1))
    assert (config["features"], config["rank"], config["heads"], config["depth"]) == (
        model_cfg.width, model_cfg.rank, model_cfg.heads, model_cfg.depth)
    assert config["field"] == "real" and config["causal"] is False and config["class"] == "ArchsearchBlock"
    with safe_open(str(paths[1]), "pt") as fh:
        metadata = fh.metadata()
        keys = sorted(fh.keys())
    assert metadata["format"] == "pt"
    assert json.loads(metadata["archsearch_config"]) == config
    assert keys and all(k.startswith(("blocks.", "norms.")) for k in keys)
    text = paths[0].read_text()
    assert "WEIGHTS = 'w/block.safetensors'" in text
    assert set(check_standalone(text)) <= {"archsearch.compiler.kernels"}  # the kernels' optional hook


def test_block_checks_its_input_and_builds_at_other_sizes(results, tmp_path):
    out = export_block("multi", "best", tmp_path / "b.py", results_dir=results)
    assert [p.name for p in out] == ["b.py", "config.json"]
    namespace = {"__name__": "exported_block", "__file__": str(out[0])}
    exec(compile(out[0].read_text(), str(out[0]), "exec"), namespace)
    block_cls = namespace["ArchsearchBlock"]
    with pytest.raises(ValueError, match="without weights"):
        namespace["load_block"]()
    wide = block_cls(features=16)
    x = torch.randn(2, 5, 16)
    assert wide(x).shape == (2, 5, 16)
    assert "features=16" in repr(wide)
    with pytest.raises(ValueError, match=r"\(batch, tokens, 16\) or \(tokens, 16\); got \(2, 5, 8\)"):
        wide(torch.randn(2, 5, 8))
    with pytest.raises(ValueError, match=r"got \(1, 2, 5, 16\)"):
        wide(x[None])
    with pytest.raises(ValueError, match="takes torch.float32 input; got torch.float64"):
        wide(x.double())


def test_step_out_of_range_writes_nothing(results, tmp_path):
    with pytest.raises(ResultsError, match=r"has 1 Euler step\(s\) \(0\.\.0\); --step 1 is out of range"):
        export_block("causal", "best", tmp_path / "b.py", tmp_path / "b.safetensors", step=1, results_dir=results)
    with pytest.raises(ResultsError, match="must end in .py"):
        export_block("causal", "best", tmp_path / "b.txt", results_dir=results)
    assert list(tmp_path.iterdir()) == []


def test_cli_export_block(run, results, tmp_path):
    res = run("export", "--study", "complex", "--results", str(results), "--block", "--step", "1", "-o",
              str(tmp_path / "block.py"), "--weights", str(tmp_path / "block.pt"))
    assert res.code == 0, res.err
    assert res.out.split() == [str(tmp_path / p) for p in ("block.py", "block.pt", "config.json")]
    assert json.loads((tmp_path / "config.json").read_text())["field"] == "complex"
    res = run("export", "--study", "complex", "--results", str(results), "--block", "--step", "7", "-o",
              str(tmp_path / "other.py"))
    assert res.code == 2 and len(res.err.strip().splitlines()) == 1
    assert "--step 7 is out of range" in res.err
    res = run("export", "--study", "complex", "--results", str(results), "--step", "1", "-o",
              str(tmp_path / "other.py"))
    assert res.code == 2 and "--step needs --block" in res.err
    assert not (tmp_path / "other.py").exists()


def test_trial_without_weights(results, tmp_path):
    """A trial whose weights file is gone: --weights is a one-line error and nothing is written; the code alone
    is still exported (checked against archsearch's step with fresh parameters)."""
    from results_helpers import copy_study

    copy = copy_study(results, "multi", tmp_path / "copy")
    ref = open_study("multi", results_dir=copy)
    number = best_trial(ref).number
    (ref.trial_dir(number) / "model.safetensors").unlink()
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ResultsError, match=f"trial {number} has no weights file"):
        export_block("multi", number, out / "b.py", out / "b.safetensors", results_dir=copy)
    assert list(out.iterdir()) == []
    written = export_block("multi", number, out / "b.py", results_dir=copy)
    assert sorted(p.name for p in written) == ["b.py", "config.json"]


@pytest.mark.parametrize("edit", ["nan", "missing"])
def test_step_weights_that_are_not_finite_or_do_not_fit_are_refused(results, tmp_path, edit):
    """The step's weights with a NaN entry (a diverged trial) or a tensor gone: a one-line ExportError naming the
    tensor (torch's reason without its tab); nothing is written."""
    from results_helpers import copy_study
    from safetensors.torch import load_file, save_file

    from archsearch.export.source import ExportError

    copy = copy_study(results, "multi", tmp_path / "copy")
    ref = open_study("multi", results_dir=copy)
    number = best_trial(ref).number
    path = ref.trial_dir(number) / "model.safetensors"
    state = load_file(str(path))
    key = sorted(k for k in state if k.startswith("steps.0.") and state[k].is_floating_point())[0]
    if edit == "nan":
        state[key].view(-1)[0] = float("nan")
    else:
        state.pop(key)
    save_file(state, str(path))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ExportError) as err:
        export_block("multi", number, out / "b.py", out / "b.safetensors", results_dir=copy)
    inner = key.removeprefix("steps.0.")
    if edit == "nan":
        assert str(err.value) == (f"trial {number}: weight {inner!r} is not finite (NaN or inf): the trial diverged; "
                                  "export another trial")
    else:
        assert str(err.value) == (f"trial {number}: the weights do not fit the exported block (Missing key(s) in "
                                  f'state_dict: "{inner}".)')
    assert list(out.iterdir()) == []
