"""Pieces of `lcm-writer demo-assets` that run in a test: bundling an LCM in fp16, the
cards' verdicts on the targets, the codec's training settings per device."""

from __future__ import annotations

import torch
from safetensors.torch import load_file

from engine.codec.demo_train import GPU_SETTINGS, TrainConfig, default_train_config
from engine.demo_assets import bundle_lcm, codec_status, lcm_status
from engine.lcm import build_model, load_lcm, preset


def test_bundled_lcm_is_fp16_but_keeps_normaliser_and_eot_exact(tmp_path):
    torch.manual_seed(0)
    model = build_model(preset("toy", dim=32))
    model.eot.copy_(torch.randn(32) * 3.123456789)
    model.save_pretrained(tmp_path / "full")
    bundle_lcm(tmp_path / "full", tmp_path / "bundle")

    dtypes = {n: t.dtype for n, t in load_file(tmp_path / "bundle" / "model.safetensors").items()}
    assert {d for n, d in dtypes.items() if not n.startswith(("normalizer", "eot"))} == {
        torch.float16
    }
    assert all(d == torch.float32 for n, d in dtypes.items() if n.startswith(("normalizer", "eot")))

    loaded = load_lcm(tmp_path / "bundle", device="cpu")
    assert type(loaded) is type(model)
    torch.testing.assert_close(loaded.eot, model.eot, rtol=0, atol=0)
    context = torch.randn(3, 32)
    a = loaded.sample_next(context, num_samples=2, seed=0)
    b = model.eval().sample_next(context, num_samples=2, seed=0)
    torch.testing.assert_close(a, b, atol=0.05, rtol=0.05)


def _round_trips(greedy: float, beam: float) -> dict:
    return {
        "greedy": {"autobleu": greedy, "exact_match": 0.1, "n": 1000, "beam": 1},
        "beam4": {"autobleu": beam, "exact_match": 0.1, "n": 1000, "beam": 4},
    }


def test_codec_card_judges_the_target_on_the_better_decoding():
    assert codec_status(_round_trips(29.6, 33.5)) == (
        "it meets the target of held-out AutoBLEU >= 30 (33.5 with beam 4 decoding)"
    )
    assert codec_status(_round_trips(24.7, 27.3)).startswith("it falls short of the target")


def test_lcm_card_says_which_diffusion_model_misses_the_baselines():
    results = {
        "two_tower": {"next_concept": {"contrastive_accuracy": 0.74}},
        "base_lcm": {"next_concept": {"contrastive_accuracy": 0.60}},
        "one_tower": {"next_concept": {"contrastive_accuracy": 0.70}},
        "baselines": {
            "copy_previous": {"contrastive_accuracy": 0.71},
            "mean_concept": {"contrastive_accuracy": 0.50},
        },
    }
    status = lcm_status(results)
    assert status.startswith("two_tower 0.740, base_lcm 0.600, one_tower 0.700, copy_previous")
    assert status.endswith("one_tower does not beat both baselines.")
    results["one_tower"]["next_concept"]["contrastive_accuracy"] = 0.72
    assert lcm_status(results).endswith("two_tower and one_tower beat both baselines.")


def test_codec_trains_with_gpu_settings_on_cuda_and_explicit_values_win():
    cpu, gpu = default_train_config("cpu"), default_train_config("cuda")
    assert cpu == TrainConfig()
    assert (gpu.batch_tokens, gpu.lr, gpu.cycle_minutes) == (
        GPU_SETTINGS["batch_tokens"],
        GPU_SETTINGS["lr"],
        GPU_SETTINGS["cycle_minutes"],
    )
    chosen = default_train_config("cuda", cycle_minutes=(1.0,), lr=None)
    assert chosen.cycle_minutes == (1.0,) and chosen.lr == GPU_SETTINGS["lr"]
