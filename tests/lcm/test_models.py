"""Base-LCM, Two-Tower and One-Tower: caches, sampling, checkpoints, presets, bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from engine.lcm import (
    BaseLCM,
    LCMCheckpointError,
    LCMNotFoundError,
    TwoTowerLCM,
    build_model,
    ddim,
    load_lcm,
    preset,
)
from tests.lcm.helpers import MODEL_TYPES, toy_model

DIFFUSION_TYPES = ("two_tower", "one_tower")


def test_base_lcm_kv_cache_equals_full_recomputation():
    model = toy_model("base_lcm")
    x = torch.randn(2, 6, model.dim)
    valid = torch.ones(2, 6, dtype=torch.bool)
    with torch.no_grad():
        full = model(x, valid)  # [2, 7, dim]: a prediction for every position and the next
        state = model.start(x[:, :1], valid[:, :1])
        incremental = [model.propose(state, 1, None, None)[:, 0]]
        for i in range(1, 6):
            model.append(state, x[:, i])
            incremental.append(model.propose(state, 1, None, None)[:, 0])
    torch.testing.assert_close(torch.stack(incremental, 1), full[:, 1:], atol=1e-5, rtol=1e-5)


def test_two_tower_kv_cache_equals_full_recomputation():
    model = toy_model("two_tower")
    x = torch.randn(2, 6, model.dim)
    valid = torch.ones(2, 6, dtype=torch.bool)
    with torch.no_grad():
        memory = torch.cat([torch.zeros(2, 1, 32), model.contextualizer(
            model.context_prenet(x), torch.arange(6).expand(2, 6),
            torch.ones(6, 6, dtype=torch.bool).tril()[None, None])], dim=1)  # fmt: skip
        full = model.memory_kv(memory)
        state = model.start(x[:, :2], valid[:, :2])
        for i in range(2, 6):
            model.append(state, x[:, i])
    for (k_full, v_full), (k_inc, v_inc) in zip(full, state.memory_kv, strict=True):
        torch.testing.assert_close(k_inc, k_full, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(v_inc, v_full, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("model_type", DIFFUSION_TYPES)
def test_one_step_sample_equals_the_training_forward_at_the_last_position(model_type):
    """With one DDIM step and no guidance, sample_next returns the model's clean-sample
    prediction from the scaled initial noise: it must match the uncached, all-positions
    forward used for training, at the position after the context."""
    model = toy_model(model_type)
    context = torch.randn(5, model.dim)
    got = model.sample_next(context, num_samples=3, seed=7, steps=1, guidance_scale=1.0)
    noise = 0.6 * torch.randn(3, model.dim, generator=torch.Generator().manual_seed(7))
    x = model.normalizer.normalize(context).expand(3, 5, -1)
    x = torch.cat([x, torch.zeros(3, 1, model.dim)], dim=1)  # the next slot's clean value is unseen
    x_t = torch.cat([torch.randn(3, 5, model.dim), noise[:, None]], dim=1)
    t = torch.full((3, 6), model.schedule.num_train_steps - 1)
    with torch.no_grad():
        expected = model(x, torch.ones(3, 6, dtype=torch.bool), x_t, t)[:, -1]
    torch.testing.assert_close(got, model.normalizer.denormalize(expected), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_batched_generation_matches_one_context_at_a_time(model_type):
    """Left padding, batched guidance and cache growth change nothing. Zero initial noise
    makes DDIM deterministic, so the random draws cannot differ between the runs."""
    model = toy_model(model_type)
    contexts = [torch.randn(n, model.dim) for n in (3, 0, 6)]
    options = {"steps": 4, "init_noise_scale": 0.0, "eot_threshold": 2.0, "repeat_threshold": 2.0}
    batched = model.generate_batch(contexts, max_concepts=3, seed=0, **options)
    for context, out in zip(contexts, batched, strict=True):
        assert out.shape == (3, model.dim)
        alone = model.generate(context, max_concepts=3, seed=0, **options)
        torch.testing.assert_close(out, alone, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_batched_sampling_matches_one_context_at_a_time(model_type):
    """sample_next_batch (one pass for all contexts, as regenerate's scoring uses it) gives
    each context what sample_next gives it alone, with the random draws switched off."""
    model = toy_model(model_type)
    contexts = [torch.randn(n, model.dim) for n in (4, 0, 2)]
    options = {"steps": 4, "init_noise_scale": 0.0}
    batched = model.sample_next_batch(contexts, num_samples=2, seed=0, **options)
    assert batched.shape == (3, 2, model.dim)
    for context, rows in zip(contexts, batched, strict=True):
        alone = model.sample_next(context, num_samples=2, seed=0, **options)
        torch.testing.assert_close(rows, alone, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="at least one context"):
        model.sample_next_batch([], num_samples=2, seed=0)


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_same_seed_same_samples_other_seed_other_samples(model_type):
    model = toy_model(model_type)
    context = torch.randn(4, model.dim)
    a = model.sample_next(context, num_samples=4, seed=1, steps=10)
    assert a.shape == (4, model.dim)
    torch.testing.assert_close(model.sample_next(context, num_samples=4, seed=1, steps=10), a)
    generated = model.generate(context, max_concepts=4, seed=3, steps=8)
    torch.testing.assert_close(model.generate(context, max_concepts=4, seed=3, steps=8), generated)
    if model_type != "base_lcm":  # Base-LCM is deterministic by design
        assert not torch.allclose(model.sample_next(context, num_samples=4, seed=2, steps=10), a)
        assert not torch.allclose(a[0], a[1])


@pytest.mark.parametrize("model_type", DIFFUSION_TYPES)
def test_guidance_scale_one_is_plain_conditional_ddim(model_type):
    """sample_next(guidance_scale=1) against a DDIM loop written out here that calls the
    uncached training forward for the conditional prediction at every step."""
    model = toy_model(model_type)
    context = torch.randn(4, model.dim)
    got = model.sample_next(context, num_samples=2, seed=5, steps=6, guidance_scale=1.0)
    schedule = model.schedule
    a = torch.cat([schedule.alphas_cumprod, torch.ones(1)])
    x = 0.6 * torch.randn(2, model.dim, generator=torch.Generator().manual_seed(5))
    clean = torch.cat([model.normalizer.normalize(context), torch.zeros(1, model.dim)])
    grid = ddim.timestep_grid(100, 6, "trailing")
    with torch.no_grad():
        for i, t in enumerate(grid):
            prev = grid[i + 1] if i + 1 < len(grid) else -1
            x_t = torch.cat([torch.zeros(2, 4, model.dim), x[:, None]], dim=1)
            x0 = model(clean.expand(2, 5, -1), torch.ones(2, 5, dtype=torch.bool), x_t,
                       torch.full((2, 5), t))[:, -1]  # fmt: skip
            eps = (x - a[t].sqrt() * x0) / (1 - a[t]).sqrt()
            x = a[prev].sqrt() * x0 + (1 - a[prev]).sqrt() * eps
    torch.testing.assert_close(got, model.normalizer.denormalize(x), atol=1e-4, rtol=1e-4)
    guided = model.sample_next(context, num_samples=2, seed=5, steps=6, guidance_scale=3.0)
    assert not torch.allclose(guided, got)


@pytest.mark.parametrize("model_type", DIFFUSION_TYPES)
def test_steps_counts_whose_float_grid_overshoots_sample_finite_values(model_type):
    """steps=29 and 97 with T = 100 used to end on timestep -1 and return NaN."""
    model = toy_model(model_type)
    for steps in (29, 97):
        out = model.sample_next(torch.randn(3, model.dim), num_samples=2, steps=steps)
        assert torch.isfinite(out).all(), steps


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_save_load_gives_identical_outputs(tmp_path, model_type):
    model = toy_model(model_type, seed=3)
    context = torch.randn(5, model.dim)
    path = model.save_pretrained(tmp_path / "ckpt")
    assert json.loads((path / "config.json").read_text())["model_type"] == model_type
    loaded = type(model).from_pretrained(path)
    assert type(loaded) is type(model)
    torch.testing.assert_close(loaded.eot, model.eot, rtol=0, atol=0)
    torch.testing.assert_close(loaded.normalizer.scale, model.normalizer.scale, rtol=0, atol=0)
    for a, b in ((model, loaded), (model, load_lcm(path, device="cpu"))):
        expected = a.sample_next(context, 3, seed=4, steps=10)
        got = b.sample_next(context, 3, seed=4, steps=10)
        torch.testing.assert_close(got, expected, rtol=0, atol=0)
        concepts = torch.randn(2, 4, model.dim)
        mask = torch.ones(2, 4, dtype=torch.bool)
        torch.manual_seed(0)
        loss_a = a.loss(concepts, mask)
        torch.manual_seed(0)
        torch.testing.assert_close(b.loss(concepts, mask), loss_a, rtol=0, atol=0)


def test_loading_errors_say_what_is_wrong(tmp_path):
    with pytest.raises(LCMNotFoundError, match="config.json"):
        load_lcm(tmp_path / "nothing")
    model = toy_model("two_tower")
    path = model.save_pretrained(tmp_path / "tt")
    with pytest.raises(LCMCheckpointError, match="TwoTowerLCM, not a BaseLCM"):
        BaseLCM.from_pretrained(path)
    (path / "model.safetensors").write_bytes(b"not a tensor file")
    with pytest.raises(LCMCheckpointError, match="cannot read"):
        TwoTowerLCM.from_pretrained(path)
    path = model.save_pretrained(tmp_path / "typo")
    (path / "config.json").write_text('{"format": "lcm-writer/lcm/1", "d_modle": 3}')
    with pytest.raises(LCMCheckpointError, match="d_modle"):
        load_lcm(path)


def test_demo_name_points_to_the_bundled_path_and_how_to_build_it(monkeypatch, tmp_path):
    import engine.lcm as lcm

    monkeypatch.setattr(lcm, "DEMO_PATH", tmp_path / "assets" / "demo" / "lcm")
    with pytest.raises(LCMNotFoundError, match="make demo-assets"):
        load_lcm("demo")


def test_loss_uses_only_scored_positions_and_trains():
    model = toy_model("two_tower").train()
    concepts = torch.randn(3, 5, model.dim)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 1, 1, 1, 0]], dtype=torch.bool)
    loss_mask = torch.zeros_like(mask)
    loss_mask[:, 2:] = True
    loss = model.loss(concepts, mask, loss_mask)
    loss.backward()
    assert loss.ndim == 0 and torch.isfinite(loss)
    # AdaLN-zero: at initialisation only the gates (modulation) receive gradient.
    assert model.denoiser[0].modulation.weight.grad.abs().sum() > 0
    # Changing a position that is neither scored nor context for scored ones changes nothing.
    model.eval()
    torch.manual_seed(0)
    reference = model.loss(concepts, mask, loss_mask)
    changed = concepts.clone()
    changed[1, 3:] = 100.0  # padding
    torch.manual_seed(0)
    torch.testing.assert_close(model.loss(changed, mask, loss_mask), reference)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((torch.randn(2, 3, 7), torch.ones(2, 3, dtype=torch.bool)), "concepts must be"),
        ((torch.randn(2, 3, 16), torch.ones(2, 3)), "mask must be a bool"),
        ((torch.randn(2, 3, 16), torch.tensor([[0, 1, 1], [1, 1, 1]]).bool()), "pad on the right"),
    ],
)
def test_bad_training_batches_are_rejected(args, message):
    with pytest.raises(ValueError, match=message):
        toy_model("base_lcm").loss(*args)


def test_bad_sampling_input_is_rejected():
    model = toy_model("two_tower")
    with pytest.raises(ValueError, match=r"context must be a tensor \[length, 16\]"):
        model.sample_next(torch.randn(3, 8))
    with pytest.raises(ValueError, match="NaN"):
        model.sample_next(torch.full((2, 16), float("nan")))
    with pytest.raises(TypeError, match="guidance_scal"):
        model.sample_next(torch.randn(2, 16), guidance_scal=2.0)
    with pytest.raises(ValueError, match="steps must be in 1..100"):
        model.sample_next(torch.randn(2, 16), steps=500)


def test_generate_stops_at_end_of_text_and_on_repetition():
    model = toy_model("base_lcm")  # deterministic: its first proposal is known in advance
    context = torch.randn(3, model.dim)
    first = model.sample_next(context, 1)[0]
    model.eot = first.clone()
    assert model.generate(context, max_concepts=5).shape == (0, model.dim)
    model.eot = -first
    out = model.generate(context, max_concepts=5, eot_threshold=0.99, repeat_threshold=2.0)
    assert out.shape == (5, model.dim)
    torch.testing.assert_close(out[0], first)
    # Every cosine is >= -1: the first concept is kept (nothing before it), the second stops.
    empty = torch.zeros(0, model.dim)
    assert model.generate(empty, max_concepts=5, repeat_threshold=-1.0).shape == (1, model.dim)
    assert model.generate(context, max_concepts=5, repeat_threshold=-1.0).shape[0] == 0


@pytest.mark.parametrize(
    ("name", "paper"),
    [
        ("two_tower_1.6b", 1_635_101_696),
        ("two_tower_7b", 6_930_781_696),
        ("base_1.6b", 1_647_635_456),
    ],  # fmt: skip
)
def test_paper_presets_have_the_paper_parameter_counts(name, paper):
    with torch.device("meta"):
        model = build_model(preset(name))
    count = sum(p.numel() for p in model.parameters())
    assert abs(count - paper) / paper < 0.01, count


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_bias_and_dropout_options(model_type):
    """bias=True gives every attention and feed-forward projection a bias; dropout acts on
    sub-layer outputs in training mode only."""
    plain, other = toy_model(model_type), toy_model(model_type, bias=True, dropout=0.5)
    no_bias = [m for m in plain.modules() if isinstance(m, torch.nn.Linear) and m.bias is None]
    assert no_bias and all(
        m.bias is not None for m in other.modules() if isinstance(m, torch.nn.Linear)
    )
    count = [sum(p.numel() for p in m.parameters()) for m in (plain, other)]
    assert count[1] - count[0] == sum(m.out_features for m in no_bias)
    if model_type == "two_tower":  # AdaLN-zero gates start closed: open them
        for m in (plain, other):
            for layer in m.denoiser:
                torch.nn.init.normal_(layer.modulation.weight, std=0.1)
    x, valid = torch.randn(2, 5, plain.dim), torch.ones(2, 5, dtype=torch.bool)
    inputs = (x, valid) if model_type == "base_lcm" else (x, valid, x, torch.full((2, 5), 50))

    def outputs(model, training):
        model.train(training)
        with torch.no_grad():
            return [model(*inputs) for _ in range(2)]

    for training in (False, True):
        first, second = outputs(plain, training)
        torch.testing.assert_close(first, second)
    first, second = outputs(other, False)
    torch.testing.assert_close(first, second)
    first, second = outputs(other, True)
    assert not torch.allclose(first, second)


def test_demo_preset_takes_the_codec_dim():
    config = preset("demo", dim=512)
    assert config.dim == 512 and config.model_type == "two_tower"
    assert preset("demo", dim=256).dim == 256
    with pytest.raises(ValueError, match="unknown LCM preset"):
        preset("huge")


def test_importing_the_engine_pulls_in_no_app_or_codec_stack():
    code = (
        "import sys, engine.lcm\n"
        "heavy = ('gradio', 'sonar', 'fairseq2', 'diffusers', 'sklearn', 'app', 'storage')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_bfloat16_models_sample_in_their_own_dtype(model_type):
    model = toy_model(model_type).to(torch.bfloat16)
    out = model.sample_next(torch.randn(3, model.dim), num_samples=2, steps=4)
    assert out.dtype == torch.bfloat16 and out.shape == (2, model.dim)
    assert torch.isfinite(out).all()
    assert (
        model.generate(torch.randn(3, model.dim), max_concepts=2, steps=2).dtype == torch.bfloat16
    )


def test_a_repeating_concept_is_drawn_again_before_generation_stops():
    model = toy_model("two_tower")
    context = torch.randn(3, model.dim)
    first = model.sample_next(context, 1, seed=5)[0]
    # a threshold that the first draw reaches: it repeats the context
    threshold = torch.cosine_similarity(first[None], context).max().item()
    without = model.generate(context, max_concepts=1, seed=5, repeat_threshold=threshold,
                             resample_tries=0)  # fmt: skip
    assert without.shape[0] == 0
    again = model.generate(context, max_concepts=1, seed=5, repeat_threshold=threshold,
                           resample_tries=8)  # fmt: skip
    assert again.shape[0] == 1
    assert torch.cosine_similarity(again, context).max() < threshold
    with pytest.raises(ValueError, match="resample_tries must be >= 0"):
        model.generate(context, max_concepts=1, resample_tries=-1)


def test_without_stopping_on_repeats_the_least_repetitive_draw_is_kept():
    model = toy_model("two_tower")
    context = torch.randn(3, model.dim)
    first = model.sample_next(context, 1, seed=5)[0]
    # every draw "repeats" (threshold -1): resampled 8 times, then kept, never stopped on
    kept = model.generate(context, max_concepts=4, seed=5, repeat_threshold=-1.0,
                          eot_threshold=2.0, stop_on_repeat=False)  # fmt: skip
    assert kept.shape == (4, model.dim)
    assert model.generate(context, max_concepts=4, seed=5, repeat_threshold=-1.0).shape[0] == 0
    nearest = torch.cosine_similarity(kept[0][None], context).max()
    assert nearest <= torch.cosine_similarity(first[None], context).max()
    assert not torch.equal(kept[0], first)  # a later draw was less like the context
