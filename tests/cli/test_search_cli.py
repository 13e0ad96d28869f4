"""`archsearch search` and `archsearch worker` end to end: a small search printing its leaderboard, JSON, a
worker joining a finished study, and one-line errors (exit 2, nothing written, a corrupt journal unchanged)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TINY = [
    "--steps", "3", "--batch-size", "8", "--space", "width=8", "--space", "depth=1",
    "--task-option", "eval_size=32", "--task-option", "d=2", "--task-option", "n=4", "--threads", "1",
]


def _one_line_error(res, command: str, *needles: str) -> str:
    assert res.code == 2, (res.code, res.out, res.err)
    lines = res.err.strip().splitlines()
    assert len(lines) == 1, res.err
    assert lines[0].startswith(f"archsearch {command}: ") and "error: " in lines[0], lines[0]
    assert "Traceback" not in res.err and res.out == ""
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_small_search_prints_the_leaderboard(run, tmp_path):
    res = run("search", "--results", str(tmp_path), "--trials", "4", *TINY)
    assert res.code == 0, res.err
    assert "study paper-icl-regression: 4 of 4 trials finished" in res.out
    assert "val mse" in res.out and ("linear attention" in res.out or "linear MLP" in res.out)
    assert "params" in res.out and "FLOPs" in res.out
    journal = tmp_path / "paper-icl-regression" / "journal.log"
    assert journal.exists() and journal.stat().st_size > 0
    assert (tmp_path / "paper-icl-regression" / "trials" / "0" / "model.safetensors").exists()
    assert "4/4" in res.err  # progress

    # a worker joining a finished study has nothing to do
    joined = run("worker", "--study", "paper-icl-regression", "--results", str(tmp_path), "--threads", "1")
    assert joined.code == 0, joined.err
    assert "4 of 4 trials finished" in joined.out

    # resume with a higher target, as JSON
    more = run("search", "--study", "paper-icl-regression", "--results", str(tmp_path), "--resume", "--trials", "6",
               "--json", "--threads", "1", "--steps", "99")
    assert more.code == 0, more.err
    assert "stored settings; ignoring --steps" in more.err
    data = json.loads(more.out)
    assert data["counts"]["finished"] == 6 and data["n_trials"] == 6
    assert data["storage"].endswith("journal.log") and data["metric"] == "mse"
    row = data["leaderboard"][0]
    assert {"number", "values", "terms", "term_names", "n_params", "flops", "wall_time"} <= set(row)


def test_precision_and_compile_are_stored_with_the_study(run, tmp_path, monkeypatch):
    """--precision fp32 and --compile reach every trial's TrainConfig through the study's stored settings
    (a resume keeps them and says so when they are given again); the defaults store nothing, so
    TrainConfig's own (bf16 autocast on CUDA, no compile) apply."""
    import optuna

    from archsearch.search import load_settings
    from archsearch.train import loop

    monkeypatch.setattr(loop.torch, "compile", lambda model: model)  # the flag's path, without compile time
    res = run("search", "--results", str(tmp_path), "--study", "p", "--trials", "1", "--no-baseline",
              "--precision", "fp32", "--compile", *TINY)
    assert res.code == 0, res.err
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(
        str(tmp_path / "p" / "journal.log")))
    study = optuna.load_study(study_name="p", storage=storage)
    assert load_settings(study).train["amp"] is False and load_settings(study).train["compile"] is True
    config = study.trials[0].user_attrs["config"]
    config = json.loads(config) if isinstance(config, str) else config
    assert config["train"]["amp"] is False and config["train"]["compile"] is True
    more = run("search", "--results", str(tmp_path), "--study", "p", "--resume", "--trials", "1",
               "--precision", "auto", "--threads", "1")
    assert more.code == 0 and "ignoring --precision" in more.err, more.err
    plain = run("search", "--results", str(tmp_path), "--study", "q", "--trials", "1", "--no-baseline", *TINY)
    assert plain.code == 0, plain.err
    study = optuna.load_study(study_name="q", storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(tmp_path / "q" / "journal.log"))))
    assert "amp" not in load_settings(study).train and "compile" not in load_settings(study).train


def test_grid_and_multi_objective_through_the_cli(run, tmp_path):
    res = run("search", "--grammar", "grammars/softmax.toml", "--sampler", "grid", "--results", str(tmp_path),
              "--study", "g", "--json", *TINY)
    assert res.code == 0, res.err
    data = json.loads(res.out)
    assert data["counts"]["COMPLETE"] == 8
    assert sorted(r["terms"][0] for r in data["leaderboard"]) == [
        "0-0", "0-0.0-0", "0-1", "0-1.0-1", "0-1.1-1", "0-2.1-2", "f-exp", "lse"]
    assert "softmax attention" in {r["term_names"][0] for r in data["leaderboard"]}
    mo = run("search", "--objectives", "metric,params", "--sampler", "motpe", "--trials", "3", "--study", "mo",
             "--results", str(tmp_path), *TINY)
    assert mo.code == 0, mo.err
    assert mo.out.splitlines()[0].endswith("\tpareto")  # in a pipe: TSV, Pareto optimality a column


@pytest.mark.parametrize("command", ["search", "worker"])
def test_help(run, command):
    res = run(command, "--help")
    assert res.code == 0 and "Usage" in res.out


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


BAD_GRAMMAR = sorted((ROOT / "tests" / "data" / "bad_grammars").glob("*.toml"))[0].relative_to(ROOT)


@pytest.mark.parametrize("args,needles", [
    (["--task", "no-such-task"], ["unknown task 'no-such-task'", "icl-regression"]),
    (["--grammar", "does/not/exist.toml"], ["does/not/exist.toml:1:1: error: grammar file not found"]),
    (["--grammar", str(BAD_GRAMMAR)], [f"{BAD_GRAMMAR}:"]),
    (["--storage", "sqlite:///results.db"], ["unsupported storage URL", "SQLite"]),
    (["--storage", "mysql://u:pw@localhost/db"], ["unsupported storage URL", "u:***@"]),
    (["--storage", "not a url"], ["unsupported storage URL"]),
    (["--task-option", "novalue"], ["--task-option"]),
    (["--task-option", "colour=red"], ["unknown option", "colour"]),
    (["--task-option", "d=-1"], ["icl-regression"]),
    (["--space", "width=eight"], ["--space"]),
    (["--space", "colour=red"], ["--space", "colour"]),
    (["--sampler", "annealing"], ["--sampler"]),
    (["--trials", "0"], ["--trials"]),
    (["--resume", "--study", "nothing-here"], ["no study named 'nothing-here'"]),
    (["--resume"], ["--study"]),
    (["--study", "../escape"], ["invalid study name"]),
    (["--device", "gpu"], ["invalid device 'gpu'"]),
])
def test_bad_input_is_one_line_and_writes_nothing(run, tmp_path, args, needles):
    res = run("search", "--results", str(tmp_path / "results"), *TINY, *args)
    _one_line_error(res, "search", *needles)
    assert not (tmp_path / "results").exists()


def test_unreachable_database(run, tmp_path):
    url = f"postgresql://archsearch:secret@127.0.0.1:{_closed_port()}/archsearch"
    line = _one_line_error(run("search", "--storage", url, "--results", str(tmp_path / "r"), *TINY), "search",
                           "cannot connect to postgresql://archsearch:***@127.0.0.1")
    assert "secret" not in line
    assert not (tmp_path / "r").exists()
    _one_line_error(run("worker", "--study", "s", "--storage", url, "--results", str(tmp_path / "r")), "worker",
                    "cannot connect")


@pytest.mark.parametrize("content", [b"\x00\x01garbage\xff\n{}\n",
                                     b'{"op_code": 0, "worker_id": "w", "study_na\n{"op_code": 0}\n'],
                         ids=["garbage", "cut-inside"])
def test_corrupt_journal_is_refused_and_unchanged(run, tmp_path, content):
    study_dir = tmp_path / "corrupt"
    study_dir.mkdir()
    journal = study_dir / "journal.log"
    journal.write_bytes(content)
    for extra in (["--resume"], []):  # resuming it, or starting a study of the same name
        line = _one_line_error(run("search", "--study", "corrupt", "--results", str(tmp_path), *extra, *TINY),
                               "search", str(journal), "corrupt")
        assert "unchanged" in line
        assert journal.read_bytes() == content
    _one_line_error(run("worker", "--study", "corrupt", "--results", str(tmp_path)), "worker", "corrupt")
    assert journal.read_bytes() == content
    assert [p.name for p in study_dir.iterdir()] == ["journal.log"]


def test_existing_study_is_not_overwritten(run, tmp_path):
    assert run("search", "--study", "s", "--results", str(tmp_path), "--trials", "1", *TINY).code == 0
    journal = tmp_path / "s" / "journal.log"
    before = journal.read_bytes()
    _one_line_error(run("search", "--study", "s", "--results", str(tmp_path), "--trials", "1", *TINY), "search",
                    "already exists", "--resume")
    assert journal.read_bytes() == before
    _one_line_error(run("worker", "--study", "other", "--results", str(tmp_path)), "worker", "no study")


REAL_DATA_TINY = ["--trials", "2", "--steps", "3", "--batch-size", "8", "--space", "width=8", "--space", "depth=1",
                  "--task-option", "eval_size=16", "--threads", "1"]


@pytest.mark.parametrize(("options", "metric"), [
    (["--task", "digits", "--task-option", "patch=4", "--task-option", "train_fraction=0.5"], "accuracy"),
    (["--task", "text", "--task-option", "corpus=stdlib", "--task-option", "seq_len=16",
      "--task-option", "max_bytes=2000000"], "bpb"),
], ids=["digits", "stdlib"])
def test_real_data_tasks_search_and_export(run, tmp_path, options, metric):
    from archsearch.tasks import make_task

    res = run("search", "--results", str(tmp_path), "--study", "real", "--json", *REAL_DATA_TINY, *options)
    assert res.code == 0, res.err
    data = json.loads(res.out)
    assert data["counts"]["finished"] == 2 and data["metric"] == metric
    out = tmp_path / "winner.py"
    exported = run("export", "--study", "real", "--results", str(tmp_path), "-o", str(out), "--weights",
                   str(tmp_path / "winner.safetensors"))
    assert exported.code == 0, exported.err
    namespace = {"__name__": "winner", "__file__": str(out)}
    exec(compile(out.read_text(), str(out), "exec"), namespace)
    task = make_task(namespace["TASK"]["name"], **namespace["TASK"]["options"])
    assert task.metric_name == metric and namespace["TASK"]["options"]["eval_size"] == 16
    batch = task.dataset("test")
    pred = namespace["load_model"]()(batch["inputs"])
    assert 0.0 <= task.metric(pred, batch) <= (1.0 if metric == "accuracy" else 8.5)


@pytest.mark.parametrize(("options", "needles"), [
    (["--task", "text"], ["needs a file or a corpus", "corpus=stdlib"]),
    (["--task", "text", "--task-option", "path=no/such/file.txt"], ["no such file"]),
    (["--task", "text", "--task-option", "corpus=web"], ["unknown corpus 'web' (known: stdlib)"]),
    (["--task", "text", "--task-option", "corpus=stdlib", "--task-option", "max_bytes=lots"],
     ["max_bytes must be an integer, not 'lots'"]),
    (["--task", "text", "--task-option", "corpus=stdlib", "--task-option", "level=word"], ["unknown level 'word'"]),
    (["--task", "digits", "--task-option", "patch=3"], ["task 'digits'", "patch must be 1, 2 or 4"]),
    (["--task", "digits", "--task-option", "train_fraction=0"], ["train_fraction must be a number in (0, 1]"]),
])
def test_real_data_task_options_are_checked(run, tmp_path, options, needles):
    res = run("search", "--results", str(tmp_path / "results"), *REAL_DATA_TINY, *options)
    _one_line_error(res, "search", *needles)
    assert not (tmp_path / "results").exists()


def test_progress_lines_quiet_verbose_and_log_file(run, tmp_path):
    """Not a terminal: one line per finished trial on stderr (state, value, terms, count, best, ETA); --quiet
    none; --verbose and --log-file the details too, the file with timestamps."""
    res = run("search", "--study", "p", "--results", str(tmp_path), "--trials", "2", *TINY)
    assert res.code == 0, res.err
    lines = [line for line in res.err.splitlines() if line.startswith("search p: trial")]
    assert len(lines) == 2 and "complete: mse " in lines[0] and "1/2 finished, best mse" in lines[0], res.err
    assert "ETA 0:" in lines[0] and " in " in lines[0]
    log = tmp_path / "run.log"
    quiet = run("search", "--study", "p", "--results", str(tmp_path), "--resume", "--trials", "3", "-q",
                "--log-file", str(log))
    assert quiet.code == 0, quiet.err
    assert "search p: trial" not in quiet.err and "3 of 3 trials finished" in quiet.out
    text = log.read_text()
    assert " INFO archsearch.search: search p: trial 2 " in text and " DEBUG " in text and "candidate" in text
    both = run("search", "--study", "p", "--results", str(tmp_path), "--resume", "-q", "-v")
    assert both.code == 2 and "contradict" in both.err
