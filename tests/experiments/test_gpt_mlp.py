"""colu-gpt-mlp: matched FLOPs across the MLP arms, the seeds-scale preset's FLOPs, data errors."""

from __future__ import annotations

import pytest

from archsearch.experiments.base import Context, ExperimentError, RunOptions
from archsearch.experiments.gpt_mlp import GptMlp, GptMlpConfig, GptMlpGpu, GptMlpGpuConfig, make_text_task
from archsearch.experiments.training import Block


def test_a_tiny_run_on_a_file_has_matched_flops(tmp_path):
    path = tmp_path / "text.txt"
    path.write_bytes(bytes(range(256)) * 40)
    config = GptMlpConfig(width=8, seq_len=8, steps=2, seeds=1, eval_size=4, eval_every=1, warmup_steps=1)
    results = GptMlp().run(config, Context("cpu", path, lambda line: None))
    assert results["metric"] == "bpb" and results["task"]["config"]["path"] == str(path)
    flops = {arm: runs[0]["flops"] for arm, runs in results["arms"].items()}
    assert set(flops) == {"relu", "mlp-gelu", "colu4", "soc4"} and len(set(flops.values())) == 1
    assert len(results["arms"]["relu"][0]["history"]) == 2
    findings = GptMlp().findings(config, results)
    assert "Matched FLOPs: every arm has the same" in findings.notes[-1]
    assert "3.457 ± 0.12" in findings.table[2]  # the seeds' ReLU figure beside ours


def test_the_seeds_scale_preset_has_the_seeds_flops_per_token():
    """39.064 M forward FLOPs per token (the seeds' GPT-2 MLP, read as per token): the preset measures 39.5 M."""
    from archsearch.train import estimate_flops

    config = GptMlpGpuConfig()
    task = make_text_task(GptMlpGpuConfig(max_bytes=100_000, eval_size=2), None)
    block = Block(config.mixer, config.width, config.depth, config.heads)
    per_token = estimate_flops(block.config("colu4", 0), task) / config.seq_len
    assert per_token == pytest.approx(39.064e6, rel=0.02)
    assert GptMlpGpu.gpu and not GptMlp.gpu


def test_a_missing_or_short_file_is_one_line(tmp_path):
    with pytest.raises(ExperimentError, match="no such file"):
        make_text_task(GptMlpConfig(), tmp_path / "missing.txt")
    short = tmp_path / "short.txt"
    short.write_text("tiny")
    with pytest.raises(ExperimentError, match="fewer than seq_len"):
        make_text_task(GptMlpConfig(), short)


def test_settings_are_checked():
    with pytest.raises(ExperimentError, match="not divisible by the cone size"):
        GptMlp().configure(RunOptions(settings={"width": 30}))
    with pytest.raises(ExperimentError, match="takes an integer"):
        GptMlp().configure(RunOptions(settings={"steps": "many"}))
    config = GptMlp().configure(RunOptions(quick=True, seeds=4, settings={"arms": "relu,colu4", "lr": 1}))
    assert config.arms == ("relu", "colu4") and config.seeds == 4 and config.lr == 1.0 and config.steps == 3


def test_the_paired_note_differences_seed_by_seed():
    from archsearch.experiments.gpt_mlp import paired_note

    # the seeds differ from each other far more than the arms do within a seed
    note = paired_note([2.775, 2.804, 2.833], [2.785, 2.824, 2.828], "bpb")
    assert note.startswith("Paired by seed") and "CoLU lower in 2 of 3 seeds" in note and "within twice" in note
    assert "beyond twice" in paired_note([1.0, 2.0, 3.0], [1.1, 2.1, 3.1], "bpb")
