"""benchmarks/reproduce_paper.py: the committed deterministic tables cannot drift, and --quick makes every file."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks"
PAPER = ROOT / "results" / "paper"


def _load(name: str):
    if name in sys.modules:
        return sys.modules[name]
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tables():
    return _load("paper_tables")


@pytest.fixture(scope="module")
def reproduce():
    return _load("reproduce_paper")


def _committed(name: str) -> str:
    path = PAPER / name
    if not path.is_file():
        pytest.fail(f"{path} is missing: run `python benchmarks/reproduce_paper.py --only tables`")
    return path.read_text(encoding="utf-8")


def test_unitary_fields_table_matches_committed(tables):
    assert tables.fields_document("unitary") == _committed("fields_unitary.md")


def test_derivations_match_committed(tables):
    text = tables.derivations_document()
    assert text == _committed("derivations.md")
    assert "keeps only the first branch, P X Wᵀ" in text  # the paper's softmax vs the full gradient
    assert "P X Wᵀ + Pᵀ X W" in text
    assert "**Flagged: this field is not the gradient of any potential V.**" in text  # CoLU


def test_perm_fields_table_up_to_order_6_is_the_committed_prefix(tables):
    """Header, the count table (orders 2–8, with the brute force) and orders 2–6 byte-identical; order 8 follows."""
    prefix = "".join(tables.fields_sections("perm", detail_orders=(2, 4, 6)))
    committed = _committed("fields_perm.md")
    assert committed.startswith(prefix)
    assert committed[len(prefix):].startswith("## Order 8: 30 connected families")


def test_perm_fields_table_matches_committed(tables):
    assert tables.fields_document("perm") == _committed("fields_perm.md")


@pytest.mark.parametrize("left", ["unitary", "perm"])
def test_counts_agree_with_references_and_brute_force(tables, left):
    lines = tables.count_lines(left)
    assert [c.order for c in lines] == [2, 4, 6, 8]
    assert all(c.agrees for c in lines)
    if left == "perm":
        assert [(c.connected, c.total) for c in lines] == [(2, 2), (4, 7), (11, 23), (30, 79)]
    else:
        assert [(c.connected, c.total) for c in lines] == [(1, 1), (1, 2), (1, 3), (1, 5)]


@pytest.mark.parametrize("name", ["fields_unitary.md", "fields_perm.md", "derivations.md"])
def test_committed_tables_name_their_command_and_are_deterministic(name):
    text = _committed(name)
    assert "`python benchmarks/reproduce_paper.py --only tables`" in text.split("\n\n")[1]
    assert "✗" not in text


EXPECTED = [
    "README.md", "fields_unitary.md", "fields_perm.md", "derivations.md",
    "search_icl-regression.md", "pareto_icl-regression.png", "history_icl-regression.png",
    "search_mqar.md", "pareto_mqar.png", "history_mqar.png",
    "tied_vs_untied.md", "tied_vs_untied.png",
]


def test_quick_run_writes_every_file(reproduce, tmp_path):
    from matplotlib.image import imread
    from PIL import Image

    out = tmp_path / "paper"
    assert reproduce.main(["--quick", "--out", str(out), "--studies", str(tmp_path / "studies")]) == 0
    for name in EXPECTED:
        path = out / name
        assert path.is_file() and path.stat().st_size > 0, name
        if name.endswith(".png"):
            data = path.read_bytes()
            assert data[:8] == b"\x89PNG\r\n\x1a\n", name
            image = imread(path)
            assert image.shape[0] > 100 and image.shape[1] > 100, name
            with Image.open(path) as png:  # the command that made it, in the PNG header
                assert png.text.get("Description") == "made by: python benchmarks/reproduce_paper.py --quick", name
    # the tables do not depend on the training budget: the quick run reproduces the committed files
    assert (out / "fields_unitary.md").read_text() == _committed("fields_unitary.md")
    assert (out / "derivations.md").read_text() == _committed("derivations.md")
    icl = (out / "search_icl-regression.md").read_text()
    assert "d(d+1)/(n+d+1) = **1.3333**" in icl
    for grammar in ("paper", "permutation", "softmax"):
        assert f"| {grammar} |" in icl
    readme = (out / "README.md").read_text()
    for name in EXPECTED[1:]:
        assert f"[{name}]({name})" in readme
    assert (tmp_path / "studies" / "paper-paper-mqar" / "journal.log").is_file()  # studies in the scratch dir
    assert not (out / "studies").exists()


@pytest.mark.slow
def test_question_quick_writes_every_file(tmp_path):
    """benchmarks/question.py --quick: search, confirm and answer on two tasks with tiny budgets."""
    question = _load("question")
    question.main(["--quick", "--out", str(tmp_path), "--tasks", "icl-regression,digits",
                   "--studies", str(tmp_path / "studies")])
    for name in ("README.md", "question.json", "icl-regression.md", "icl-regression.png", "digits.md", "digits.png"):
        assert (tmp_path / name).is_file(), name
    readme = (tmp_path / "README.md").read_text()
    assert "earned their cost" in readme and "| [digits](digits.md) |" in readme
    import json

    data = json.loads((tmp_path / "question.json").read_text())
    for task in ("icl-regression", "digits"):
        rows = data["tasks"][task]["result"]["rows"]
        assert {r["baseline"] for r in rows if r["baseline"]} == {"paper", "transformer", "mlp"}
        assert all(len(r["seeds"]) == 2 for r in rows)
        assert data["tasks"][task]["result"]["rival_seconds"] >= 0
        assert len({r["trial"] for r in rows}) == len(rows)  # one row per configuration (rivals: per lr)
        for r in rows:  # equal-cost rivals: MLP + attention of no more FLOPs than the trial they are sized to
            if r.get("rival"):
                target = next(x for x in rows if x["trial"] == r["target_trial"])
                assert r["flops"] <= target["flops"] == r["target_flops"] and not r["beyond"]


def test_question_answer_logic():
    """The verdict rule on hand-made rows: earned only with a term beyond MLP + attention that beats every
    MLP + attention configuration of no more FLOPs by more than twice the seed spread."""
    question = _load("question")

    def row(trial, terms, flops, mean, std, baseline=None):
        beyond = sorted(set(terms) - question.MLP_AND_ATTENTION)
        return {"trial": trial, "terms": terms, "beyond": beyond, "order6": "0-1.0-1.0-1" in terms,
                "flops": flops, "mean": mean, "std": std, "baseline": baseline, "seeds": [1, 2, 3],
                "search_value": mean, "test_mean": None, "test_std": None}

    rows = [row(0, ["0-0", "0-1.0-1"], 100, 1.0, 0.05, "paper"), row(1, ["lse", "mlp-gelu"], 300, 0.8, 0.05,
            "transformer"), row(2, ["0-0", "0-1.0-1.0-1"], 200, 0.7, 0.05), row(3, ["0-1"], 50, 0.5, 0.3)]
    ans = question.answer({"direction": "minimize", "rows": rows})
    assert ans["earned"] == [2] and ans["order6_earned"] == [2]  # 1.0 - 0.7 = 0.3 > 2·0.05 against trial 0
    assert 3 not in ans["earned"]  # cheaper than all, but 0.8 - 0.5 is within twice its spread 0.3
    assert ans["best"] == 3 and ans["best_baseline"] == 1
    assert ans["front"] == [3]  # cheapest and best: it dominates everything
    rows[2]["std"] = 0.2  # within twice the spread now
    assert question.answer({"direction": "minimize", "rows": rows})["earned"] == []
    # an equal-cost rival (MLP + attention at trial 2's FLOPs) beats trial 2: nothing earned, verdict "not real"
    rows[2]["std"] = 0.05
    rival = {**row("rival transformer@lr=0.003", ["lse", "mlp-gelu"], 190, 0.6, 0.05), "rival": "transformer",
             "target_trial": 2, "target_flops": 200, "candidate": {"width": 24, "depth": 2, "lr": 0.003}}
    worse = {**rival, "trial": "rival transformer@lr=0.01", "mean": 0.9, "candidate": {**rival["candidate"],
                                                                                        "lr": 0.01}}
    ans = question.answer({"direction": "minimize", "rows": [*rows, worse, rival]})
    assert ans["earned"] == [] and rows[2]["comparison"]["against"] == "rival transformer@lr=0.003"
    eq = ans["equal_cost"]
    assert eq["trial"] == 2 and eq["rival"] == "rival transformer@lr=0.003" and not eq["real"]
    assert abs(eq["margin"] + 0.1) < 1e-12 and abs(eq["ratio"] - 200 / 190) < 1e-12
    assert ans["front"] == [3]
    # trial 3 (50 FLOPs) beats that rival (190 FLOPs) by 0.1, within twice the spread 0.3: not listed; at
    # 0.4 ± 0.01 it is (cheaper than the rival, better by 0.2 > twice the spread 0.05)
    assert ans["beat_rival_cheaper"] == []
    rows[3].update(mean=0.4, std=0.01)
    cheaper = question.answer({"direction": "minimize", "rows": [*rows, worse, rival]})["beat_rival_cheaper"]
    assert [c["trial"] for c in cheaper] == [3] and abs(cheaper[0]["ratio"] - 50 / 190) < 1e-12
    rows[3].update(mean=0.5, std=0.3)
    assert "At equal cost: the search winner, trial 2" in question.paragraph(
        {"metric": "mse", "direction": "minimize", "rows": [*rows, rival], "trials": 4, "pruned": 0,
         "steps_spent": 10, "terms_tried": []}, ans)


def test_question_flops_caveat_and_rewrite(tmp_path):
    """The README warns when every winner costs over twice the FLOPs of the largest confirmed MLP + attention
    configuration, and says nothing when a rival of comparable cost was confirmed; --rewrite rebuilds it."""
    question = _load("question")

    def row(trial, terms, flops):
        beyond = sorted(set(terms) - question.MLP_AND_ATTENTION)
        return {"trial": trial, "baseline": None, "terms": terms, "beyond": beyond, "order6": False, "flops": flops,
                "mean": 1.0, "std": 0.1}

    result = {"rows": [row(0, ["0-0", "0-1.0-1"], 1_000), row(1, ["0-1.0-2.1-2"], 50_000)]}
    ans = {"earned": [1]}
    assert "at least 50× the FLOPs" in question.flops_caveat(result, ans)
    assert question.flops_caveat({"rows": [*result["rows"], row(2, ["0-0"], 40_000)]}, ans) == ""
    assert question.flops_caveat(result, {"earned": []}) == ""
    with pytest.raises(SystemExit):
        question.main(["--rewrite", "--out", str(tmp_path)])  # no stored record
