"""A quantized LCM through the real pipeline: `lcm-writer fit-rvq` on shards, the recipe
trainer (loss falls, checkpoint loads with its codebooks), and the errors it gives."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from cli import main
from engine.lcm import ResidualVQ, load_lcm
from engine.paths import RECIPES
from engine.train.config import load_recipe
from engine.train.trainer import FINAL, train
from tests.train.synthetic import write_synthetic_shards

SMALL = {"max_steps": 40, "save_every": 40, "log_every": 10, "warmup_steps": 2,
         "batch_concepts": 64}  # fmt: skip


@pytest.fixture(scope="module")
def fitted(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("quant")
    shards = write_synthetic_shards(root / "shards")
    rvq = root / "rvq.safetensors"
    torch.set_num_threads(1)
    status = main(["fit-rvq", str(shards), "--out", str(rvq), "--codebooks", "3", "--units",
                   "8", "--iterations", "5"])  # fmt: skip
    assert status == 0
    return shards, rvq


def test_fit_rvq_writes_codebooks_that_encode_the_end_of_text(fitted):
    shards, path = fitted
    rvq, meta = ResidualVQ.load(path)
    assert meta["codec"] == "synthetic" and rvq.codebooks.shape == (3, 8, 16)
    from engine.data.shards import read_embeddings

    docs, _, info = read_embeddings(shards, split="train")
    eot = torch.from_numpy(info["eot"])[None]
    # The end-of-text concept (in every document) gets a unit of its own at once.
    assert (rvq.decode(rvq.encode(eot)[:, :1]) - eot).norm() < 1e-3 * eot.norm()


@pytest.mark.parametrize("model_type", ["quant_lcm_d", "quant_lcm_c"])
def test_the_recipe_trainer_trains_a_quantized_lcm(fitted, tmp_path, model_type):
    shards, rvq = fitted
    torch.set_num_threads(1)
    cfg = load_recipe(RECIPES / "toy.yaml", {
        "data": str(shards), "out_dir": str(tmp_path), "rvq": str(rvq), "lr": 1e-2,
        "model": {"model_type": model_type}, **SMALL})  # fmt: skip
    summary = train(cfg)
    assert summary["last_loss"] < 0.7 * summary["first_loss"]
    model = load_lcm(tmp_path / FINAL, device="cpu")
    assert model.config.model_type == model_type and model.config.quant.num_codebooks == 3
    assert torch.equal(model.rvq.codebooks, ResidualVQ.load(rvq)[0].codebooks)
    out = model.generate(torch.zeros(2, 16), max_concepts=3, temperature=0.5)
    assert out.ndim == 2 and out.shape[1] == 16


def test_a_quantized_lcm_without_codebooks_is_refused(fitted, tmp_path):
    shards, rvq = fitted
    base = {"data": str(shards), "out_dir": str(tmp_path), **SMALL, "max_steps": 1}
    with pytest.raises(ValueError, match="needs `rvq`"):
        train(load_recipe(RECIPES / "toy.yaml",
                          {**base, "model": {"model_type": "quant_lcm_d"}}))  # fmt: skip
    with pytest.raises(ValueError, match="has no codebooks"):
        train(load_recipe(RECIPES / "toy.yaml", {**base, "rvq": str(rvq)}))
