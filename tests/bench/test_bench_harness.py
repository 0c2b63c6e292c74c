"""The measuring harness and the `lcm-writer bench` entry point (nothing here is timed)."""

import json
import sys

import pytest
import torch

from benchmarks import harness
from cli import main


def test_peak_memory_sees_tensors_allocated_outside_python():
    def allocate():
        block = torch.ones(64 * 2**20)  # 256 MiB, freed on return
        return block.sum()

    result = harness.measure("allocate", allocate, repeats=2, warmup=0, size="256MiB")
    if sys.platform == "linux":
        assert result.rss_growth_mb >= 200
        assert result.peak_rss_mb >= result.rss_growth_mb
    assert result.peak_python_mb < 50  # tracemalloc alone would have missed the tensor
    assert len(result.seconds) == 2
    assert result.to_dict()["items_per_s"] == pytest.approx(1 / result.median_s)


def test_results_carry_machine_facts_and_medians(tmp_path, monkeypatch):
    monkeypatch.setattr(harness, "RESULTS_DIR", tmp_path)
    result = harness.Measurement("case", {"n": 3}, [3.0, 1.0, 2.0], 10.0, 1.0, 0.5, items=4)
    path = harness.write_results("demo-suite", [result], {"note": "x"})
    data = json.loads(path.read_text())
    assert path == tmp_path / "demo-suite.json"
    assert data["machine"]["versions"]["torch"] == torch.__version__
    assert {"date_utc", "cpu", "cpu_count", "torch_threads"} <= set(data["machine"])
    assert data["note"] == "x"
    assert data["results"][0]["median_s"] == 2.0
    assert data["results"][0]["items_per_s"] == 2.0


def test_unknown_suite_is_refused_with_the_choices(capsys):
    assert main(["bench", "nonsense"]) == 2
    out = capsys.readouterr().out
    assert "nonsense" in out and "codec" in out and "lcm" in out


def test_report_renders_saved_results(tmp_path, monkeypatch, capsys):
    from benchmarks import report

    monkeypatch.setattr(report, "RESULTS_DIR", tmp_path)
    monkeypatch.setattr(harness, "RESULTS_DIR", tmp_path)
    result = harness.Measurement(
        "encode", {"codec": "demo", "batch": 32}, [0.5], 900.0, 12.0, 1.0, items=32
    )
    harness.write_results("codec", [result])
    assert main(["bench", "--report"]) == 0
    out = capsys.readouterr().out
    assert "| encode | demo | 32 |" in out and "64.0" in out  # 32 sentences in 0.5 s
    assert "900 (+12)" in out
    assert "not measured yet: `lcm-writer bench lcm`" in out


def test_gpu_script_accounts_for_every_weight_once():
    """gpu.sh's bandwidth floor splits the weights into those read every denoiser step and
    those read once per concept; together they must be the whole model, each once."""
    from benchmarks.gpu_latency import build, weight_bytes

    model = build(tiny=True, device=torch.device("cpu"), dtype=torch.float32)
    split = weight_bytes(model, torch.float32)
    total = sum(p.numel() for p in model.parameters())
    assert split["per_step"] + split["per_concept_once"] == 4 * total
    kv = sum(layer.cross_attn.k.weight.numel() * 2 for layer in model.denoiser)
    assert split["per_concept_once"] > 4 * kv  # contextualizer + cross-attention K/V
