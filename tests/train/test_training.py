"""Training end to end on synthetic shards: the loss falls, a resumed run reproduces the
uninterrupted one bit for bit, and a real 2-process DDP run keeps replicas identical
while ranks train on different data."""

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from accelerate.utils import set_seed
from safetensors.torch import load_file

from engine.data.dataset import load_examples
from engine.data.normalizer_fit import FitNormalizerConfig, fit_normalizer
from engine.lcm import load_lcm
from engine.lcm.normalizer import NormalizerFileError, load_normalizer
from engine.paths import RECIPES, REPO
from engine.train.config import load_recipe
from engine.train.trainer import CHECKPOINTS, FINAL, SNAPSHOTS, build, train
from tests.train.synthetic import write_synthetic_shards

RECIPE = RECIPES / "toy.yaml"
SMALL = {"max_steps": 8, "save_every": 4, "log_every": 2, "warmup_steps": 2, "batch_concepts": 64}


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    return write_synthetic_shards(tmp_path_factory.mktemp("data") / "shards")


def recipe(shards: Path, out: Path, **extra):
    return load_recipe(RECIPE, {"data": str(shards), "out_dir": str(out), **SMALL, **extra})


def final_weights(out: Path) -> dict[str, torch.Tensor]:
    return load_file(out / FINAL / "model.safetensors")


def test_training_lowers_the_loss_and_saves_a_loadable_model(shards, tmp_path):
    torch.set_num_threads(1)
    run = recipe(shards, tmp_path, max_steps=40, log_every=10, save_every=40, snapshot_every=20)
    summary = train(run)
    assert summary["last_loss"] < 0.7 * summary["first_loss"]
    assert summary["concepts_per_s"] > 0
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [10, 20, 30, 40]
    model = load_lcm(tmp_path / FINAL, device="cpu")
    # The end-of-text concept and a fitted normaliser travel inside the checkpoint.
    assert model.eot.abs().sum() > 0 and not torch.allclose(model.normalizer.scale, torch.ones(16))
    assert model.sample_next(torch.zeros(2, 16), num_samples=2).shape == (2, 16)
    # Snapshots outlive the rotated checkpoints: the weights at steps 20 and 40, the
    # last one the final model's.
    snapshots = sorted(p.name for p in (tmp_path / SNAPSHOTS).iterdir())
    assert snapshots == ["step-00000020", "step-00000040"]
    last = load_file(tmp_path / SNAPSHOTS / "step-00000040" / "model.safetensors")
    first = load_lcm(tmp_path / SNAPSHOTS / "step-00000020", device="cpu").state_dict()
    assert all(torch.equal(last[k], v) for k, v in final_weights(tmp_path).items())
    assert not all(torch.equal(first[k], v) for k, v in final_weights(tmp_path).items())


def test_resume_after_interruption_reproduces_the_uninterrupted_run(shards, tmp_path):
    torch.set_num_threads(1)
    train(recipe(shards, tmp_path / "straight"))
    interrupted = tmp_path / "interrupted"
    train(recipe(shards, interrupted))
    # Leave what a run killed between step 4 and step 8 leaves: the step-4 checkpoint.
    shutil.rmtree(interrupted / CHECKPOINTS / "step-00000008")
    shutil.rmtree(interrupted / FINAL)
    summary = train(recipe(shards, interrupted))
    assert summary["resumed_from"].endswith("step-00000004")
    straight, resumed = final_weights(tmp_path / "straight"), final_weights(interrupted)
    assert straight.keys() == resumed.keys()
    for name in straight:
        assert torch.equal(straight[name], resumed[name]), name


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_data_parallel_run_on_cpu(shards, tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1"}
    command = [
        str(Path(sys.executable).parent / "accelerate"), "launch", "--multi_gpu",
        "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
        "--dynamo_backend", "no", "--main_process_port", str(free_port()),
        "-m", "cli", "train", "--recipe", str(RECIPE), "--data", str(shards),
        "--out", str(out), "--set", *(f"{k}={v}" for k, v in SMALL.items()),
        "max_steps=4", "log_every=4",
    ]  # fmt: skip
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["processes"] == 2
    first, second = summary["ranks"]
    assert first["data_fingerprint"] != second["data_fingerprint"]  # different batches
    assert first["weights_sha256"] == second["weights_sha256"]  # identical replicas
    assert (out / FINAL / "model.safetensors").is_file()


def test_fine_tuning_starts_from_a_checkpoint(shards, tmp_path):
    torch.set_num_threads(1)
    train(recipe(shards, tmp_path / "base", max_steps=2))
    start = tmp_path / "base" / FINAL
    cfg = recipe(shards, tmp_path / "tuned", objective="finetune", init_from=str(start))
    summary = train(cfg)
    assert summary["steps"] == 8 and summary["last_loss"] > 0
    before, after = load_file(start / "model.safetensors"), final_weights(tmp_path / "tuned")
    assert torch.equal(before["normalizer.scale"], after["normalizer.scale"])  # kept
    assert not torch.equal(before["context_prenet.weight"], after["context_prenet.weight"])


def test_a_time_limit_stops_with_a_checkpoint_and_a_final_model(shards, tmp_path):
    torch.set_num_threads(1)
    summary = train(recipe(shards, tmp_path, max_minutes=1e-6))
    assert summary["steps"] == 1 and summary["stopped_by_time_limit"]
    assert (tmp_path / CHECKPOINTS / "step-00000001").is_dir()
    assert (tmp_path / FINAL / "model.safetensors").is_file()


def test_training_in_a_whitened_concept_space(shards, tmp_path):
    torch.set_num_threads(1)
    norm = tmp_path / "normalizer.safetensors"
    fit_normalizer(FitNormalizerConfig(shards=shards, out=norm, kind="whitened", whiten_dims=6))
    with pytest.raises(NormalizerFileError, match="set model.normalizer: whitened in the recipe"):
        train(recipe(shards, tmp_path / "robust", normalizer=str(norm)))
    train(recipe(shards, tmp_path / "w", normalizer=str(norm), **{"model.normalizer": "whitened"}))
    model = load_lcm(tmp_path / "w" / FINAL, device="cpu")
    fitted, _ = load_normalizer(norm)
    assert model.config.normalizer == "whitened"
    assert torch.equal(model.normalizer.axes, fitted.axes)  # the rotation travels in the model
    samples = model.sample_next(torch.randn(3, 16), num_samples=2, seed=0)
    assert samples.shape == (2, 16) and torch.isfinite(samples).all()


def test_a_weight_average_is_saved_along_the_unchanged_trajectory(shards, tmp_path):
    """With ema_decay the final model is the moving average of the very weights a run
    without it passes through, and an interrupted run resumes the average bit for bit."""
    torch.set_num_threads(1)
    raw = train(recipe(shards, tmp_path / "raw", snapshot_every=1))
    run = recipe(shards, tmp_path / "ema", ema_decay=0.6)
    ema = train(run)
    # Neither the snapshots nor the average change the trajectory.
    assert ema["ranks"][0]["weights_sha256"] == raw["ranks"][0]["weights_sha256"]
    examples, info = load_examples(run.data, run.split, run.objective, run.max_len)
    set_seed(run.seed)
    average = dict(build(run, info, examples).named_parameters())  # the initial weights
    for step in range(1, 9):
        weights = load_file(tmp_path / "raw" / SNAPSHOTS / f"step-{step:08d}" / "model.safetensors")
        decay = min(0.6, (1 + step) / (10 + step))
        average = {k: decay * v.detach() + (1 - decay) * weights[k] for k, v in average.items()}
    saved = final_weights(tmp_path / "ema")
    for name, expected in average.items():
        torch.testing.assert_close(saved[name], expected, rtol=1e-5, atol=1e-6)
    assert not torch.equal(
        saved["context_prenet.weight"], final_weights(tmp_path / "raw")["context_prenet.weight"]
    )
    interrupted = tmp_path / "interrupted"
    train(recipe(shards, interrupted, ema_decay=0.6))
    shutil.rmtree(interrupted / CHECKPOINTS / "step-00000008")
    shutil.rmtree(interrupted / FINAL)
    train(recipe(shards, interrupted, ema_decay=0.6))
    resumed = final_weights(interrupted)
    assert all(torch.equal(resumed[k], v) for k, v in saved.items())
