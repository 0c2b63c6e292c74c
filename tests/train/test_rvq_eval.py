"""The RVQ auto-encoding curve, alone and inside `lcm-writer eval` of a quantized LCM
(tiny random SONAR codec -> prepare -> fit-rvq -> a few training steps -> eval)."""

import json

import pytest
import torch

from cli import main
from engine.eval.evaluate import EvalConfig, evaluate
from engine.eval.rvq_curve import autoencoding_curve
from engine.lcm import ResidualVQ, load_lcm
from engine.paths import RECIPES
from engine.train.config import load_recipe
from engine.train.trainer import FINAL, train
from tests.codec.tiny_sonar import build_tiny_sonar
from tests.train.synthetic import prepared_shards
from tests.train.test_eval import TEXT

SENTENCES = [s.rstrip(".") + "." for t in TEXT for s in t.split(". ")]


@pytest.fixture(scope="module")
def codec(tmp_path_factory):
    torch.set_num_threads(1)
    return build_tiny_sonar(tmp_path_factory.mktemp("codec"))


def test_a_quantiser_holding_every_concept_keeps_the_codec_round_trip(codec):
    """One unit per sentence (k-means++ on as many rows as units picks every row): the
    quantised concepts are the concepts, so AutoBLEU and cosine are the continuous ones."""
    x = codec.encode(SENTENCES).float()
    exact = ResidualVQ(x.shape[1], 2, len(SENTENCES)).fit(x, iterations=3)
    curve = autoencoding_curve(codec, exact, SENTENCES, "eng_Latn")
    assert set(curve) == {"continuous_auto_bleu"} | {
        f"{m}@{k}" for m in ("auto_bleu", "ratio", "cosine") for k in (1, 2)
    }
    assert curve["auto_bleu@2"] == pytest.approx(curve["continuous_auto_bleu"])
    assert curve["cosine@2"] == pytest.approx(1.0, abs=1e-5)
    coarse = ResidualVQ(x.shape[1], 2, 2).fit(x, iterations=3)
    rough = autoencoding_curve(codec, coarse, SENTENCES, "eng_Latn")
    assert rough["cosine@1"] < rough["cosine@2"] < 1.0


def test_eval_of_a_quantized_lcm_adds_the_curve(codec, tmp_path):
    shards = prepared_shards(tmp_path, codec, TEXT)
    rvq = tmp_path / "rvq.safetensors"
    assert main(["fit-rvq", str(shards), "--out", str(rvq), "--split", "valid",
                 "--codebooks", "2", "--units", "4", "--iterations", "3"]) == 0  # fmt: skip
    overrides = {"data": str(shards), "split": "valid", "out_dir": str(tmp_path / "m"),
                 "max_steps": 2, "save_every": 2, "log_every": 1, "warmup_steps": 1,
                 "rvq": str(rvq), "model": {"model_type": "quant_lcm_c"}}  # fmt: skip
    train(load_recipe(RECIPES / "toy.yaml", overrides))
    model = load_lcm(tmp_path / "m" / FINAL, device="cpu")
    cfg = EvalConfig(model="m", data=shards, out=tmp_path / "e", max_new=2, max_sentences=6,
                     noise_levels=(0.1,))  # fmt: skip
    evaluate(cfg, model=model, codec=codec)
    saved = json.loads((tmp_path / "e" / "eval.json").read_text())
    assert saved["rvq"]["continuous_auto_bleu"] == pytest.approx(saved["codec"]["auto_bleu"])
    assert {"auto_bleu@1", "ratio@2", "cosine@2"} <= set(saved["rvq"])
    assert "| rvq | ratio@2 |" in (tmp_path / "e" / "eval.md").read_text()
    assert 0 <= saved["next_concept"]["contrastive_accuracy"] <= 1
