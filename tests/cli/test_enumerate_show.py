"""End-to-end CLI checks: the acceptance outputs of `enumerate` and `show`, and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BAD = sorted((ROOT / "tests" / "data" / "bad_grammars").glob("*.toml"))


def test_paper_grammar_gives_mlp_and_linear_attention(run):
    res = run("enumerate", "--grammar", "grammars/paper.toml", "--format", "json")
    assert res.code == 0, res.err
    terms = res.json()["terms"]
    assert [(t["order"], t["name"]) for t in terms] == [(2, "linear MLP"), (4, "linear attention")]
    assert terms[1]["potential"] == "Tr(X W₁ X* X W₂ X*)"


def test_paper_grammar_table(run):
    res = run("enumerate", "--grammar", "grammars/paper.toml")
    assert res.code == 0, res.err
    assert "linear MLP" in res.out and "linear attention" in res.out
    assert "Tr(X W₁ X* X W₂ X*)" in res.out


def test_permutation_grammar_order_4_has_four_named_connected_families(run):
    res = run("enumerate", "--grammar", "grammars/permutation.toml", "--max-order", "4", "--format", "json")
    assert res.code == 0, res.err
    order4 = [t for t in res.json()["terms"] if t["order"] == 4]
    assert len(order4) == 4
    assert all(t["name"] for t in order4)
    assert {t["name"] for t in order4} >= {"linear attention", "global-pooling mixer", "per-token polynomial"}
    counts = {row["order"]: row for row in res.json()["counts"]}
    assert counts[4]["connected"] == 4 and counts[4]["total"] == 7


def test_options_without_grammar_and_all_families(run):
    res = run("enumerate", "--left", "perm", "--max-order", "6", "--all", "--format", "json")
    assert res.code == 0, res.err
    data = res.json()
    assert [row["total"] for row in data["counts"]] == [2, 7, 23]
    assert len([t for t in data["terms"] if t["family"] == "diagram"]) == 2 + 7 + 23


def test_complex_field_counts_directed_families(run):
    res = run("enumerate", "--left", "perm", "--field", "complex", "--max-order", "6", "--all", "--format", "json")
    assert res.code == 0, res.err
    assert [row["total"] for row in res.json()["counts"]] == [2, 11, 52]


def test_latex_format(run):
    res = run("enumerate", "--grammar", "grammars/paper.toml", "--format", "latex")
    assert res.code == 0, res.err
    assert res.out.startswith("\\begin{tabular}") and "operatorname{Tr}" in res.out
    assert "id & order" in res.out and "0-1.0-1 & 4" in res.out  # ids in every format


def test_shipped_grammars_by_name(run):
    listed = run("grammars", "--format", "json").json()
    assert {"paper", "permutation", "softmax", "transformer"} <= {g["name"] for g in listed}
    by_name = run("enumerate", "--grammar", "paper", "--format", "json").json()
    by_path = run("enumerate", "--grammar", "grammars/paper.toml", "--format", "json").json()
    assert by_name["terms"] == by_path["terms"]
    res = run("enumerate", "--grammar", "papr")
    assert res.code == 2 and "shipped: " in res.err and "paper" in res.err


@pytest.mark.parametrize("fmt", ["tsv", "csv"])
def test_plain_formats_lead_with_the_id(run, fmt):
    import csv
    import io

    res = run("enumerate", "--grammar", "paper", "--format", fmt)
    assert res.code == 0, res.err
    rows = list(csv.reader(io.StringIO(res.out), delimiter="\t" if fmt == "tsv" else ","))
    assert rows[0][:2] == ["id", "order"] and [r[0] for r in rows[1:]] == ["0-0", "0-1.0-1"]


@pytest.mark.parametrize("grammar", sorted(p.name for p in (ROOT / "grammars").glob("*.toml")))
def test_every_shipped_grammar_enumerates(run, grammar):
    res = run("enumerate", "--grammar", f"grammars/{grammar}", "--format", "json")
    assert res.code == 0, res.err
    assert res.json()["terms"]


def test_show_linear_attention(run):
    res = run("show", "0-1.0-1", "--format", "json")
    assert res.code == 0, res.err
    data = res.json()
    assert data["name"] == "linear attention" and data["field_kind"] == "real"
    assert data["branches"] == 4  # real gradient: every endpoint of Tr(X W1 Xᵀ X W2 Xᵀ)
    text = run("show", "0-1.0-1")
    assert "linear attention" in text.out and "Tr(X W₁ X* X W₂ X*)" in text.out


def test_show_complex_trace_field(run):
    data = run("show", "0~1.1~0", "--format", "json").json()
    assert data["field_kind"] == "complex" and data["branches"] == 2


def test_show_softmax_keeps_both_branches(run):
    data = run("show", "lse", "--format", "json").json()
    assert data["name"] == "softmax attention" and data["branches"] == 2
    assert "paper" in data["note"]


def test_show_colu_has_no_potential(run):
    res = run("show", "colu4")
    assert res.code == 0, res.err
    assert "no potential" in res.out


def test_show_untied(run):
    tied = run("show", "0-1.0-1", "--format", "json").json()
    untied = run("show", "0-1.0-1", "--untied", "--format", "json").json()
    assert untied["tied"] is False and len(untied["parameters"]) > len(tied["parameters"])


def _one_line_error(res, *needles: str) -> None:
    assert res.code == 2, (res.code, res.out, res.err)
    lines = res.err.strip().splitlines()
    assert len(lines) == 1, res.err
    assert "Traceback" not in res.err and res.out == ""
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize("args", [
    ("enumerate", "--no-such-option"),
    ("enumerate", "--left", "sideways"),
    ("enumerate", "--max-order", "0"),
    ("enumerate", "--max-order", "many"),
    ("enumerate", "--grammar", "does/not/exist.toml"),
    ("enumerate", "--weights", "alphabet"),
    ("enumerate", "--alphabet", "a,b"),
    ("enumerate", "--min-order", "6", "--max-order", "4"),
    ("enumerate", "--left", "unitary", "--right", "none"),
    ("show",),
    ("show", "not-a-term"),
    ("show", "0-1.A1-0"),
    ("show", "f-tanh"),
    ("show", "lse", "--field", "complex"),
    ("show", "0-0", "--format", "pdf"),
    ("frobnicate",),
])
def test_bad_options_give_one_line_and_exit_2(run, args):
    _one_line_error(run(*args), "error")


def test_bad_option_names_the_option(run):
    _one_line_error(run("enumerate", "--max-order", "many"), "--max-order")
    _one_line_error(run("show", "not-a-term"), "not-a-term")


@pytest.mark.parametrize("path", BAD, ids=[p.name for p in BAD])
def test_bad_grammar_files_through_the_cli(run, path):
    rel = path.relative_to(ROOT)
    res = run("enumerate", "--grammar", str(rel))
    _one_line_error(res, f"{rel}:")
    first = path.read_text(encoding="utf-8", errors="replace").splitlines()[:1]
    if first and first[0].startswith("# expect:"):
        where = first[0].split("expect:", 1)[1].strip().split(":")[:2]
        assert f"{rel}:{where[0]}:{where[1]}: error:" in res.err


@pytest.mark.parametrize("command", [(), ("enumerate",), ("show",)])
def test_help(run, command):
    res = run(*command, "--help")
    assert res.code == 0 and "Usage" in res.out


def test_small_token_count_is_flagged(run):
    res = run("enumerate", "--left", "perm", "--max-order", "6", "--tokens", "2", "--format", "json")
    assert res.code == 0, res.err
    stable = {row["order"]: row["stable"] for row in res.json()["counts"]}
    assert stable == {2: True, 4: False, 6: False}
    table = run("enumerate", "--left", "perm", "--max-order", "6", "--tokens", "2", "--format", "table")
    assert "identities" in table.out
    piped = run("enumerate", "--left", "perm", "--max-order", "6", "--tokens", "2")  # TSV: the warning on stderr
    assert "identities" in piped.err and "identities" not in piped.out


def test_show_code_prints_a_runnable_module(run):
    res = run("show", "0-1.0-1", "--code", "--format", "json")
    assert res.code == 0, res.err
    data = res.json()
    assert "2·N·C²" in data["plan"] and data["cost"].startswith("O(")
    import torch

    namespace: dict = {}
    exec(compile(data["code"], "<show --code>", "exec"), namespace)
    module = namespace[data["class_name"]](8, rank=2, heads=2)
    assert module(torch.randn(1, 5, 8)).shape == (1, 5, 8)
    text = run("show", "0-1.0-1", "--code", "--causal")
    assert text.code == 0 and "class Field_0_1_0_1_real_tied_causal" in text.out


def test_enumerate_shows_the_cost_column(run):
    data = run("enumerate", "--grammar", "grammars/paper.toml", "--format", "json").json()
    assert [t["cost"] for t in data["terms"]][1].startswith("O(N C²")
