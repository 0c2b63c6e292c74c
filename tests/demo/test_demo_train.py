"""Demo codec training: a real (tiny, seconds-long) run, its outputs, and resuming it."""

from __future__ import annotations

import json

import pytest
import torch

from engine.codec.demo import DemoCodec, is_demo_checkpoint
from engine.codec.demo_train import (
    TrainConfig,
    alignment_loss,
    evaluate_pairs,
    heldout_pairs,
    heldout_sample,
    lr_at,
    make_batches,
    train,
)
from tests.demo.tiny import TINY_CORPUS, build_tiny_demo_codec, tiny_config

FRENCH = [
    "Le renard brun saute par-dessus le chien paresseux.",
    "Un concept est une phrase sous la forme d'un seul vecteur.",
    "Elle ouvrit la fenêtre, et l'air froid du matin remplit la pièce.",
]
PAIRS = [("fra_Latn", TINY_CORPUS[i], f) for i, f in zip((0, 1, 9), FRENCH, strict=True)]


def _sentence_dir(tmp_path, french: bool = False):
    tmp_path.mkdir()
    (tmp_path / "sentences.train.eng_Latn.txt").write_text("\n".join(TINY_CORPUS * 4) + "\n")
    valid = ["A held-out sentence about the decoder.", "Short.", "Another held-out line here."]
    (tmp_path / "sentences.valid.eng_Latn.txt").write_text("\n".join(valid) + "\n")
    if french:
        (tmp_path / "sentences.train.fra_Latn.txt").write_text("\n".join(FRENCH * 4) + "\n")
        (tmp_path / "sentences.valid.fra_Latn.txt").write_text("\n".join(FRENCH) + "\n")
        rows = "".join("\t".join(p) + "\n" for p in PAIRS)
        (tmp_path / "pairs.train.tsv").write_text(rows * 4)
        (tmp_path / "pairs.valid.tsv").write_text(rows)
    return tmp_path


def test_training_writes_log_checkpoint_and_codec_and_resumes(tmp_path):
    sentences, out = _sentence_dir(tmp_path / "data"), tmp_path / "run"
    tc = TrainConfig(batch_tokens=64, warmup_steps=2, eval_every_s=0.0, max_steps=6)
    first = train(sentences, out, tiny_config(max_tokens=64), tc)
    assert first["n"] == 2  # "Short." is outside the 20-150 character range
    assert is_demo_checkpoint(out / "codec")
    codec = DemoCodec.from_pretrained(out / "codec", device="cpu")
    assert codec.encode(["A new sentence."]).shape == (1, 32)
    log = [json.loads(line) for line in (out / "log.jsonl").open()]
    steps_before = log[-1]["step"]
    assert steps_before == 6 and any(r.get("eval", {}).get("n") == 2 for r in log)

    # a second cosine cycle, as the bundled codec was trained: resumes where the first ended
    longer = TrainConfig(
        cycle_minutes=(100.0, 100.0), batch_tokens=64, warmup_steps=2, max_steps=10
    )
    train(sentences, out, tiny_config(max_tokens=64), longer)
    log = [json.loads(line) for line in (out / "log.jsonl").open()]
    assert log[-1]["step"] == 10  # continued from the checkpoint, not from zero
    saved = torch.load(out / "checkpoint.pt", weights_only=False)
    assert saved["state"]["step"] == 10 and saved["state"]["train_seconds"] > 0


def test_translation_batches_alternate_with_auto_encoding_and_are_evaluated(tmp_path):
    sentences, out = _sentence_dir(tmp_path / "data", french=True), tmp_path / "run"
    tc = TrainConfig(batch_tokens=64, warmup_steps=2, eval_every_s=0.0, max_steps=4)
    train(sentences, out, tiny_config(max_tokens=64, languages=("eng_Latn", "fra_Latn")), tc)
    config = json.loads((out / "train_config.json").read_text())
    assert config["data"] == {"autoencoding": 60, "translation_pairs": 12}
    log = [json.loads(line) for line in (out / "log.jsonl").open()]
    position = log[-1]
    assert position["step"] == 4  # two batches of each kind, in turn
    assert position["translation"]["batch"] + 12 * position["translation"]["epoch"] == 2
    french = next(r["fra_Latn"] for r in log if "fra_Latn" in r)
    assert french["n"] == 3 and 0 <= french["retrieval_from_eng"] <= 1
    codec = DemoCodec.from_pretrained(out / "codec", device="cpu")
    assert codec.languages == ("eng_Latn", "fra_Latn")


def test_contrastive_alignment_is_not_minimised_by_collapsing_every_concept():
    torch.manual_seed(0)
    spread = torch.nn.functional.normalize(torch.randn(8, 32), dim=-1)
    collapsed = torch.ones(8, 32)
    cosine, contrastive = TrainConfig(align="cosine"), TrainConfig(align="contrastive")
    assert alignment_loss(collapsed, collapsed, cosine) == pytest.approx(0, abs=1e-6)
    assert alignment_loss(collapsed, collapsed, contrastive) == pytest.approx(
        torch.log(torch.tensor(8.0))
    )
    assert alignment_loss(spread, spread, contrastive) < 0.01
    assert alignment_loss(spread, spread.roll(1, 0), contrastive) > 10  # each nearest another's
    with pytest.raises(ValueError, match="'cosine' or 'contrastive'"):
        alignment_loss(spread, spread, TrainConfig(align="l2"))


def test_training_with_contrastive_alignment_runs_and_records_it(tmp_path):
    sentences, out = _sentence_dir(tmp_path / "data", french=True), tmp_path / "run"
    tc = TrainConfig(
        batch_tokens=64, warmup_steps=2, eval_every_s=0.0, max_steps=2, align="contrastive"
    )
    train(sentences, out, tiny_config(max_tokens=64, languages=("eng_Latn", "fra_Latn")), tc)
    config = json.loads((out / "train_config.json").read_text())
    assert config["train"]["align"] == "contrastive"


def test_pair_figures_count_retrieval_both_ways_and_translate_from_english(tmp_path):
    sentences = _sentence_dir(tmp_path / "data", french=True)
    pairs = heldout_pairs(sentences, "valid", "fra_Latn", 10)
    assert sorted(pairs) == sorted((p[1], p[2]) for p in PAIRS)
    codec = build_tiny_demo_codec(tmp_path / "codec")
    figures = evaluate_pairs(codec, pairs, "fra_Latn")
    eng = codec.encode([p[0] for p in pairs], "eng_Latn")
    fra = codec.encode([p[1] for p in pairs], "fra_Latn")
    similarity = torch.cosine_similarity(eng[:, None], fra[None], dim=-1)
    truth = torch.arange(3)
    assert figures["retrieval_from_eng"] == (similarity.argmax(1) == truth).float().mean().item()
    assert figures["retrieval_to_eng"] == (similarity.argmax(0) == truth).float().mean().item()
    assert figures["n"] == 3 and figures["bleu_from_eng"] >= 0


def test_training_refuses_a_corpus_with_nothing_short_enough(tmp_path):
    sentences = _sentence_dir(tmp_path / "data")
    with pytest.raises(ValueError, match="no sentence of at most 5 characters"):
        train(sentences, tmp_path / "run", tiny_config(), TrainConfig(max_chars=5))


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_training_on_cuda_without_a_gpu_says_so_before_doing_anything(tmp_path):
    sentences = _sentence_dir(tmp_path / "data")
    with pytest.raises(ValueError, match="torch sees no CUDA GPU here"):
        train(sentences, tmp_path / "run", tiny_config(), TrainConfig(), device="cuda")
    assert not (tmp_path / "run").exists()


def test_batches_cover_every_sentence_once_per_epoch_within_the_token_budget():
    lengths = [3, 9, 1, 7, 7, 2, 12, 5] * 10
    batches = make_batches(lengths, batch_tokens=24, epoch=3, seed=0)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    assert all(len(b) * max(lengths[i] for i in b) <= 24 or len(b) == 1 for b in batches)
    assert batches == make_batches(lengths, batch_tokens=24, epoch=3, seed=0)
    assert batches != make_batches(lengths, batch_tokens=24, epoch=4, seed=0)


def test_learning_rate_warms_up_then_decays_over_the_time_budget():
    tc = TrainConfig(lr=1.0, warmup_steps=10, min_lr_ratio=0.1, cycle_minutes=(1.0,))
    assert lr_at(0, 0.0, tc) == 0.1
    assert lr_at(10, 0.0, tc) == 1.0
    assert abs(lr_at(500, 30.0, tc) - 0.55) < 1e-9
    assert abs(lr_at(500, 600.0, tc) - 0.1) < 1e-9


def test_learning_rate_restarts_lower_for_each_later_cycle():
    tc = TrainConfig(
        lr=1.0,
        warmup_steps=10,
        min_lr_ratio=0.1,
        cycle_minutes=(1.0, 2.0),
        restart_lr_ratio=0.5,
        restart_warmup_s=10.0,
    )
    assert tc.budget_minutes == 3.0
    assert abs(lr_at(500, 59.9, tc) - 0.1) < 1e-4  # first cycle annealed
    assert abs(lr_at(500, 65.0, tc) - 0.25) < 1e-2  # warming up again, to half the peak
    assert abs(lr_at(500, 70.0, tc) - 0.5) < 1e-2  # peak, already annealing a little
    assert abs(lr_at(500, 120.0, tc) - 0.275) < 1e-9  # halfway through the second cycle
    assert abs(lr_at(500, 180.0, tc) - 0.05) < 1e-9
    assert lr_at(500, 900.0, tc) == lr_at(500, 180.0, tc)  # past the budget: stays annealed


def test_heldout_sample_is_fixed_and_within_the_length_range(tmp_path):
    lines = [f"Sentence number {i} is long enough." for i in range(50)] + ["Too short"]
    (tmp_path / "v.txt").write_text("\n".join(lines))
    sample = heldout_sample(tmp_path / "v.txt", 10)
    assert len(sample) == 10 and all(20 <= len(s) <= 150 for s in sample)
    assert sample == heldout_sample(tmp_path / "v.txt", 10)
